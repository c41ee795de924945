// bench/bench_kernels.cpp — GFLOP/s of the conv and GEMM kernels on ResNet-18's layer shapes.
//
// Sections: timing | cases | main
//
// Not part of the CMake project (one file, no dependencies beyond the engine). Build e.g.:
//   g++ -O3 -std=c++20 -Isrc -I/usr/include/eigen3 bench/bench_kernels.cpp src/kernels/cpu/*.cpp \
//       src/graph/op_params.cpp src/graph/attrs.cpp src/core/tensor.cpp -pthread -o /tmp/bench_kernels
// (add -march=native, or build with emcc -msimd128, to compare; `bench_kernels 2` runs the kernels on 2 threads).
// Prints one line per case: median ms of the im2col path's forward and adjoint and its forward GFLOP/s, and for
// 3x3 stride-1 shapes Winograd F(2x2, 3x3)'s and F(4x4, 3x3)'s forward and adjoint, "(taken)" where
// conv_forward / conv_backward_data choose it (kernels/cpu/winograd.cpp's table).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "graph/op_params.h"
#include "kernels/cpu/winograd.h"
#include "kernels/kernels.h"

using namespace relscope;

namespace {

// ---- timing ----------------------------------------------------------------------------------------------------
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double median_ms(F&& f, int reps) {
  std::vector<double> t;
  f();   // warm-up: scratch buffers grow once
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  return median(std::move(t));
}

// f at 1 thread and at n threads, alternated run by run (a noisy machine's slow phases then hit both sides
// alike): {median 1-thread ms, median n-thread ms, median of the per-pair ratios}.
struct Speedup {
  double one, many, ratio;
};
template <class F>
Speedup speedup(F&& f, int n, int reps) {
  std::vector<double> t1, tn, r;
  for (int t : {1, n}) {   // warm-up at both counts: each grows its own threads' scratch
    kernels::set_threads(t);
    f();
  }
  auto timed = [&](int t) {
    kernels::set_threads(t);
    const auto a = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
  };
  for (int k = 0; k < reps; ++k) {
    t1.push_back(timed(1));
    tn.push_back(timed(n));
    r.push_back(t1.back() / tn.back());
  }
  return {median(t1), median(tn), median(r)};
}

// ---- cases ---------------------------------------------------------------------------------------------------------
struct Case {
  const char* name;
  int64_t C, M, H, k, stride, pad, group;
};

ConvParams make(const Case& c) {
  ConvParams p;
  p.nspatial = 2;
  p.N = 1;
  p.C = c.C;
  p.M = c.M;
  p.group = c.group;
  for (int d = 1; d < 3; ++d) {
    p.in[d] = c.H;
    p.kernel[d] = c.k;
    p.stride[d] = c.stride;
    p.pad_begin[d] = p.pad_end[d] = c.pad;
    p.out[d] = (c.H + 2 * c.pad - c.k) / c.stride + 1;
  }
  return p;
}

}  // namespace

// ---- main --------------------------------------------------------------------------------------------------------------
int main(int argc, char** argv) {
  // Optional arguments: kernel threads (kernels::set_threads), to see how each layer splits; `speedup N`
  // instead times the path conv_forward / conv_backward_data take at 1 and N threads, alternated.
  const bool compare = argc > 2 && std::string(argv[1]) == "speedup";
  const char* count = compare ? argv[2] : argc > 1 ? argv[1] : "1";
  const int threads = std::max(1, std::atoi(count));
  kernels::set_threads(threads);
  std::printf(compare ? "speedup, 1 thread vs %d (alternated runs; ratio: median of per-pair ratios)\n"
                      : "kernel threads: %d\n", threads);
  const Case cases[] = {
      {"conv1 7x7/2 3->64 224", 3, 64, 224, 7, 2, 3, 1},
      {"layer1 3x3 64->64 56", 64, 64, 56, 3, 1, 1, 1},
      {"layer2 3x3/2 64->128 56", 64, 128, 56, 3, 2, 1, 1},
      {"layer2 3x3 128->128 28", 128, 128, 28, 3, 1, 1, 1},
      {"layer2 down 1x1/2 64->128", 64, 128, 56, 1, 2, 0, 1},
      {"layer3 3x3 256->256 14", 256, 256, 14, 3, 1, 1, 1},
      {"layer4 3x3 512->512 7", 512, 512, 7, 3, 1, 1, 1},
      {"3x3 32->32 112", 32, 32, 112, 3, 1, 1, 1},
      {"3x3 16->16 32", 16, 16, 32, 3, 1, 1, 1},
      {"3x3 32->64 16", 32, 64, 16, 3, 1, 1, 1},
      {"3x3 3->64 224", 3, 64, 224, 3, 1, 1, 1},
      {"pointwise 1x1 256->256 14", 256, 256, 14, 1, 1, 0, 1},
      {"depthwise 3x3 128 28", 128, 128, 28, 3, 1, 1, 128},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const Case& c : cases) {
    const ConvParams p = make(c);
    std::vector<float> x(static_cast<size_t>(p.C * p.in_size())), w(static_cast<size_t>(p.M * p.col_rows()));
    std::vector<float> y(static_cast<size_t>(p.M * p.out_size())), b(static_cast<size_t>(p.M));
    for (auto* v : {&x, &w, &b})
      for (float& f : *v) f = u(rng);
    if (compare) {
      const Speedup f = speedup([&] { kernels::conv_forward(p, x.data(), w.data(), b.data(), y.data()); }, threads, 15);
      const Speedup a = speedup([&] { kernels::conv_backward_data(p, y.data(), w.data(), x.data()); }, threads, 15);
      std::printf("%-28s fwd %8.3f -> %8.3f ms  x%.2f   adj %8.3f -> %8.3f ms  x%.2f\n", c.name, f.one, f.many, f.ratio,
                  a.one, a.many, a.ratio);
      continue;
    }
    const double fwd = median_ms([&] { kernels::detail::im2col_conv_forward(p, x.data(), w.data(), b.data(), y.data()); }, 9);
    const double bwd = median_ms([&] { kernels::detail::im2col_conv_backward_data(p, y.data(), w.data(), x.data()); }, 9);
    const double flop = 2.0 * p.M * p.out_size() * p.col_rows();
    std::printf("%-28s fwd %8.3f ms  adj %8.3f ms  %6.1f GFLOP/s", c.name, fwd, bwd, flop / fwd / 1e6);
    if (kernels::detail::winograd_fits(p)) {
      for (int tile : {2, 4}) {
        const double wf = median_ms([&] { kernels::detail::winograd_conv_forward(p, x.data(), w.data(), b.data(), y.data(), tile); }, 9);
        const double wb = median_ms([&] { kernels::detail::winograd_conv_backward_data(p, y.data(), w.data(), x.data(), tile); }, 9);
        std::printf("  F%d fwd %7.3f adj %7.3f%s", tile, wf, wb, kernels::detail::winograd_tile(p) == tile ? " (taken)" : "");
      }
    }
    std::printf("\n");
  }
  for (int64_t n : {256, 512, 1024}) {
    std::vector<float> a(n * n, 0.5f), bb(n * n, 0.25f), cc(n * n);
    const double ms = median_ms([&] { kernels::gemm(false, false, n, n, n, 1, a.data(), n, bb.data(), n, 0, cc.data(), n); }, 5);
    std::printf("gemm %-23lld %8.3f ms  %6.1f GFLOP/s\n", static_cast<long long>(n), ms, 2.0 * n * n * n / ms / 1e6);
  }
  return 0;
}
