// relscope/cli/input_args.h — INPUT files of predict and explain: .npy arrays or images, loaded in one place.
//
// Why shared: both commands must treat an image the same way (recognised by its first bytes, never by its
// extension; decoded; resized to the model input's H,W; scaled to [0,1]; --mean/--std/--bgr), so that
// `predict` shows the class that `explain` explains.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "cli/args.h"
#include "core/limits.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace relscope::cli {

// --mean m1,m2,m3 and --std s1,s2,s3 (one value applies to every channel).
const std::set<std::string>& input_value_options();
// --bgr: feed the channels in B,G,R order.
const std::set<std::string>& input_flag_options();

struct LoadedInput {
  Tensor tensor;
  bool is_image = false;
  bool channels_last = false;   // the model input's layout (NHWC), when known; heatmaps sum channels there
};

// One INPUT per graph input, in order. An image becomes float32 [1,C,H,W] (or [1,H,W,C]) in the layout the
// graph input declares (see image_layout_for); anything else is read as .npy. --mean/--std/--bgr without an
// image among the inputs: BadInput (they would silently do nothing).
std::vector<LoadedInput> load_inputs(const std::vector<std::string>& paths, const Graph& g, const Args& a,
                                     const Limits& limits);

}  // namespace relscope::cli
