// relscope/render/colormap.h — zennit's color maps: its source-string language, palettes and built-in names.
//
// Sections: ColorMap | built-in color maps
//
// Why a reimplementation, exactly: heatmaps made by relscope should be pixel-identical to the ones users
// know from zennit (zennit 0.5, src/zennit/cmap.py and image.py), so the palette is built with zennit's
// arithmetic step by step, in double precision like numpy, including its int() truncations, round(12)
// and final cast to uint8.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace relscope::render {

using Rgb8 = std::array<uint8_t, 3>;
using Palette = std::array<Rgb8, 256>;

// ---- ColorMap ----
// A linear color map compiled from zennit's color-map specification language, e.g. '000,fff' or
// '00f,80:fff,f00': comma-separated colors of 3 or 6 hex digits (RGB), each optionally preceded by a 1- or
// 2-hex-digit index and ':' (one digit d means dd). Unindexed colors are spaced evenly between indexed
// ones; a first/last color without index sits at 0/255. Whitespace is ignored, a trailing comma allowed.
// Syntax errors, fewer than 2 colors, or descending indices: BadInput "colormap '<source>': <why>".
class ColorMap {
 public:
  explicit ColorMap(std::string source);

  const std::string& source() const { return source_; }
  // The compiled nodes, as zennit's _make_palette returns them (the last index is always 256).
  const std::vector<int>& indices() const { return indices_; }
  const std::vector<std::array<int, 3>>& colors() const { return colors_; }

  // zennit ColorMap.__call__ for one value: x clipped to [0, 1] -> RGB in [0, 1].
  std::array<double, 3> operator()(double x) const;
  // zennit ColorMap.palette(level): 256 entries for the values linspace(-1, 1, 256) * level.
  Palette palette(double level = 1.0) const;

 private:
  std::string source_;
  std::vector<int> indices_;
  std::vector<std::array<int, 3>> colors_;
};

// ---- built-in color maps ----
// zennit's CMAPS, name -> source, in zennit's order: gray, wred, wblue, hot, cold, coldnhot, bwr, france,
// seismic, coolio, coleus. (zennit has no reversed "_r" variants; reverse a source string instead.)
const std::vector<std::pair<std::string, std::string>>& builtin_colormaps();
// "gray, wred, ..." for messages.
std::string builtin_colormap_names();

// zennit's get_cmap: a built-in name, else a source string. A word that is neither (it contains characters
// the source language cannot have, like 'viridis'): Unsupported, listing the built-in names. A string made of
// source characters that does not compile: BadInput (see ColorMap).
ColorMap get_colormap(const std::string& name_or_source);

}  // namespace relscope::render
