// relscope/io/file.h — whole-file reads and writes with the size limit checked first.
//
// Sections: read_file_bytes | write_file_bytes
//
// Why a helper: every loader (ONNX, .npy, images) must refuse an oversized file
// before reading it, and must say which path failed and why in the same words.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/byte_buffer.h"

namespace relscope {

// Reads all of `path`. BadInput "path: cannot open (reason)" when it cannot be
// read, "path: file is N bytes, over the limit of M" (ErrorKind::Limit) when too big.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes);
// The same into a ByteBuffer, whose tail can be given back as it is consumed (ONNX models).
ByteBuffer read_file_buffer(const std::string& path, uint64_t max_bytes);

// Writes `size` bytes to `path`, replacing it. BadInput "path: cannot write (reason)" on failure.
void write_file_bytes(const std::string& path, const uint8_t* data, size_t size);

}  // namespace relscope
