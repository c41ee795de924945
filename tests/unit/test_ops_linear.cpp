// Conv, ConvTranspose, Gemm, MatMul: kernels against naive loops, adjointness, ONNX doc values, errors.
//
// Sections: helpers and naive references | Kernels (gemm, conv, adjoint, conv transpose) |
//           OpsLinear (Conv, ConvTranspose, Gemm, MatMul, error paths)
#include <gtest/gtest.h>

#include <cmath>
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

// ---- helpers and naive references ---------------------------------------------------------------------------
Node make_node(const std::string& op, std::vector<onnx::Attribute> attrs) {
  Node n;
  n.name = "t";
  n.op_type = op;
  n.op = op_from_name(op);
  n.attrs = Attrs(std::move(attrs), "node 't' (" + op + ")");
  return n;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

Tensor random_tensor(Shape s, uint32_t seed) {
  const size_t n = static_cast<size_t>(shape_numel(s));
  return Tensor::from_floats(std::move(s), random_floats(n, seed));
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += static_cast<double>(a[k]) * b[k];
  return s;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) m = std::max(m, std::fabs(a[k] - b[k]));
  return m;
}

// Direct convolution straight from the definition, sizes from p (checked separately).
std::vector<float> naive_conv(const ConvParams& p, const std::vector<float>& x, const std::vector<float>& w,
                              const float* b) {
  std::vector<float> y(static_cast<size_t>(p.N * p.M * p.out_size()));
  const int64_t cg = p.C_per_group(), mg = p.M_per_group();
  size_t o = 0;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t oz = 0; oz < p.out[0]; ++oz)
        for (int64_t oy = 0; oy < p.out[1]; ++oy)
          for (int64_t ox = 0; ox < p.out[2]; ++ox, ++o) {
            double acc = b ? b[m] : 0.0;
            const int64_t g = m / mg;
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t kz = 0; kz < p.kernel[0]; ++kz)
                for (int64_t ky = 0; ky < p.kernel[1]; ++ky)
                  for (int64_t kx = 0; kx < p.kernel[2]; ++kx) {
                    const int64_t iz = oz * p.stride[0] - p.pad_begin[0] + kz * p.dilation[0];
                    const int64_t iy = oy * p.stride[1] - p.pad_begin[1] + ky * p.dilation[1];
                    const int64_t ix = ox * p.stride[2] - p.pad_begin[2] + kx * p.dilation[2];
                    if (iz < 0 || iz >= p.in[0] || iy < 0 || iy >= p.in[1] || ix < 0 || ix >= p.in[2]) continue;
                    acc += x[(((n * p.C + g * cg + c) * p.in[0] + iz) * p.in[1] + iy) * p.in[2] + ix] *
                           w[(((m * cg + c) * p.kernel[0] + kz) * p.kernel[1] + ky) * p.kernel[2] + kx];
                  }
            y[o] = static_cast<float>(acc);
          }
  return y;
}

// ConvTranspose from its definition: every input pixel scatters its kernel; full-size positions are
// shifted by pad_begin and clipped to `out`. Works on real (unaligned) spatial dims of any count.
std::vector<float> naive_conv_transpose(const Shape& xs, const std::vector<float>& x, const Shape& ws,
                                        const std::vector<float>& w, const float* b, int64_t group,
                                        const std::vector<int64_t>& s, const std::vector<int64_t>& d,
                                        const std::vector<int64_t>& pb, const std::vector<int64_t>& out) {
  const size_t ns = xs.size() - 2;
  const int64_t N = xs[0], cin = xs[1], cog = ws[1], cout = cog * group, cig = cin / group;
  Shape ys{N, cout};
  for (int64_t v : out) ys.push_back(v);
  std::vector<float> y(static_cast<size_t>(shape_numel(ys)), 0.0f);
  const Shape in_sp(xs.begin() + 2, xs.end()), k_sp(ws.begin() + 2, ws.end());
  const int64_t in_n = shape_numel(in_sp), k_n = shape_numel(k_sp), out_n = shape_numel(out);
  const auto in_st = shape_strides(in_sp), k_st = shape_strides(k_sp), out_st = shape_strides(out);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t i = 0; i < in_n; ++i)
        for (int64_t kk = 0; kk < k_n; ++kk) {
          int64_t o = 0;
          bool ok = true;
          for (size_t a = 0; a < ns; ++a) {
            const int64_t ia = i / in_st[a] % in_sp[a], ka = kk / k_st[a] % k_sp[a];
            const int64_t pos = ia * s[a] + ka * d[a] - pb[a];
            if (pos < 0 || pos >= out[a]) ok = false;
            o += pos * out_st[a];
          }
          if (!ok) continue;
          const int64_t g = ci / cig;
          for (int64_t c = 0; c < cog; ++c)
            y[((n * cout + g * cog + c) * out_n) + o] +=
                x[(n * cin + ci) * in_n + i] * w[(ci * cog + c) * k_n + kk];
        }
  if (b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < cout; ++c)
        for (int64_t o = 0; o < out_n; ++o) y[(n * cout + c) * out_n + o] += b[c];
  return y;
}

struct ConvCase {
  const char* name;
  Shape x, w;
  std::vector<onnx::Attribute> attrs;
  Shape expect_y;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"basic", {2, 3, 7, 6}, {4, 3, 3, 3}, {attr_ints("pads", {1, 1, 1, 1})}, {2, 4, 7, 6}},
      {"stride2_asym_pads", {1, 3, 9, 8}, {2, 3, 3, 3}, {attr_ints("strides", {2, 2}), attr_ints("pads", {0, 1, 2, 1})}, {1, 2, 5, 4}},
      {"dilation2", {1, 2, 9, 9}, {3, 2, 3, 3}, {attr_ints("dilations", {2, 2}), attr_ints("pads", {2, 2, 2, 2})}, {1, 3, 9, 9}},
      {"group2", {2, 4, 8, 7}, {6, 2, 3, 2}, {attr_int("group", 2), attr_ints("strides", {2, 1})}, {2, 6, 3, 6}},
      {"depthwise", {1, 5, 9, 9}, {5, 1, 3, 3}, {attr_int("group", 5), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})}, {1, 5, 5, 5}},
      {"depthwise_mult2", {2, 3, 6, 5}, {6, 1, 3, 3}, {attr_int("group", 3), attr_ints("pads", {1, 0, 1, 2})}, {2, 6, 6, 5}},
      {"pointwise", {2, 8, 5, 6}, {5, 8, 1, 1}, {}, {2, 5, 5, 6}},
      {"pointwise_stride2", {1, 4, 7, 7}, {3, 4, 1, 1}, {attr_ints("strides", {2, 2})}, {1, 3, 4, 4}},
      {"conv1d", {2, 3, 11}, {2, 3, 4}, {attr_ints("strides", {3}), attr_ints("dilations", {2}), attr_ints("pads", {1, 2})}, {2, 2, 3}},
      {"conv3d", {1, 2, 4, 5, 6}, {3, 2, 2, 3, 2}, {attr_ints("strides", {1, 2, 1}), attr_ints("pads", {1, 0, 1, 0, 1, 1})}, {1, 3, 4, 2, 7}},
      {"same_upper", {1, 2, 7, 6}, {2, 2, 3, 4}, {attr_string("auto_pad", "SAME_UPPER"), attr_ints("strides", {2, 2})}, {1, 2, 4, 3}},
      {"same_lower", {1, 2, 6, 5}, {2, 2, 4, 2}, {attr_string("auto_pad", "SAME_LOWER")}, {1, 2, 6, 5}},
      {"valid", {1, 2, 6, 5}, {2, 2, 3, 3}, {attr_string("auto_pad", "VALID"), attr_ints("strides", {2, 1})}, {1, 2, 2, 3}},
      {"kernel_shape_attr", {1, 1, 5, 5}, {1, 1, 2, 3}, {attr_ints("kernel_shape", {2, 3})}, {1, 1, 4, 3}},
      {"banded_im2col", {1, 64, 100, 100}, {4, 64, 3, 3}, {attr_ints("pads", {1, 1, 1, 1})}, {1, 4, 100, 100}},
  };
}

// ---- Kernels ----------------------------------------------------------------------------------------------------
TEST(KernelsGemm, AllTransposesWithLeadingDimensionsAndBeta) {
  const int64_t M = 5, N = 7, K = 6, pad = 3;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.0f, 1.0f, -0.5f}) {
        const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
        const auto a = random_floats(static_cast<size_t>(ar * (ac + pad)), 1), b = random_floats(static_cast<size_t>(br * (bc + pad)), 2);
        std::vector<float> c = random_floats(static_cast<size_t>(M * (N + pad)), 3), ref = c;
        if (beta == 0.0f) c[0] = std::numeric_limits<float>::quiet_NaN();   // must not be read
        kernels::gemm(ta, tb, M, N, K, 0.75f, a.data(), ac + pad, b.data(), bc + pad, beta, c.data(), N + pad);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N + pad; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K && j < N; ++k)   // columns past N: padding, untouched
              acc += a[ta ? k * (ac + pad) + i : i * (ac + pad) + k] * b[tb ? j * (bc + pad) + k : k * (bc + pad) + j];
            const float expect = j < N ? static_cast<float>(0.75 * acc + beta * ref[i * (N + pad) + j]) : ref[i * (N + pad) + j];
            ASSERT_NEAR(c[i * (N + pad) + j], expect, 1e-5) << "ta=" << ta << " tb=" << tb << " beta=" << beta;
          }
      }
}

// Sizes that cross every blocking edge of the packed wasm kernel (kc 256, mc 128, nc 2048, 4x8 tiles);
// natively this checks Eigen on the same shapes.
TEST(KernelsGemm, OddSizesAcrossBlockEdges) {
  struct Dims {
    int64_t M, N, K;
  };
  for (const Dims d : {Dims{9, 2060, 260}, Dims{131, 19, 517}, Dims{5, 9, 3}, Dims{4, 8, 600}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (float beta : {0.0f, 0.5f}) {
          SCOPED_TRACE(std::to_string(d.M) + "x" + std::to_string(d.N) + "x" + std::to_string(d.K) + " ta=" +
                       std::to_string(ta) + " tb=" + std::to_string(tb) + " beta=" + std::to_string(beta));
          const auto a = random_floats(static_cast<size_t>(d.M * d.K), 5), b = random_floats(static_cast<size_t>(d.K * d.N), 6);
          std::vector<float> c = random_floats(static_cast<size_t>(d.M * d.N), 7), ref = c;
          kernels::gemm(ta, tb, d.M, d.N, d.K, 1.5f, a.data(), ta ? d.M : d.K, b.data(), tb ? d.K : d.N, beta, c.data(), d.N);
          float worst = 0;
          for (int64_t i = 0; i < d.M; ++i)
            for (int64_t j = 0; j < d.N; ++j) {
              double acc = 0;
              for (int64_t k = 0; k < d.K; ++k)
                acc += a[ta ? k * d.M + i : i * d.K + k] * b[tb ? j * d.K + k : k * d.N + j];
              const double expect = 1.5 * acc + beta * ref[i * d.N + j];
              worst = std::max(worst, static_cast<float>(std::fabs(c[i * d.N + j] - expect)));
            }
          EXPECT_LT(worst, 1e-4f);
        }
  }
}

TEST(KernelsGemm, EmptyInnerDimensionScalesC) {
  std::vector<float> c{1, 2, 3, 4};
  kernels::gemm(false, false, 2, 2, 0, 1.0f, nullptr, 0, nullptr, 2, 2.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8}));
  kernels::gemm(false, false, 2, 2, 0, 1.0f, nullptr, 0, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
}

TEST(KernelsConv, ForwardMatchesDirectConvolution) {
  uint32_t seed = 10;
  for (const auto& cc : conv_cases()) {
    SCOPED_TRACE(cc.name);
    const ConvParams p = resolve_conv(make_node("Conv", cc.attrs), cc.x, cc.w, "t");
    ASSERT_EQ(p.y_shape(), cc.expect_y);
    const auto x = random_floats(static_cast<size_t>(shape_numel(cc.x)), seed++);
    const auto w = random_floats(static_cast<size_t>(shape_numel(cc.w)), seed++);
    const auto b = random_floats(static_cast<size_t>(cc.w[0]), seed++);
    for (const float* bias : {static_cast<const float*>(nullptr), b.data()}) {
      std::vector<float> y(static_cast<size_t>(shape_numel(p.y_shape())), 123.0f);   // garbage: must be overwritten
      kernels::conv_forward(p, x.data(), w.data(), bias, y.data());
      EXPECT_LT(max_diff(y, naive_conv(p, x, w, bias)), 1e-4f);   // sums of up to 576 products
    }
  }
}

TEST(KernelsConv, BackwardDataIsTheAdjointOfForward) {
  uint32_t seed = 100;
  for (const auto& cc : conv_cases()) {
    SCOPED_TRACE(cc.name);
    const ConvParams p = resolve_conv(make_node("Conv", cc.attrs), cc.x, cc.w, "t");
    const auto x = random_floats(static_cast<size_t>(shape_numel(cc.x)), seed++);
    const auto w = random_floats(static_cast<size_t>(shape_numel(cc.w)), seed++);
    const auto dy = random_floats(static_cast<size_t>(shape_numel(p.y_shape())), seed++);
    std::vector<float> y(dy.size()), dx(x.size(), 7.0f);
    kernels::conv_forward(p, x.data(), w.data(), nullptr, y.data());
    kernels::conv_backward_data(p, dy.data(), w.data(), dx.data());
    const double lhs = dot(y, dy), rhs = dot(x, dx);
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::max(1.0, std::fabs(lhs)));
  }
}

struct ConvTransposeCase {
  const char* name;
  Shape x, w;
  std::vector<onnx::Attribute> attrs;
  std::vector<int64_t> s, d, pb, out;   // for the naive definition
};

TEST(KernelsConv, BackwardDataIsConvTranspose) {
  const std::vector<ConvTransposeCase> cases = {
      {"plain", {1, 2, 3, 4}, {2, 3, 3, 3}, {}, {1, 1}, {1, 1}, {0, 0}, {5, 6}},
      {"stride2_pads_outpad", {2, 3, 4, 3}, {3, 2, 3, 3},
       {attr_ints("strides", {2, 2}), attr_ints("pads", {1, 0, 0, 1}), attr_ints("output_padding", {1, 1})},
       {2, 2}, {1, 1}, {1, 0}, {9, 7}},
      {"group2_dilation", {1, 4, 3, 3}, {4, 3, 2, 2},
       {attr_int("group", 2), attr_ints("dilations", {2, 1}), attr_ints("strides", {1, 2})},
       {1, 2}, {2, 1}, {0, 0}, {5, 6}},
      {"conv1d", {2, 2, 5}, {2, 1, 3}, {attr_ints("strides", {3}), attr_ints("pads", {1, 2})}, {3}, {1}, {1}, {12}},
      {"conv3d", {1, 1, 2, 3, 2}, {1, 2, 2, 2, 3}, {attr_ints("strides", {2, 1, 2})}, {2, 1, 2}, {1, 1, 1}, {0, 0, 0}, {4, 4, 5}},
      {"output_shape_bigger", {1, 1, 3, 3}, {1, 2, 3, 3}, {attr_ints("strides", {3, 2}), attr_ints("output_shape", {10, 8})},
       {3, 2}, {1, 1}, {0, 0}, {10, 8}},
      {"same_upper", {1, 1, 3, 3}, {1, 2, 3, 3}, {attr_string("auto_pad", "SAME_UPPER"), attr_ints("strides", {2, 2})},
       {2, 2}, {1, 1}, {0, 0}, {6, 6}},
      {"same_lower", {1, 1, 3, 3}, {1, 2, 3, 3}, {attr_string("auto_pad", "SAME_LOWER"), attr_ints("strides", {2, 2})},
       {2, 2}, {1, 1}, {1, 1}, {6, 6}},
  };
  uint32_t seed = 200;
  for (const auto& cc : cases) {
    SCOPED_TRACE(cc.name);
    const ConvParams p = resolve_conv_transpose(make_node("ConvTranspose", cc.attrs), cc.x, cc.w, "t");
    Shape expect{cc.x[0], cc.w[1] * p.group};
    for (int64_t v : cc.out) expect.push_back(v);
    ASSERT_EQ(p.x_shape(), expect);
    const auto x = random_floats(static_cast<size_t>(shape_numel(cc.x)), seed++);
    const auto w = random_floats(static_cast<size_t>(shape_numel(cc.w)), seed++);
    std::vector<float> y(static_cast<size_t>(shape_numel(expect)), 5.0f);
    kernels::conv_backward_data(p, x.data(), w.data(), y.data());
    EXPECT_LT(max_diff(y, naive_conv_transpose(cc.x, x, cc.w, w, nullptr, p.group, cc.s, cc.d, cc.pb, cc.out)), 2e-5f);
  }
}

TEST(KernelsConv, ResolvedParamsForConvTransposeAreTheAdjointConv) {
  // Conv from the ConvTranspose output size back must reproduce the ConvTranspose input size.
  const Node n = make_node("ConvTranspose", {attr_ints("strides", {2, 3}), attr_ints("pads", {1, 2, 0, 1}),
                                             attr_ints("output_padding", {1, 2})});
  const ConvParams p = resolve_conv_transpose(n, {1, 4, 5, 6}, {4, 2, 3, 4}, "t");
  EXPECT_EQ(p.C, 2);
  EXPECT_EQ(p.M, 4);
  EXPECT_EQ(p.x_shape(), (Shape{1, 2, 2 * 4 + 1 + 3 - 1, 3 * 5 + 2 + 4 - 3}));
  EXPECT_EQ(p.y_shape(), (Shape{1, 4, 5, 6}));
  EXPECT_EQ(p.w_shape(), (Shape{4, 2, 3, 4}));
}

// ---- OpsLinear --------------------------------------------------------------------------------------------------
std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "(no error)";
}

Tensor iota(Shape s, float start = 0.0f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = start + static_cast<float>(k);
  return Tensor::from_floats(std::move(s), std::move(v));
}
Tensor ones(Shape s) { return Tensor::from_floats(s, std::vector<float>(static_cast<size_t>(shape_numel(s)), 1.0f)); }

TEST(OpsLinearConv, OnnxDocumentationExamples) {
  const Tensor x = iota({1, 1, 5, 5}), w = ones({1, 1, 3, 3});
  auto y = run_op("Conv", {{x}, {w, true}}, {attr_ints("pads", {1, 1, 1, 1})});
  EXPECT_EQ(y[0].shape, (Shape{1, 1, 5, 5}));
  EXPECT_EQ(y[0].f, (std::vector<float>{12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153,
                                        162, 111, 72, 111, 117, 123, 84}));
  y = run_op("Conv", {{x}, {w, true}});
  EXPECT_EQ(y[0].f, (std::vector<float>{54, 63, 72, 99, 108, 117, 144, 153, 162}));
  y = run_op("Conv", {{iota({1, 1, 7, 5})}, {w, true}}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {2, 2})});
  EXPECT_EQ(y[0].shape, (Shape{1, 1, 4, 3}));
  EXPECT_EQ(y[0].f, (std::vector<float>{12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124}));
}

TEST(OpsLinearConv, MatchesDirectConvolutionWithBias) {
  uint32_t seed = 300;
  for (const auto& cc : conv_cases()) {
    if (shape_numel(cc.x) > 100000) continue;   // the banded case is covered at kernel level
    SCOPED_TRACE(cc.name);
    const Tensor x = random_tensor(cc.x, seed++), w = random_tensor(cc.w, seed++), b = random_tensor({cc.w[0]}, seed++);
    const auto y = run_op("Conv", {{x}, {w, true}, {b, true}}, cc.attrs);
    ASSERT_EQ(y[0].shape, cc.expect_y);
    const ConvParams p = resolve_conv(make_node("Conv", cc.attrs), cc.x, cc.w, "t");
    EXPECT_LT(max_diff(y[0].f, naive_conv(p, x.f, w.f, b.f.data())), 2e-5f);
  }
  // Omitted optional bias.
  const Tensor x = random_tensor({1, 2, 4, 4}, 1), w = random_tensor({3, 2, 3, 3}, 2);
  const auto y = run_op("Conv", {{x}, {w, true}, {Tensor{}, false, true}});
  EXPECT_EQ(y[0].shape, (Shape{1, 3, 2, 2}));
}

TEST(OpsLinearConv, ErrorsNameTheNodeAndTheProblem) {
  const auto conv = [](Shape xs, Shape ws, std::vector<onnx::Attribute> a = {}, Shape bs = {}) {
    std::vector<OpInput> in{{random_tensor(xs, 1)}, {random_tensor(ws, 2), true}};
    if (!bs.empty()) in.push_back({random_tensor(bs, 3), true});
    return error_of([&] { run_op("Conv", in, a); });
  };
  std::string e = conv({1, 3, 5, 5}, {4, 4, 3, 3});
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  EXPECT_NE(e.find("input X has 3 channels but W expects 4"), std::string::npos) << e;
  e = conv({1, 4, 5, 5}, {3, 2, 3, 3}, {attr_int("group", 3)});
  EXPECT_NE(e.find("not divisible by group=3"), std::string::npos) << e;
  e = conv({1, 4, 5, 5}, {4, 4, 3, 3}, {attr_int("group", 0)});
  EXPECT_NE(e.find("group"), std::string::npos) << e;
  e = conv({1, 1, 2, 2}, {1, 1, 3, 3});
  EXPECT_NE(e.find("larger than the padded input"), std::string::npos) << e;
  e = conv({1, 3, 5}, {1, 3, 3, 3});
  EXPECT_NE(e.find("rank"), std::string::npos) << e;
  ErrorKind kind{};
  e = error_of([&] { run_op("Conv", {{random_tensor({3, 5}, 1)}, {random_tensor({1, 3}, 2), true}}); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  e = conv({1, 2, 5, 5}, {3, 2, 3, 3}, {}, {2});
  EXPECT_NE(e.find("input B has shape [2]"), std::string::npos) << e;
  e = conv({1, 2, 5, 5}, {3, 2, 3, 3}, {attr_ints("strides", {1})});
  EXPECT_NE(e.find("strides"), std::string::npos) << e;
  e = conv({1, 2, 5, 5}, {3, 2, 3, 3}, {attr_ints("kernel_shape", {2, 2})});
  EXPECT_NE(e.find("kernel_shape"), std::string::npos) << e;
  e = conv({1, 2, 5, 5}, {3, 2, 3, 3}, {attr_string("auto_pad", "SAME")});
  EXPECT_NE(e.find("auto_pad"), std::string::npos) << e;
}

TEST(OpsLinearConvTranspose, DocumentationExampleAndBias) {
  const Tensor x = iota({1, 1, 3, 3}), w = ones({1, 2, 3, 3}), b = Tensor::from_floats({2}, {0.5f, -1.0f});
  auto y = run_op("ConvTranspose", {{x}, {w, true}});
  ASSERT_EQ(y[0].shape, (Shape{1, 2, 5, 5}));
  const std::vector<float> plane{0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
  for (int c = 0; c < 2; ++c)
    EXPECT_EQ(std::vector<float>(y[0].f.begin() + c * 25, y[0].f.begin() + (c + 1) * 25), plane);
  y = run_op("ConvTranspose", {{x}, {w, true}, {b, true}});
  EXPECT_FLOAT_EQ(y[0].f[6], 8.5f);
  EXPECT_FLOAT_EQ(y[0].f[25 + 6], 7.0f);
  // auto_pad SAME_UPPER, stride 2 (ONNX's test_convtranspose_autopad_same): first row of channel 0.
  y = run_op("ConvTranspose", {{x}, {w, true}}, {attr_string("auto_pad", "SAME_UPPER"), attr_ints("strides", {2, 2})});
  ASSERT_EQ(y[0].shape, (Shape{1, 2, 6, 6}));
  EXPECT_EQ(std::vector<float>(y[0].f.begin(), y[0].f.begin() + 6), (std::vector<float>{0, 0, 1, 1, 3, 2}));
  EXPECT_EQ(std::vector<float>(y[0].f.begin() + 30, y[0].f.begin() + 36), (std::vector<float>{6, 6, 13, 7, 15, 8}));
}

TEST(OpsLinearConvTranspose, MatchesDefinitionWithGroupsAndOutputShape) {
  const Tensor x = random_tensor({2, 4, 3, 4}, 7), w = random_tensor({4, 3, 3, 2}, 8), b = random_tensor({6}, 9);
  auto y = run_op("ConvTranspose", {{x}, {w, true}, {b, true}},
                  {attr_int("group", 2), attr_ints("strides", {2, 3}), attr_ints("pads", {1, 0, 1, 1}),
                   attr_ints("output_padding", {1, 0}), attr_ints("dilations", {1, 2})});
  // H: 2*2 + 1 + 3 - 2 = 6; W: 3*3 + 0 + 3 - 1 = 11
  ASSERT_EQ(y[0].shape, (Shape{2, 6, 6, 11}));
  EXPECT_LT(max_diff(y[0].f, naive_conv_transpose(x.shape, x.f, w.shape, w.f, b.f.data(), 2, {2, 3}, {1, 2}, {1, 0}, {6, 11})),
            2e-5f);
  y = run_op("ConvTranspose", {{x}, {w, true}}, {attr_int("group", 2), attr_ints("output_shape", {2, 6, 7, 9})});
  // Natural size 5x5; total padding -2/-4 splits as the spec says (begin = total - floor(total/2)), so
  // the natural result sits centred with pads begin (-1, -2).
  ASSERT_EQ(y[0].shape, (Shape{2, 6, 7, 9}));
  EXPECT_LT(max_diff(y[0].f, naive_conv_transpose(x.shape, x.f, w.shape, w.f, nullptr, 2, {1, 1}, {1, 1}, {-1, -2}, {7, 9})),
            2e-5f);
  const std::string e = error_of([&] { run_op("ConvTranspose", {{x}, {random_tensor({3, 3, 3, 2}, 1), true}}); });
  EXPECT_NE(e.find("input X has 4 channels but W [3,3,3,2] expects 3"), std::string::npos) << e;
}

// Gemm: every transpose combination with every way C can broadcast.
TEST(OpsLinearGemm, AllTransposesAndBiasBroadcasts) {
  const int64_t M = 3, N = 4, K = 5;
  const std::vector<Shape> c_shapes = {{}, {1}, {N}, {1, N}, {M, 1}, {M, N}, {1, 1}};
  uint32_t seed = 400;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int with_c = 0; with_c <= static_cast<int>(c_shapes.size()); ++with_c) {
        const Tensor a = random_tensor(ta ? Shape{K, M} : Shape{M, K}, seed++);
        const Tensor b = random_tensor(tb ? Shape{N, K} : Shape{K, N}, seed++);
        std::vector<OpInput> in{{a}, {b, true}};
        Tensor c;
        if (with_c > 0) {
          c = random_tensor(c_shapes[with_c - 1], seed++);
          in.push_back({c, true});
        }
        const auto y = run_op("Gemm", in,
                              {attr_int("transA", ta), attr_int("transB", tb), attr_float("alpha", 0.5f), attr_float("beta", 2.0f)});
        ASSERT_EQ(y[0].shape, (Shape{M, N}));
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += a.f[ta ? k * M + i : i * K + k] * b.f[tb ? j * K + k : k * N + j];
            float cv = 0;
            if (with_c > 0) {
              const Shape& cs = c.shape;
              const int64_t cr = cs.size() == 2 ? cs[0] : 1, ccols = cs.empty() ? 1 : cs.back();
              cv = c.f[(cr == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j)];
            }
            ASSERT_NEAR(y[0].f[i * N + j], 0.5 * acc + 2.0 * cv, 1e-5) << ta << tb << with_c;
          }
      }
}

TEST(OpsLinearGemm, Errors) {
  std::string e = error_of([] { run_op("Gemm", {{random_tensor({2, 3}, 1)}, {random_tensor({4, 5}, 2)}}); });
  EXPECT_NE(e.find("inner dimensions differ"), std::string::npos) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  e = error_of([] { run_op("Gemm", {{random_tensor({2, 3}, 1)}, {random_tensor({3, 5}, 2)}, {random_tensor({3}, 3)}}); });
  EXPECT_NE(e.find("input C has shape [3]"), std::string::npos) << e;
  e = error_of([] { run_op("Gemm", {{random_tensor({2, 3, 1}, 1)}, {random_tensor({3, 5}, 2)}}); });
  EXPECT_NE(e.find("2-D"), std::string::npos) << e;
}

// MatMul against a per-batch naive product with numpy broadcasting.
void check_matmul(const Shape& as, const Shape& bs, const Shape& expect) {
  SCOPED_TRACE(shape_str(as) + " x " + shape_str(bs));
  const Tensor a = random_tensor(as, 11), b = random_tensor(bs, 12);
  const auto y = run_op("MatMul", {{a}, {b}});
  ASSERT_EQ(y[0].shape, expect);
  const MatMulParams p = resolve_matmul(as, bs, "t");
  size_t o = 0;
  for (size_t t = 0; t < p.a_offset.size(); ++t)
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j, ++o) {
        double acc = 0;
        for (int64_t k = 0; k < p.K; ++k)
          acc += a.f[p.a_offset[t] * p.M * p.K + i * p.K + k] * b.f[p.b_offset[t] * p.K * p.N + k * p.N + j];
        ASSERT_NEAR(y[0].f[o], acc, 1e-5);
      }
}

TEST(OpsLinearMatMul, NumpySemantics) {
  check_matmul({3, 4}, {4, 5}, {3, 5});
  check_matmul({4}, {4, 5}, {5});
  check_matmul({3, 4}, {4}, {3});
  check_matmul({4}, {4}, {});
  check_matmul({2, 3, 4}, {4, 5}, {2, 3, 5});
  check_matmul({3, 4}, {2, 4, 5}, {2, 3, 5});
  check_matmul({2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6});
  check_matmul({2, 3, 4}, {4}, {2, 3});
  check_matmul({4}, {2, 4, 5}, {2, 5});
  // Broadcast batch offsets: A (2,1,...) x B (1,3,...): batch (1,2) uses A[1] and B[2].
  const MatMulParams p = resolve_matmul({2, 1, 3, 4}, {1, 3, 4, 5}, "t");
  ASSERT_EQ(p.a_offset.size(), 6u);
  EXPECT_EQ(p.a_offset[5], 1);
  EXPECT_EQ(p.b_offset[5], 2);
  EXPECT_EQ(p.a_offset[2], 0);
  EXPECT_EQ(p.b_offset[4], 1);
}

TEST(OpsLinearMatMul, Errors) {
  std::string e = error_of([] { run_op("MatMul", {{random_tensor({3, 4}, 1)}, {random_tensor({5, 2}, 2)}}); });
  EXPECT_NE(e.find("inner dimensions differ"), std::string::npos) << e;
  EXPECT_NE(e.find("node_under_test"), std::string::npos) << e;
  e = error_of([] { run_op("MatMul", {{random_tensor({2, 3, 4}, 1)}, {random_tensor({3, 4, 5}, 2)}}); });
  EXPECT_NE(e.find("do not broadcast"), std::string::npos) << e;
  e = error_of([] { run_op("MatMul", {{Tensor::scalar(1.0f)}, {random_tensor({1, 5}, 2)}}); });
  EXPECT_NE(e.find("rank >= 1"), std::string::npos) << e;
}

}  // namespace
}  // namespace relscope
