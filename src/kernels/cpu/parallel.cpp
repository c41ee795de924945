// relscope/kernels/cpu/parallel.cpp — a small persistent thread pool behind kernels::set_threads().
//
// Sections: pool | set_threads / threads | parallel_ranges
//
// Why persistent workers: a ResNet-18 forward makes ~25 kernel calls and an explanation ~100; creating
// threads per call would cost tens of microseconds each. Workers are kept when set_threads() lowers the
// count: a caller that switches between 1 and N threads (the benchmark's interleaved runs, a UI setting)
// reuses the same workers and their per-thread scratch (im2col columns, GEMM panels) instead of re-creating
// and re-faulting them.
// Why spin before parking: a region whose workers sleep on a condition variable costs a futex wake-up each
// way, 13-66 us per region on this project's 2-vCPU VMs, ~3 ms of a 2-thread ResNet-18 forward pass (~50
// regions), as much as its whole imbalance. A worker that finished a job watches for the next one for
// kSpin before it parks, and the caller watches for its workers' completion for kSpin before it blocks:
// an empty region back to back takes 1-4 us instead (2 threads), and an idle pool costs at most kSpin of
// each worker's core after each region.
// Wasm builds are compiled without pthreads: there the pool never starts and every range runs on the
// calling thread (threads() stays 1).
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
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

// ---- pool -------------------------------------------------------------------------------------------------------
#ifndef RELSCOPE_NO_THREADS
// Below this many flops per extra thread, waking parked workers costs more than it saves (~50 us of work).
constexpr double kMinWorkPerThread = 2e6;
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kSpin has passed (the clock read every 64 rounds); true when ready. After the first
// rounds it yields the core instead of pausing: with more threads than cores (a pool of 3 on 2 vCPUs) a
// pausing spinner holds the core that the thread it waits for needs, and a region took 205 us instead of 70.
template <class Ready>
bool spin_until(Ready&& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    if (ready()) return true;
    if (i < 256)
      cpu_relax();
    else
      std::this_thread::yield();
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true);
      ticket_.fetch_add(uint64_t{1} << kCountBits);
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()) + 1; }

  // Runs job(i) for i in [0, count): 0 on the caller, the rest on workers 1..count-1 (count <= size()).
  void run(const std::function<void(int)>& job, int count) {
    {
      std::lock_guard<std::mutex> lk(m_);   // a worker about to park re-checks the ticket under it
      job_ = &job;
      pending_.store(count - 1);
      const uint64_t generation = (ticket_.load() >> kCountBits) + 1;
      ticket_.store(generation << kCountBits | static_cast<uint64_t>(count));   // publishes job_ too
    }
    start_.notify_all();
    job(0);
    if (!spin_until([this] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [this] { return pending_.load() == 0; });
    }
  }

 private:
  // A run's generation and thread count in one word: a worker that is not part of a run must never read
  // the next run's count as this one's (it would join a run it then also sees as new, and run it twice).
  static constexpr int kCountBits = 16;

  void loop(int index) {
    t_in_region = true;   // a worker only ever runs inside a region
    uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return ticket_.load() != seen; })) {
        std::unique_lock<std::mutex> lk(m_);
        start_.wait(lk, [&] { return ticket_.load() != seen; });
      }
      seen = ticket_.load();
      if (stop_.load()) return;   // set before the ticket that woke this worker
      if (index >= static_cast<int>(seen & ((uint64_t{1} << kCountBits) - 1))) continue;   // not in this run
      (*job_)(index);   // job_ stays this run's until every participant, this one too, has finished
      if (pending_.fetch_sub(1) == 1) {   // the last worker out wakes a caller that stopped spinning
        std::lock_guard<std::mutex> lk(m_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;   // written before the ticket is published, read after
  std::atomic<uint64_t> ticket_{0};                 // generation << kCountBits | count
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

std::mutex g_config;        // guards g_pool replacement
std::mutex g_busy;          // one parallel region at a time; a concurrent caller runs serially
std::unique_ptr<Pool> g_pool;   // grows to the largest count asked for, never shrinks
// Threads a region uses: written by set_threads under g_config and g_busy, read without a lock (threads() is
// called inside regions, whose caller holds g_busy: taking g_config there would invert set_threads' order).
std::atomic<int> g_active{1};
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
  return g_active.load();
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
      const int64_t parts = std::min<int64_t>({static_cast<int64_t>(g_active.load()), n,
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
