// relscope/render/heatmap.h — relevance -> colored heatmap (zennit's imgify), overlay, PNG encoding.
//
// Sections: channel sum | symmetric normalisation | heatmap | overlay | PNG
//
// Why zennit's exact arithmetic: users compare relscope's heatmaps with zennit's
// (imgify(R.sum(channel), symmetric=True, cmap=...)), so the index of every pixel must be the same.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "io/image.h"
#include "render/colormap.h"

namespace relscope::render {

// ---- channel sum ----
// The relevance of one sample as a height x width map. Accepted shapes: [C,H,W] (summed over C), [H,W,C] when
// channels_last (summed over C), [H,W], and [L] (a sequence, drawn as 1 x L). Channels are added in float32,
// in order. Other ranks: BadInput naming the shape.
struct Map2D {
  int64_t height = 0, width = 0;
  std::vector<float> values;   // height * width, row-major
};
Map2D sum_channels(const float* relevance, const Shape& shape, bool channels_last);

// ---- symmetric normalisation ----
// zennit's imgify(symmetric=True) on float32 data: vmax = max|R|, vmin = -vmax,
// index = uint8(clip((R - vmin) / (vmax - vmin) * 255, 0, 255)), truncating like numpy's astype(uint8):
// -max|R| -> 0, 0 -> 127, max|R| -> 255. Where zennit would divide 0 by 0 (all R == 0) or meets NaN, relscope
// gives 127 (the colour of R = 0); +-Inf go to 255/0 and are left out of max|R|.
std::vector<uint8_t> symmetric_indices(const float* values, size_t n);

// ---- heatmap ----
// sum_channels, symmetric_indices, then each index looked up in the palette: an RGB Image (channels = 3).
Image heatmap(const float* relevance, const Shape& shape, bool channels_last, const Palette& palette);
inline Image heatmap(const Tensor& relevance, bool channels_last, const Palette& palette) {
  return heatmap(relevance.f.data(), relevance.shape, channels_last, palette);
}

// ---- overlay ----
// (1 - alpha) * base + alpha * heat per channel, rounded; alpha is clamped to [0, 1]. base may have 1..4
// channels (gray is replicated, alpha dropped); the result is RGB. Sizes must match: BadInput otherwise.
Image overlay(const Image& base, const Image& heat, float alpha);

// ---- PNG ----
// An 8-bit PNG (stb_image_write) of an Image with 1..4 channels.
std::vector<uint8_t> encode_png(const Image& image);

}  // namespace relscope::render
