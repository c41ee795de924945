// tests/fuzz/fuzz_npy.cpp — libFuzzer target: the .npy reader (header dict, dtype, sizes) and the input
// checks every front end applies after it (non-empty, finite). Seeds: tests/data/models/*.npy, hostile .npy.
#include <cstddef>
#include <cstdint>

#include "fuzz_common.h"
#include "io/input_file.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relscope::fuzz::guard([&] {
    const relscope::Tensor t = relscope::read_npy(data, size, relscope::fuzz::fuzz_limits(), "fuzz.npy");
    relscope::require_usable_input(t, "fuzz.npy");
    (void)relscope::write_npy(t);   // what was read can be written back
  });
  return 0;
}
