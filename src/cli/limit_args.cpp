// relscope/cli/limit_args.cpp — parse and strip the limit flags (see limit_args.h).
#include "cli/limit_args.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/limits.h"

namespace relscope::cli {

const char* const kLimitUsage =
    "limits (every command; refusals state what was needed):\n"
    "  --max-memory MIB        working memory of a forward pass or explanation (default 4096)\n"
    "  --max-elements N        elements in one tensor (default 268435456)\n"
    "  --max-file-size MIB     model or input file size (default 2048)\n"
    "  --max-image-pixels N    width x height of an image input, from its header (default 67108864)\n";

namespace {

uint64_t positive(const char* flag, const char* text, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = text ? std::strtoull(text, &end, 10) : 0;
  if (!text || !*text || *end || errno || v == 0 || v > max || text[0] == '-')
    fail_input(std::string(flag) + ": expected a positive integer (at most " + std::to_string(max) + "), got '" +
               (text ? text : "") + "'");
  return v;
}

}  // namespace

int apply_limit_flags(int argc, char** argv) {
  LimitDefaults& d = limit_defaults();
  int out = 0;
  for (int k = 0; k < argc; ++k) {
    const char* a = argv[k];
    const bool is_limit = k > 0 && (!std::strcmp(a, "--max-memory") || !std::strcmp(a, "--max-elements") ||
                                    !std::strcmp(a, "--max-file-size") || !std::strcmp(a, "--max-image-pixels"));
    if (!is_limit) {
      argv[out++] = argv[k];
      continue;
    }
    const char* v = k + 1 < argc ? argv[++k] : nullptr;
    constexpr uint64_t kMaxMiB = 1ull << 30;   // 1 PiB: no overflow when turned into bytes
    if (!std::strcmp(a, "--max-memory")) d.max_total_bytes = positive(a, v, kMaxMiB) << 20;
    else if (!std::strcmp(a, "--max-file-size")) d.max_file_bytes = positive(a, v, kMaxMiB) << 20;
    else if (!std::strcmp(a, "--max-elements")) d.max_tensor_elements = positive(a, v, uint64_t{1} << 62);
    else d.max_image_pixels = positive(a, v, uint64_t{1} << 62);
  }
  argv[out] = nullptr;
  return out;
}

}  // namespace relscope::cli
