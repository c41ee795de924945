// The CPU back-end's thread pool (kernels/cpu/parallel.cpp): every index of a region runs exactly once and
// the region returns only when all of them have, whether workers are still spinning from the previous region
// (back to back), have parked (idle longer than their spin), or take longer than the caller's spin; a pool
// larger than the region leaves its extra workers out without letting them join the next region twice;
// nested and concurrent regions run serially. Wasm builds without pthreads run every region on the caller.
//
// Sections: helpers | regions
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace relscope {
namespace {

// ---- helpers -------------------------------------------------------------------------------------------------
constexpr double kBigWork = 1e12;   // flops claimed, so that every region is split over all threads

// Runs one region over [0, n) and checks that each index ran exactly once before parallel_ranges returned.
void expect_each_index_once(int64_t n, const std::function<void(int64_t, int64_t)>& extra = {}) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  kernels::detail::parallel_ranges(n, kBigWork, [&](int64_t b, int64_t e) {
    if (extra) extra(b, e);
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i << " of " << n;
}

struct ThreadsGuard {
  ~ThreadsGuard() { kernels::set_threads(1); }
};

// ---- regions -----------------------------------------------------------------------------------------------------
TEST(KernelsParallel, BackToBackRegionsRunEachIndexOnce) {
  ThreadsGuard guard;
  for (int t : {2, 3}) {
    kernels::set_threads(t);
    for (int r = 0; r < 20000; ++r) expect_each_index_once(1 + r % 7);
  }
}

// Pool of 3 workers, regions of 2 threads: the third worker sees every region and must stay out of each.
TEST(KernelsParallel, WorkersOutsideARegionNeverJoinTheNext) {
  ThreadsGuard guard;
  kernels::set_threads(3);
  kernels::set_threads(2);   // the pool keeps its 3 threads
  std::atomic<int> calls{0};
  for (int r = 0; r < 20000; ++r) {
    expect_each_index_once(2, [&](int64_t, int64_t) { calls.fetch_add(1); });
    ASSERT_EQ(calls.exchange(0), kernels::threads()) << "region " << r;   // 1 where wasm has no threads
  }
}

// Idle longer than the workers spin (they park and must be woken), and a worker share that outlasts the
// caller's spin (the caller blocks and must be woken by the last worker).
TEST(KernelsParallel, ParkedWorkersAndAWaitingCallerAreWoken) {
  ThreadsGuard guard;
  kernels::set_threads(2);
  for (int r = 0; r < 5; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    expect_each_index_once(64);
    expect_each_index_once(64, [](int64_t b, int64_t) {
      if (b > 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
    });
  }
}

TEST(KernelsParallel, NestedRegionsRunOnTheirThread) {
  ThreadsGuard guard;
  kernels::set_threads(2);
  std::atomic<int> inner_splits{0};
  expect_each_index_once(4, [&](int64_t, int64_t) {
    EXPECT_EQ(kernels::detail::in_parallel_region(), kernels::threads() > 1);
    kernels::detail::parallel_ranges(100, kBigWork, [&](int64_t b, int64_t e) {
      if (b != 0 || e != 100) inner_splits.fetch_add(1);
    });
  });
  EXPECT_EQ(inner_splits.load(), 0);
  EXPECT_FALSE(kernels::detail::in_parallel_region());
}

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
// Two callers at once: one region uses the pool, the other runs on its own thread; both complete.
TEST(KernelsParallel, ConcurrentCallersBothComplete) {
  ThreadsGuard guard;
  kernels::set_threads(2);
  std::thread other([] {
    for (int r = 0; r < 2000; ++r) expect_each_index_once(1 + r % 5);
  });
  for (int r = 0; r < 2000; ++r) expect_each_index_once(1 + r % 5);
  other.join();
}
#endif

}  // namespace
}  // namespace relscope
