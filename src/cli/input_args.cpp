// relscope/cli/input_args.cpp — read INPUT files: images by their signature, else .npy (see input_args.h).
//
// Sections: helpers (number lists, declared shapes) | one image input | options | load_inputs
#include "cli/input_args.h"

#include <cstdlib>

#include "core/error.h"
#include "core/number_list.h"
#include "io/file.h"
#include "io/image.h"
#include "io/input_file.h"
#include "io/npy.h"

namespace relscope::cli {

namespace {

std::string input_name(const Graph& g, size_t slot) {
  return g.label + ": input '" + g.values[g.inputs[slot]].name + "'";
}

Shape declared_shape(const Graph& g, size_t slot) {
  Shape s;
  const auto& info = g.values[g.inputs[slot]].declared;
  if (info.has_shape)
    for (const auto& d : info.dims) s.push_back(d.value >= 0 ? d.value : -1);
  return s;
}

// The layout of a graph input that is not fed an image: NHWC only when its declared shape says so.
bool declared_channels_last(const Graph& g, size_t slot) {
  if (slot >= g.inputs.size()) return false;
  try {
    return image_layout_for(declared_shape(g, slot), input_name(g, slot)).channels_last;
  } catch (const Error&) {
    return false;
  }
}

LoadedInput load_image(const std::vector<uint8_t>& bytes, const std::string& path, const Graph& g, size_t slot,
                       const Args& a, const Limits& limits) {
  if (slot >= g.inputs.size())
    fail_input(path + ": an image for input #" + std::to_string(slot + 1) + ", but " + g.label + " has " +
               std::to_string(g.inputs.size()) + " input(s)");
  if (g.values[g.inputs[slot]].declared.elem_type != onnx::kFloat)
    fail_input(path + ": an image cannot feed " + input_name(g, slot) + " of type " +
               onnx::elem_type_name(g.values[g.inputs[slot]].declared.elem_type) + " (images become float32)");
  ImagePreprocess pre = image_layout_for(declared_shape(g, slot), input_name(g, slot));
  pre.bgr = a.has("bgr");
  if (a.has("mean")) pre.mean = parse_float_list(a.get("mean", ""), "--mean");
  if (a.has("std")) pre.std = parse_float_list(a.get("std", ""), "--std");
  const Image img = decode_image(bytes.data(), bytes.size(), path, limits);
  LoadedInput in;
  in.tensor = image_to_tensor(img, pre);
  in.is_image = true;
  in.channels_last = pre.channels_last;
  return in;
}

}  // namespace

const std::set<std::string>& input_value_options() {
  static const std::set<std::string> o = {"mean", "std"};
  return o;
}

const std::set<std::string>& input_flag_options() {
  static const std::set<std::string> o = {"bgr"};
  return o;
}

std::vector<LoadedInput> load_inputs(const std::vector<std::string>& paths, const Graph& g, const Args& a,
                                     const Limits& limits) {
  std::vector<LoadedInput> out;
  bool any_image = false;
  for (size_t slot = 0; slot < paths.size(); ++slot) {
    const std::vector<uint8_t> bytes = read_file_bytes(paths[slot], limits.max_file_bytes);
    if (looks_like_image(bytes.data(), bytes.size())) {
      out.push_back(load_image(bytes, paths[slot], g, slot, a, limits));
      any_image = true;
    } else {
      LoadedInput in;   // .npy, or .csv by name: checked non-empty and finite (io/input_file.h)
      const Shape declared = slot < g.inputs.size() ? declared_shape(g, slot) : Shape{};
      in.tensor = read_array_input(bytes.data(), bytes.size(), paths[slot], declared, limits);
      in.channels_last = declared_channels_last(g, slot);
      out.push_back(std::move(in));
    }
  }
  if (!any_image)
    for (const char* o : {"mean", "std", "bgr"})
      if (a.has(o)) fail_input(std::string("--") + o + " applies to image inputs only, and no INPUT is an image");
  return out;
}

}  // namespace relscope::cli
