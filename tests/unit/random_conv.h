// relscope tests — seeded random convolution shapes, shared by the kernel tests.
//
// Mostly 2-D, some 1-D and 3-D; groups 1, 2, 3 or depthwise; every third case pointwise (1x1, stride 1);
// odd sizes, strides, dilations and asymmetric padding.
#pragma once
#include <random>
#include <string>

#include "graph/op_params.h"

namespace relscope {

inline std::string describe(const ConvParams& p) {
  std::string s = "N" + std::to_string(p.N) + " C" + std::to_string(p.C) + " M" + std::to_string(p.M) + " g" +
                  std::to_string(p.group);
  for (int d = 3 - p.nspatial; d < 3; ++d)
    s += " [in " + std::to_string(p.in[d]) + " k " + std::to_string(p.kernel[d]) + " s " + std::to_string(p.stride[d]) +
         " d " + std::to_string(p.dilation[d]) + " p " + std::to_string(p.pad_begin[d]) + "," + std::to_string(p.pad_end[d]) + "]";
  return s;
}

// Mostly 2-D, some 1-D and 3-D; groups 1, 2, 3 or depthwise; every third case pointwise (1x1, stride 1).
inline ConvParams random_conv(std::mt19937& rng, int index) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvParams p;
  p.nspatial = index % 7 == 5 ? 1 : index % 7 == 6 ? 3 : 2;
  p.N = pick(1, 2);
  const int groups[] = {1, 1, 2, 3, 0};   // 0: depthwise
  const int gsel = groups[pick(0, 4)];
  const int64_t cg = gsel == 0 ? 1 : pick(1, 9), mg = gsel == 0 ? pick(1, 2) : pick(1, 13);
  p.group = gsel == 0 ? pick(3, 8) : gsel;
  p.C = cg * p.group;
  p.M = mg * p.group;
  const bool pointwise = index % 3 == 2;
  const int max_in = p.nspatial == 3 ? 7 : p.nspatial == 2 ? 19 : 40;
  for (int d = 3 - p.nspatial; d < 3; ++d) {
    p.in[d] = pick(1, max_in);
    p.kernel[d] = pointwise ? 1 : pick(1, 5);
    p.stride[d] = pointwise ? 1 : pick(1, 3);
    p.dilation[d] = pointwise ? 1 : pick(1, 2);
    p.pad_begin[d] = pointwise ? 0 : pick(0, 2);
    p.pad_end[d] = pointwise ? 0 : pick(0, 2);
    const int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1, padded = p.in[d] + p.pad_begin[d] + p.pad_end[d];
    if (padded < span) p.in[d] += span - padded;   // at least one output
    p.out[d] = (p.in[d] + p.pad_begin[d] + p.pad_end[d] - span) / p.stride[d] + 1;
  }
  return p;
}

}  // namespace relscope
