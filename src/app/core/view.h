// relscope/app/core/view.h — what the canvas draws, as plain pixels and numbers (no GL, no ImGui).
//
// Sections: input as the model sees it | heatmaps | feature relevance (tables, sequences)
//
// Why separate from the panels: the pixels the page shows and exports (heatmap PNG) are decided here
// and unit-tested natively; textures.cpp only uploads them.
#pragma once
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "io/image.h"

namespace relscope::app {

// ---- input as the model sees it ----
// The model's input tensor [1,C,H,W] (or [1,H,W,C] when channels_last) turned back into 8-bit pixels by
// inverting the preprocessing ((x * std + mean) / scale), so the overlay sits on exactly what the model
// saw (after resize and channel conversion). Tensors that are not image-shaped: an empty Image.
Image model_view(const Tensor& x, const ImagePreprocess& pre, bool from_image);

// True when relevance of this shape is drawn as an image ([1,C,H,W] / [1,H,W,C] / [1,H,W]).
bool is_image_shaped(const Shape& s);

// ---- heatmaps ----
// zennit's imgify(R.sum(channel), symmetric=True, cmap) via render/heatmap.h (exactly what the PNG export
// writes), plus each pixel's strength |index - 127.5| / 127.5 in [0, 1] for the overlay.
struct Heatmap {
  Image rgb;
  std::vector<float> strength;
};
Heatmap heatmap_image(const Tensor& relevance, bool channels_last, const std::string& colormap);
// The heatmap over the base image, weighted per pixel: alpha = opacity * sqrt(strength). Where relevance
// is near zero the input shows through (a diverging colormap's neutral colour would otherwise veil the
// whole image); opacity 1 with strong relevance is the heatmap's own colour. No base: the heatmap alone.
Image overlay_image(const Image& base, const Heatmap& heat, float opacity);

// Relevance of one pixel (row y, column x of the heatmap), summed over channels; 0 outside.
float relevance_at(const Tensor& relevance, bool channels_last, int64_t y, int64_t x);

// ---- feature relevance (tables, sequences) ----
// Relevance of a 1-D input ([1,F] or [1,C,L] summed over C) as one value per feature / position.
std::vector<float> feature_relevance(const Tensor& relevance);

}  // namespace relscope::app
