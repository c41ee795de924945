// relscope/core/byte_buffer.h — a file's bytes in one malloc'd block that can give back its tail.
//
// Why not std::vector: a vector cannot return part of its storage. Decoding an ONNX model converts its
// weights from the last one in the file to the first and truncates the bytes behind each one it has
// converted (onnx/model.h: decode_model(ByteBuffer)), so the file and its converted weights are never both
// held whole (VGG-16: 528 MiB each). realloc to a smaller size splits the block in place (dlmalloc in wasm;
// glibc trims or mremaps) and hands the tail to the allocator, where the next weights can take it.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace relscope {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  // `size` uninitialised bytes; std::bad_alloc when they cannot be had.
  explicit ByteBuffer(size_t size) : p_(size ? static_cast<uint8_t*>(std::malloc(size)) : nullptr), n_(size) {
    if (size && !p_) throw std::bad_alloc();
  }
  static ByteBuffer copy_of(const uint8_t* data, size_t size) {
    ByteBuffer b(size);
    if (size) std::memcpy(b.p_, data, size);
    return b;
  }
  ByteBuffer(ByteBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    if (this != &o) {
      std::free(p_);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() { std::free(p_); }

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }

  // Keeps the first n bytes (n <= size()) and gives the rest back. data() may move (realloc's right), so
  // whoever reads on keeps offsets, not pointers.
  void truncate(size_t n) {
    if (n >= n_) return;
    if (n == 0) {
      std::free(std::exchange(p_, nullptr));
    } else if (void* q = std::realloc(p_, n)) {
      p_ = static_cast<uint8_t*>(q);
    }   // a failed shrink keeps the larger block: still valid, only not given back
    n_ = n;
  }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace relscope
