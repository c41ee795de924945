// tests/unit/test_npy.cpp — .npy reading/writing and read_file_bytes.
//
// Sections: helpers | round trips | accepted dtypes and versions | refusals | files
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "expect_error.h"
#include "io/file.h"
#include "io/npy.h"

namespace relscope {
namespace {

using relscope::testing::expect_error;

// ---- helpers ----------------------------------------------------------------------------------

// A .npy file as numpy would write it: magic, version, header length, dict, data.
std::vector<uint8_t> make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const std::string header = dict + "\n";
  const uint32_t len = static_cast<uint32_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), major == 1 ? 2 : 4);
  out += header + data;
  return {out.begin(), out.end()};
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

Tensor read(const std::vector<uint8_t>& b, const Limits& limits = {}) {
  return read_npy(b.data(), b.size(), limits, "x.npy");
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("relscope_npy_" + name)).string();
}

// ---- round trips ------------------------------------------------------------------------------

TEST(NpyRoundTrip, FloatIntScalarAndEmpty) {
  const Tensor cases[] = {
      Tensor::from_floats({2, 3}, {1, -2, 3.5f, 0, 1e-20f, 6}),
      Tensor::from_ints({4}, {-1, 0, int64_t{1} << 50, 7}),
      Tensor::scalar(2.5f),
      Tensor::from_floats({0, 2}, {}),
  };
  for (const Tensor& t : cases) {
    const std::vector<uint8_t> b = write_npy(t);
    const Tensor back = read(b);
    EXPECT_EQ(back.dtype, t.dtype);
    EXPECT_EQ(back.shape, t.shape);
    EXPECT_EQ(back.f, t.f);
    EXPECT_EQ(back.i, t.i);
  }
}

TEST(NpyRoundTrip, HeaderMatchesNumpyLayout) {
  const std::vector<uint8_t> b = write_npy(Tensor::from_floats({2, 3}, std::vector<float>(6, 0.0f)));
  const size_t header_len = b[8] | (b[9] << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<long>(header_len));
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(b.size(), 10 + header_len + 24);
  const std::vector<uint8_t> one = write_npy(Tensor::from_ints({5}, {1, 2, 3, 4, 5}));
  EXPECT_NE(std::string(one.begin(), one.end()).find("'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"),
            std::string::npos);
}

// ---- accepted dtypes and versions -------------------------------------------------------------

TEST(NpyRead, ConvertsSupportedDtypes) {
  const Tensor f8 = read(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                  bytes_of(std::vector<double>{0.1, -4.0})));
  EXPECT_EQ(f8.dtype, DType::Float32);
  EXPECT_EQ(f8.f, (std::vector<float>{0.1f, -4.0f}));
  const Tensor i4 = read(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                                  bytes_of(std::vector<int32_t>{-5, 0, 7})));
  EXPECT_EQ(i4.dtype, DType::Int64);
  EXPECT_EQ(i4.i, (std::vector<int64_t>{-5, 0, 7}));
  const Tensor u1 = read(make_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2), }", "\xff\x01"));
  EXPECT_EQ(u1.dtype, DType::Float32);
  EXPECT_EQ(u1.f, (std::vector<float>{255.0f, 1.0f}));
  const Tensor b1 = read(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", std::string("\x00\x02", 2)));
  EXPECT_EQ(b1.f, (std::vector<float>{0.0f, 1.0f}));
  const Tensor i1 = read(make_npy("{'descr': '|i1', 'fortran_order': False, 'shape': (1,), }", "\x80"));
  EXPECT_EQ(i1.i, (std::vector<int64_t>{-128}));
}

TEST(NpyRead, Versions2And3KeyOrderAndOldSpellings) {
  const std::string f = bytes_of(std::vector<float>{1, 2});
  for (int major : {2, 3})
    EXPECT_EQ(read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f, major)).f,
              (std::vector<float>{1, 2}));
  // Any key order, double quotes, Python 2 long literals, no trailing comma.
  const Tensor t = read(make_npy("{\"shape\": (1L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}", f));
  EXPECT_EQ(t.shape, (Shape{1, 2}));
}

// ---- refusals ---------------------------------------------------------------------------------

TEST(NpyRefuse, EachCaseSaysWhy) {
  const std::string f4 = bytes_of(std::vector<float>{1, 2});
  expect_error([&] { read(make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4)); },
               ErrorKind::BadInput, "x.npy: dtype '>f4': big-endian data is not supported");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4)); },
               ErrorKind::BadInput, "x.npy: Fortran-order (column-major) arrays are not supported");
  expect_error([&] { read(make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", f4)); },
               ErrorKind::BadInput, "object arrays (pickled Python objects) are not supported");
  expect_error([&] { read(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", f4)); },
               ErrorKind::BadInput, "dtype '<c8': not supported");
  expect_error([&] { read(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f4)); },
               ErrorKind::BadInput, "structured dtypes are not supported");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4)); },
               ErrorKind::BadInput, "x.npy: truncated data: 8 bytes, expected 12 for <f4 [3]");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f4)); },
               ErrorKind::BadInput, "4 unexpected bytes after the data");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'shape': (2,), }", f4)); }, ErrorKind::BadInput,
               "needs 'descr', 'fortran_order' and 'shape'");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", f4)); },
               ErrorKind::BadInput, "bad .npy header: expected True or False");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", f4)); },
               ErrorKind::BadInput, "negative dimension");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", "")); },
               ErrorKind::Limit, "x.npy");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "")); },
               ErrorKind::BadInput, "dimension too large");
  expect_error([&] { read(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4, 4)); },
               ErrorKind::BadInput, "format version 4.0 is not supported");
}

TEST(NpyRefuse, BadMagicAndTruncatedHeaders) {
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  expect_error([&] { read(png); }, ErrorKind::BadInput, "x.npy: not a .npy file (bad magic");
  expect_error([&] { read({}); }, ErrorKind::BadInput, "not a .npy file");
  const std::vector<uint8_t> good = write_npy(Tensor::from_floats({2}, {1, 2}));
  // Every strict prefix is refused as BadInput, never read out of bounds.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    expect_error([&] { read(cut); }, ErrorKind::BadInput, "x.npy: ");
  }
  Limits tiny;
  tiny.max_file_bytes = 16;
  expect_error([&] { read(good, tiny); }, ErrorKind::Limit, "over the limit of 16");
}

// ---- files ------------------------------------------------------------------------------------

TEST(NpyFile, WriteThenReadFile) {
  const std::string path = temp_path("rt.npy");
  const Tensor t = Tensor::from_floats({3}, {1, 2, 3});
  write_npy_file(path, t);
  EXPECT_EQ(read_npy_file(path, Limits{}).f, t.f);
  std::filesystem::remove(path);
}

TEST(NpyFile, ReadFileBytesErrors) {
  expect_error([] { read_file_bytes("/nonexistent/relscope/x.npy", 100); }, ErrorKind::BadInput,
               "/nonexistent/relscope/x.npy: cannot open (No such file or directory)");
  expect_error([] { read_file_bytes(::testing::TempDir(), 100); }, ErrorKind::BadInput, "cannot open (Is a directory)");
  const std::string path = temp_path("big.bin");
  const std::vector<uint8_t> data(64, 7);
  write_file_bytes(path, data.data(), data.size());
  EXPECT_EQ(read_file_bytes(path, 64), data);
  expect_error([&] { read_file_bytes(path, 63); }, ErrorKind::Limit, path + ": file is 64 bytes, over the limit of 63");
  std::filesystem::remove(path);
  expect_error([] { write_npy_file("/nonexistent/relscope/out.npy", Tensor::scalar(1)); }, ErrorKind::BadInput,
               "cannot write (No such file or directory)");
}

}  // namespace
}  // namespace relscope
