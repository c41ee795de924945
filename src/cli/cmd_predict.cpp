// relscope/cli/cmd_predict.cpp — `relscope predict MODEL.onnx INPUT...` (.npy or images): run, print top-k, write .npy.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include "cli/args.h"
#include "cli/threads_option.h"
#include "cli/commands.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "engine/session.h"
#include "io/npy.h"

namespace relscope::cli {

namespace {

// --output NAME or INDEX -> position among the graph outputs.
size_t pick_output(const Graph& g, const std::string& which) {
  if (which.empty()) return 0;
  for (size_t k = 0; k < g.outputs.size(); ++k)
    if (g.values[g.outputs[k]].name == which) return k;
  char* end = nullptr;
  const long k = std::strtol(which.c_str(), &end, 10);
  if (!*end && k >= 0 && static_cast<size_t>(k) < g.outputs.size()) return static_cast<size_t>(k);
  std::string names;
  for (int v : g.outputs) names += (names.empty() ? "" : ", ") + g.values[v].name;
  fail_input("--output: '" + which + "' is not an output of " + g.label + " (outputs: " + names + ")");
}

}  // namespace

int cmd_predict(int argc, char** argv) {
  std::set<std::string> options = {"top", "out", "output", kThreadsOption};
  options.insert(input_value_options().begin(), input_value_options().end());
  const Args a = parse_args(argc, argv, 2, options, input_flag_options());
  apply_threads_option(a);
  if (a.positional.size() < 2)
    fail_input("usage: relscope predict MODEL.onnx INPUT... [--top K] [--out OUT.npy] [--mean M --std S --bgr]");
  Session s = Session::load_file(a.positional[0]);
  const Graph& g = s.graph();
  std::vector<Tensor> inputs;
  auto loaded = load_inputs({a.positional.begin() + 1, a.positional.end()}, g, a, s.limits());
  for (size_t slot = 0; slot < loaded.size(); ++slot) {
    Tensor t = std::move(loaded[slot].tensor);
    // Images saved as uint8/int arrays are fed to float models as numbers.
    if (slot < g.inputs.size() && g.values[g.inputs[slot]].declared.elem_type == onnx::kFloat && t.dtype == DType::Int64)
      t = Tensor::from_floats(t.shape, t.as_floats());
    inputs.push_back(std::move(t));
  }
  const auto outs = s.predict(inputs);
  const size_t which = pick_output(g, a.get("output", ""));
  const Tensor& y = outs[which];
  const long long top = std::max(1LL, a.get_int("top", 5));

  const auto values = y.as_floats();
  // A NaN or Inf output (an extreme input or weight overflowed float32) is no prediction: refuse it
  // rather than rank garbage.
  if (const size_t k = first_non_finite(values); k < values.size())
    fail_input("output '" + g.values[g.outputs[which]].name + "' holds " + (std::isnan(values[k]) ? "NaN" : "Inf") +
               " at element " + std::to_string(k) + " (the input or the weights overflow float32); no prediction");
  std::printf("output '%s' %s\n", g.values[g.outputs[which]].name.c_str(), shape_str(y.shape).c_str());
  if (y.rank() == 2) {   // (N, classes): top-k per sample
    const int64_t n = y.shape[0], c = y.shape[1];
    for (int64_t b = 0; b < n; ++b) {
      std::vector<int64_t> idx(c);
      std::iota(idx.begin(), idx.end(), 0);
      const float* row = values.data() + b * c;
      const int64_t k = std::min<int64_t>(top, c);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t l, int64_t r) { return row[l] > row[r]; });
      std::printf("sample %lld:", static_cast<long long>(b));
      for (int64_t j = 0; j < k; ++j) std::printf(" %lld (%.6g)", static_cast<long long>(idx[j]), row[idx[j]]);
      std::printf("\n");
    }
  } else {
    const size_t shown = std::min<size_t>(values.size(), 16);
    std::printf("values:");
    for (size_t j = 0; j < shown; ++j) std::printf(" %.6g", values[j]);
    std::printf("%s\n", values.size() > shown ? " ..." : "");
  }
  if (a.has("out")) {
    write_npy_file(a.get("out", ""), y);
    std::printf("wrote %s\n", a.get("out", "").c_str());
  }
  return 0;
}

}  // namespace relscope::cli
