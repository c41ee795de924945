// relscope/app/textures.cpp — GL texture upload (WebGL2 through Emscripten's GLES3 headers).
#include "app/textures.h"

#include <GLES3/gl3.h>

#include <vector>

namespace relscope::app {

Texture::~Texture() { clear(); }

void Texture::clear() {
  if (id_) glDeleteTextures(1, &id_);
  id_ = 0;
  width_ = height_ = 0;
}

void Texture::upload(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.pixels.empty()) {
    clear();
    return;
  }
  // Expand to RGBA: WebGL2 has no swizzle for LUMINANCE-as-gray in sized formats, and RGBA rows are
  // always 4-byte aligned (no UNPACK_ALIGNMENT surprises for odd widths).
  const size_t n = static_cast<size_t>(image.width) * image.height;
  std::vector<uint8_t> rgba(n * 4);
  const int c = image.channels;
  for (size_t k = 0; k < n; ++k) {
    const uint8_t* p = &image.pixels[k * c];
    uint8_t* q = &rgba[k * 4];
    if (c >= 3) { q[0] = p[0]; q[1] = p[1]; q[2] = p[2]; }
    else { q[0] = q[1] = q[2] = p[0]; }
    q[3] = 255;   // alpha is dropped: the canvas shows what the model saw
  }
  if (!id_) glGenTextures(1, &id_);
  glBindTexture(GL_TEXTURE_2D, id_);
  // Nearest when magnifying: a 28x28 input shown at 300 px must show its pixels, not a blur.
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, image.width, image.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  width_ = image.width;
  height_ = image.height;
}

}  // namespace relscope::app
