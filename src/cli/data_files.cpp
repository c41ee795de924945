// relscope/cli/data_files.cpp — data folders and JSON helpers (data_files.h).
#include "cli/data_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/file.h"
#include "io/image.h"

namespace fs = std::filesystem;

namespace relscope::cli {

// Regular files of `dir` sorted by name: images by their first bytes, or named *.npy; anything else is
// skipped (a folder often holds a README or labels next to the samples).
std::vector<std::string> data_files(const std::string& dir, size_t* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_input(dir + ": not a directory");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) names.push_back(e.path().filename().string());
  if (ec) fail_input(dir + ": cannot list (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  std::vector<std::string> files;
  for (const auto& n : names) {
    const std::string path = (fs::path(dir) / n).string();
    const bool npy = n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0;
    bool image = false;
    if (!npy) {
      const auto head = read_file_bytes(path, Limits{}.max_file_bytes);
      image = looks_like_image(head.data(), head.size());
    }
    if (npy || image) files.push_back(n);
    else ++*skipped;
  }
  if (files.empty()) fail_input(dir + ": no input files (images or .npy)");
  return files;
}

// One file as a float32 batch. --mean/--std/--bgr only reach images (load_inputs refuses them for an .npy).
LoadedInput load_file(const std::string& path, const Graph& g, const Args& a, const Limits& limits) {
  Args plain = a;
  const auto bytes = read_file_bytes(path, limits.max_file_bytes);
  if (!looks_like_image(bytes.data(), bytes.size()))
    for (const char* o : {"mean", "std", "bgr"}) plain.options.erase(o);
  LoadedInput in = std::move(load_inputs({path}, g, plain, limits).front());
  if (in.tensor.dtype == DType::Int64) in.tensor = Tensor::from_floats(in.tensor.shape, in.tensor.as_floats());
  if (in.tensor.shape.empty()) fail_input(path + ": a scalar, not a batch of samples");
  return in;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += static_cast<char>(ch);
    else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else out += static_cast<char>(ch);
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace relscope::cli
