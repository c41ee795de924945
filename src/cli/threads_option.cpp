// relscope/cli/threads_option.cpp — see threads_option.h.
#include "cli/threads_option.h"

#include "core/error.h"
#include "kernels/kernels.h"

namespace relscope::cli {

int apply_threads_option(const Args& a) {
  const long long n = a.get_int(kThreadsOption, 1);
  if (n < 0 || n > 256) fail_input("--threads: expected 0 (all hardware threads) to 256, got " + std::to_string(n));
  kernels::set_threads(n == 0 ? kernels::hardware_threads() : static_cast<int>(n));
  return kernels::threads();
}

}  // namespace relscope::cli
