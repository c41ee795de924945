// relscope/io/image.h — PNG/JPEG/BMP/GIF decoding (stb_image) and image -> input tensor preprocessing.
//
// Sections: Image | decoding | preprocessing | layout inference
//
// Why here: an image is just another input file next to .npy; decoding and turning pixels into the
// float tensor a model expects (resize, channel conversion, scale, mean/std) must be identical in the
// CLI, the web app and the tests, so it lives once below the front ends.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"

namespace relscope {

// ---- Image ----
// 8-bit pixels, row-major HWC. channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;   // width * height * channels
};

// ---- decoding ----
// True when the bytes start with the signature of a PNG, JPEG, BMP or GIF file (the extension is never trusted).
bool looks_like_image(const uint8_t* bytes, size_t size);

// Decodes a PNG, JPEG, BMP or GIF (first frame). The dimensions are read from the header first and an image
// of more than limits.max_image_pixels pixels is refused (ErrorKind::Limit) before any pixel is allocated.
// Unknown or corrupt data: BadInput "<label>: cannot decode image (<stb's reason>)".
Image decode_image(const uint8_t* bytes, size_t size, const std::string& label, const Limits& limits);

// ---- preprocessing ----
struct ImagePreprocess {
  int64_t height = 0, width = 0;   // target size; 0 keeps the image's own
  int64_t channels = 3;            // 1 (luma) or 3 (RGB)
  bool channels_last = false;      // false: [1,C,H,W]; true: [1,H,W,C]
  bool bgr = false;                // 3 channels in B,G,R order (Caffe/OpenCV-trained models)
  float scale = 1.0f / 255;        // applied to the 0..255 values before mean/std
  std::vector<float> mean, std;    // per channel (or one value for all); empty: 0 and 1
};

// Image -> float32 [1,C,H,W] (or [1,H,W,C]). Steps, in order:
//  1. channels: RGBA/gray+alpha drop alpha; gray -> RGB replicates; RGB -> 1 channel is ITU-R 601 luma
//     0.299 R + 0.587 G + 0.114 B (kept as float, not rounded like PIL's convert('L')); bgr swaps R and B.
//  2. bilinear resize with half-pixel centres and no antialiasing, the same sampling as
//     torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=False) and OpenCV's
//     INTER_LINEAR (source coordinate (d + 0.5) * in/out - 0.5, clamped at 0). torchvision's Resize on a PIL
//     image antialiases when shrinking, so strong downscales differ from it.
//  3. x * scale, then (x - mean[c]) / std[c].
// A mean/std of the wrong length or a zero std: BadInput naming --mean/--std.
Tensor image_to_tensor(const Image& image, const ImagePreprocess& pre);

// ---- layout inference ----
// From an input's declared shape (-1 for unknown or symbolic dims) and its name for messages
// ("model.onnx: input 'x'"): rank 4 with dim 1 in {1,3} -> NCHW, else dim 3 in {1,3} -> NHWC. Fills
// channels, channels_last, height and width (0 where the model leaves them open). Anything else:
// BadInput saying the input does not look like an image, with its shape.
ImagePreprocess image_layout_for(const Shape& declared, const std::string& what);

}  // namespace relscope
