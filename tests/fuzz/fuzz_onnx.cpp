// tests/fuzz/fuzz_onnx.cpp — libFuzzer target: ONNX decoding and graph validation on arbitrary bytes.
// Seeds: tests/data/models/*.onnx, assets/demo/*.onnx, tests/hostile/files/*.onnx (scripts/fuzz.sh).
#include <cstddef>
#include <cstdint>

#include "fuzz_common.h"
#include "graph/graph.h"
#include "onnx/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relscope::fuzz::guard([&] {
    const relscope::Limits limits = relscope::fuzz::fuzz_limits();
    auto model = relscope::onnx::decode_model(data, size, limits, "fuzz.onnx");
    const relscope::Graph g = relscope::build_graph(std::move(model), limits, "fuzz.onnx");
    g.require_supported();
  });
  return 0;
}
