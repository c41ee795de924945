// Broadcasting, Add/Sub/Mul/Div/Pow, unary activations and Clip: hand-computed values and every error path.
//
// Sections: helpers | Broadcast (broadcast_shapes, broadcast_walk) | OpsElementwiseArith (Add..Div) |
//           OpsElementwisePow | OpsElementwiseUnary | OpsElementwiseClip
//
// Every expected value below is worked out by hand (or from a closed form) in the comment next to it, never
// taken from the implementation's own output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "engine/ops/broadcast.h"
#include "expect_error.h"
#include "kernels/kernels.h"
#include "op_test_util.h"

namespace relscope {
namespace {

using testing::attr_float;
using testing::OpInput;
using testing::run_op;

// ---- helpers ----------------------------------------------------------------------------------------------------
Tensor F(Shape s, std::vector<float> v) { return Tensor::from_floats(std::move(s), std::move(v)); }
Tensor I(Shape s, std::vector<int64_t> v) { return Tensor::from_ints(std::move(s), std::move(v)); }

// The error must be of `kind`, name the node ("test.onnx: node 'node_under_test' (Op)") and contain `part`.
void expect_node_error(const std::function<void()>& f, ErrorKind kind, const std::string& op, const std::string& part) {
  testing::expect_error(f, kind, "test.onnx: node 'node_under_test' (" + op + "): ");
  testing::expect_error(f, kind, part);
}

void expect_floats(const Tensor& t, const Shape& shape, const std::vector<float>& want, float tol = 0.0f) {
  ASSERT_EQ(t.dtype, DType::Float32);
  ASSERT_EQ(t.shape, shape);
  ASSERT_EQ(t.f.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    if (std::isnan(want[k])) {
      EXPECT_TRUE(std::isnan(t.f[k])) << "at " << k << ": " << t.f[k];
    } else if (tol == 0.0f) {
      EXPECT_EQ(t.f[k], want[k]) << "at " << k;
    } else {
      EXPECT_NEAR(t.f[k], want[k], tol) << "at " << k;
    }
  }
}

void expect_ints(const Tensor& t, const Shape& shape, const std::vector<int64_t>& want) {
  ASSERT_EQ(t.dtype, DType::Int64);
  ASSERT_EQ(t.shape, shape);
  EXPECT_EQ(t.i, want);
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- Broadcast: shapes ---------------------------------------------------------------------------------------------
struct BroadcastCase {
  Shape a, b, out;
};

TEST(BroadcastShapes, EveryRankCombinationUpToFour) {
  const std::vector<BroadcastCase> cases = {
      {{}, {}, {}},                              // 0 x 0
      {{}, {4}, {4}},                            // 0 x 1
      {{}, {2, 3}, {2, 3}},                      // 0 x 2
      {{}, {2, 1, 3}, {2, 1, 3}},                // 0 x 3
      {{}, {2, 1, 3, 1}, {2, 1, 3, 1}},          // 0 x 4
      {{5}, {}, {5}},                            // 1 x 0
      {{1}, {4}, {4}},                           // 1 x 1, the 1 stretches
      {{4}, {1}, {4}},
      {{4}, {4}, {4}},
      {{3}, {2, 1}, {2, 3}},                     // 1 x 2, both stretch
      {{1}, {2, 3, 4}, {2, 3, 4}},               // 1 x 3
      {{5}, {2, 1, 3, 1}, {2, 1, 3, 5}},         // 1 x 4
      {{2, 3}, {}, {2, 3}},                      // 2 x 0
      {{2, 1}, {3}, {2, 3}},                     // 2 x 1
      {{2, 1}, {1, 3}, {2, 3}},                  // 2 x 2
      {{3, 1}, {2, 1, 4}, {2, 3, 4}},            // 2 x 3
      {{3, 1}, {2, 1, 1, 4}, {2, 1, 3, 4}},      // 2 x 4
      {{2, 1, 3}, {}, {2, 1, 3}},                // 3 x 0
      {{2, 3, 4}, {4}, {2, 3, 4}},               // 3 x 1
      {{2, 1, 4}, {3, 1}, {2, 3, 4}},            // 3 x 2
      {{2, 1, 4}, {1, 3, 1}, {2, 3, 4}},         // 3 x 3
      {{3, 1, 5}, {2, 1, 1, 1}, {2, 3, 1, 5}},   // 3 x 4
      {{2, 1, 3, 1}, {}, {2, 1, 3, 1}},          // 4 x 0
      {{2, 1, 3, 1}, {5}, {2, 1, 3, 5}},         // 4 x 1
      {{2, 1, 3, 1}, {3, 4}, {2, 1, 3, 4}},      // 4 x 2
      {{2, 1, 3, 1}, {4, 1, 5}, {2, 4, 3, 5}},   // 4 x 3
      {{1, 2, 1, 3}, {4, 1, 5, 1}, {4, 2, 5, 3}},   // 4 x 4
      {{1, 2, 1, 1, 1}, {2, 1, 3, 1}, {1, 2, 1, 3, 1}},   // 5 x 4
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b));
    Shape out{99};
    ASSERT_TRUE(broadcast_shapes(c.a, c.b, &out));
    EXPECT_EQ(out, c.out);
    // Broadcasting is symmetric.
    Shape back{99};
    ASSERT_TRUE(broadcast_shapes(c.b, c.a, &back));
    EXPECT_EQ(back, c.out);
  }
}

TEST(BroadcastShapes, ZeroSizedDimensions) {
  const std::vector<BroadcastCase> ok = {
      {{0}, {}, {0}},          {{}, {0}, {0}},           {{0}, {1}, {0}},       {{1}, {0}, {0}},
      {{0}, {0}, {0}},         {{0, 3}, {3}, {0, 3}},    {{2, 0}, {2, 1}, {2, 0}}, {{0, 1}, {1, 3}, {0, 3}},
      {{1, 0}, {4, 1}, {4, 0}}, {{2, 1, 0}, {3, 1}, {2, 3, 0}},
  };
  for (const auto& c : ok) {
    SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b));
    Shape out{99};
    ASSERT_TRUE(broadcast_shapes(c.a, c.b, &out));
    EXPECT_EQ(out, c.out);
  }
  // 0 is a size like any other: it stretches nothing and only a 1 stretches to it.
  for (const auto& [a, b] : std::vector<std::pair<Shape, Shape>>{{{0}, {2}}, {{2}, {0}}, {{0, 3}, {2, 3}}, {{2, 0}, {2, 3}}}) {
    SCOPED_TRACE(shape_str(a) + " x " + shape_str(b));
    Shape out{99};
    EXPECT_FALSE(broadcast_shapes(a, b, &out));
  }
}

TEST(BroadcastShapes, IncompatibleShapesLeaveTheOutputAlone) {
  for (const auto& [a, b] : std::vector<std::pair<Shape, Shape>>{
           {{2}, {3}}, {{2, 3}, {3, 2}}, {{4, 3}, {2, 1, 4}}, {{2, 1, 3}, {1, 4, 2}}, {{5, 1, 1, 2}, {3}}}) {
    SCOPED_TRACE(shape_str(a) + " x " + shape_str(b));
    Shape out{7, 7};
    EXPECT_FALSE(broadcast_shapes(a, b, &out));
    EXPECT_FALSE(broadcast_shapes(b, a, &out));
    EXPECT_EQ(out, (Shape{7, 7}));
  }
}

TEST(BroadcastWalk, VisitsEveryOutputOnceWithTheRightSourceIndices) {
  // out [2,2,3] from a [2,1,3] and b [2,1]: a's index ignores the middle dim, b's ignores the last one.
  std::vector<std::array<int64_t, 3>> seen;
  broadcast_walk({2, 2, 3}, {2, 1, 3}, {2, 1}, [&](int64_t o, int64_t i, int64_t j) { seen.push_back({o, i, j}); });
  const std::vector<std::array<int64_t, 3>> want = {
      {0, 0, 0}, {1, 1, 0}, {2, 2, 0}, {3, 0, 1}, {4, 1, 1}, {5, 2, 1},
      {6, 3, 0}, {7, 4, 0}, {8, 5, 0}, {9, 3, 1}, {10, 4, 1}, {11, 5, 1},
  };
  EXPECT_EQ(seen, want);
  seen.clear();
  broadcast_walk({}, {}, {}, [&](int64_t o, int64_t i, int64_t j) { seen.push_back({o, i, j}); });
  EXPECT_EQ(seen, (std::vector<std::array<int64_t, 3>>{{0, 0, 0}}));
  seen.clear();
  broadcast_walk({3, 0}, {3, 1}, {0}, [&](int64_t o, int64_t i, int64_t j) { seen.push_back({o, i, j}); });
  EXPECT_TRUE(seen.empty());
}

// ---- OpsElementwiseArith: float ------------------------------------------------------------------------------------
TEST(OpsElementwiseArith, FloatBroadcastBothWays) {
  const Tensor col = F({2, 1}, {1, 2}), row = F({3}, {10, 20, 30});
  // col + row: [[1+10, 1+20, 1+30], [2+10, 2+20, 2+30]]
  expect_floats(run_op("Add", {{col}, {row}})[0], {2, 3}, {11, 21, 31, 12, 22, 32});
  // row - col: [[10-1, 20-1, 30-1], [10-2, 20-2, 30-2]]
  expect_floats(run_op("Sub", {{row}, {col}})[0], {2, 3}, {9, 19, 29, 8, 18, 28});
  // col - row: the negation of the above
  expect_floats(run_op("Sub", {{col}, {row}})[0], {2, 3}, {-9, -19, -29, -8, -18, -28});
  expect_floats(run_op("Mul", {{row}, {col}})[0], {2, 3}, {10, 20, 30, 20, 40, 60});
  // row / col: [[10, 20, 30], [5, 10, 15]]
  expect_floats(run_op("Div", {{row}, {col}})[0], {2, 3}, {10, 20, 30, 5, 10, 15});
  // col / row: [[0.1, 0.05, 1/30], [0.2, 0.1, 1/15]]
  expect_floats(run_op("Div", {{col}, {row}})[0], {2, 3}, {0.1f, 0.05f, 1.0f / 30, 0.2f, 0.1f, 2.0f / 30}, 1e-7f);
  // a [2,1,3] + b [1,2,1]: out[i][j][k] = a[i][0][k] + b[0][j][0]
  const Tensor a = F({2, 1, 3}, {1, 2, 3, 4, 5, 6}), b = F({1, 2, 1}, {10, 20});
  expect_floats(run_op("Add", {{a}, {b}})[0], {2, 2, 3}, {11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26});
  expect_floats(run_op("Sub", {{b}, {a}})[0], {2, 2, 3}, {9, 8, 7, 19, 18, 17, 6, 5, 4, 16, 15, 14});
  // A constant operand (an initializer) behaves like a runtime one.
  expect_floats(run_op("Mul", {{a}, {b, true}})[0], {2, 2, 3}, {10, 20, 30, 20, 40, 60, 40, 50, 60, 80, 100, 120});
  // Lower rank on the left, the rank-4 operand broadcasting a middle dim.
  const Tensor c4 = F({2, 1, 1, 2}, {1, 2, 3, 4});
  expect_floats(run_op("Mul", {{F({3, 1}, {1, 10, 100})}, {c4}})[0], {2, 1, 3, 2},
                {1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400});
}

TEST(OpsElementwiseArith, FloatScalarFastPaths) {
  const Tensor x = F({2, 2}, {1, 2, 3, 4});
  for (const Shape& s : {Shape{}, Shape{1}, Shape{1, 1}}) {
    SCOPED_TRACE(shape_str(s));
    const Tensor two = F(s, {2});
    expect_floats(run_op("Add", {{x}, {two}})[0], {2, 2}, {3, 4, 5, 6});
    expect_floats(run_op("Sub", {{x}, {two}})[0], {2, 2}, {-1, 0, 1, 2});
    expect_floats(run_op("Sub", {{two}, {x}})[0], {2, 2}, {1, 0, -1, -2});   // order kept: 2 - x
    expect_floats(run_op("Mul", {{two}, {x}})[0], {2, 2}, {2, 4, 6, 8});
    expect_floats(run_op("Div", {{x}, {two}})[0], {2, 2}, {0.5, 1, 1.5, 2});
    expect_floats(run_op("Div", {{two}, {x}})[0], {2, 2}, {2, 1, 2.0f / 3, 0.5}, 1e-7f);   // 2 / x
  }
  // A one-element operand of higher rank is not the fast path: [3] with [1,1] broadcasts to [1,3].
  expect_floats(run_op("Sub", {{F({3}, {5, 6, 7})}, {F({1, 1}, {1})}})[0], {1, 3}, {4, 5, 6});
  // Both scalars; both one-element.
  expect_floats(run_op("Div", {{F({}, {7})}, {F({}, {2})}})[0], {}, {3.5});
  expect_floats(run_op("Sub", {{F({1}, {7})}, {F({}, {2})}})[0], {1}, {5});
  // IEEE division by zero in float: +inf, -inf, NaN (no error).
  expect_floats(run_op("Div", {{F({3}, {1, -1, 0})}, {F({}, {0})}})[0], {3}, {kInf, -kInf, kNaN});
}

// Tensors large enough to be split over the kernel threads (>= 2^19 elements): every element is still the
// exact float result of its own inputs, at 1, 2 and 3 threads, and with an odd size (uneven ranges).
TEST(OpsElementwiseArith, LargeTensorsSplitOverThreadsKeepEveryElement) {
  const int64_t n = (int64_t{1} << 20) + 7;
  std::vector<float> xv(static_cast<size_t>(n)), yv(xv.size());
  for (int64_t k = 0; k < n; ++k) {
    xv[k] = static_cast<float>(k % 1001) - 500.0f;   // integers: sums, products and relu are exact
    yv[k] = static_cast<float>(k % 7) - 3.0f;
  }
  const Tensor x = F({n}, xv), y = F({n}, yv), three = F({}, {3});
  for (int threads : {1, 2, 3}) {
    kernels::set_threads(threads);
    SCOPED_TRACE("threads " + std::to_string(threads));
    const Tensor sum = run_op("Add", {{x}, {y}})[0], scaled = run_op("Mul", {{three}, {x}})[0];
    const Tensor relu = run_op("Relu", {{x}})[0];
    ASSERT_EQ(sum.f.size(), xv.size());
    for (int64_t k = 0; k < n; ++k) {
      ASSERT_EQ(sum.f[k], xv[k] + yv[k]) << k;
      ASSERT_EQ(scaled.f[k], 3.0f * xv[k]) << k;
      ASSERT_EQ(relu.f[k], std::max(xv[k], 0.0f)) << k;
    }
  }
  kernels::set_threads(1);
}

TEST(OpsElementwiseArith, ZeroSizedOperands) {
  auto y = run_op("Add", {{F({0, 3}, {})}, {F({3}, {1, 2, 3})}});
  expect_floats(y[0], {0, 3}, {});
  y = run_op("Mul", {{F({2, 0}, {})}, {F({2, 1}, {1, 2})}});
  expect_floats(y[0], {2, 0}, {});
  y = run_op("Sub", {{F({}, {1})}, {F({0}, {})}});   // scalar with an empty tensor
  expect_floats(y[0], {0}, {});
  const auto yi = run_op("Div", {{I({0, 2}, {})}, {I({2}, {0, 0})}});   // no element, so no division by zero
  expect_ints(yi[0], {0, 2}, {});
}

// ---- OpsElementwiseArith: int64 -------------------------------------------------------------------------------------
TEST(OpsElementwiseArith, Int64BroadcastAndTruncatingDivision) {
  const Tensor a = I({2, 1}, {7, -7}), b = I({3}, {2, -2, 3});
  // a + b: [[9, 5, 10], [-5, -9, -4]]
  expect_ints(run_op("Add", {{a}, {b}})[0], {2, 3}, {9, 5, 10, -5, -9, -4});
  // b - a: [[2-7, -2-7, 3-7], [2+7, -2+7, 3+7]]
  expect_ints(run_op("Sub", {{b}, {a}})[0], {2, 3}, {-5, -9, -4, 9, 5, 10});
  expect_ints(run_op("Mul", {{a}, {b}})[0], {2, 3}, {14, -14, 21, -14, 14, -21});
  // Division truncates toward zero: 7/2=3, 7/-2=-3, 7/3=2, -7/2=-3, -7/-2=3, -7/3=-2 (not floor: -7/2 != -4).
  expect_ints(run_op("Div", {{a}, {b}})[0], {2, 3}, {3, -3, 2, -3, 3, -2});
  // b / a: every |b| < 7, so all zero (truncation, no -1 from flooring negatives).
  expect_ints(run_op("Div", {{b}, {a}})[0], {2, 3}, {0, 0, 0, 0, 0, 0});
  // Scalar fast paths, both sides.
  const Tensor v = I({4}, {-9, -1, 1, 9}), four = I({}, {4});
  expect_ints(run_op("Div", {{v}, {four}})[0], {4}, {-2, 0, 0, 2});
  expect_ints(run_op("Div", {{four}, {v}})[0], {4}, {0, -4, 4, 0});
  expect_ints(run_op("Sub", {{four}, {v}})[0], {4}, {13, 5, 3, -5});
  expect_ints(run_op("Mul", {{v}, {I({1}, {-3})}})[0], {4}, {27, 3, -3, -27});
  // Same shape, constant operand.
  expect_ints(run_op("Div", {{v}, {I({4}, {2, 2, -2, -2}), true}})[0], {4}, {-4, 0, 0, -4});
  // Large values stay exact (no trip through float): 2^53 + 1 survives Add and Div.
  const int64_t big = (int64_t{1} << 53) + 1;
  expect_ints(run_op("Add", {{I({}, {big})}, {I({}, {2})}})[0], {}, {big + 2});
  expect_ints(run_op("Div", {{I({}, {3 * big})}, {I({}, {3})}})[0], {}, {big});
}

TEST(OpsElementwiseArith, Int64DivisionByZeroAndOverflowNameTheNode) {
  expect_node_error([] { run_op("Div", {{I({2}, {1, 2})}, {I({2}, {1, 0})}}); }, ErrorKind::BadInput, "Div",
                    "integer division by zero");
  expect_node_error([] { run_op("Div", {{I({2}, {1, 2})}, {I({}, {0})}}); }, ErrorKind::BadInput, "Div",
                    "integer division by zero");
  expect_node_error([] { run_op("Div", {{I({2, 1}, {1, 2})}, {I({2}, {3, 0})}}); }, ErrorKind::BadInput, "Div",
                    "integer division by zero");
  expect_node_error([] { run_op("Div", {{I({}, {std::numeric_limits<int64_t>::min()})}, {I({}, {-1})}}); },
                    ErrorKind::BadInput, "Div", "integer division overflows");
}

TEST(OpsElementwiseArith, Int64OverflowWrapsAsTwosComplement) {
  // Found by the explain fuzzer (signed overflow is undefined behaviour in C++); onnxruntime and numpy wrap.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  expect_ints(run_op("Add", {{I({2}, {kMax, kMin})}, {I({2}, {1, -1})}})[0], {2}, {kMin, kMax});
  expect_ints(run_op("Sub", {{I({2}, {kMin, kMax})}, {I({2}, {1, -1})}})[0], {2}, {kMax, kMin});
  // 6701356245527298052 * 2 = 13402712491054596104 = 2^64 - 5044031582654955512
  expect_ints(run_op("Mul", {{I({3}, {6701356245527298052, kMin, int64_t{1} << 32})}, {I({3}, {2, -1, int64_t{1} << 32})}})[0], {3},
              {-5044031582654955512, kMin, 0});
}

TEST(OpsElementwiseArith, Errors) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    SCOPED_TRACE(op);
    expect_node_error([&] { run_op(op, {{F({2}, {1, 2})}, {I({2}, {1, 2})}}); }, ErrorKind::BadInput, op,
                      "inputs are float32 and int64; they must match");
    expect_node_error([&] { run_op(op, {{I({2}, {1, 2})}, {F({}, {1})}}); }, ErrorKind::BadInput, op,
                      "inputs are int64 and float32; they must match");
    expect_node_error([&] { run_op(op, {{F({2, 3}, std::vector<float>(6, 1))}, {F({2}, {1, 2})}}); }, ErrorKind::BadInput,
                      op, "cannot broadcast [2,3] with [2]");
    expect_node_error([&] { run_op(op, {{F({0}, {})}, {F({2}, {1, 2})}}); }, ErrorKind::BadInput, op,
                      "cannot broadcast [0] with [2]");
    expect_node_error([&] { run_op(op, {{F({2}, {1, 2})}}); }, ErrorKind::BadInput, op, "takes 2 inputs, 1 given");
  }
}

// ---- OpsElementwisePow -------------------------------------------------------------------------------------------------
TEST(OpsElementwisePow, FloatBaseFloatExponent) {
  // 2^3 = 8, 4^0.5 = 2, 9^0.5 = 3, 2^-1 = 0.5, 5^0 = 1, 0^0 = 1, (-2)^2 = 4, (-8)^(1/3) = NaN (negative base).
  const auto y = run_op("Pow", {{F({8}, {2, 4, 9, 2, 5, 0, -2, -8})}, {F({8}, {3, 0.5, 0.5, -1, 0, 0, 2, 1.0f / 3})}});
  expect_floats(y[0], {8}, {8, 2, 3, 0.5, 1, 1, 4, kNaN}, 1e-6f);
  // Broadcast [2,1] ^ [3]: [[2^1, 2^2, 2^3], [3^1, 3^2, 3^3]]
  expect_floats(run_op("Pow", {{F({2, 1}, {2, 3})}, {F({3}, {1, 2, 3})}})[0], {2, 3}, {2, 4, 8, 3, 9, 27});
  // Scalar exponent, constant.
  expect_floats(run_op("Pow", {{F({3}, {1, 2, 3})}, {F({}, {2}), true}})[0], {3}, {1, 4, 9});
}

TEST(OpsElementwisePow, FloatBaseInt64ExponentKeepsTheBaseType) {
  // 2^3 = 8, 3^-2 = 1/9, (-2)^3 = -8, 10^0 = 1
  const auto y = run_op("Pow", {{F({4}, {2, 3, -2, 10})}, {I({4}, {3, -2, 3, 0})}});
  expect_floats(y[0], {4}, {8, 1.0f / 9, -8, 1}, 1e-7f);
  // [2,1] float ^ [2] int64: [[2^2, 2^3], [3^2, 3^3]]
  expect_floats(run_op("Pow", {{F({2, 1}, {2, 3})}, {I({2}, {2, 3})}})[0], {2, 2}, {4, 8, 9, 27});
}

TEST(OpsElementwisePow, Int64BaseInt64ExponentIncludingNegativeExponents) {
  // 2^10 = 1024, 3^0 = 1, (-2)^3 = -8, (-3)^2 = 9, 0^0 = 1, 0^5 = 0;
  // negative exponents are 1/base^n truncated: 1^-5 = 1, (-1)^-3 = -1, (-1)^-4 = 1, 2^-1 = 0 (0.5), (-2)^-1 = 0 (-0.5).
  const auto y = run_op("Pow", {{I({11}, {2, 3, -2, -3, 0, 0, 1, -1, -1, 2, -2})},
                                {I({11}, {10, 0, 3, 2, 0, 5, -5, -3, -4, -1, -1})}});
  expect_ints(y[0], {11}, {1024, 1, -8, 9, 1, 0, 1, -1, 1, 0, 0});
  // Broadcast: [3] ^ scalar 2 and scalar 2 ^ [3]
  expect_ints(run_op("Pow", {{I({3}, {-3, 4, 5})}, {I({}, {2})}})[0], {3}, {9, 16, 25});
  expect_ints(run_op("Pow", {{I({}, {2})}, {I({3}, {0, 1, 40})}})[0], {3}, {1, 2, int64_t{1} << 40});
}

TEST(OpsElementwisePow, Int64HostileExponentsStayFastAndDefined) {
  // 2^64 wraps to 0, 3^(2^62) by square-and-multiply (62 squarings, not 2^62 multiplications): 3 is odd, so
  // its powers stay odd; (-1)^(2^62) = 1. 3^40 = 12157665459056928801 wraps to 12157665459056928801 - 2^64.
  const auto y = run_op("Pow", {{I({4}, {2, 3, -1, 3})}, {I({4}, {64, int64_t{1} << 62, int64_t{1} << 62, 40})}});
  ASSERT_EQ(y[0].i.size(), 4u);
  EXPECT_EQ(y[0].i[0], 0);
  EXPECT_EQ(y[0].i[1] & 1, 1);
  EXPECT_EQ(y[0].i[2], 1);
  EXPECT_EQ(y[0].i[3], static_cast<int64_t>(12157665459056928801ull));
  // A float exponent whose result leaves int64 has no defined conversion: refused by name.
  expect_node_error([] { run_op("Pow", {{I({1}, {10})}, {F({1}, {30})}}); }, ErrorKind::BadInput, "Pow", "outside int64");
}

TEST(OpsElementwisePow, Int64BaseFloatExponentTruncates) {
  // 9^0.5 = 3, 16^0.5 = 4, 2^0.5 = 1.41 -> 1, 10^-1 = 0.1 -> 0; the result is int64 like the base.
  expect_ints(run_op("Pow", {{I({4}, {9, 16, 2, 10})}, {F({4}, {0.5, 0.5, 0.5, -1})}})[0], {4}, {3, 4, 1, 0});
}

TEST(OpsElementwisePow, Errors) {
  expect_node_error([] { run_op("Pow", {{F({2}, {1, 2})}, {F({3}, {1, 2, 3})}}); }, ErrorKind::BadInput, "Pow",
                    "cannot broadcast [2] with [3]");
  expect_node_error([] { run_op("Pow", {{F({2}, {1, 2})}}); }, ErrorKind::BadInput, "Pow", "takes 2 inputs, 1 given");
}

// ---- OpsElementwiseUnary ----------------------------------------------------------------------------------------------
TEST(OpsElementwiseUnary, HandValues) {
  // sqrt: 0, 1, 2, 1.5, 1e-3; sqrt(-1) = NaN
  expect_floats(run_op("Sqrt", {{F({6}, {0, 1, 4, 2.25f, 1e-6f, -1})}})[0], {6}, {0, 1, 2, 1.5f, 1e-3f, kNaN}, 1e-7f);
  // erf: erf(0)=0, erf(0.5)=0.5204998778, erf(1)=0.8427007929, erf(-1)=-0.8427007929, erf(3)=0.9999779095, erf(-inf)=-1
  expect_floats(run_op("Erf", {{F({6}, {0, 0.5f, 1, -1, 3, -kInf})}})[0], {6},
                {0, 0.5204998778f, 0.8427007929f, -0.8427007929f, 0.9999779095f, -1}, 1e-6f);
  // relu: negatives and both zeros to 0
  expect_floats(run_op("Relu", {{F({5}, {-2, -0.0f, 0, 3.5f, 1e-30f})}})[0], {5}, {0, 0, 0, 3.5f, 1e-30f});
  // sigmoid: 1/(1+e^-x): s(0)=0.5, s(1)=0.7310585786, s(-1)=0.2689414214, s(10)=0.9999546021, s(100)=1, s(-100)~3.7e-44
  expect_floats(run_op("Sigmoid", {{F({6}, {0, 1, -1, 10, 100, -100})}})[0], {6},
                {0.5f, 0.7310585786f, 0.2689414214f, 0.9999546021f, 1, 0}, 1e-6f);
  // tanh: 0, tanh(0.5)=0.4621171573, tanh(-1)=-0.7615941560, tanh(20)=1, tanh(-20)=-1
  expect_floats(run_op("Tanh", {{F({5}, {0, 0.5f, -1, 20, -20})}})[0], {5}, {0, 0.4621171573f, -0.7615941560f, 1, -1}, 1e-6f);
  // Shape is kept, rank 0 and empty included.
  expect_floats(run_op("Relu", {{F({}, {-1})}})[0], {}, {0});
  expect_floats(run_op("Tanh", {{F({2, 0, 3}, {})}})[0], {2, 0, 3}, {});
  expect_floats(run_op("Sigmoid", {{F({2, 1}, {0, 0})}})[0], {2, 1}, {0.5f, 0.5f});
}

TEST(OpsElementwiseUnary, LeakyReluAlpha) {
  const Tensor x = F({4}, {-5, -0.5f, 0, 1.5f});
  // default alpha 0.01: -0.05, -0.005, 0, 1.5
  expect_floats(run_op("LeakyRelu", {{x}})[0], {4}, {-0.05f, -0.005f, 0, 1.5f}, 1e-7f);
  // alpha 0.2: -1, -0.1, 0, 1.5
  expect_floats(run_op("LeakyRelu", {{x}}, {attr_float("alpha", 0.2f)})[0], {4}, {-1, -0.1f, 0, 1.5f}, 1e-7f);
  // alpha -2 (unusual but valid): 10, 1, 0, 1.5
  expect_floats(run_op("LeakyRelu", {{x}}, {attr_float("alpha", -2)})[0], {4}, {10, 1, 0, 1.5f});
  // alpha of the wrong attribute type is refused, naming the node and attribute.
  testing::expect_error([&] { run_op("LeakyRelu", {{x}}, {testing::attr_int("alpha", 1)}); }, ErrorKind::BadInput,
                        "node 'node_under_test' (LeakyRelu)");
  testing::expect_error([&] { run_op("LeakyRelu", {{x}}, {testing::attr_int("alpha", 1)}); }, ErrorKind::BadInput, "attribute 'alpha' is of type");
}

TEST(OpsElementwiseUnary, Int64InputIsUnsupported) {
  for (const char* op : {"Sqrt", "Erf", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip"}) {
    SCOPED_TRACE(op);
    expect_node_error([&] { run_op(op, {{I({2}, {1, 2})}}); }, ErrorKind::Unsupported, op,
                      "input is int64; relscope computes this op in float32 only");
  }
  expect_node_error([] { run_op("Relu", {{F({2}, {1, 2})}, {F({2}, {1, 2})}}); }, ErrorKind::BadInput, "Relu",
                    "takes 1 inputs, 2 given");
}

// ---- OpsElementwiseClip ---------------------------------------------------------------------------------------------------
const Tensor& clip_x() {
  static const Tensor x = F({2, 3}, {-3, -1, 0, 0.5f, 2, 5});
  return x;
}

TEST(OpsElementwiseClip, Opset6BoundsAreAttributes) {
  // Clip-6 is the version read at opsets 6..10 (relscope reads models from opset 7).
  for (int64_t opset : {7, 10}) {
    SCOPED_TRACE(opset);
    expect_floats(run_op("Clip", {{clip_x()}}, {attr_float("min", -1), attr_float("max", 2)}, 1, opset)[0], {2, 3},
                  {-1, -1, 0, 0.5f, 2, 2});
    expect_floats(run_op("Clip", {{clip_x()}}, {attr_float("min", 0)}, 1, opset)[0], {2, 3}, {0, 0, 0, 0.5f, 2, 5});
    expect_floats(run_op("Clip", {{clip_x()}}, {attr_float("max", 0)}, 1, opset)[0], {2, 3}, {-3, -1, 0, 0, 0, 0});
    expect_floats(run_op("Clip", {{clip_x()}}, {}, 1, opset)[0], {2, 3}, {-3, -1, 0, 0.5f, 2, 5});
  }
}

TEST(OpsElementwiseClip, Opset13BoundsAreInputsEachOmittedInTurn) {
  const Tensor lo = F({}, {-1}), hi = F({}, {2});
  const OpInput none{Tensor{}, false, true};
  // both
  expect_floats(run_op("Clip", {{clip_x()}, {lo, true}, {hi, true}}, {}, 1, 13)[0], {2, 3}, {-1, -1, 0, 0.5f, 2, 2});
  // min omitted ("" input 1), max given
  expect_floats(run_op("Clip", {{clip_x()}, none, {hi, true}}, {}, 1, 13)[0], {2, 3}, {-3, -1, 0, 0.5f, 2, 2});
  // max omitted by leaving it off the end, and as ""
  expect_floats(run_op("Clip", {{clip_x()}, {lo, true}}, {}, 1, 13)[0], {2, 3}, {-1, -1, 0, 0.5f, 2, 5});
  expect_floats(run_op("Clip", {{clip_x()}, {lo, true}, none}, {}, 1, 13)[0], {2, 3}, {-1, -1, 0, 0.5f, 2, 5});
  // both omitted: identity
  expect_floats(run_op("Clip", {{clip_x()}}, {}, 1, 13)[0], {2, 3}, {-3, -1, 0, 0.5f, 2, 5});
  expect_floats(run_op("Clip", {{clip_x()}, none, none}, {}, 1, 13)[0], {2, 3}, {-3, -1, 0, 0.5f, 2, 5});
  // bounds as runtime (non-constant) graph inputs, and as one-element 1-D tensors
  expect_floats(run_op("Clip", {{clip_x()}, {lo}, {F({1}, {0.25f})}}, {}, 1, 13)[0], {2, 3}, {-1, -1, 0, 0.25f, 0.25f, 0.25f});
  // min > max: every value becomes max (ONNX)
  expect_floats(run_op("Clip", {{clip_x()}, {F({}, {3}), true}, {F({}, {1}), true}}, {}, 1, 13)[0], {2, 3}, {1, 1, 1, 1, 1, 1});
  // opset 11 already takes inputs
  expect_floats(run_op("Clip", {{clip_x()}, {lo, true}, {hi, true}}, {}, 1, 11)[0], {2, 3}, {-1, -1, 0, 0.5f, 2, 2});
}

TEST(OpsElementwiseClip, NaNPassesThrough) {
  // ONNX (numpy.clip), PyTorch clamp and onnxruntime keep NaN; an unbounded Clip is the identity.
  const Tensor x = F({3}, {kNaN, -5, 5});
  expect_floats(run_op("Clip", {{x}}, {}, 1, 13)[0], {3}, {kNaN, -5, 5});
  expect_floats(run_op("Clip", {{x}, {F({}, {-1}), true}, {F({}, {1}), true}}, {}, 1, 13)[0], {3}, {kNaN, -1, 1});
  expect_floats(run_op("Clip", {{x}}, {attr_float("min", 0)}, 1, 10)[0], {3}, {kNaN, 0, 5});
}

TEST(OpsElementwiseClip, NonScalarBoundsAreErrors) {
  expect_node_error([] { run_op("Clip", {{clip_x()}, {F({2}, {0, 1}), true}}, {}, 1, 13); }, ErrorKind::BadInput, "Clip",
                    "min must be a scalar, got [2]");
  expect_node_error([] { run_op("Clip", {{clip_x()}, {F({}, {0}), true}, {F({1, 2}, {1, 2}), true}}, {}, 1, 13); },
                    ErrorKind::BadInput, "Clip", "max must be a scalar, got [1,2]");
  expect_node_error([] { run_op("Clip", {{clip_x()}, {F({0}, {}), true}}, {}, 1, 13); }, ErrorKind::BadInput, "Clip",
                    "min must be a scalar, got [0]");
  expect_node_error([] { run_op("Clip", {{clip_x()}, {F({}, {0})}, {F({}, {1})}, {F({}, {1})}}, {}, 1, 13); },
                    ErrorKind::BadInput, "Clip", "takes 1 to 3 inputs, 4 given");
}

}  // namespace
}  // namespace relscope
