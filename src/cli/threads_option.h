// relscope/cli/threads_option.h — `--threads N` for predict, explain and bench.
//
// Default 1: timings and results stay comparable across builds (the wasm build has no threads) and a
// CLI run never competes with other work unasked. `--threads 0` uses every hardware thread.
#pragma once
#include "cli/args.h"

namespace relscope::cli {

inline constexpr const char* kThreadsOption = "threads";

// Reads --threads (0..256; 0 = hardware concurrency) and sets kernels::set_threads. Returns the count set.
int apply_threads_option(const Args& a);

}  // namespace relscope::cli
