// relscope/io/input_file.h — a non-image INPUT file (.npy or .csv) as a checked tensor.
//
// Sections: read_array_input | require_usable_input
//
// Why one function: the CLI, the JS API and the canvas app must accept and refuse the same files with
// the same words. Images go through io/image.h (they need the model's layout and preprocessing).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/limits.h"
#include "core/tensor.h"

namespace relscope {

// ---- read_array_input ----
// .npy (recognised by its magic) or, for a name ending in .csv, a table (io/csv.h, shaped by `declared`:
// the graph input's declared shape, -1 for open dims). Anything else: BadInput naming the formats.
// The result passed require_usable_input.
Tensor read_array_input(const uint8_t* bytes, size_t size, const std::string& label, const Shape& declared,
                        const Limits& limits);

// ---- require_usable_input ----
// BadInput "<label>: has no elements (shape [0,4])" or "<label>: holds NaN at element K ...": an empty
// batch has nothing to run, and a NaN/Inf input can be swallowed (ReLU, max-pooling) into a finite,
// meaningless answer.
void require_usable_input(const Tensor& t, const std::string& label);

}  // namespace relscope
