// Pools, BatchNorm, LayerNorm, Softmax/LogSoftmax, ReduceMean: naive references, hand values, errors.
//
// Sections: helpers and naive references | Kernels (pools, reduce) | OpsPoolNorm (pools, global pools,
//           BatchNorm, LayerNorm, Softmax, ReduceMean)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "core/error.h"
#include "graph/graph.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"
#include "op_test_util.h"

namespace relscope {
namespace {

using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;
using testing::OpInput;
using testing::run_op;

// ---- helpers and naive references ----------------------------------------------------------------------------
Node make_node(const std::string& op, std::vector<onnx::Attribute> attrs) {
  Node n;
  n.name = "t";
  n.op_type = op;
  n.op = op_from_name(op);
  n.attrs = Attrs(std::move(attrs), "node 't' (" + op + ")");
  return n;
}

Tensor random_tensor(Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (auto& x : v) x = u(rng);
  return Tensor::from_floats(std::move(s), std::move(v));
}

Tensor iota(Shape s, float start = 1.0f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = start + static_cast<float>(k);
  return Tensor::from_floats(std::move(s), std::move(v));
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "(no error)";
}

void expect_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) ASSERT_NEAR(a[k], b[k], tol) << "at " << k;
}

// Pools from the definition, over right-aligned 3-D params (sizes from p, checked separately).
std::vector<float> naive_pool(const PoolParams& p, const std::vector<float>& x, bool is_max) {
  std::vector<float> y;
  for (int64_t pl = 0; pl < p.N * p.C; ++pl)
    for (int64_t oz = 0; oz < p.out[0]; ++oz)
      for (int64_t oy = 0; oy < p.out[1]; ++oy)
        for (int64_t ox = 0; ox < p.out[2]; ++ox) {
          const int64_t o[3] = {oz, oy, ox};
          double best = -INFINITY, sum = 0;
          int64_t valid = 0, padded = 0;
          for (int64_t jz = 0; jz < p.kernel[0]; ++jz)
            for (int64_t jy = 0; jy < p.kernel[1]; ++jy)
              for (int64_t jx = 0; jx < p.kernel[2]; ++jx) {
                const int64_t j[3] = {jz, jy, jx};
                int64_t pos[3];
                bool in = true, in_pad = true;
                for (int d = 0; d < 3; ++d) {
                  pos[d] = o[d] * p.stride[d] - p.pad_begin[d] + j[d] * p.dilation[d];
                  in = in && pos[d] >= 0 && pos[d] < p.in[d];
                  in_pad = in_pad && pos[d] >= -p.pad_begin[d] && pos[d] < p.in[d] + p.pad_end[d];
                }
                padded += in_pad;
                if (!in) continue;
                const float v = x[((pl * p.in[0] + pos[0]) * p.in[1] + pos[1]) * p.in[2] + pos[2]];
                best = std::max<double>(best, v);
                sum += v;
                ++valid;
              }
          const int64_t div = p.count_include_pad ? padded : valid;
          y.push_back(static_cast<float>(is_max ? best : div ? sum / div : 0.0));
        }
  return y;
}

struct PoolCase {
  const char* name;
  Shape x;
  std::vector<onnx::Attribute> attrs;
  Shape expect_y;
};

std::vector<PoolCase> pool_cases() {
  return {
      {"k3s2", {2, 3, 9, 8}, {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2})}, {2, 3, 4, 3}},
      {"k3s2_ceil", {1, 2, 9, 8}, {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_int("ceil_mode", 1)}, {1, 2, 4, 4}},
      {"pads_asym", {1, 2, 6, 7}, {attr_ints("kernel_shape", {3, 2}), attr_ints("pads", {1, 0, 2, 1})}, {1, 2, 7, 7}},
      {"pads_ceil_stride", {1, 1, 7, 7}, {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 3}), attr_ints("pads", {1, 1, 1, 1}), attr_int("ceil_mode", 1)}, {1, 1, 4, 3}},
      {"dilation", {1, 2, 8, 8}, {attr_ints("kernel_shape", {2, 3}), attr_ints("dilations", {2, 2}), attr_ints("pads", {1, 1, 1, 1})}, {1, 2, 8, 6}},
      {"same_upper", {1, 1, 7, 6}, {attr_ints("kernel_shape", {3, 2}), attr_ints("strides", {2, 2}), attr_string("auto_pad", "SAME_UPPER")}, {1, 1, 4, 3}},
      {"same_lower", {1, 1, 5, 5}, {attr_ints("kernel_shape", {2, 2}), attr_string("auto_pad", "SAME_LOWER")}, {1, 1, 5, 5}},
      {"valid", {1, 1, 5, 6}, {attr_ints("kernel_shape", {2, 3}), attr_ints("strides", {2, 2}), attr_string("auto_pad", "VALID")}, {1, 1, 2, 2}},
      {"pool1d_ceil_drop", {2, 2, 5}, {attr_ints("kernel_shape", {2}), attr_ints("strides", {2}), attr_ints("pads", {1, 1}), attr_int("ceil_mode", 1)}, {2, 2, 3}},
      {"pool3d", {1, 2, 4, 5, 6}, {attr_ints("kernel_shape", {2, 3, 2}), attr_ints("strides", {2, 1, 2}), attr_ints("pads", {0, 1, 1, 1, 1, 0})}, {1, 2, 2, 5, 3}},
  };
}

// ---- Kernels ------------------------------------------------------------------------------------------------------
TEST(KernelsPool, MaxAndAverageMatchTheDefinition) {
  uint32_t seed = 1;
  for (const auto& pc : pool_cases()) {
    SCOPED_TRACE(pc.name);
    const Tensor x = random_tensor(pc.x, seed++);
    const PoolParams pm = resolve_pool(make_node("MaxPool", pc.attrs), pc.x, PoolKind::Max, "t");
    ASSERT_EQ(pm.y_shape(), pc.expect_y);
    std::vector<float> y(static_cast<size_t>(shape_numel(pc.expect_y)), 99.0f);
    kernels::max_pool(pm, x.f.data(), y.data(), nullptr);
    expect_near(y, naive_pool(pm, x.f, true), 0.0f);
    for (int cip = 0; cip < 2; ++cip) {
      auto attrs = pc.attrs;
      attrs.push_back(attr_int("count_include_pad", cip));
      const PoolParams pa = resolve_pool(make_node("AveragePool", attrs), pc.x, PoolKind::Average, "t");
      ASSERT_EQ(pa.y_shape(), pc.expect_y);
      kernels::avg_pool(pa, x.f.data(), y.data());
      expect_near(y, naive_pool(pa, x.f, false), 1e-5f);
    }
  }
}

// ResNet-18's max-pool (64 planes of 112x112, 3x3 stride 2, pads 1: 1.8M taps) is big enough to be split over
// 2 threads (pool.cpp's tap_work; it once stayed on one thread unnoticed): every plane, whichever thread pools
// it, equals the definition, for max and average (NaN in one plane), and the 2-thread result equals 1 thread's.
TEST(KernelsPool, ResNetSizedPoolsSplitOverThreadsMatchTheDefinition) {
  const Shape xs{1, 64, 112, 112};
  Tensor x = random_tensor(xs, 11);
  x.f[static_cast<size_t>(40 * 112 * 112 + 7 * 112 + 9)] = NAN;   // plane 40: lands on the second thread
  const std::vector<onnx::Attribute> attrs = {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                                               attr_ints("pads", {1, 1, 1, 1})};
  const PoolParams pm = resolve_pool(make_node("MaxPool", attrs), xs, PoolKind::Max, "t");
  const PoolParams pa = resolve_pool(make_node("AveragePool", attrs), xs, PoolKind::Average, "t");
  ASSERT_EQ(pm.y_shape(), (Shape{1, 64, 56, 56}));
  auto want_max = naive_pool(pm, x.f, true);
  const auto want_avg = naive_pool(pa, x.f, false);
  // Max keeps a NaN only as its window's first tap (ONNX's first-maximum order; the tests above): the window of
  // output (4, 5) starts at input (2*4 - 1, 2*5 - 1) = (7, 9). Average sums it into every window holding it.
  want_max[static_cast<size_t>(40 * 56 * 56 + 4 * 56 + 5)] = NAN;
  std::vector<float> first_max;
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    kernels::set_threads(threads);
    std::vector<float> ym(want_max.size(), 99.0f), ya(want_avg.size(), 99.0f);
    kernels::max_pool(pm, x.f.data(), ym.data(), nullptr);
    kernels::avg_pool(pa, x.f.data(), ya.data());
    size_t nan_max = 0, nan_avg = 0;
    for (size_t i = 0; i < ym.size(); ++i) {
      if (std::isnan(want_max[i])) {
        ASSERT_TRUE(std::isnan(ym[i])) << i;
        ++nan_max;
      } else {
        ASSERT_EQ(ym[i], want_max[i]) << i;
      }
      if (std::isnan(want_avg[i])) {
        ASSERT_TRUE(std::isnan(ya[i])) << i;
        ++nan_avg;
      } else {
        ASSERT_NEAR(ya[i], want_avg[i], 1e-5f) << i;
      }
    }
    EXPECT_EQ(nan_max, 1u);
    EXPECT_EQ(nan_avg, 4u);   // windows overlap by one row and column at stride 2: (7, 9) is in 2 x 2 of them
    if (first_max.empty()) first_max = ym;
    ASSERT_EQ(std::memcmp(ym.data(), first_max.data(), ym.size() * sizeof(float)), 0);
  }
  kernels::set_threads(1);
}

// Indices from the definition (ONNX: the first maximum in window order wins; a NaN first tap stays), on
// inputs full of ties (values 0..3) with a NaN, in both storage orders, single- and multi-threaded.
TEST(KernelsPool, MaxIndicesFirstMaximumWithTiesAndNaN) {
  for (int threads : {1, 2}) {
    kernels::set_threads(threads);
    uint32_t seed = 7;
    for (const auto& pc : pool_cases()) {
      for (int order = 0; order < 2; ++order) {
        SCOPED_TRACE(std::string(pc.name) + " order " + std::to_string(order) + " threads " + std::to_string(threads));
        Tensor x = random_tensor(pc.x, seed++);
        for (float& v : x.f) v = std::floor(std::fabs(v) * 2.0f);   // many ties
        x.f[x.f.size() / 3] = NAN;
        auto attrs = pc.attrs;
        attrs.push_back(attr_int("storage_order", order));
        const PoolParams p = resolve_pool(make_node("MaxPool", attrs), pc.x, PoolKind::Max, "t");
        std::vector<float> y(static_cast<size_t>(shape_numel(pc.expect_y)));
        std::vector<int64_t> idx(y.size());
        kernels::max_pool(p, x.f.data(), y.data(), idx.data());
        size_t o = 0;
        for (int64_t pl = 0; pl < p.N * p.C; ++pl)
          for (int64_t oz = 0; oz < p.out[0]; ++oz)
            for (int64_t oy = 0; oy < p.out[1]; ++oy)
              for (int64_t ox = 0; ox < p.out[2]; ++ox, ++o) {
                const int64_t out[3] = {oz, oy, ox};
                float best = -INFINITY;
                int64_t at[3] = {-1, 0, 0};
                for (int64_t jz = 0; jz < p.kernel[0]; ++jz)
                  for (int64_t jy = 0; jy < p.kernel[1]; ++jy)
                    for (int64_t jx = 0; jx < p.kernel[2]; ++jx) {
                      const int64_t j[3] = {jz, jy, jx};
                      int64_t pos[3];
                      bool in = true;
                      for (int d = 0; d < 3; ++d) {
                        pos[d] = out[d] * p.stride[d] - p.pad_begin[d] + j[d] * p.dilation[d];
                        in = in && pos[d] >= 0 && pos[d] < p.in[d];
                      }
                      if (!in) continue;
                      const float v = x.f[((pl * p.in[0] + pos[0]) * p.in[1] + pos[1]) * p.in[2] + pos[2]];
                      if (at[0] < 0 || v > best) best = v, at[0] = pos[0], at[1] = pos[1], at[2] = pos[2];
                    }
                if (std::isnan(best)) {
                  ASSERT_TRUE(std::isnan(y[o])) << o;
                } else {
                  ASSERT_EQ(y[o], best) << o;
                }
                const int64_t spatial = at[0] < 0 ? 0
                                        : order == 0 ? (at[0] * p.in[1] + at[1]) * p.in[2] + at[2]
                                                     : (at[2] * p.in[1] + at[1]) * p.in[0] + at[0];
                ASSERT_EQ(idx[o], pl * p.in_size() + spatial) << o;
              }
      }
    }
  }
  kernels::set_threads(1);
}

TEST(KernelsReduce, ReduceMeanOverEveryAxisSubset) {
  const Shape s{2, 3, 1, 4, 5};
  const Tensor x = random_tensor(s, 3);
  for (int mask = 0; mask < 32; ++mask) {
    std::vector<bool> red(5);
    Shape out;
    for (int d = 0; d < 5; ++d) {
      red[d] = (mask >> d) & 1;
      if (!red[d]) out.push_back(s[d]);
    }
    std::vector<double> acc(static_cast<size_t>(shape_numel(out)), 0.0);
    const auto st = shape_strides(s);
    int64_t count = 1;
    for (int d = 0; d < 5; ++d)
      if (red[d]) count *= s[d];
    for (int64_t i = 0; i < shape_numel(s); ++i) {
      int64_t o = 0;
      for (int d = 0; d < 5; ++d)
        if (!red[d]) o = o * s[d] + i / st[d] % s[d];
      acc[o] += x.f[i];
    }
    std::vector<float> expect(acc.size()), y(acc.size());
    for (size_t k = 0; k < acc.size(); ++k) expect[k] = static_cast<float>(acc[k] / count);
    kernels::reduce(kernels::ReduceKind::Mean, x.f.data(), s, red, y.data());
    SCOPED_TRACE(mask);
    expect_near(y, expect, 1e-6f);
  }
}

// ---- OpsPoolNorm: pools ------------------------------------------------------------------------------------------------
TEST(OpsPoolNormPools, HandComputedCeilModeAndPads) {
  const Tensor x = iota({1, 1, 4, 4});
  const std::vector<onnx::Attribute> a{attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_int("ceil_mode", 1)};
  EXPECT_EQ(run_op("MaxPool", {{x}}, a)[0].f, (std::vector<float>{11, 12, 15, 16}));
  EXPECT_EQ(run_op("AveragePool", {{x}}, a)[0].f, (std::vector<float>{6, 7.5, 12, 13.5}));
  // ONNX test_maxpool_2d_precomputed_pads.
  const auto y = run_op("MaxPool", {{iota({1, 1, 5, 5})}}, {attr_ints("kernel_shape", {5, 5}), attr_ints("pads", {2, 2, 2, 2})});
  EXPECT_EQ(y[0].f, (std::vector<float>{13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25,
                                        23, 24, 25, 25, 25}));
  // 1-D, k3 s2 pads (1,1) ceil: windows [-1..1], [1..3], [3..5]; the last overhangs the end padding.
  const Tensor x1 = iota({1, 1, 4});
  std::vector<onnx::Attribute> b{attr_ints("kernel_shape", {3}), attr_ints("strides", {2}), attr_ints("pads", {1, 1}),
                                 attr_int("ceil_mode", 1)};
  EXPECT_EQ(run_op("AveragePool", {{x1}}, b)[0].f, (std::vector<float>{1.5f, 3, 4}));
  b.push_back(attr_int("count_include_pad", 1));
  EXPECT_EQ(run_op("AveragePool", {{x1}}, b)[0].f, (std::vector<float>{1, 3, 2}));
}

TEST(OpsPoolNormPools, MaxPoolIndicesBothStorageOrders) {
  const Tensor x = Tensor::from_floats({1, 2, 2, 3}, {1, 5, 2, 4, 3, 6, 9, 0, 0, 0, 0, 8});
  for (int order = 0; order < 2; ++order) {
    const auto y = run_op("MaxPool", {{x}}, {attr_ints("kernel_shape", {2, 2}), attr_int("storage_order", order)}, 2);
    EXPECT_EQ(y[0].f, (std::vector<float>{5, 6, 9, 8}));
    ASSERT_EQ(y[1].dtype, DType::Int64);
    // (h, w) = (0,1), (1,2), (0,0), (1,2); column-major spatial index is w*H + h; plane 1 adds 6.
    EXPECT_EQ(y[1].i, order == 0 ? (std::vector<int64_t>{1, 5, 6, 11}) : (std::vector<int64_t>{2, 5, 6, 11}));
  }
}

TEST(OpsPoolNormPools, Errors) {
  const Tensor x = random_tensor({1, 1, 4, 4}, 1);
  std::string e = error_of([&] { run_op("MaxPool", {{x}}, {}); });
  EXPECT_NE(e.find("kernel_shape is required"), std::string::npos) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  e = error_of([&] { run_op("AveragePool", {{x}}, {attr_ints("kernel_shape", {5, 5})}); });
  EXPECT_NE(e.find("larger than the padded input"), std::string::npos) << e;
  e = error_of([&] { run_op("MaxPool", {{x}}, {attr_ints("kernel_shape", {2, 2}), attr_ints("pads", {2, 0, 0, 0})}); });
  EXPECT_NE(e.find("smaller than the kernel"), std::string::npos) << e;
  e = error_of([&] { run_op("MaxPool", {{random_tensor({4, 4}, 1)}}, {attr_ints("kernel_shape", {2, 2})}); });
  EXPECT_NE(e.find("rank"), std::string::npos) << e;
  e = error_of([&] { run_op("GlobalAveragePool", {{random_tensor({4, 4}, 1)}}); });
  EXPECT_NE(e.find("rank >= 3"), std::string::npos) << e;
}

TEST(OpsPoolNormPools, GlobalPools) {
  const Tensor x = iota({2, 3, 2, 2});
  auto y = run_op("GlobalAveragePool", {{x}});
  EXPECT_EQ(y[0].shape, (Shape{2, 3, 1, 1}));
  EXPECT_EQ(y[0].f, (std::vector<float>{2.5, 6.5, 10.5, 14.5, 18.5, 22.5}));
  y = run_op("GlobalMaxPool", {{iota({1, 2, 3})}});
  EXPECT_EQ(y[0].shape, (Shape{1, 2, 1}));
  EXPECT_EQ(y[0].f, (std::vector<float>{3, 6}));
}

// ---- OpsPoolNorm: BatchNormalization -----------------------------------------------------------------------------
TEST(OpsPoolNormBatchNorm, InferenceFormula) {
  const Tensor x = random_tensor({2, 3, 2, 2}, 5);
  const Tensor g = Tensor::from_floats({3}, {1.0f, 0.5f, -2.0f}), b = Tensor::from_floats({3}, {0.0f, 1.0f, 0.25f});
  const Tensor m = Tensor::from_floats({3}, {0.1f, -0.2f, 0.3f}), v = Tensor::from_floats({3}, {1.0f, 0.25f, 4.0f});
  const auto y = run_op("BatchNormalization", {{x}, {g, true}, {b, true}, {m, true}, {v, true}}, {attr_float("epsilon", 1e-3f)});
  ASSERT_EQ(y[0].shape, x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = i / 4 % 3;
    ASSERT_NEAR(y[0].f[i], (x.f[i] - m.f[c]) / std::sqrt(v.f[c] + 1e-3f) * g.f[c] + b.f[c], 1e-5);
  }
  // Rank 2 (N, C) works too.
  const auto y2 = run_op("BatchNormalization", {{random_tensor({4, 3}, 6)}, {g, true}, {b, true}, {m, true}, {v, true}});
  EXPECT_EQ(y2[0].shape, (Shape{4, 3}));
}

TEST(OpsPoolNormBatchNorm, Errors) {
  const Tensor x = random_tensor({1, 3, 2, 2}, 5), c3 = random_tensor({3}, 1), c4 = random_tensor({4}, 2);
  std::string e = error_of([&] { run_op("BatchNormalization", {{x}, {c3, true}, {c4, true}, {c3, true}, {c3, true}}); });
  EXPECT_NE(e.find("input B has shape [4] but X has 3 channels"), std::string::npos) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  ErrorKind kind{};
  e = error_of([&] { run_op("BatchNormalization", {{x}, {c3, true}, {c3, true}, {c3, true}, {c3, true}}, {attr_int("training_mode", 1)}, 1, 15); },
               &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported) << e;
  e = error_of([&] { run_op("BatchNormalization", {{x}, {c3, true}, {c3, true}, {c3, true}}); });
  EXPECT_NE(e.find("inputs"), std::string::npos) << e;
}

// ---- OpsPoolNorm: LayerNormalization ---------------------------------------------------------------------------------
void check_layer_norm(const Shape& xs, int64_t axis, const Shape& scale_shape, bool with_bias) {
  SCOPED_TRACE(shape_str(xs) + " axis " + std::to_string(axis) + " scale " + shape_str(scale_shape));
  const Tensor x = random_tensor(xs, 7), s = random_tensor(scale_shape, 8), b = random_tensor(scale_shape, 9);
  std::vector<OpInput> in{{x}, {s, true}};
  if (with_bias) in.push_back({b, true});
  const auto y = run_op("LayerNormalization", in, {attr_int("axis", axis), attr_float("epsilon", 1e-3f)}, 3);
  const int64_t r = static_cast<int64_t>(xs.size()), ax = axis < 0 ? axis + r : axis;
  int64_t rows = 1, inner = 1;
  for (int64_t d = 0; d < r; ++d) (d < ax ? rows : inner) *= xs[d];
  Shape stat(xs.begin(), xs.begin() + ax);
  stat.resize(xs.size(), 1);
  ASSERT_EQ(y[1].shape, stat);
  ASSERT_EQ(y[2].shape, stat);
  // Scale/B index for element (row, i): broadcast against X's full shape.
  const auto xst = shape_strides(xs);
  Shape sfull(r, 1);
  for (size_t k = 0; k < scale_shape.size(); ++k) sfull[r - scale_shape.size() + k] = scale_shape[k];
  const auto sst = shape_strides(sfull);
  for (int64_t row = 0; row < rows; ++row) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += x.f[row * inner + i];
    mean /= inner;
    for (int64_t i = 0; i < inner; ++i) var += (x.f[row * inner + i] - mean) * (x.f[row * inner + i] - mean);
    var /= inner;
    const double inv = 1.0 / std::sqrt(var + 1e-3);
    ASSERT_NEAR(y[1].f[row], mean, 1e-5);
    ASSERT_NEAR(y[2].f[row], inv, 1e-4);
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t e = row * inner + i;
      int64_t so = 0;
      for (int64_t d = 0; d < r; ++d)
        if (sfull[d] != 1) so += e / xst[d] % xs[d] * sst[d];
      const double expect = (x.f[e] - mean) * inv * s.f[so] + (with_bias ? b.f[so] : 0.0);
      ASSERT_NEAR(y[0].f[e], expect, 1e-4);
    }
  }
}

TEST(OpsPoolNormLayerNorm, AxesScaleShapesAndStatistics) {
  check_layer_norm({2, 3, 4}, -1, {4}, true);
  check_layer_norm({2, 3, 4}, 1, {3, 4}, true);
  check_layer_norm({2, 3, 4}, 0, {2, 3, 4}, false);
  check_layer_norm({2, 3, 4}, -2, {1, 4}, true);      // broadcast inside the normalised block
  check_layer_norm({2, 3, 4}, 2, {3, 1}, true);       // varies across rows: materialised over X
  check_layer_norm({5, 6}, -1, {6}, false);
  const auto y = run_op("LayerNormalization", {{random_tensor({3, 8}, 1)}, {random_tensor({8}, 2), true}});
  EXPECT_EQ(y[0].shape, (Shape{3, 8}));
  const std::string e = error_of([] {
    run_op("LayerNormalization", {{random_tensor({3, 8}, 1)}, {random_tensor({5}, 2), true}});
  });
  EXPECT_NE(e.find("input Scale has shape [5], not broadcastable"), std::string::npos) << e;
  const std::string e2 = error_of([] {
    run_op("LayerNormalization", {{random_tensor({3, 8}, 1)}, {random_tensor({8}, 2), true}}, {attr_int("axis", 2)});
  });
  EXPECT_NE(e2.find("attribute axis = 2 is out of range"), std::string::npos) << e2;
}

// ---- OpsPoolNorm: Softmax / LogSoftmax -----------------------------------------------------------------------------------
// Naive softmax over x viewed as (outer, len, inner).
std::vector<float> naive_softmax(const std::vector<float>& x, int64_t outer, int64_t len, int64_t inner, bool log) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double mx = -INFINITY, sum = 0;
      for (int64_t l = 0; l < len; ++l) mx = std::max<double>(mx, x[(o * len + l) * inner + i]);
      for (int64_t l = 0; l < len; ++l) sum += std::exp(x[(o * len + l) * inner + i] - mx);
      for (int64_t l = 0; l < len; ++l) {
        const double v = x[(o * len + l) * inner + i] - mx;
        y[(o * len + l) * inner + i] = static_cast<float>(log ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return y;
}

TEST(OpsPoolNormSoftmax, Opset12CoercesTo2DAndOpset13UsesOneAxis) {
  const Tensor x = random_tensor({2, 3, 4}, 11);
  for (bool log : {false, true}) {
    const char* op = log ? "LogSoftmax" : "Softmax";
    SCOPED_TRACE(op);
    expect_near(run_op(op, {{x}}, {}, 1, 12)[0].f, naive_softmax(x.f, 2, 12, 1, log), 1e-6f);    // default axis 1
    expect_near(run_op(op, {{x}}, {}, 1, 13)[0].f, naive_softmax(x.f, 6, 4, 1, log), 1e-6f);     // default axis -1
    expect_near(run_op(op, {{x}}, {attr_int("axis", 1)}, 1, 13)[0].f, naive_softmax(x.f, 2, 3, 4, log), 1e-6f);
    expect_near(run_op(op, {{x}}, {attr_int("axis", 0)}, 1, 13)[0].f, naive_softmax(x.f, 1, 2, 12, log), 1e-6f);
    expect_near(run_op(op, {{x}}, {attr_int("axis", 0)}, 1, 11)[0].f, naive_softmax(x.f, 1, 24, 1, log), 1e-6f);
    expect_near(run_op(op, {{x}}, {attr_int("axis", -1)}, 1, 11)[0].f, naive_softmax(x.f, 6, 4, 1, log), 1e-6f);
  }
  // Large values stay finite (max subtracted).
  const Tensor big = Tensor::from_floats({1, 3}, {10000, 10001, 10002});
  const auto y = run_op("Softmax", {{big}});
  EXPECT_NEAR(y[0].f[2], 0.66524096f, 1e-6);
  const std::string e = error_of([&] { run_op("Softmax", {{x}}, {attr_int("axis", 3)}); });
  EXPECT_NE(e.find("attribute axis = 3 is out of range"), std::string::npos) << e;
}

// ---- OpsPoolNorm: ReduceMean -------------------------------------------------------------------------------------------
TEST(OpsPoolNormReduceMean, AttributeAxesBeforeOpset18) {
  const Tensor x = iota({3, 2, 2});
  auto y = run_op("ReduceMean", {{x}}, {attr_ints("axes", {1}), attr_int("keepdims", 1)}, 1, 13);
  EXPECT_EQ(y[0].shape, (Shape{3, 1, 2}));
  EXPECT_EQ(y[0].f, (std::vector<float>{2, 3, 6, 7, 10, 11}));
  y = run_op("ReduceMean", {{x}}, {attr_ints("axes", {-2}), attr_int("keepdims", 0)}, 1, 13);
  EXPECT_EQ(y[0].shape, (Shape{3, 2}));
  EXPECT_EQ(y[0].f, (std::vector<float>{2, 3, 6, 7, 10, 11}));
  y = run_op("ReduceMean", {{x}}, {}, 1, 13);   // default: all axes, keepdims
  EXPECT_EQ(y[0].shape, (Shape{1, 1, 1}));
  EXPECT_FLOAT_EQ(y[0].f[0], 6.5f);
  y = run_op("ReduceMean", {{x}}, {attr_ints("axes", {0, 2}), attr_int("keepdims", 0)}, 1, 13);
  EXPECT_EQ(y[0].f, (std::vector<float>{5.5, 7.5}));
}

TEST(OpsPoolNormReduceMean, AxesInputFromOpset18) {
  const Tensor x = iota({3, 2, 2}), axes = Tensor::from_ints({1}, {1}), none = Tensor::from_ints({0}, {});
  auto y = run_op("ReduceMean", {{x}, {axes, true}}, {attr_int("keepdims", 0)}, 1, 18);
  EXPECT_EQ(y[0].shape, (Shape{3, 2}));
  EXPECT_EQ(y[0].f, (std::vector<float>{2, 3, 6, 7, 10, 11}));
  y = run_op("ReduceMean", {{x}}, {}, 1, 18);
  EXPECT_EQ(y[0].shape, (Shape{1, 1, 1}));
  y = run_op("ReduceMean", {{x}, {none, true}}, {attr_int("noop_with_empty_axes", 1)}, 1, 18);
  EXPECT_EQ(y[0].shape, x.shape);
  EXPECT_EQ(y[0].f, x.f);
  y = run_op("ReduceMean", {{x}, {none, true}}, {attr_int("keepdims", 0)}, 1, 18);
  EXPECT_EQ(y[0].shape, Shape{});
  EXPECT_FLOAT_EQ(y[0].f[0], 6.5f);
}

TEST(OpsPoolNormReduceMean, Errors) {
  const Tensor x = iota({3, 2, 2});
  std::string e = error_of([&] { run_op("ReduceMean", {{x}}, {attr_ints("axes", {1, -2})}, 1, 13); });
  EXPECT_NE(e.find("twice"), std::string::npos) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  e = error_of([&] { run_op("ReduceMean", {{x}}, {attr_ints("axes", {3})}, 1, 13); });
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  e = error_of([&] { run_op("ReduceMean", {{x}, {Tensor::from_ints({1}, {0}), true}}, {}, 1, 13); });
  EXPECT_NE(e.find("opset 18"), std::string::npos) << e;
  e = error_of([&] { run_op("ReduceMean", {{x}}, {attr_ints("axes", {0})}, 1, 18); });
  EXPECT_NE(e.find("attribute axes is not allowed"), std::string::npos) << e;
  // axes fed as a graph input: int64 inputs are plan-time values, so this equals constant axes.
  const auto runtime = run_op("ReduceMean", {{x}, {Tensor::from_ints({1}, {0})}}, {}, 1, 18);
  const auto folded = run_op("ReduceMean", {{x}, {Tensor::from_ints({1}, {0}), true}}, {}, 1, 18);
  EXPECT_EQ(runtime[0].shape, (Shape{1, 2, 2}));
  EXPECT_EQ(runtime[0].f, folded[0].f);
}

}  // namespace
}  // namespace relscope
