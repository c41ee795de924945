// relscope/core/limits.h — resource limits, checked before anything is allocated.
//
// Sections: Limits | process-wide defaults | checked_numel
//
// Why: a hostile model can declare a 1e12-element tensor in a few bytes. Every
// allocation whose size comes from a file is checked against these first, and a
// refusal states the number that was needed next to the limit.
#pragma once
#include <cstdint>
#include <string>

namespace relscope {

// ---- process-wide defaults ----
// The values a default-constructed Limits takes. The CLI sets them once from --max-* flags before any
// work (so every Limits{} of every command honours them); libraries and tests leave them alone.
struct LimitDefaults {
  uint64_t max_file_bytes = 2ull << 30;          // 2 GiB model (or input) file
  uint64_t max_tensor_elements = 1ull << 28;     // 268M elements (1 GiB of float)
  uint64_t max_total_bytes = 4ull << 30;         // working memory of one forward pass / explanation
  uint32_t max_nodes = 100000;
  uint32_t max_rank = 8;
  uint64_t max_image_pixels = 64ull << 20;       // width*height of a decoded image (64 Mpixel), from its header
};
LimitDefaults& limit_defaults();

// ---- Limits ----
struct Limits {
  uint64_t max_file_bytes = limit_defaults().max_file_bytes;
  uint64_t max_tensor_elements = limit_defaults().max_tensor_elements;
  uint64_t max_total_bytes = limit_defaults().max_total_bytes;
  uint32_t max_nodes = limit_defaults().max_nodes;
  uint32_t max_rank = limit_defaults().max_rank;
  uint64_t max_image_pixels = limit_defaults().max_image_pixels;
};

// ---- checked_numel ----
// Product of dims with overflow and limit checks; `what` names the tensor in the error, which states the
// element count the dims declare (or that it overflows 64 bits) and the limit.
int64_t checked_numel(const int64_t* dims, size_t rank, const Limits& limits, const std::string& what);

}  // namespace relscope
