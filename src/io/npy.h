// relscope/io/npy.h — NumPy .npy arrays in and out (inputs, reference outputs, relevance maps).
//
// Sections: reading | writing
//
// Reads format versions 1.0, 2.0 and 3.0, C order, little-endian. float32/float64
// and uint8/bool become Float32 tensors; signed integers become Int64 tensors.
// Everything else (big-endian, Fortran order, object/structured dtypes) is refused
// with BadInput naming the file, never guessed at.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"

namespace relscope {

// ---- reading ----
// `label` (usually the path) prefixes every error message.
Tensor read_npy(const uint8_t* data, size_t size, const Limits& limits, std::string_view label);
Tensor read_npy_file(const std::string& path, const Limits& limits);

// ---- writing ----
// Version 1.0, '<f4' for Float32 and '<i8' for Int64, header padded to 64 bytes as numpy does.
std::vector<uint8_t> write_npy(const Tensor& t);
void write_npy_file(const std::string& path, const Tensor& t);

}  // namespace relscope
