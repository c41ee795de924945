// relscope/cli/heatmap_files.h — --heatmap H.png for a batch: one PNG per sample (and per map).
//
// Sections: heatmap_path() | write_heatmaps()
//
// Shared by `explain` and its cov-lrp path, so both name and draw their files the same way.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "render/colormap.h"

namespace relscope::cli {

// H.png itself for one map, else H_0.png, H_1.png, ... (the suffix goes before a ".png" extension, or at
// the end of any other name).
std::string heatmap_path(const std::string& path, int64_t b, int64_t n);

// One PNG per leading index of `relevance` (n maps of the input's per-sample shape): the relevance summed
// over channels, zennit's symmetric imgify with `palette`. Prints "wrote FILE WxH" per file.
void write_heatmaps(const std::string& path, const Tensor& relevance, int64_t n, bool channels_last,
                    const render::Palette& palette);

}  // namespace relscope::cli
