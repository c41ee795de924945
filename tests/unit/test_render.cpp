// tests/unit/test_render.cpp — zennit's color maps and imgify, heatmaps, overlay, PNG encoding.
//
// Sections: helpers | palettes (hand-computed from zennit's definitions) | source language | imgify | heatmap |
// overlay and PNG
//
// Palette arithmetic, as zennit's ColorMap does it: entry k sits at v = k (up to rounding) on the 0..255
// axis; between nodes (i0, c0) and (i1, c1), color = c0 * (1 - a) + c1 * a with a = (v - i0) / (i1 - i0),
// then rounded to 12 decimals and truncated to uint8.
#include <gtest/gtest.h>

#include <stb_image.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "expect_error.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace relscope::render {
namespace {

using relscope::testing::expect_error;

// ---- helpers ----------------------------------------------------------------------------------

Rgb8 rgb(int r, int g, int b) { return {static_cast<uint8_t>(r), static_cast<uint8_t>(g), static_cast<uint8_t>(b)}; }

Palette named(const std::string& name) { return get_colormap(name).palette(); }

// ---- palettes (hand-computed from zennit's definitions) ---------------------------------------

TEST(RenderPalette, Gray) {
  // '000,fff': nodes (0, black) (255, white): entry k is k.
  const Palette p = named("gray");
  EXPECT_EQ(p[0], rgb(0, 0, 0));
  EXPECT_EQ(p[64], rgb(64, 64, 64));
  EXPECT_EQ(p[127], rgb(127, 127, 127));
  EXPECT_EQ(p[128], rgb(128, 128, 128));
  EXPECT_EQ(p[255], rgb(255, 255, 255));
}

TEST(RenderPalette, Bwr) {
  // '00f,80:fff,f00': nodes (0, blue) (128, white) (255, red).
  const Palette p = named("bwr");
  EXPECT_EQ(p[0], rgb(0, 0, 255));
  EXPECT_EQ(p[64], rgb(127, 127, 255));    // a = 64/128: 127.5 -> 127
  EXPECT_EQ(p[127], rgb(253, 253, 255));   // a = 127/128: 253.008 -> 253 (R = 0 is not white in zennit)
  EXPECT_EQ(p[128], rgb(255, 255, 255));
  EXPECT_EQ(p[192], rgb(255, 126, 126));   // a = 64/127 from white: 255 * 63/127 = 126.5 -> 126
  EXPECT_EQ(p[255], rgb(255, 0, 0));
}

TEST(RenderPalette, ColdNHot) {
  // '0ff,00f,80:000,f00,ff0,fff': cyan at 0; blue spread to int(0 * .5 + 128 * .5) = 64; black at 128;
  // red, yellow at int(128 * 2/3 + 255 / 3) = 170 and int(128 / 3 + 255 * 2/3) = 212; white at 255.
  const ColorMap m = get_colormap("coldnhot");
  EXPECT_EQ(m.indices(), (std::vector<int>{0, 64, 128, 170, 212, 255, 256}));
  const Palette p = m.palette();
  EXPECT_EQ(p[0], rgb(0, 255, 255));
  EXPECT_EQ(p[32], rgb(0, 127, 255));    // half-way cyan -> blue
  EXPECT_EQ(p[127], rgb(0, 0, 3));       // a = 63/64 blue -> black: 255/64 = 3.98 -> 3
  EXPECT_EQ(p[128], rgb(0, 0, 0));
  EXPECT_EQ(p[191], rgb(255, 127, 0));   // half-way red (170) -> yellow (212)
  EXPECT_EQ(p[255], rgb(255, 255, 255));
}

TEST(RenderPalette, LevelNarrowsTheRange) {
  // level 0.5: entry k looks up linspace(-1, 1)[k] * 0.5, so the ends reach only a quarter/three quarters.
  const Palette p = get_colormap("gray").palette(0.5);
  EXPECT_EQ(p[0], rgb(63, 63, 63));      // ((-0.5 + 1) / 2) * 255 = 63.75
  EXPECT_EQ(p[255], rgb(191, 191, 191)); // 191.25
}

TEST(RenderPalette, BuiltinsAreZennitsAndCompile) {
  const auto& maps = builtin_colormaps();
  ASSERT_EQ(maps.size(), 11u);
  EXPECT_EQ(maps[6].first, "bwr");
  EXPECT_EQ(maps[6].second, "00f,80:fff,f00");
  for (const auto& [name, source] : maps) EXPECT_EQ(get_colormap(name).source(), source) << name;
  EXPECT_EQ(named("seismic")[0], rgb(0, 0, 0xd0));
  EXPECT_EQ(named("france")[255], rgb(0xef, 0x41, 0x35));
}

// ---- source language --------------------------------------------------------------------------

TEST(RenderColorMapSource, NodesAsZennitBuildsThem) {
  EXPECT_EQ(ColorMap("000,fff").indices(), (std::vector<int>{0, 255, 256}));
  // An index > 0 on the first color adds a node at 0 with the same color; one hex digit d means dd.
  const ColorMap m(" 4:123456 , abc, f:fff,");   // whitespace and a trailing comma are fine
  EXPECT_EQ(m.indices(), (std::vector<int>{0, 0x44, 0xa1, 0xff, 256}));   // abc spread to int((68 + 255) / 2)
  EXPECT_EQ(m.colors()[1], (std::array<int, 3>{0x12, 0x34, 0x56}));
  EXPECT_EQ(m.colors()[2], (std::array<int, 3>{0xaa, 0xbb, 0xcc}));
  // A last color with an index below 255 holds its color up to the end.
  EXPECT_EQ(ColorMap("000,80:fff").palette()[255], rgb(255, 255, 255));
}

TEST(RenderColorMapSource, ErrorsAreBadInputNamingTheSource) {
  expect_error([] { ColorMap("00f,,fff"); }, ErrorKind::BadInput, "colormap '00f,,fff': unexpected ',' at position 4");
  expect_error([] { ColorMap("ffff,000"); }, ErrorKind::BadInput, "unexpected index 'f' at position 3");
  expect_error([] { ColorMap("80:fff,40:000"); }, ErrorKind::BadInput, "ascending");
  expect_error([] { ColorMap("fff"); }, ErrorKind::BadInput, "at least 2 colors");
  expect_error([] { ColorMap("000,80:"); }, ErrorKind::BadInput, "unexpected");
  expect_error([] { ColorMap("000 fff"); }, ErrorKind::BadInput, "unexpected color 'fff'");
  expect_error([] { get_colormap("viridis"); }, ErrorKind::Unsupported, "gray, wred, wblue, hot, cold, coldnhot, bwr");
  expect_error([] { get_colormap("00f,x"); }, ErrorKind::Unsupported, "colormap '00f,x'");
}

// ---- imgify -----------------------------------------------------------------------------------

TEST(RenderImgify, SymmetricIndicesTruncateLikeNumpy) {
  // vmax = 2, vmin = -2: (R + 2) / 4 * 255 = 0, 127.5, 191.25, 255 -> uint8 0, 127, 191, 255.
  const float r[] = {-2, 0, 1, 2};
  EXPECT_EQ(symmetric_indices(r, 4), (std::vector<uint8_t>{0, 127, 191, 255}));
  // Checked against numpy on float32: [-0.3, 0.1, 0.7, -0.05, 0.0123] -> 72 145 255 118 129.
  const float s[] = {-0.3f, 0.1f, 0.7f, -0.05f, 0.0123f};
  EXPECT_EQ(symmetric_indices(s, 5), (std::vector<uint8_t>{72, 145, 255, 118, 129}));
  // All zero (zennit divides 0 by 0) and NaN: the colour of R = 0.
  const float z[] = {0, 0};
  EXPECT_EQ(symmetric_indices(z, 2), (std::vector<uint8_t>{127, 127}));
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float odd[] = {nan, inf, -inf, 1};
  EXPECT_EQ(symmetric_indices(odd, 4), (std::vector<uint8_t>{127, 255, 0, 255}));
}

// ---- heatmap ----------------------------------------------------------------------------------

TEST(RenderHeatmap, SumsChannelsFirstOrLast) {
  const float chw[] = {1, 2, 3, 4, 10, 20, 30, 40};   // [2,2,2]: two planes
  const Map2D a = sum_channels(chw, {2, 2, 2}, false);
  EXPECT_EQ(a.height, 2);
  EXPECT_EQ(a.width, 2);
  EXPECT_EQ(a.values, (std::vector<float>{11, 22, 33, 44}));
  const Map2D b = sum_channels(chw, {2, 2, 2}, true);   // [H,W,C]: neighbours are channels
  EXPECT_EQ(b.values, (std::vector<float>{3, 7, 30, 70}));
  const Map2D seq = sum_channels(chw, {8}, false);
  EXPECT_EQ(seq.height, 1);
  EXPECT_EQ(seq.width, 8);
  expect_error([&] { sum_channels(chw, {1, 2, 2, 2}, false); }, ErrorKind::BadInput, "[1,2,2,2] cannot be drawn");
}

TEST(RenderHeatmap, PixelsArePaletteColors) {
  // [C=2,H=1,W=3]: sums -1, 0, 2 -> vmax 2: indices 63 (63.75), 127, 255.
  const float r[] = {-1, 0, 1, 0, 0, 1};
  const Image img = heatmap(r, {2, 1, 3}, false, named("bwr"));
  EXPECT_EQ(img.width, 3);
  EXPECT_EQ(img.height, 1);
  EXPECT_EQ(img.channels, 3);
  // bwr[63]: a = 63/128 blue -> white: 255 * 63/128 = 125.5 -> 125.
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{125, 125, 255, 253, 253, 255, 255, 0, 0}));
}

// ---- overlay and PNG --------------------------------------------------------------------------

TEST(RenderOverlay, BlendsAndChecksSizes) {
  const Image base{1, 1, 1, {100}}, heat{1, 1, 3, {200, 0, 51}};
  EXPECT_EQ(overlay(base, heat, 0.5f).pixels, (std::vector<uint8_t>{150, 50, 76}));   // 75.5 rounds up
  EXPECT_EQ(overlay(base, heat, 0.0f).pixels, (std::vector<uint8_t>{100, 100, 100}));
  EXPECT_EQ(overlay(Image{1, 1, 4, {10, 20, 30, 0}}, heat, 1.0f).pixels, heat.pixels);
  expect_error([&] { overlay(Image{2, 1, 1, {1, 2}}, heat, 0.5f); }, ErrorKind::BadInput, "image is 2x1, heatmap is 1x1");
}

TEST(RenderPng, RoundTripIsLossless) {
  Image img{5, 3, 3, {}};
  for (int k = 0; k < 5 * 3 * 3; ++k) img.pixels.push_back(static_cast<uint8_t>(k * 17 + 3));
  const std::vector<uint8_t> png = encode_png(img);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(std::vector<uint8_t>(png.begin(), png.begin() + 8), (std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}));
  int w = 0, h = 0, c = 0;
  stbi_uc* back = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 0);
  ASSERT_NE(back, nullptr) << stbi_failure_reason();
  EXPECT_EQ(w, 5);
  EXPECT_EQ(h, 3);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(std::vector<uint8_t>(back, back + w * h * c), img.pixels);
  stbi_image_free(back);
}

}  // namespace
}  // namespace relscope::render
