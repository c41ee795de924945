// Hostile input below the front ends: limits that state what was needed, strict .csv, non-finite
// weights/inputs/outputs, empty batches, the explanation memory check, truncated images. The files of
// tests/hostile go through the CLI and the JS API (run.sh, hostile.test.mjs); these pin the engine parts.
//
// Sections: limits | .csv | input files | weights | runs | images
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/limits.h"
#include "engine/session.h"
#include "expect_error.h"
#include "io/csv.h"
#include "io/image.h"
#include "io/input_file.h"
#include "model_builder.h"
#include "relevance/explain.h"

namespace relscope {
namespace {

using testing::expect_error;
using testing::ModelBuilder;

// ---- limits -----------------------------------------------------------------------------------------
TEST(HostileLimits, CheckedNumelStatesTheCountItNeeded) {
  const Limits l;
  const int64_t huge[] = {1000000, 1000000};
  expect_error([&] { checked_numel(huge, 2, l, "w"); }, ErrorKind::Limit, "w: 1000000000000 elements exceed the limit of 268435456");
  const int64_t overflow[] = {int64_t{1} << 32, int64_t{1} << 32, 16};
  expect_error([&] { checked_numel(overflow, 3, l, "w"); }, ErrorKind::Limit, "more than 18446744073709551615 elements");
  // A zero dim makes the tensor empty, but a negative one after it is still an error.
  const int64_t zero_then_negative[] = {0, -2};
  expect_error([&] { checked_numel(zero_then_negative, 2, l, "w"); }, ErrorKind::BadInput, "negative dimension -2 at axis 1");
  const int64_t zero[] = {0, 1000};
  EXPECT_EQ(checked_numel(zero, 2, l, "w"), 0);
  // Empty, but the other dims would overflow int64 in numel() (found by fuzz_npy).
  const int64_t empty_huge[] = {0, 1416110000, 7080550550};
  expect_error([&] { checked_numel(empty_huge, 3, l, "w"); }, ErrorKind::Limit,
               "w: the non-zero dims of an empty tensor multiply to 10026838439360500000");
}

TEST(HostileLimits, DefaultsAreProcessWide) {
  const LimitDefaults saved = limit_defaults();
  limit_defaults().max_tensor_elements = 10;
  const Limits l;
  limit_defaults() = saved;
  EXPECT_EQ(l.max_tensor_elements, 10u);
  EXPECT_EQ(Limits{}.max_tensor_elements, saved.max_tensor_elements);
}

// ---- .csv -------------------------------------------------------------------------------------------
TEST(HostileCsv, EveryRefusalNamesLineAndColumn) {
  const Limits l;
  auto bad = [&](const std::string& text, ErrorKind kind, const std::string& part) {
    expect_error([&] { read_csv(text, "t.csv", l); }, kind, part);
  };
  bad("a,b\n1,\n", ErrorKind::BadInput, "t.csv: line 2, column 2: empty cell");
  bad("1,2\n3,x4\n", ErrorKind::BadInput, "t.csv: line 2, column 2: 'x4' is not a number");
  bad("1,inf\n", ErrorKind::BadInput, "line 1, column 2: 'inf' is not a finite float32 number");
  bad("1,1e39\n", ErrorKind::BadInput, "'1e39' is not a finite float32 number");
  bad("a,b\n1,2,3\n", ErrorKind::BadInput, "t.csv: line 2: 3 values, expected 2");
  bad("a,b\n\n", ErrorKind::BadInput, "t.csv: no rows of numbers");
  bad("1,2\x01\n", ErrorKind::BadInput, "not a text file (byte 0x01 at offset 3)");
  Limits tiny;
  tiny.max_tensor_elements = 3;
  expect_error([&] { read_csv("1,2\n3,4\n", "t.csv", tiny); }, ErrorKind::Limit, "line 2: the table has more than 3 cells");
}

TEST(HostileCsv, ReadsAndShapesForTheModel) {
  const CsvTable t = read_csv("x,y,z,w\r\n 1, \"2\" ,3,4\n\n5,6,7,8", "t.csv", Limits{});
  EXPECT_EQ(t.header, (std::vector<std::string>{"x", "y", "z", "w"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[1], (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(table_to_tensor(t, {-1, 4}).shape, (Shape{2, 4}));
  EXPECT_EQ(table_to_tensor(t, {-1, 2, 2}).shape, (Shape{2, 2, 2}));
  EXPECT_EQ(table_to_tensor(t, {-1, 3}).shape, (Shape{2, 4}));   // the model's check reports the mismatch
}

// ---- input files ------------------------------------------------------------------------------------
TEST(HostileInput, EmptyAndNonFiniteInputsAreRefused) {
  expect_error([] { require_usable_input(Tensor::zeros({0, 4}), "x.npy"); }, ErrorKind::BadInput, "x.npy: has no elements (shape [0,4])");
  Tensor t = Tensor::zeros({1, 3});
  t.f[2] = -std::numeric_limits<float>::infinity();
  expect_error([&] { require_usable_input(t, "x.npy"); }, ErrorKind::BadInput, "x.npy: holds Inf at element 2");
  const std::string csv = "1,2\n";
  EXPECT_EQ(read_array_input(reinterpret_cast<const uint8_t*>(csv.data()), csv.size(), "T.CSV", {-1, 2}, Limits{}).shape,
            (Shape{1, 2}));
  expect_error([&] { read_array_input(reinterpret_cast<const uint8_t*>(csv.data()), csv.size(), "t.txt", {}, Limits{}); },
               ErrorKind::BadInput, "t.txt: not a .npy file");
}

// ---- weights ----------------------------------------------------------------------------------------
// y = Gemm(x, W, B) + C: W and B are a linear layer's, C is a plain constant.
onnx::ModelProto gemm_plus(Tensor w, Tensor b, Tensor c) {
  onnx::Attribute trans_b;
  trans_b.name = "transB";
  trans_b.type = onnx::AttrType::Int;
  trans_b.i = 1;
  return ModelBuilder()
      .input("x", {2})
      .init("W", std::move(w))
      .init("B", std::move(b))
      .init("C", std::move(c))
      .node("Gemm", {"x", "W", "B"}, {"h"}, {trans_b}, "fc")
      .node("Add", {"h", "C"}, {"y"}, {}, "add")
      .output("y")
      .build();
}

TEST(HostileWeights, NaNAnywhereAndInfInLinearLayersAreRefused) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor w = Tensor::from_floats({2, 2}, {1, 2, 3, 4}), b = Tensor::from_floats({2}, {0, 0});
  expect_error([&] { Session::from_model(gemm_plus(w, b, Tensor::from_floats({2}, {0, nan})), "m.onnx"); },
               ErrorKind::BadInput, "m.onnx: initializer 'C' [2] holds NaN at element 1");
  expect_error([&] { Session::from_model(gemm_plus(Tensor::from_floats({2, 2}, {1, -inf, 3, 4}), b, Tensor::from_floats({2}, {0, 0})), "m.onnx"); },
               ErrorKind::BadInput, "m.onnx: node 'fc' (Gemm): weight 'W' holds -Inf at element 1");
  // -Inf in a plain constant (an attention mask) is legitimate and stays.
  Session s = Session::from_model(gemm_plus(w, b, Tensor::from_floats({2}, {0, -inf})), "m.onnx");
  EXPECT_TRUE(std::isinf(s.predict({Tensor::from_floats({1, 2}, {1, 1})})[0].f[1]));
}

// ---- runs -------------------------------------------------------------------------------------------
TEST(HostileRuns, OverflowDuringTheRunIsReportedNotExplained) {
  const Tensor w = Tensor::from_floats({2, 2}, {1, 1, 1, 1}), b = Tensor::from_floats({2}, {0, 0});
  Session s = Session::from_model(gemm_plus(w, b, Tensor::from_floats({2}, {0, 0})), "m.onnx");
  relevance::Explainer ex(s);
  relevance::ExplainRequest req;
  expect_error([&] { ex.explain({Tensor::from_floats({1, 2}, {3e38f, 3e38f})}, req); }, ErrorKind::BadInput,
               "output 'y' holds Inf at element 0 (float32 overflowed)");
  expect_error([&] { ex.explain({Tensor::from_floats({1, 2}, {1, std::nanf("")})}, req); }, ErrorKind::BadInput,
               "input 'x' holds NaN at element 1");
  expect_error([&] { ex.explain({Tensor::zeros({0, 2})}, req); }, ErrorKind::BadInput, "the explained input 'x' has no elements");
}

TEST(HostileRuns, ExplanationMemoryIsCheckedWithTheNumberNeeded) {
  // x [N,2] -> h [N,2] -> y [N,2]: a batch of 2^16 needs 1 MiB of activations per pass + 0.5 MiB input.
  const Tensor w = Tensor::from_floats({2, 2}, {1, 0, 0, 1}), b = Tensor::from_floats({2}, {0, 0});
  Limits l;
  l.max_total_bytes = 2ull << 20;
  Session s = Session::from_model(gemm_plus(w, b, Tensor::from_floats({2}, {0, 0})), "m.onnx", l);
  const Tensor x = Tensor::zeros({1 << 16, 2});
  EXPECT_NO_THROW(s.predict({x}));   // 1.5 MiB: one forward pass fits
  expect_error([&] { s.forward_recorded({x}); }, ErrorKind::Limit,
               "m.onnx: explaining input shape [65536,2] needs 3 MiB of working memory (the recorded forward pass and its "
               "relevance), over the limit of 2 MiB");
}

// ---- images -----------------------------------------------------------------------------------------
TEST(HostileImages, TruncatedGifAndBmpAreRefusedNotZeroFilled) {
  // 2x2 24-bit BMP declaring 16 bytes of pixels, with 8 present.
  std::vector<uint8_t> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0};
  bmp.resize(54, 0);   // the rest of the 40-byte header: no compression, no palette
  bmp.insert(bmp.end(), 8, 0x40);
  expect_error([&] { decode_image(bmp.data(), bmp.size(), "t.bmp", Limits{}); }, ErrorKind::BadInput,
               "t.bmp: cannot decode image (truncated BMP: 62 bytes, the header declares 70)");
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 2, 0, 2, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, ','};
  expect_error([&] { decode_image(gif, sizeof gif, "t.gif", Limits{}); }, ErrorKind::BadInput, "truncated GIF");
}

}  // namespace
}  // namespace relscope
