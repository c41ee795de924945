// tests/fuzz/fuzz_common.h — what every libFuzzer target shares: small limits and the error policy.
//
// Sections: limits | guard
//
// Policy: a relscope::Error of kind BadInput, Unsupported or Limit is the correct answer to a hostile
// input and ends the run quietly. Everything else is a finding: an Internal error (a relscope bug by
// definition: the CLI would exit 1), any other exception, and of course every ASan/UBSan report.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "core/limits.h"

namespace relscope::fuzz {

// ---- limits ----
// Smaller than the defaults so that a fuzzer run stays fast and inside libFuzzer's -rss_limit_mb
// (2 GiB): what these refuse, the default limits refuse too, only at a larger size.
inline Limits fuzz_limits() {
  Limits l;
  l.max_file_bytes = 1 << 20;
  l.max_tensor_elements = 1 << 20;
  l.max_total_bytes = 64ull << 20;
  l.max_nodes = 1000;
  l.max_image_pixels = 1 << 20;
  return l;
}

// ---- guard ----
template <class F>
void guard(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Internal) {
      std::fprintf(stderr, "relscope internal error on fuzzed input: %s\n", e.what());
      std::abort();
    }
  }
  // Anything else propagates: libFuzzer reports an uncaught exception as a crash.
}

}  // namespace relscope::fuzz
