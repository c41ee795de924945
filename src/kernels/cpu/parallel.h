// relscope/kernels/cpu/parallel.h — splitting a kernel's output over the worker threads (CPU back-end only).
//
// Sections: parallel_ranges
//
// Why a helper and not OpenMP/Eigen's pool: Eigen parallelises its GEMM only through OpenMP, and convolution
// needs im2col/col2im split too (they are ~10-20% of a conv). Kernels split their OUTPUT into disjoint
// contiguous ranges, so no two threads ever write the same float; results match the serial run up to the
// summation order a narrower GEMM picks.
#pragma once
#include <cstdint>
#include <functional>

namespace relscope::kernels::detail {

// ---- parallel_ranges ----------------------------------------------------------------------------------------
// Calls fn(begin, end) on up to kernels::threads() disjoint contiguous ranges covering [0, n), one per thread,
// and returns when all are done. Runs fn(0, n) on the calling thread when there is one thread, n < 2, `work`
// (a rough flop count of the whole job) is too small to pay for waking workers, or the caller is itself
// inside a parallel range (no nesting: a GEMM inside a conv band stays on its thread).
void parallel_ranges(int64_t n, double work, const std::function<void(int64_t, int64_t)>& fn);

// True on a worker thread (or the caller) while a parallel region runs: nested kernels go serial.
bool in_parallel_region();

}  // namespace relscope::kernels::detail
