// relscope/kernels/cpu/parallel.cpp — a small persistent thread pool behind kernels::set_threads().
//
// Sections: pool | set_threads / threads | parallel_ranges
//
// Why persistent workers: a ResNet-18 forward makes ~25 kernel calls and an explanation ~100; creating
// threads per call would cost tens of microseconds each, waking parked workers costs a few. Workers are
// parked on a condition variable between calls, and kept when set_threads() lowers the count: a caller that
// switches between 1 and N threads (the benchmark's interleaved runs, a UI setting) reuses the same workers
// and their per-thread scratch (im2col columns, GEMM panels) instead of re-creating and re-faulting them.
// Wasm builds are compiled without pthreads: there the pool never starts and every range runs on the
// calling thread (threads() stays 1).
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/kernels.h"

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define RELSCOPE_NO_THREADS 1
#endif

namespace relscope::kernels {

namespace {

thread_local bool t_in_region = false;

// Below this many flops per extra thread, waking workers costs more than it saves (~50 us of work).
constexpr double kMinWorkPerThread = 2e6;

// ---- pool -------------------------------------------------------------------------------------------------------
#ifndef RELSCOPE_NO_THREADS
class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()) + 1; }

  // Runs job(i) for i in [0, count): 0 on the caller, the rest on workers 1..count-1 (count <= size()).
  void run(const std::function<void(int)>& job, int count) {
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &job;
      count_ = count;
      pending_ = count - 1;
      ++generation_;
    }
    start_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int index) {
    t_in_region = true;   // a worker only ever runs inside a region
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      start_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= count_) continue;   // not part of this run
      const auto* job = job_;
      lk.unlock();
      (*job)(index);
      lk.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int count_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

std::mutex g_config;        // guards g_pool replacement
std::mutex g_busy;          // one parallel region at a time; a concurrent caller runs serially
std::unique_ptr<Pool> g_pool;   // grows to the largest count asked for, never shrinks
int g_active = 1;               // threads a region uses (set_threads); guarded by g_config and g_busy
#endif

}  // namespace

// ---- set_threads / threads ------------------------------------------------------------------------------------
void set_threads(int n) {
#ifndef RELSCOPE_NO_THREADS
  n = std::clamp(n, 1, 256);
  std::lock_guard<std::mutex> cfg(g_config);
  std::lock_guard<std::mutex> busy(g_busy);
  g_active = n;
  if ((g_pool ? g_pool->size() : 1) >= n) return;
  g_pool.reset();
  g_pool = std::make_unique<Pool>(n - 1);
#else
  (void)n;
#endif
}

int threads() {
#ifndef RELSCOPE_NO_THREADS
  std::lock_guard<std::mutex> cfg(g_config);
  return g_active;
#else
  return 1;
#endif
}

int hardware_threads() {
#ifndef RELSCOPE_NO_THREADS
  return std::max(1u, std::thread::hardware_concurrency());
#else
  return 1;
#endif
}

// ---- parallel_ranges ------------------------------------------------------------------------------------------
namespace detail {

bool in_parallel_region() { return t_in_region; }

void parallel_ranges(int64_t n, double work, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
#ifndef RELSCOPE_NO_THREADS
  if (n >= 2 && !t_in_region && g_pool) {
    std::unique_lock<std::mutex> busy(g_busy, std::try_to_lock);
    if (busy.owns_lock() && g_pool) {
      const int64_t parts = std::min<int64_t>({static_cast<int64_t>(g_active), n,
                                               static_cast<int64_t>(work / kMinWorkPerThread)});
      if (parts >= 2) {
        const std::function<void(int)> job = [&](int i) {
          const int64_t b = n * i / parts, e = n * (i + 1) / parts;
          const bool was = t_in_region;
          t_in_region = true;
          if (e > b) fn(b, e);
          t_in_region = was;
        };
        g_pool->run(job, static_cast<int>(parts));
        return;
      }
    }
  }
#else
  (void)work;
#endif
  fn(0, n);
}

}  // namespace detail

}  // namespace relscope::kernels
