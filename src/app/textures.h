// relscope/app/textures.h — GL textures for what the canvas shows (input, heatmaps).
//
// Why a class: a texture is re-uploaded only when its pixels change (new result, colormap, opacity),
// not every frame, and its GL name is freed exactly once.
#pragma once
#include <cstdint>

#include "io/image.h"

namespace relscope::app {

class Texture {
 public:
  Texture() = default;
  ~Texture();
  Texture(const Texture&) = delete;
  Texture& operator=(const Texture&) = delete;

  // Uploads an 8-bit image with 1..4 channels (as RGBA); an empty image clears the texture.
  void upload(const Image& image);
  void clear();
  bool valid() const { return id_ != 0 && width_ > 0; }
  // For ImGui::Image (ImTextureID is a void*-sized handle).
  void* id() const { return reinterpret_cast<void*>(static_cast<uintptr_t>(id_)); }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  unsigned id_ = 0;
  int width_ = 0, height_ = 0;
};

}  // namespace relscope::app
