// relscope/cli/heatmap_files.cpp — heatmap files of a batch (see heatmap_files.h).
#include "cli/heatmap_files.h"

#include <cstdio>

#include "core/error.h"
#include "io/file.h"
#include "render/heatmap.h"

namespace relscope::cli {

std::string heatmap_path(const std::string& path, int64_t b, int64_t n) {
  if (n == 1) return path;
  std::string suffix = "_";
  suffix += std::to_string(b);
  const size_t dot = path.size() >= 4 ? path.size() - 4 : std::string::npos;
  if (dot != std::string::npos && (path.compare(dot, 4, ".png") == 0 || path.compare(dot, 4, ".PNG") == 0))
    return path.substr(0, dot) + suffix + path.substr(dot);
  return path + suffix;
}

void write_heatmaps(const std::string& path, const Tensor& relevance, int64_t n, bool channels_last,
                    const render::Palette& palette) {
  if (relevance.shape.empty()) fail_input("--heatmap: the input is a scalar, there is nothing to draw");
  const Shape sample(relevance.shape.begin() + 1, relevance.shape.end());
  const int64_t per = shape_numel(sample);
  for (int64_t b = 0; b < n; ++b) {
    const Image img = render::heatmap(relevance.f.data() + b * per, sample, channels_last, palette);
    const std::vector<uint8_t> png = render::encode_png(img);
    const std::string file = heatmap_path(path, b, n);
    write_file_bytes(file, png.data(), png.size());
    std::printf("wrote %s %dx%d\n", file.c_str(), img.width, img.height);
  }
}

}  // namespace relscope::cli
