// tests/unit/test_image.cpp — image decoding (stb_image), the size limit, preprocessing and layout inference.
//
// Sections: helpers | decoding | refusals | resize | channels, scale, mean/std | layout inference
//
// Images are made in the test with stb_image_write (compiled once into the engine by render/heatmap.cpp),
// so the expected pixels are known exactly and nothing depends on files (the binary also runs under node).
#include <gtest/gtest.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "expect_error.h"
#include "io/image.h"

namespace relscope {
namespace {

using relscope::testing::expect_error;

// ---- helpers ----------------------------------------------------------------------------------

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

std::vector<uint8_t> make_png(int w, int h, int c, const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(stbi_write_png_to_func(append, &out, w, h, c, pixels.data(), w * c));
  return out;
}

std::vector<uint8_t> make_bmp(int w, int h, int c, const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(stbi_write_bmp_to_func(append, &out, w, h, c, pixels.data()));
  return out;
}

Image decode(const std::vector<uint8_t>& bytes, const Limits& limits = {}) {
  return decode_image(bytes.data(), bytes.size(), "pic.png", limits);
}

// A progressive 8x8 gray JPEG made by hand (stb_image_write only writes baseline): quantisation 1, one-code
// Huffman tables (symbol 0: a DC difference of 0, or an AC end of block), a first DC scan and one AC scan,
// each coded as the bit 0 padded with ones. It decodes to 128 everywhere. The AC table is defined just before
// the AC scan, as libjpeg writes it; the arguments are each scan's selector byte (DC table << 4 | AC table).
std::vector<uint8_t> progressive_jpeg(uint8_t dc_scan_tables, uint8_t ac_scan_tables) {
  std::vector<uint8_t> j;
  auto put = [&j](std::initializer_list<int> bytes, int repeat_last = 1) {
    for (int b : bytes) j.push_back(static_cast<uint8_t>(b));
    for (int k = 1; k < repeat_last; ++k) j.push_back(j.back());
  };
  put({0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0, 1}, 64);                     // SOI, DQT table 0: all 1
  put({0xFF, 0xC2, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0});             // SOF2: 8 bits, 8x8, component 1
  auto dht = [&put](int class_and_id) { put({0xFF, 0xC4, 0, 20, class_and_id, 1, 0}, 16); };   // symbol 0, length 1
  dht(0x00);
  put({0xFF, 0xDA, 0, 8, 1, 1, dc_scan_tables, 0, 0, 0, 0x7F});       // Ss 0, Se 0, Ah Al 0; the bit 0
  dht(0x10);
  put({0xFF, 0xDA, 0, 8, 1, 1, ac_scan_tables, 1, 63, 0, 0x7F, 0xFF, 0xD9});   // Ss 1, Se 63; EOI
  return j;
}

// A baseline JPEG from stb_image_write (3 components) whose first scan component selects DC and AC table 2,
// which it never defines.
std::vector<uint8_t> jpeg_scanning_with_undefined_tables() {
  std::vector<uint8_t> px(16 * 16 * 3);
  for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>(k * 13);
  std::vector<uint8_t> jpg;
  EXPECT_TRUE(stbi_write_jpg_to_func(append, &jpg, 16, 16, 3, px.data(), 90));
  for (size_t k = 0; k + 6 < jpg.size(); ++k)
    if (jpg[k] == 0xFF && jpg[k + 1] == 0xDA) {
      jpg[k + 6] = 0x22;   // FF DA, length, Ns, component id, selectors
      break;
    }
  return jpg;
}

Image gray_image(int w, int h, std::vector<uint8_t> pixels) { return Image{w, h, 1, std::move(pixels)}; }

// Raw 0..255 values out, no scaling: the resize weights can be checked by hand.
ImagePreprocess raw(int64_t h, int64_t w, int64_t c) {
  ImagePreprocess p;
  p.height = h;
  p.width = w;
  p.channels = c;
  p.scale = 1.0f;
  return p;
}

// ---- decoding ---------------------------------------------------------------------------------

TEST(ImageDecode, PngRgbPixelsAreExact) {
  const std::vector<uint8_t> px = {255, 0, 0, 0, 255, 0, 0, 0, 255,   // row 0: red green blue
                                   10, 20, 30, 40, 50, 60, 70, 80, 90};
  const Image img = decode(make_png(3, 2, 3, px));
  EXPECT_EQ(img.width, 3);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, px);
}

// A chunk whose declared length runs past the end of the file (the fuzzer's case: stb grew its IDAT buffer
// to 2 GiB before reading) is refused before stb sees it; a valid PNG with trailing bytes after IEND is not.
TEST(ImageDecode, PngChunkLongerThanTheFileIsRefusedBeforeDecoding) {
  std::vector<uint8_t> png = make_png(3, 2, 1, {0, 10, 20, 30, 40, 50});
  std::vector<uint8_t> trailing = png;
  trailing.insert(trailing.end(), {1, 2, 3});
  EXPECT_EQ(decode(trailing).pixels, (std::vector<uint8_t>{0, 10, 20, 30, 40, 50}));
  // IHDR is 8 + 8 + 13 + 4 bytes: the next chunk (IDAT) starts at byte 33. Claim 2^31 bytes for it.
  ASSERT_EQ(std::string(png.begin() + 37, png.begin() + 41), "IDAT");
  png[33] = 0x80, png[34] = png[35] = png[36] = 0;
  expect_error([&] { decode(png); }, ErrorKind::BadInput, "pic.png: cannot decode image (corrupt PNG: chunk 'IDAT' at byte 33 declares 2147483648 bytes");
}

TEST(ImageDecode, PngGrayAndRgbaKeepTheirChannels) {
  const Image g = decode(make_png(2, 1, 1, {7, 250}));
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{7, 250}));
  const Image a = decode(make_png(1, 1, 4, {1, 2, 3, 128}));
  EXPECT_EQ(a.channels, 4);
  EXPECT_EQ(a.pixels, (std::vector<uint8_t>{1, 2, 3, 128}));
}

TEST(ImageDecode, BmpPixelsAreExact) {
  const std::vector<uint8_t> px = {1, 2, 3, 4, 5, 6, 200, 201, 202, 99, 98, 97};
  const Image img = decode(make_bmp(2, 2, 3, px));
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, px);
}

TEST(ImageDecode, JpegIsCloseAndGifGivesItsFirstFrameAsRgba) {
  // JPEG is lossy: a flat colour survives within a few levels.
  std::vector<uint8_t> flat;
  for (int k = 0; k < 16 * 16; ++k) flat.insert(flat.end(), {200, 100, 50});
  std::vector<uint8_t> jpg;
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpg, 16, 16, 3, flat.data(), 100));
  const Image j = decode(jpg);
  ASSERT_EQ(j.channels, 3);
  EXPECT_EQ(j.width, 16);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(j.pixels[static_cast<size_t>(c)], flat[static_cast<size_t>(c)], 3);

  // A 1x1 GIF, palette {red, blue}, its pixel index 0 (LZW codes clear=4, 0, end=5 in 3 bits: 0x44 0x01).
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0, 0, 0, 0, 0xff,
                                    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b};
  const Image g = decode(gif);
  EXPECT_EQ(g.width, 1);
  EXPECT_EQ(g.height, 1);
  ASSERT_EQ(g.channels, 4);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{255, 0, 0, 255}));
}

TEST(ImageDecode, SignaturesDecideNotExtensions) {
  auto looks = [](const std::string& s) { return looks_like_image(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  EXPECT_TRUE(looks(std::string("\x89PNG\r\n\x1a\n", 8)));
  EXPECT_TRUE(looks("\xff\xd8\xff\xe0"));
  EXPECT_TRUE(looks("BM...."));
  EXPECT_TRUE(looks("GIF89a"));
  EXPECT_TRUE(looks("GIF87a"));
  EXPECT_FALSE(looks("GIF90a"));
  EXPECT_FALSE(looks("\x93NUMPY"));
  EXPECT_FALSE(looks(std::string("\x89PNG", 4)));   // too short for the signature
  EXPECT_FALSE(looks(""));
}

// ---- refusals ---------------------------------------------------------------------------------

TEST(ImageDecode, CorruptAndTruncatedAreBadInputNamingTheFile) {
  std::vector<uint8_t> corrupt = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
  expect_error([&] { decode(corrupt); }, ErrorKind::BadInput, "pic.png: cannot decode image (");

  std::vector<uint8_t> px(16 * 16 * 3);
  for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>(k * 37 + k / 7);
  std::vector<uint8_t> png = make_png(16, 16, 3, px);
  png.resize(png.size() / 2);   // header intact, pixel data cut
  expect_error([&] { decode(png); }, ErrorKind::BadInput, "pic.png: cannot decode image (");

  const std::string npy = "\x93NUMPY\x01\x00";
  expect_error([&] { decode_image(reinterpret_cast<const uint8_t*>(npy.data()), npy.size(), "x.npy", {}); },
               ErrorKind::BadInput, "x.npy: not a PNG, JPEG, BMP or GIF image");
}

TEST(ImageDecode, OversizeRefusedFromTheHeader) {
  // A PNG signature and an IHDR claiming 100000 x 100000 RGB, and nothing else: refused from the header
  // (no pixel data exists to decode), as a Limit with the claimed size.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {100000u, 100000u})
    for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<uint8_t>(v >> s));
  for (uint8_t b : {8, 2, 0, 0, 0, 0, 0, 0, 0}) png.push_back(b);   // depth, RGB, methods, CRC (unchecked)
  expect_error([&] { decode(png); }, ErrorKind::Limit, "pic.png: image is 100000x100000");

  // A valid image over a small limit: refused before decoding too.
  Limits small;
  small.max_image_pixels = 100;
  expect_error([&] { decode(make_png(20, 20, 1, std::vector<uint8_t>(400, 9)), small); }, ErrorKind::Limit,
               "pic.png: image is 20x20 = 400 pixels, over the limit of 100");
  EXPECT_EQ(decode(make_png(10, 10, 1, std::vector<uint8_t>(100, 9)), small).width, 10);   // at the limit: fine
}

TEST(ImageDecode, JpegScanWithAnUndefinedHuffmanTableIsRefusedNamingIt) {
  // Found by CI's fuzz run: stb decodes such a scan with never-written table memory and indexes past it.
  expect_error([&] { decode(jpeg_scanning_with_undefined_tables()); }, ErrorKind::BadInput,
               "pic.png: cannot decode image (corrupt JPEG: scan 1 decodes with Huffman DC table 2, which no DHT "
               "segment before it defines)");

  // Progressive: a scan is checked for the tables stb reads in it. The well-formed file's DC scan names AC
  // table 0 before any AC table exists, as libjpeg writes it; that is fine, and it decodes exactly.
  const Image good = decode(progressive_jpeg(0x00, 0x00));
  ASSERT_EQ(good.width, 8);
  ASSERT_EQ(good.height, 8);
  for (uint8_t v : good.pixels) ASSERT_EQ(v, 128);
  expect_error([&] { decode(progressive_jpeg(0x10, 0x00)); }, ErrorKind::BadInput,
               "corrupt JPEG: scan 1 decodes with Huffman DC table 1, which no DHT segment before it defines)");
  expect_error([&] { decode(progressive_jpeg(0x00, 0x01)); }, ErrorKind::BadInput,
               "corrupt JPEG: scan 2 decodes with Huffman AC table 1, which no DHT segment before it defines)");
  EXPECT_EQ(decode(progressive_jpeg(0x00, 0x30)).width, 8);   // an AC scan reads no DC table
}

TEST(ImageDecode, StbDecoderStateStartsZeroedWhateverTheHeapHeld) {
  // Behind image.cpp's refusal: stb_image_impl.cpp gives stb calloc, so a scan that still reached stb with
  // an undefined table would decode from zeros, not from what earlier allocations left. Fill freed blocks of
  // about the decoder's size with two different bytes before decoding the file straight through stb: the
  // pixels must not change (with malloc they do, or the decode reads out of bounds).
  const std::vector<uint8_t> jpg = jpeg_scanning_with_undefined_tables();
  auto decode_after_filling_the_heap_with = [&](int byte) {
    std::vector<void*> blocks;
    for (size_t n = 12 << 10; n <= 32 << 10; n += 512) blocks.push_back(std::memset(std::malloc(n), byte, n));
    for (void* b : blocks) std::free(b);
    int w = 0, h = 0, c = 0;
    stbi_uc* px = stbi_load_from_memory(jpg.data(), static_cast<int>(jpg.size()), &w, &h, &c, 0);
    std::vector<uint8_t> out;
    if (px) out.assign(px, px + size_t(w) * size_t(h) * size_t(c));
    stbi_image_free(px);
    return out;
  };
  const std::vector<uint8_t> a = decode_after_filling_the_heap_with(0xFF);
  const std::vector<uint8_t> b = decode_after_filling_the_heap_with(0x5A);
  EXPECT_EQ(a.size(), 16u * 16 * 3);
  EXPECT_EQ(a, b);
}

// ---- resize -----------------------------------------------------------------------------------

TEST(ImageResize, Upscale2x2To4x4HalfPixelCentres) {
  // Source x (and y) of output d: (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the
  // last pixel: repeats it). Weights per axis: (1,0) (.75,.25) (.25,.75) (0,1).
  const Tensor t = image_to_tensor(gray_image(2, 2, {0, 100, 200, 40}), raw(4, 4, 1));
  ASSERT_EQ(t.shape, (Shape{1, 1, 4, 4}));
  const std::vector<float> want = {
      0,   25,    75,    100,    // row 0: 0 -> 100
      50,  58.75, 76.25, 85,     // row 1: .75 * row 0 + .25 * row 3
      150, 126.25, 78.75, 55,    // row 2: .25 * row 0 + .75 * row 3
      200, 160,   80,    40,     // row 3: 200 -> 40
  };
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(t.f[k], want[k], 1e-4) << "pixel " << k;
}

TEST(ImageResize, Downscale4x4To2x2AveragesBlocks) {
  std::vector<uint8_t> px(16);
  for (int k = 0; k < 16; ++k) px[k] = static_cast<uint8_t>(10 * k);
  // Source coordinate of output d: (d + 0.5) * 2 - 0.5 = 0.5, 2.5: the mean of each 2x2 block.
  const Tensor t = image_to_tensor(gray_image(4, 4, px), raw(2, 2, 1));
  EXPECT_EQ(t.f, (std::vector<float>{25, 45, 105, 125}));
}

TEST(ImageResize, SameSizeIsIdentityAndZeroMeansKeep) {
  const Tensor t = image_to_tensor(gray_image(3, 1, {3, 5, 250}), raw(0, 0, 1));
  EXPECT_EQ(t.shape, (Shape{1, 1, 1, 3}));
  EXPECT_EQ(t.f, (std::vector<float>{3, 5, 250}));
}

// ---- channels, scale, mean/std ----------------------------------------------------------------

TEST(ImagePreprocessing, ChannelConversions) {
  const Image rgba{1, 1, 4, {10, 20, 30, 255}};
  EXPECT_EQ(image_to_tensor(rgba, raw(0, 0, 3)).f, (std::vector<float>{10, 20, 30}));   // alpha dropped
  ImagePreprocess bgr = raw(0, 0, 3);
  bgr.bgr = true;
  EXPECT_EQ(image_to_tensor(rgba, bgr).f, (std::vector<float>{30, 20, 10}));
  // ITU-R 601 luma: 0.299 * 10 + 0.587 * 20 + 0.114 * 30 = 2.99 + 11.74 + 3.42
  EXPECT_NEAR(image_to_tensor(rgba, raw(0, 0, 1)).f[0], 18.15f, 1e-4);
  EXPECT_EQ(image_to_tensor(gray_image(1, 1, {77}), raw(0, 0, 3)).f, (std::vector<float>{77, 77, 77}));
  EXPECT_EQ(image_to_tensor(Image{1, 1, 2, {66, 0}}, raw(0, 0, 3)).f, (std::vector<float>{66, 66, 66}));
  expect_error([&] { image_to_tensor(rgba, raw(0, 0, 2)); }, ErrorKind::BadInput, "2 channels");
}

TEST(ImagePreprocessing, ScaleThenMeanStdPerChannel) {
  const Image px{1, 1, 3, {255, 0, 51}};
  ImagePreprocess p;   // scale 1/255: 1, 0, 0.2
  p.mean = {0.5f, 0.5f, 0.2f};
  p.std = {0.5f, 0.25f, 0.1f};
  const Tensor t = image_to_tensor(px, p);
  ASSERT_EQ(t.shape, (Shape{1, 3, 1, 1}));
  EXPECT_NEAR(t.f[0], 1.0f, 1e-6);    // (1 - .5) / .5
  EXPECT_NEAR(t.f[1], -2.0f, 1e-6);   // (0 - .5) / .25
  EXPECT_NEAR(t.f[2], 0.0f, 1e-6);    // (.2 - .2) / .1
  p.mean = {0.5f};                    // one value: every channel
  p.std = {0.5f};
  const Tensor u = image_to_tensor(px, p);
  EXPECT_NEAR(u.f[0], 1.0f, 1e-6);
  EXPECT_NEAR(u.f[1], -1.0f, 1e-6);
  EXPECT_NEAR(u.f[2], -0.6f, 1e-6);
  p.mean = {0.1f, 0.2f};
  expect_error([&] { image_to_tensor(px, p); }, ErrorKind::BadInput, "--mean: 2 values given");
  p.mean = {};
  p.std = {1, 0, 1};
  expect_error([&] { image_to_tensor(px, p); }, ErrorKind::BadInput, "--std");
}

TEST(ImagePreprocessing, ChannelsLastLayout) {
  const Image img{2, 1, 3, {1, 2, 3, 4, 5, 6}};
  ImagePreprocess p = raw(0, 0, 3);
  p.channels_last = true;
  const Tensor t = image_to_tensor(img, p);
  EXPECT_EQ(t.shape, (Shape{1, 1, 2, 3}));
  EXPECT_EQ(t.f, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  p.channels_last = false;
  EXPECT_EQ(image_to_tensor(img, p).f, (std::vector<float>{1, 4, 2, 5, 3, 6}));   // planes R, G, B
}

// ---- layout inference -------------------------------------------------------------------------

TEST(ImageLayout, InferredFromTheDeclaredShape) {
  const ImagePreprocess nchw = image_layout_for({1, 3, 224, 200}, "m.onnx: input 'x'");
  EXPECT_FALSE(nchw.channels_last);
  EXPECT_EQ(nchw.channels, 3);
  EXPECT_EQ(nchw.height, 224);
  EXPECT_EQ(nchw.width, 200);
  const ImagePreprocess nhwc = image_layout_for({-1, 28, 27, 1}, "m.onnx: input 'x'");
  EXPECT_TRUE(nhwc.channels_last);
  EXPECT_EQ(nhwc.channels, 1);
  EXPECT_EQ(nhwc.height, 28);
  EXPECT_EQ(nhwc.width, 27);
  const ImagePreprocess open = image_layout_for({-1, 1, -1, -1}, "m.onnx: input 'x'");
  EXPECT_EQ(open.channels, 1);
  EXPECT_EQ(open.height, 0);   // 0: keep the image's own size
  EXPECT_EQ(open.width, 0);
  expect_error([] { image_layout_for({-1, 10}, "m.onnx: input 'x'"); }, ErrorKind::BadInput,
               "m.onnx: input 'x' has shape [?,10] and does not look like an image");
  expect_error([] { image_layout_for({1, 5, 5, 5}, "m.onnx: input 'x'"); }, ErrorKind::BadInput, "[1,5,5,5]");
  expect_error([] { image_layout_for({}, "m.onnx: input 'x'"); }, ErrorKind::BadInput, "shape []");
}

}  // namespace
}  // namespace relscope
