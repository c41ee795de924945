// relscope/core/limits.h — resource limits, checked before anything is allocated.
//
// Why: a hostile model can declare a 1e12-element tensor in a few bytes. Every
// allocation whose size comes from a file is checked against these first.
#pragma once
#include <cstdint>
#include <string>

namespace relscope {

struct Limits {
  uint64_t max_file_bytes = 2ull << 30;          // 2 GiB model file
  uint64_t max_tensor_elements = 1ull << 28;     // 268M elements (1 GiB of float)
  uint64_t max_total_bytes = 4ull << 30;         // working memory of one forward pass
  uint32_t max_nodes = 100000;
  uint32_t max_rank = 8;
  uint64_t max_image_pixels = 64ull << 20;      // width*height of a decoded image (64 Mpixel), checked from its header
};

// Product of dims with overflow and limit checks; `what` names the tensor in the error.
int64_t checked_numel(const int64_t* dims, size_t rank, const Limits& limits, const std::string& what);

}  // namespace relscope
