// relscope/cli/cmd_bench.cpp — `relscope bench MODEL.onnx`: median forward (and explain) time.
//
// Sections: clocks and memory | timing | cmd_bench
//
// Inputs are seeded random values. With --method, the explanation is timed too and the ratio
// explain/forward is printed, and a second explanation of the same input (re-explain: its forward pass is
// kept, so only the backward part runs); with --threads N > 1 the single-threaded forward is timed as well and the
// speedup printed. Each kind's work (multiply-accumulates, kernels::multiply_accumulates) is printed too: the
// ratio of explain's to forward's is what the method asks of any machine. Runs of the compared quantities are
// interleaved (forward, explain, forward, ...) and medians taken, because the machines are noisy and only ratios from one run compare. Each time is given
// as wall clock and as process CPU time (a better estimate of the quiet-machine time of a single-threaded
// run when other work competes for the cores). Natively the page faults per run are counted too: a steady
// state that still faults is handing memory back to the kernel and taking it again (each fault costs
// microseconds, far more in a VM). With --threads N > 1 on Linux the 1-thread forward is also timed pinned to
// each CPU the process may use: a 2-thread split waits for the slower core, so per-core speeds bound the
// speedup (on a shared VM they differ and drift). Never used for timed assertions in tests.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#else
#include <sys/resource.h>
#endif
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sched.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "cli/threads_option.h"
#include "core/error.h"
#include "core/number_list.h"
#include "engine/session.h"
#include "kernels/kernels.h"
#include "relevance/explain.h"

namespace relscope::cli {

namespace {

// ---- clocks and memory ---------------------------------------------------------------------------------------
#if defined(__EMSCRIPTEN__)
// Under node, process.cpuUsage(); in a browser there is none (-1: not reported).
EM_JS(double, relscope_cpu_ms, (), {
  if (typeof process == 'object' && process.cpuUsage) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return -1;
});
double process_cpu_ms() { return relscope_cpu_ms(); }
double page_faults() { return -1; }   // linear memory: none to count
// The linear memory only grows, so its size is the high-water mark of the heap (and stack).
double peak_mib() { return static_cast<double>(__builtin_wasm_memory_size(0)) * 65536.0 / (1 << 20); }
#else
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
double peak_mib() {   // the process's resident high-water mark
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
double page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_minflt + u.ru_majflt);
}
#endif

// ---- timing ----------------------------------------------------------------------------------------------------
struct Timing {
  std::vector<double> wall, cpu, faults;
  template <class F>
  void run(F&& f) {
    using clock = std::chrono::steady_clock;
    const double c0 = process_cpu_ms(), f0 = page_faults();
    const auto t0 = clock::now();
    f();
    wall.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    cpu.push_back(process_cpu_ms() - c0);
    faults.push_back(page_faults() - f0);
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  }
  double wall_ms() const { return median(wall); }
  double cpu_ms() const { return median(cpu); }
  double faults_per_run() const { return median(faults); }
};

// ---- per-CPU pinning (Linux) -------------------------------------------------------------------------------------
// The CPUs this process may run on (at most 8 are timed), and pinning the calling thread to one or back to all.
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
std::vector<int> usable_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 8; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}
void pin_to(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  sched_setaffinity(0, sizeof set, &set);   // 0: the calling thread
}
#else
std::vector<int> usable_cpus() { return {}; }
void pin_to(const std::vector<int>&) {}
#endif

void print_time(const char* what, const Timing& t) {
  std::printf("%s: %.3f ms (cpu %.3f ms)\n", what, t.wall_ms(), t.cpu_ms());
}

}  // namespace

// ---- cmd_bench -------------------------------------------------------------------------------------------------
int cmd_bench(int argc, char** argv) {
#if defined(__GLIBC__)
  // A steady state keeps the memory it freed, as wasm's linear memory does. glibc otherwise hands the top of
  // the heap back after a pass and the next pass faults it in again: with an explanation's kept pass alive
  // (Session::recorded) the forward pass's largest tensors landed there, 752 faults (3 MiB) per run.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  auto options = explain_value_options();
  options.insert({"repeat", "warmup", "shape", kThreadsOption});
  const Args a = parse_args(argc, argv, 2, options);
  if (a.positional.size() != 1)
    fail_input("usage: relscope bench MODEL.onnx [--repeat N] [--warmup N] [--shape 1,3,224,224] [--threads N] "
               "[--method M --composite C]");
  const int threads = apply_threads_option(a);
  Session s = Session::load_file(a.positional[0]);
  const Graph& g = s.graph();
  const long long repeat = std::max(1LL, a.get_int("repeat", 10));
  const long long warmup = std::max(0LL, a.get_int("warmup", 2));

  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const auto& d = g.values[g.inputs[k]].declared;
    Shape shape;
    if (k == 0 && a.has("shape")) {
      for (int64_t v : parse_int_list(a.get("shape", ""), "--shape")) shape.push_back(v);
    } else {
      for (const auto& dim : d.dims) shape.push_back(dim.value >= 0 ? dim.value : 1);
    }
    if (d.elem_type == onnx::kInt64) fail(ErrorKind::Unsupported, "bench: int64 inputs are not generated");
    Tensor t = Tensor::zeros(shape);
    for (float& x : t.f) x = uni(rng);
    inputs.push_back(std::move(t));
  }

  const bool with_explain = a.has("method");
  std::optional<relevance::ExplainRequest> request;
  std::optional<relevance::Explainer> explainer;
  if (with_explain) {
    request = explain_request(a, g, repeated_option(argc, argv, "rule"), repeated_option(argc, argv, "prune-at"));
    explainer.emplace(s);
  }
  auto forward = [&] { s.predict(inputs); };
  auto forward_1 = [&] {   // the single-threaded reference for the speedup
    kernels::set_threads(1);
    s.predict(inputs);
    kernels::set_threads(threads);
  };
  // A whole explanation: the kept forward pass of the previous run is dropped first (Session::recorded),
  // so every run records its own. re-explain asks again about the same input, as a canvas does when the
  // target or concept changes: only the backward part runs, and without the rules' forward GEMMs, whose
  // denominators are kept on the pass (a new composite computes its own once).
  auto explain = [&] {
    explainer->drop_recorded();
    explainer->explain(inputs, *request);
  };
  auto reexplain = [&] { explainer->explain(inputs, *request); };

  // Warm-up (plans, scratch buffers, memoised rule weights), recording peak memory after each kind.
  for (long long k = 0; k < warmup; ++k) forward();
  const double peak_forward = peak_mib();
  for (long long k = 0; k < warmup && with_explain; ++k) explain();
  const double peak_explain = peak_mib();
  for (long long k = 0; k < warmup && threads > 1; ++k) forward_1();

  // Work per run, one run each: multiply-accumulates as direct convolutions and GEMMs (kernels.h), the same on
  // every machine. Where convolutions dominate, explain/forward time cannot fall much below its ratio.
  auto work = [](auto&& run) {
    const uint64_t before = kernels::multiply_accumulates();
    run();
    return static_cast<double>(kernels::multiply_accumulates() - before);
  };
  const double work_forward = work(forward);
  const double work_explain = with_explain ? work(explain) : 0.0, work_reexplain = with_explain ? work(reexplain) : 0.0;

  // Per-CPU 1-thread forwards (only with --threads > 1 and more than one usable CPU).
  const std::vector<int> cpus = threads > 1 ? usable_cpus() : std::vector<int>{};
  std::vector<Timing> pinned(cpus.size() > 1 ? cpus.size() : 0);
  auto forward_pinned = [&](size_t k) {
    pin_to({cpus[k]});
    forward_1();
    pin_to(cpus);
  };

  Timing tf, te, tr, t1;
  for (long long k = 0; k < repeat; ++k) {   // interleaved: slow phases of a noisy machine hit all alike
    tf.run(forward);
    if (with_explain) te.run(explain);
    if (with_explain) tr.run(reexplain);   // right after explain: its pass is kept
    if (threads > 1) t1.run(forward_1);
    for (size_t c = 0; c < pinned.size(); ++c) pinned[c].run([&] { forward_pinned(c); });
  }
  std::printf("model %s input %s, median of %lld runs, %d thread%s\n", g.label.c_str(),
              shape_str(inputs.empty() ? Shape{} : inputs[0].shape).c_str(), repeat, threads, threads == 1 ? "" : "s");
  print_time("forward", tf);
  if (threads > 1) {
    print_time("forward 1 thread", t1);
    std::printf("threads speedup: %.2f\n", t1.wall_ms() / tf.wall_ms());
    if (!pinned.empty()) {
      std::printf("forward 1 thread pinned:");
      for (size_t c = 0; c < pinned.size(); ++c) std::printf("%s cpu%d %.3f ms", c ? "," : "", cpus[c], pinned[c].wall_ms());
      std::printf("\n");
    }
  }
  if (with_explain) {
    std::printf("explain: %.3f ms (cpu %.3f ms) (%s%s)\n", te.wall_ms(), te.cpu_ms(), request->method.c_str(),
                request->method == "lrp" ? (", " + request->composite).c_str() : "");
    std::printf("explain/forward: %.2f (cpu %.2f)\n", te.wall_ms() / tf.wall_ms(), te.cpu_ms() / tf.cpu_ms());
    std::printf("re-explain (same input, forward pass kept): %.3f ms (cpu %.3f ms)\n", tr.wall_ms(), tr.cpu_ms());
    std::printf("re-explain/forward: %.2f (cpu %.2f)\n", tr.wall_ms() / tf.wall_ms(), tr.cpu_ms() / tf.cpu_ms());
    std::printf("work (multiply-accumulates, convolutions counted as direct): forward %.3f G, explain %.3f G (%.2f x forward), "
                "re-explain %.3f G (%.2f x forward)\n",
                work_forward * 1e-9, work_explain * 1e-9, work_explain / work_forward, work_reexplain * 1e-9,
                work_reexplain / work_forward);
  } else {
    std::printf("work (multiply-accumulates, convolutions counted as direct): forward %.3f G\n", work_forward * 1e-9);
  }
  if (page_faults() >= 0) {
    std::printf("page faults per run (median): forward %.0f", tf.faults_per_run());
    if (with_explain) std::printf(", explain %.0f", te.faults_per_run());
    if (threads > 1) std::printf(", forward 1 thread %.0f", t1.faults_per_run());
    std::printf("\n");
  }
  if (with_explain && warmup > 0)
    std::printf("peak memory: %.1f MiB after forward, %.1f MiB after explain\n", peak_forward, peak_explain);
  else
    std::printf("peak memory: %.1f MiB\n", peak_mib());
  return 0;
}

}  // namespace relscope::cli
