// relscope/cli/cmd_bench.cpp — `relscope bench MODEL.onnx`: median forward (and explain) time.
//
// Inputs are seeded random values. With --method, the explanation is timed too and the ratio
// explain/forward is printed: both are measured in the same run, because the machines are noisy and
// only ratios from one run compare. Never used for timed assertions in tests.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "core/error.h"
#include "core/number_list.h"
#include "engine/session.h"
#include "relevance/explain.h"

namespace relscope::cli {

namespace {

template <class F>
double median_ms(long long warmup, long long repeat, F&& f) {
  using clock = std::chrono::steady_clock;
  for (long long k = 0; k < warmup; ++k) f();
  std::vector<double> ms;
  for (long long k = 0; k < repeat; ++k) {
    const auto t0 = clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"repeat", "warmup", "shape"});
  const Args a = parse_args(argc, argv, 2, options);
  if (a.positional.size() != 1)
    fail_input("usage: relscope bench MODEL.onnx [--repeat N] [--warmup N] [--shape 1,3,224,224] [--method M --composite C]");
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
      for (int64_t v : parse_int_list(a.get("shape", ""), "--shape")) shape.push_back(v);
    } else {
      for (const auto& dim : d.dims) shape.push_back(dim.value >= 0 ? dim.value : 1);
    }
    if (d.elem_type == onnx::kInt64) fail(ErrorKind::Unsupported, "bench: int64 inputs are not generated");
    Tensor t = Tensor::zeros(shape);
    for (float& x : t.f) x = uni(rng);
    inputs.push_back(std::move(t));
  }

  const double forward = median_ms(warmup, repeat, [&] { s.predict(inputs); });
  std::printf("model %s input %s, median of %lld runs\n", g.label.c_str(), shape_str(inputs.empty() ? Shape{} : inputs[0].shape).c_str(), repeat);
  std::printf("forward: %.3f ms\n", forward);
  if (a.has("method")) {
    const auto request = explain_request(a, g, repeated_option(argc, argv, "rule"));
    relevance::Explainer explainer(s);
    const double explain = median_ms(warmup, repeat, [&] { explainer.explain(inputs, request); });
    std::printf("explain: %.3f ms (%s%s)\n", explain, request.method.c_str(),
                request.method == "lrp" ? (", " + request.composite).c_str() : "");
    std::printf("explain/forward: %.2f\n", explain / forward);
  }
  return 0;
}

}  // namespace relscope::cli
