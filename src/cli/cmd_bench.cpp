// relscope/cli/cmd_bench.cpp — `relscope bench MODEL.onnx`: median forward time on a seeded random input.
//
// The number is for ratios measured in one run (bench/ scripts), never for
// timed assertions: the machines are noisy.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "engine/session.h"

namespace relscope::cli {

int cmd_bench(int argc, char** argv) {
  const Args a = parse_args(argc, argv, 2, {"repeat", "warmup", "shape"});
  if (a.positional.size() != 1) fail_input("usage: relscope bench MODEL.onnx [--repeat N] [--warmup N] [--shape 1,3,224,224]");
  Session s = Session::load_file(a.positional[0]);
  const Graph& g = s.graph();
  const long long repeat = std::max(1LL, a.get_int("repeat", 10));
  const long long warmup = std::max(0LL, a.get_int("warmup", 2));

  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const auto& d = g.values[g.inputs[k]].declared;
    Shape shape;
    if (k == 0 && a.has("shape")) {
      for (long long v : parse_int_list(a.get("shape", ""), "--shape")) shape.push_back(v);
    } else {
      for (const auto& dim : d.dims) shape.push_back(dim.value >= 0 ? dim.value : 1);
    }
    if (d.elem_type == onnx::kInt64) fail(ErrorKind::Unsupported, "bench: int64 inputs are not generated");
    Tensor t = Tensor::zeros(shape);
    for (float& x : t.f) x = uni(rng);
    inputs.push_back(std::move(t));
  }

  using clock = std::chrono::steady_clock;
  for (long long k = 0; k < warmup; ++k) s.predict(inputs);
  std::vector<double> ms;
  for (long long k = 0; k < repeat; ++k) {
    const auto t0 = clock::now();
    s.predict(inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("model %s input %s: forward median %.3f ms (min %.3f, max %.3f) over %lld runs\n", g.label.c_str(),
              shape_str(inputs.empty() ? Shape{} : inputs[0].shape).c_str(), ms[ms.size() / 2], ms.front(), ms.back(), repeat);
  return 0;
}

}  // namespace relscope::cli
