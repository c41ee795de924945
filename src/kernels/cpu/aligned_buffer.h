// relscope/kernels/cpu/aligned_buffer.h — grow-only float buffers: one starting on a 64-byte boundary, and
// per-thread scratch.
//
// Sections: aligned_floats | thread_scratch
//
// Why: packed GEMM panels are read with aligned vector loads (Eigen's packets natively; wasm_simd128 loads
// that straddle cache lines made the same GEMM up to 3x slower depending on where the heap put it), and
// Emscripten's malloc aligns to 8 bytes only. Kept per thread by the callers, so once the largest product
// has run no call allocates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace relscope::kernels::detail {

// ---- aligned_floats ------------------------------------------------------------------------------------------
// n floats in `v` (grown if needed, never shrunk), starting on a 64-byte boundary.
inline float* aligned_floats(std::vector<float>& v, size_t n) {
  if (v.size() < n + 16) v.resize(n + 16);
  const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - p % 64) % 64) / sizeof(float);
}

// ---- thread_scratch ------------------------------------------------------------------------------------------
// n floats of this thread's buffer for `Tag` (grown if needed, never shrunk): no heap traffic once the largest
// layer has run. One buffer per tag, so a kernel's scratch for different purposes never aliases; what a caller
// gets, its workers can read while the caller waits (they have buffers of their own).
template <class Tag>
float* thread_scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace relscope::kernels::detail
