// kernels::multiply_accumulates(): what `relscope bench` reports as a run's work. Each public kernel adds what it
// was asked for, hand-counted here: a GEMM M*N*K, a convolution (forward or adjoint, im2col or Winograd inside)
// N*M*out*(C/group)*kernel as the direct one, the all-ones adjoint nothing; nothing is counted twice, also when
// the work is split over threads.
#include <gtest/gtest.h>

#include <vector>

#include "graph/op_params.h"
#include "kernels/cpu/winograd.h"
#include "kernels/kernels.h"

namespace relscope::kernels {
namespace {

ConvParams layer(int64_t C, int64_t M, int64_t H, int64_t k, int64_t s, int64_t pad, int64_t group = 1) {
  ConvParams p;
  p.nspatial = 2;
  p.N = 2, p.C = C, p.M = M, p.group = group;
  for (int d = 1; d < 3; ++d) {
    p.in[d] = H, p.kernel[d] = k, p.stride[d] = s, p.pad_begin[d] = p.pad_end[d] = pad;
    p.out[d] = (H + 2 * pad - k) / s + 1;
  }
  return p;
}

template <class Run>
uint64_t counted(Run&& run) {
  const uint64_t before = multiply_accumulates();
  run();
  return multiply_accumulates() - before;
}

TEST(KernelsWork, EachKernelCountsWhatItWasAskedFor) {
  std::vector<float> a(3 * 5, 1.0f), b(5 * 4, 1.0f), c(3 * 4);
  EXPECT_EQ(counted([&] { gemm(false, false, 3, 4, 5, 1.0f, a.data(), 5, b.data(), 4, 0.0f, c.data(), 4); }), 60u);

  // im2col (strided, grouped) and Winograd (3x3 stride 1 with many tiles) alike: the direct count.
  const ConvParams strided = layer(4, 6, 9, 3, 2, 1, 2);   // out 5x5: 2 * 6 * 25 * 2 * 9
  const ConvParams wino = layer(32, 32, 28, 3, 1, 1);       // out 28x28: 2 * 32 * 784 * 32 * 9
  ASSERT_TRUE(detail::winograd_pays(wino)) << "the test wants a Winograd layer";
  ASSERT_FALSE(detail::winograd_pays(strided));
  for (int threads : {1, 2}) {   // split over threads (natively): the workers' GEMMs are the same work, not more
    set_threads(threads);
    for (const ConvParams& p : {strided, wino}) {
      const uint64_t direct = static_cast<uint64_t>(p.N * p.M * p.out_size() * p.C_per_group() * p.kernel_size());
      std::vector<float> x(static_cast<size_t>(p.N * p.C * p.in_size()), 0.5f);
      std::vector<float> w(static_cast<size_t>(p.M * p.C_per_group() * p.kernel_size()), 0.25f);
      std::vector<float> y(static_cast<size_t>(p.N * p.M * p.out_size()));
      EXPECT_EQ(counted([&] { conv_forward(p, x.data(), w.data(), nullptr, y.data()); }), direct);
      EXPECT_EQ(counted([&] { conv_backward_data(p, y.data(), w.data(), x.data()); }), direct);
      EXPECT_EQ(counted([&] { conv_backward_data_ones(p, y.data(), x.data()); }), 0u);
    }
  }
  set_threads(1);
}

}  // namespace
}  // namespace relscope::kernels
