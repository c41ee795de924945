// Comma-separated number lists (core/number_list.h): what every front end's list parameters accept.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/number_list.h"
#include "expect_error.h"

namespace relscope {
namespace {

TEST(NumberList, WholeItemsOnly) {
  EXPECT_EQ(parse_int_list("1,3,224,224", "--shape"), (std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_EQ(parse_int_list("-2", "--target"), (std::vector<int64_t>{-2}));
  EXPECT_EQ(parse_float_list("0.5,-1e-3,2", "--mean"), (std::vector<float>{0.5f, -1e-3f, 2.0f}));
  for (const char* bad : {"", "1,", ",1", "1,,2", "1.5", "2x", "a"})
    testing::expect_error([&] { parse_int_list(bad, "--channels"); }, ErrorKind::BadInput,
                          std::string("--channels: '") + bad + "' is not a comma-separated list of integers");
  for (const char* bad : {"", "0.5,", "0.5;0.2", "x"})
    testing::expect_error([&] { parse_float_list(bad, "--std"); }, ErrorKind::BadInput,
                          std::string("--std: '") + bad + "' is not a comma-separated list of numbers");
}

}  // namespace
}  // namespace relscope
