// relscope/kernels/cpu/work_count.h — the multiply-accumulate counter behind kernels::multiply_accumulates().
//
// The public entry points (gemm, conv_forward, conv_backward_data) count what they are asked for; kernels made
// of other kernels (a convolution's GEMMs, Winograd's) call gemm_uncounted, so nothing is counted twice.
#pragma once
#include <cstdint>

namespace relscope::kernels::detail {

void count_multiply_accumulates(uint64_t n);

// kernels::gemm without counting.
void gemm_uncounted(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace relscope::kernels::detail
