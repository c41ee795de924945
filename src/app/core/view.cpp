// relscope/app/core/view.cpp — input view, heatmap pixels, per-feature relevance (see view.h).
#include "app/core/view.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace relscope::app {

bool is_image_shaped(const Shape& s) {
  if (s.size() == 4) return s[0] == 1 && ((s[1] >= 1 && s[1] <= 4 && s[2] > 1 && s[3] > 1) || (s[3] >= 1 && s[3] <= 4 && s[1] > 1 && s[2] > 1));
  if (s.size() == 3) return s[0] == 1 && s[1] > 1 && s[2] > 1;
  return false;
}

namespace {
// Channels-last when the last dim looks like channels and the second does not.
bool guess_channels_last(const Shape& s) { return s.size() == 4 && s[3] <= 4 && s[1] > 4; }
}  // namespace

Image model_view(const Tensor& x, const ImagePreprocess& pre, bool from_image) {
  Image img;
  if (!is_image_shaped(x.shape) || x.dtype != DType::Float32) return img;
  const bool last = x.shape.size() == 4 && (from_image ? pre.channels_last : guess_channels_last(x.shape));
  const int64_t c = x.shape.size() == 3 ? 1 : (last ? x.shape[3] : x.shape[1]);
  const int64_t h = x.shape.size() == 3 ? x.shape[1] : (last ? x.shape[1] : x.shape[2]);
  const int64_t w = x.shape.size() == 3 ? x.shape[2] : (last ? x.shape[2] : x.shape[3]);
  const int64_t out_c = c >= 3 ? 3 : 1;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = static_cast<int>(out_c);
  img.pixels.resize(static_cast<size_t>(w * h * out_c));
  auto at = [&](int64_t ch, int64_t y, int64_t xx) {
    return last ? x.f[static_cast<size_t>((y * w + xx) * c + ch)] : x.f[static_cast<size_t>((ch * h + y) * w + xx)];
  };
  // Pixel values: invert the preprocessing for images; min-max for arrays (no known scale).
  float lo = 0, hi = 1;
  if (!from_image) {
    const auto [a, b] = std::minmax_element(x.f.begin(), x.f.end());
    lo = *a;
    hi = *b > *a ? *b : *a + 1;
  }
  for (int64_t ch = 0; ch < out_c; ++ch) {
    // bgr models: channel 0 holds blue; show RGB.
    const int64_t src = (from_image && pre.bgr && out_c == 3) ? 2 - ch : ch;
    const float m = pre.mean.empty() ? 0.f : pre.mean[std::min<size_t>(src, pre.mean.size() - 1)];
    const float sd = pre.std.empty() ? 1.f : pre.std[std::min<size_t>(src, pre.std.size() - 1)];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        const float v = at(src, y, xx);
        const float p = from_image ? (v * sd + m) / (pre.scale != 0 ? pre.scale : 1.f) : (v - lo) / (hi - lo) * 255.f;
        img.pixels[static_cast<size_t>((y * w + xx) * out_c + ch)] =
            static_cast<uint8_t>(std::clamp(std::lround(p), 0L, 255L));
      }
  }
  return img;
}

Heatmap heatmap_image(const Tensor& relevance, bool channels_last, const std::string& colormap) {
  if (!is_image_shaped(relevance.shape)) fail_input("relevance " + shape_str(relevance.shape) + " is not image-shaped");
  Shape one(relevance.shape.begin() + 1, relevance.shape.end());   // drop the batch dim
  const bool last = relevance.shape.size() == 4 && channels_last;
  const auto palette = render::get_colormap(colormap).palette();
  Heatmap h;
  h.rgb = render::heatmap(relevance.f.data(), one, last, palette);
  const render::Map2D map = render::sum_channels(relevance.f.data(), one, last);
  const std::vector<uint8_t> idx = render::symmetric_indices(map.values.data(), map.values.size());
  h.strength.resize(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) h.strength[k] = std::min(1.0f, std::fabs(idx[k] - 127.5f) / 127.5f);
  return h;
}

Image overlay_image(const Image& base, const Heatmap& heat, float opacity) {
  const Image& hm = heat.rgb;
  if (base.pixels.empty() || base.width != hm.width || base.height != hm.height) return hm;
  Image out;
  out.width = hm.width;
  out.height = hm.height;
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(hm.width) * hm.height * 3);
  const float o = std::clamp(opacity, 0.0f, 1.0f);
  const int bc = base.channels;
  for (size_t k = 0; k < heat.strength.size(); ++k) {
    const float a = o * std::sqrt(heat.strength[k]);
    for (int c = 0; c < 3; ++c) {
      // gray (+alpha) bases replicate their first channel; RGB(A) bases use their own.
      const float b = base.pixels[k * bc + (bc >= 3 ? c : 0)];
      const float v = (1 - a) * b + a * hm.pixels[k * 3 + c];
      out.pixels[k * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  }
  return out;
}

float relevance_at(const Tensor& relevance, bool channels_last, int64_t y, int64_t x) {
  const Shape& s = relevance.shape;
  if (!is_image_shaped(s)) return 0.0f;
  const bool last = s.size() == 4 && channels_last;
  const int64_t c = s.size() == 3 ? 1 : (last ? s[3] : s[1]);
  const int64_t h = s.size() == 3 ? s[1] : (last ? s[1] : s[2]);
  const int64_t w = s.size() == 3 ? s[2] : (last ? s[2] : s[3]);
  if (y < 0 || x < 0 || y >= h || x >= w) return 0.0f;
  float sum = 0;
  for (int64_t k = 0; k < c; ++k)
    sum += last ? relevance.f[static_cast<size_t>((y * w + x) * c + k)] : relevance.f[static_cast<size_t>((k * h + y) * w + x)];
  return sum;
}

std::vector<float> feature_relevance(const Tensor& relevance) {
  const Shape& s = relevance.shape;
  if (s.size() == 3 && s[0] == 1) {   // [1,C,L]: sum over channels, per position
    std::vector<float> out(static_cast<size_t>(s[2]), 0.f);
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t l = 0; l < s[2]; ++l) out[l] += relevance.f[static_cast<size_t>(c * s[2] + l)];
    return out;
  }
  return relevance.f;   // [1,F], [F], anything else: flat
}

}  // namespace relscope::app
