// tests/fuzz/fuzz_image.cpp — libFuzzer target: image decoding (stb_image behind the header-first size
// check) and preprocessing into the two layouts models use. Seeds: assets/demo/samples, tests/data/images,
// tests/hostile/files images.
#include <cstddef>
#include <cstdint>

#include "fuzz_common.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relscope::fuzz::guard([&] {
    const relscope::Image img = relscope::decode_image(data, size, "fuzz.img", relscope::fuzz::fuzz_limits());
    (void)relscope::image_to_tensor(img, relscope::image_layout_for({1, 1, 28, 28}, "gray input"));
    relscope::ImagePreprocess rgb = relscope::image_layout_for({1, 32, 32, 3}, "rgb input");
    rgb.mean = {0.5f};
    rgb.std = {0.25f};
    (void)relscope::image_to_tensor(img, rgb);
  });
  return 0;
}
