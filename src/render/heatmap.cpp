// relscope/render/heatmap.cpp — channel sum, zennit's symmetric imgify, overlay and PNG encoding.
//
// Sections: stb_image_write | channel sum | symmetric normalisation | heatmap | overlay | PNG
#include "render/heatmap.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

// ---- stb_image_write --------------------------------------------------------------------------
// The one translation unit that compiles stb_image_write; PNGs are written to memory only (the CLI writes
// files through io/file.h, the browser hands the bytes to JS), so no stdio.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

namespace relscope::render {

// ---- channel sum ------------------------------------------------------------------------------

Map2D sum_channels(const float* r, const Shape& shape, bool channels_last) {
  Map2D m;
  for (int64_t d : shape)
    if (d <= 0) fail_input("heatmap: relevance of shape " + shape_str(shape) + " is empty");
  if (shape.size() == 1) {
    m.height = 1;
    m.width = shape[0];
    m.values.assign(r, r + shape[0]);
    return m;
  }
  if (shape.size() == 2) {
    m.height = shape[0];
    m.width = shape[1];
    m.values.assign(r, r + shape[0] * shape[1]);
    return m;
  }
  if (shape.size() != 3)
    fail_input("heatmap: relevance of shape " + shape_str(shape) +
               " cannot be drawn (expected [C,H,W], [H,W,C], [H,W] or [L] per sample)");
  const int64_t C = channels_last ? shape[2] : shape[0];
  m.height = channels_last ? shape[0] : shape[1];
  m.width = channels_last ? shape[1] : shape[2];
  const int64_t hw = m.height * m.width;
  m.values.assign(static_cast<size_t>(hw), 0.0f);
  for (int64_t p = 0; p < hw; ++p) {
    float s = 0.0f;
    for (int64_t c = 0; c < C; ++c) s += channels_last ? r[p * C + c] : r[c * hw + p];
    m.values[static_cast<size_t>(p)] = s;
  }
  return m;
}

// ---- symmetric normalisation ------------------------------------------------------------------

std::vector<uint8_t> symmetric_indices(const float* v, size_t n) {
  float vmax = 0.0f;
  for (size_t k = 0; k < n; ++k)
    if (std::isfinite(v[k])) vmax = std::max(vmax, std::fabs(v[k]));
  const float vmin = -vmax, range = vmax - vmin;
  std::vector<uint8_t> out(n, 127);
  if (range == 0.0f) return out;
  for (size_t k = 0; k < n; ++k) {
    if (std::isnan(v[k])) continue;
    // float32 throughout, as numpy on a float32 array: (array - vmin) / (vmax - vmin), * 255, clip, astype.
    const float x = (v[k] - vmin) / range * 255.0f;
    out[k] = static_cast<uint8_t>(std::clamp(x, 0.0f, 255.0f));
  }
  return out;
}

// ---- heatmap ----------------------------------------------------------------------------------

Image heatmap(const float* relevance, const Shape& shape, bool channels_last, const Palette& palette) {
  const Map2D m = sum_channels(relevance, shape, channels_last);
  // A heatmap of NaN/Inf (or of channel sums that overflowed float32) would be uniform garbage that looks
  // like an answer: refuse to draw it.
  for (size_t p = 0; p < m.values.size(); ++p)
    if (!std::isfinite(m.values[p]))
      fail_input("heatmap: the relevance summed over channels is " + std::string(std::isnan(m.values[p]) ? "NaN" : "Inf") +
                 " at pixel (" + std::to_string(static_cast<int64_t>(p) % m.width) + ", " +
                 std::to_string(static_cast<int64_t>(p) / m.width) + "); nothing is drawn");
  const std::vector<uint8_t> idx = symmetric_indices(m.values.data(), m.values.size());
  Image img;
  img.width = static_cast<int>(m.width);
  img.height = static_cast<int>(m.height);
  img.channels = 3;
  img.pixels.resize(idx.size() * 3);
  for (size_t p = 0; p < idx.size(); ++p)
    for (size_t c = 0; c < 3; ++c) img.pixels[p * 3 + c] = palette[idx[p]][c];
  return img;
}

// ---- overlay ----------------------------------------------------------------------------------

Image overlay(const Image& base, const Image& heat, float alpha) {
  if (base.width != heat.width || base.height != heat.height)
    fail_input("overlay: image is " + std::to_string(base.width) + "x" + std::to_string(base.height) + ", heatmap is " +
               std::to_string(heat.width) + "x" + std::to_string(heat.height));
  if (heat.channels != 3 || base.channels < 1 || base.channels > 4) fail(ErrorKind::Internal, "overlay: unexpected channel counts");
  const float a = std::isnan(alpha) ? 0.0f : std::clamp(alpha, 0.0f, 1.0f);
  Image out;
  out.width = base.width;
  out.height = base.height;
  out.channels = 3;
  const size_t n = static_cast<size_t>(base.width) * static_cast<size_t>(base.height);
  out.pixels.resize(n * 3);
  for (size_t p = 0; p < n; ++p)
    for (size_t c = 0; c < 3; ++c) {
      const float b = base.pixels[p * base.channels + (base.channels <= 2 ? 0 : c)];
      const float h = heat.pixels[p * 3 + c];
      out.pixels[p * 3 + c] = static_cast<uint8_t>(std::lround(std::clamp((1.0f - a) * b + a * h, 0.0f, 255.0f)));
    }
  return out;
}

// ---- PNG --------------------------------------------------------------------------------------

std::vector<uint8_t> encode_png(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    fail(ErrorKind::Internal, "encode_png: inconsistent Image");
  std::vector<uint8_t> out;
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<std::vector<uint8_t>*>(context);
    bytes->insert(bytes->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &out, image.width, image.height, image.channels, image.pixels.data(),
                              image.width * image.channels))
    fail(ErrorKind::Internal, "encode_png: stb_image_write failed for a " + std::to_string(image.width) + "x" +
                                  std::to_string(image.height) + " image");
  return out;
}

}  // namespace relscope::render
