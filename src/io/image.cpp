// relscope/io/image.cpp — stb_image decoding with a header-first size check, and preprocessing to a tensor.
//
// Sections: stb_image | signatures and header peeking | decode_image | image_to_tensor | image_layout_for
#include "io/image.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"

// ---- stb_image --------------------------------------------------------------------------------
// Compiled once in stb_image_impl.cpp (its own translation unit, see there); the API only here.
#define STBI_NO_STDIO
#include <stb_image.h>

namespace relscope {

namespace {

// ---- signatures and header peeking ------------------------------------------------------------

bool starts_with(const uint8_t* b, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(b, magic, n) == 0;
}

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8); }
int32_t le32s(const uint8_t* p) { return static_cast<int32_t>(le16(p) | (le16(p + 2) << 16)); }

// Width and height straight from a PNG, GIF or BMP header, used only when stb refuses the header itself
// (it rejects e.g. a 100000x100000 PNG as "too large" before we could compare with our limit): then the
// message can still say how big the image claims to be. false when the header is too short or unknown.
bool peek_dimensions(const uint8_t* b, size_t size, uint64_t& w, uint64_t& h) {
  if (starts_with(b, size, "\x89PNG\r\n\x1a\n", 8) && size >= 24 && std::memcmp(b + 12, "IHDR", 4) == 0) {
    w = be32(b + 16);
    h = be32(b + 20);
    return true;
  }
  if (starts_with(b, size, "GIF8", 4) && size >= 10) {
    w = le16(b + 6);
    h = le16(b + 8);
    return true;
  }
  if (starts_with(b, size, "BM", 2) && size >= 26) {
    const int32_t header = le32s(b + 14);
    const int32_t bw = header == 12 ? static_cast<int32_t>(le16(b + 18)) : le32s(b + 18);
    const int32_t bh = header == 12 ? static_cast<int32_t>(le16(b + 20)) : le32s(b + 22);
    w = static_cast<uint64_t>(std::llabs(static_cast<long long>(bw)));
    h = static_cast<uint64_t>(std::llabs(static_cast<long long>(bh)));   // negative height: top-down rows
    return true;
  }
  return false;
}

[[noreturn]] void fail_too_many_pixels(const std::string& label, uint64_t w, uint64_t h, const Limits& limits) {
  fail(ErrorKind::Limit, label + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                             std::to_string(w * h) + " pixels, over the limit of " +
                             std::to_string(limits.max_image_pixels));
}

const char* format_of(const uint8_t* b, size_t size) {
  if (starts_with(b, size, "\x89PNG", 4)) return "PNG";
  if (starts_with(b, size, "\xff\xd8", 2)) return "JPEG";
  if (starts_with(b, size, "GIF", 3)) return "GIF";
  return "BMP";
}

// stb's reason, unless it is another format's signature test ("Not a PNG") or "not of any known type":
// stb tries every decoder once its own refused, so for a JPEG whose header is cut short the last reason
// is PNG's. Then the truth is that this format's header is corrupt.
std::string stb_reason(const uint8_t* b, size_t size) {
  const char* r = stbi_failure_reason();
  const std::string reason = r ? r : "unknown error";
  if (reason.rfind("Not a ", 0) == 0 || reason.find("not of any known type") != std::string::npos)
    return std::string("corrupt or truncated ") + format_of(b, size) + " header";
  return reason;
}

// Debian's stb_image (git 2022-09-08) trusts two things in a JPEG's Huffman tables (DHT) that a corrupt file
// controls, and reads out of bounds for both (found by tests/fuzz/fuzz_image):
// - code counts summing past 256 overflow its 257-entry arrays (upstream 2.28 added that check);
// - a scan (SOS) may select a table that no DHT defined: stb then decodes with whatever its never-written
//   table memory holds, and the symbol it computes indexes past the table (CI's fuzz run found it at
//   stb_image.h:2115; which garbage, and so whether it crashes, depends on what the heap held before).
// Walk the marker segments, through the entropy-coded data (where 0xFF is stuffed), and refuse both before
// stb sees the file. A scan is checked for the tables stb will read in it: a baseline scan reads its
// components' DC and AC tables; a progressive one reads the DC table only in a first DC scan (Ss = 0,
// Ah = 0) and the AC table only in an AC scan (Ss > 0). Encoders write 0 for the selector a progressive scan
// does not use (libjpeg does), and that table may not exist yet, so a stricter check would refuse good files.
void require_sane_jpeg_tables(const uint8_t* b, size_t size, const std::string& label) {
  if (!starts_with(b, size, "\xff\xd8", 2)) return;
  const std::string corrupt = label + ": cannot decode image (corrupt JPEG: ";
  bool progressive = false;
  bool defined[2][4] = {};   // [class: 0 DC, 1 AC][table id], as DHT segments so far define them
  int scans = 0;
  size_t p = 2;
  while (p + 4 <= size) {
    const uint8_t m = b[p + 1];
    if (b[p] != 0xFF || m == 0xFF) { ++p; continue; }                        // entropy data or fill byte
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { p += 2; continue; }   // stuffing, TEM, RSTn
    if (m == 0xD9) return;                                                    // end of image
    const size_t len = (size_t{b[p + 2]} << 8) | b[p + 3];
    // Segments as stb reads them: while the declared length lasts, even past the end of the file, where
    // stb reads zeros.
    auto byte_at = [&](size_t i) -> unsigned { return i < size ? b[i] : 0u; };
    if (m == 0xC0 || m == 0xC1 || m == 0xC2) progressive = m == 0xC2;         // the frames stb decodes
    if (m == 0xC4)   // DHT: tables of (class/id, 16 counts, sum(counts) symbols)
      for (size_t t = p + 4; t < p + 2 + len && t < size;) {
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += byte_at(t + k);
        if (codes > 256)
          fail_input(corrupt + "a Huffman table declares " + std::to_string(codes) + " codes, at most 256 exist)");
        const unsigned table_class = byte_at(t) >> 4, id = byte_at(t) & 15;
        if (table_class <= 1 && id <= 3) defined[table_class][id] = true;    // stb refuses other ids
        t += 17 + codes;
      }
    if (m == 0xDA) {   // SOS: Ns, then (component, DC table << 4 | AC table) per component, Ss, Se, Ah << 4 | Al
      ++scans;
      const unsigned components = byte_at(p + 4);
      const size_t after = p + 5 + 2 * size_t{components};
      const bool first_dc = byte_at(after) == 0 && (byte_at(after + 2) >> 4) == 0;
      const bool reads_dc = !progressive || first_dc, reads_ac = !progressive || byte_at(after) != 0;
      for (unsigned c = 0; c < components && c < 4; ++c) {   // stb refuses more than 4
        const unsigned tables = byte_at(p + 6 + 2 * size_t{c});
        for (unsigned table_class = 0; table_class < 2; ++table_class) {
          const unsigned id = table_class == 0 ? tables >> 4 : tables & 15;
          if ((table_class == 0 ? reads_dc : reads_ac) && id <= 3 && !defined[table_class][id])
            fail_input(corrupt + "scan " + std::to_string(scans) + " decodes with Huffman " +
                       (table_class == 0 ? "DC" : "AC") + " table " + std::to_string(id) +
                       ", which no DHT segment before it defines)");
        }
      }
    }
    p += 2 + std::max<size_t>(len, 2);
  }
}

// stb_image grows its buffer of PNG image data (IDAT) to each chunk's declared length before it reads the
// chunk, so a chunk claiming 2 GiB in a small file makes it allocate 2 GiB (found by tests/fuzz/fuzz_image).
// Walk the chunks and refuse one whose data runs past the end of the file: then stb's buffer stays within
// twice the file's size, which the file limit bounds.
void require_sane_png_chunks(const uint8_t* b, size_t size, const std::string& label) {
  if (!starts_with(b, size, "\x89PNG\r\n\x1a\n", 8)) return;
  for (size_t p = 8; p + 8 <= size;) {
    const uint64_t len = be32(b + p);
    const std::string type(reinterpret_cast<const char*>(b + p + 4), 4);
    if (len > size - p - 8)
      fail_input(label + ": cannot decode image (corrupt PNG: chunk '" + type + "' at byte " + std::to_string(p) + " declares " +
                 std::to_string(len) + " bytes, the file has " + std::to_string(size - p - 8) + " left)");
    if (type == "IEND") return;
    p += 12 + len;
  }
}

// stb decodes a GIF or an uncompressed BMP whose data stops early and fills the rest with zeros, reporting
// success: a plausible but wrong image. Both formats say where they end, so check that first.
void require_complete(const uint8_t* b, size_t size, const std::string& label, uint64_t w, uint64_t h) {
  if (starts_with(b, size, "GIF", 3) && b[size - 1] != 0x3B)
    fail_input(label + ": cannot decode image (truncated GIF: no trailer byte 0x3B at the end)");
  if (starts_with(b, size, "BM", 2) && size >= 34) {
    const uint32_t offset = le16(b + 10) | (le16(b + 12) << 16), header = le16(b + 14) | (le16(b + 16) << 16);
    const uint32_t bpp = le16(b + 28), compression = le16(b + 30) | (le16(b + 32) << 16);
    if (header >= 40 && compression == 0 && bpp >= 1 && bpp <= 32) {
      const uint64_t need = offset + (w * bpp + 31) / 32 * 4 * h;
      if (size < need)
        fail_input(label + ": cannot decode image (truncated BMP: " + std::to_string(size) + " bytes, the header declares " +
                   std::to_string(need) + ")");
    }
  }
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

}  // namespace

bool looks_like_image(const uint8_t* b, size_t size) {
  return starts_with(b, size, "\x89PNG\r\n\x1a\n", 8) || starts_with(b, size, "\xff\xd8\xff", 3) ||
         starts_with(b, size, "BM", 2) || starts_with(b, size, "GIF87a", 6) || starts_with(b, size, "GIF89a", 6);
}

// ---- decode_image -----------------------------------------------------------------------------

Image decode_image(const uint8_t* bytes, size_t size, const std::string& label, const Limits& limits) {
  if (!looks_like_image(bytes, size)) fail_input(label + ": not a PNG, JPEG, BMP or GIF image");
  if (size > static_cast<size_t>(INT_MAX))   // stb takes an int length
    fail(ErrorKind::Limit, label + ": image file is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(INT_MAX) + " for images");
  const int len = static_cast<int>(size);
  int w = 0, h = 0, comp = 0;
  require_sane_jpeg_tables(bytes, size, label);   // before stb reads any table, stbi_info included
  require_sane_png_chunks(bytes, size, label);
  const bool info = stbi_info_from_memory(bytes, len, &w, &h, &comp);
  if (!info || w <= 0 || h <= 0) {   // (stb reports a BMP over its own size cap as 0x0)
    const std::string reason = info ? "zero-sized image" : stb_reason(bytes, size);
    uint64_t pw = 0, ph = 0;
    if (peek_dimensions(bytes, size, pw, ph) && pw * ph > limits.max_image_pixels) fail_too_many_pixels(label, pw, ph, limits);
    fail_input(label + ": cannot decode image (" + reason + ")");
  }
  if (static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > limits.max_image_pixels)
    fail_too_many_pixels(label, static_cast<uint64_t>(w), static_cast<uint64_t>(h), limits);

  require_complete(bytes, size, label, static_cast<uint64_t>(w), static_cast<uint64_t>(h));

  int channels = 0;
  std::unique_ptr<stbi_uc, StbFree> data(stbi_load_from_memory(bytes, len, &w, &h, &channels, 0));
  if (!data) fail_input(label + ": cannot decode image (" + stb_reason(bytes, size) + ")");
  if (channels < 1 || channels > 4) fail_input(label + ": cannot decode image (" + std::to_string(channels) + " channels)");
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(data.get(), data.get() + static_cast<size_t>(w) * h * channels);
  return img;
}

// ---- image_to_tensor --------------------------------------------------------------------------

namespace {

// Per-channel vector of length C from a user list of length 1 or C.
std::vector<float> per_channel(const std::vector<float>& v, int64_t c, float fallback, const char* option) {
  if (v.empty()) return std::vector<float>(static_cast<size_t>(c), fallback);
  if (v.size() == 1) return std::vector<float>(static_cast<size_t>(c), v[0]);
  if (static_cast<int64_t>(v.size()) != c)
    fail_input(std::string(option) + ": " + std::to_string(v.size()) + " values given, the model input has " +
               std::to_string(c) + (c == 1 ? " channel (give 1 value)" : " channels (give 1 or " + std::to_string(c) + ")"));
  return v;
}

// One source pixel converted to the output channels (before resizing), as floats 0..255.
struct PixelReader {
  const Image& img;
  int64_t out_c;
  bool bgr;
  void read(int64_t x, int64_t y, float* out) const {
    const uint8_t* p = img.pixels.data() + (static_cast<size_t>(y) * img.width + static_cast<size_t>(x)) * img.channels;
    const bool gray = img.channels <= 2;   // 1: gray, 2: gray + alpha
    if (out_c == 1) {
      out[0] = gray ? p[0] : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
      return;
    }
    for (int c = 0; c < 3; ++c) out[c] = gray ? p[0] : p[bgr ? 2 - c : c];   // alpha (channel 3) dropped
  }
};

// Half-pixel-centre source coordinate, as PyTorch's area_pixel_compute_source_index (align_corners=False).
struct Tap {
  int64_t i0, i1;
  float l0, l1;
};
std::vector<Tap> taps(int64_t in, int64_t out) {
  std::vector<Tap> t(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    const float l1 = std::min(src - static_cast<float>(i0), 1.0f);
    t[static_cast<size_t>(d)] = {i0, i0 < in - 1 ? i0 + 1 : i0, 1.0f - l1, l1};
  }
  return t;
}

}  // namespace

Tensor image_to_tensor(const Image& image, const ImagePreprocess& pre) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    fail(ErrorKind::Internal, "image_to_tensor: inconsistent Image");
  const int64_t C = pre.channels;
  if (C != 1 && C != 3) fail_input("image input: " + std::to_string(C) + " channels requested; images give 1 or 3");
  const int64_t H = pre.height > 0 ? pre.height : image.height, W = pre.width > 0 ? pre.width : image.width;
  Shape shape = pre.channels_last ? Shape{1, H, W, C} : Shape{1, C, H, W};
  checked_numel(shape.data(), shape.size(), Limits{}, "image input " + shape_str(shape));
  const std::vector<float> mean = per_channel(pre.mean, C, 0.0f, "--mean");
  const std::vector<float> stdv = per_channel(pre.std, C, 1.0f, "--std");
  for (float s : stdv)
    if (s == 0.0f || !std::isfinite(s)) fail_input("--std: values must be finite and non-zero");

  const PixelReader reader{image, C, pre.bgr && C == 3};
  const std::vector<Tap> ty = taps(image.height, H), tx = taps(image.width, W);
  Tensor t = Tensor::zeros(shape);
  float p00[3], p01[3], p10[3], p11[3];
  for (int64_t y = 0; y < H; ++y) {
    const Tap& a = ty[static_cast<size_t>(y)];
    for (int64_t x = 0; x < W; ++x) {
      const Tap& b = tx[static_cast<size_t>(x)];
      reader.read(b.i0, a.i0, p00);
      reader.read(b.i1, a.i0, p01);
      reader.read(b.i0, a.i1, p10);
      reader.read(b.i1, a.i1, p11);
      for (int64_t c = 0; c < C; ++c) {
        const float v = a.l0 * (b.l0 * p00[c] + b.l1 * p01[c]) + a.l1 * (b.l0 * p10[c] + b.l1 * p11[c]);
        const size_t at = pre.channels_last ? static_cast<size_t>((y * W + x) * C + c) : static_cast<size_t>((c * H + y) * W + x);
        t.f[at] = (v * pre.scale - mean[static_cast<size_t>(c)]) / stdv[static_cast<size_t>(c)];
      }
    }
  }
  return t;
}

// ---- image_layout_for -------------------------------------------------------------------------

ImagePreprocess image_layout_for(const Shape& declared, const std::string& what) {
  auto is_channels = [](int64_t d) { return d == 1 || d == 3; };
  ImagePreprocess p;
  if (declared.size() == 4 && (is_channels(declared[1]) || is_channels(declared[3]))) {
    p.channels_last = !is_channels(declared[1]);
    p.channels = p.channels_last ? declared[3] : declared[1];
    p.height = std::max<int64_t>(p.channels_last ? declared[1] : declared[2], 0);
    p.width = std::max<int64_t>(p.channels_last ? declared[2] : declared[3], 0);
    return p;
  }
  std::string s = "[";
  for (size_t k = 0; k < declared.size(); ++k) {
    if (k) s += ',';
    s += declared[k] >= 0 ? std::to_string(declared[k]) : std::string("?");
  }
  s += ']';
  fail_input(what + " has shape " + s + " and does not look like an image (expected [N,C,H,W] or [N,H,W,C] with C = 1 or 3)");
}

}  // namespace relscope
