// tests/fuzz/fuzz_csv.cpp — libFuzzer target: the strict .csv reader and its tensor shaping.
// Seeds: tests/hostile/files/*.csv.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.h"
#include "io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relscope::fuzz::guard([&] {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const relscope::CsvTable t = relscope::read_csv(text, "fuzz.csv", relscope::fuzz::fuzz_limits());
    (void)relscope::table_to_tensor(t, {-1, 2, 2});   // reshaped when a row has 4 cells
  });
  return 0;
}
