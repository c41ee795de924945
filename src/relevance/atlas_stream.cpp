// relscope/relevance/atlas_stream.cpp — stream_atlas(): a data set through N workers into one ConceptAtlas.
//
// Sections: shared work state | one worker | stream_atlas
//
// Why per-worker Sessions: a Session caches plans and an Explainer records activations, so neither is
// shared between threads; kernels keep their scratch thread_local (kernels.h). Why a claimed item at a
// time (not fixed shares): files differ in size, and ids are fixed by item order anyway.
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "relevance/atlas.h"

namespace relscope::relevance {

namespace {

// ---- shared work state ----
struct Shared {
  Shared(const AtlasSource& s, const ExplainRequest& r, int64_t top) : source(s), request(r), k(top) {}
  const AtlasSource& source;
  const ExplainRequest& request;
  int64_t k = 1;
  std::vector<int64_t> first_id;   // per item
  int64_t total = 0;
  std::atomic<size_t> next_item{0};
  std::atomic<bool> stop{false};
  std::mutex lock;                 // guards done, failures, progress calls
  int64_t done = 0;
  std::vector<std::pair<size_t, std::exception_ptr>> failures;   // (item, error)
  std::vector<int64_t>* targets = nullptr;   // per sample id; each worker writes its own ids only
  const std::function<void(int64_t, int64_t)>* progress = nullptr;
};

// ---- one worker ----
std::unique_ptr<ConceptAtlas> run_worker(Shared& sh, const std::function<Session()>& make_session) {
  std::unique_ptr<ConceptAtlas> atlas;
  size_t item = 0;
  try {
    Session session = make_session();
    Explainer explainer(session);
    while (!sh.stop.load()) {
      item = sh.next_item.fetch_add(1);
      if (item >= sh.source.counts.size()) break;
      const Tensor x = sh.source.load(item);
      const int64_t n = x.shape.empty() ? 0 : x.shape[0];
      if (n != sh.source.counts[item])
        fail(ErrorKind::Internal, "stream_atlas: item " + std::to_string(item) + " changed its sample count");
      for (int64_t b = 0; b < n && !sh.stop.load(); ++b) {
        const LayerSample ls = layer_sample(explainer, slice_batch(x, b, 1), sh.request);
        if (!atlas) atlas = std::make_unique<ConceptAtlas>(ls.relevance.shape[0], sh.k);
        const int64_t id = sh.first_id[item] + b;
        atlas->add(id, ls.relevance, ls.activation);
        (*sh.targets)[static_cast<size_t>(id)] = ls.target;
        std::lock_guard<std::mutex> g(sh.lock);
        ++sh.done;
        if (*sh.progress) (*sh.progress)(sh.done, sh.total);
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> g(sh.lock);
    sh.failures.emplace_back(item, std::current_exception());
    sh.stop = true;
  }
  return atlas;
}

}  // namespace

// ---- stream_atlas ----
AtlasRun stream_atlas(const std::function<Session()>& make_session, const AtlasSource& source,
                      const ExplainRequest& request, int64_t k, int threads,
                      const std::function<void(int64_t, int64_t)>& progress) {
  if (k < 1) fail_input("--top must be at least 1");
  Shared sh(source, request, k);
  for (int64_t c : source.counts) {
    sh.first_id.push_back(sh.total);
    sh.total += c;
  }
  if (sh.total == 0) fail_input("atlas: the data set holds no samples");
  AtlasRun run;
  run.targets.assign(static_cast<size_t>(sh.total), 0);
  sh.targets = &run.targets;
  sh.progress = &progress;

  std::vector<std::unique_ptr<ConceptAtlas>> parts;
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  threads = 1;   // no pthreads in this build: std::thread would throw
#endif
  const int workers = static_cast<int>(std::clamp<size_t>(threads < 1 ? 1 : static_cast<size_t>(threads), 1, source.counts.size()));
  if (workers == 1) {
    parts.push_back(run_worker(sh, make_session));
  } else {
    parts.resize(static_cast<size_t>(workers));
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w)
      pool.emplace_back([&sh, &make_session, &parts, w] { parts[static_cast<size_t>(w)] = run_worker(sh, make_session); });
    for (auto& t : pool) t.join();
  }
  if (!sh.failures.empty()) {
    const auto first = std::min_element(sh.failures.begin(), sh.failures.end(),
                                        [](const auto& a, const auto& b) { return a.first < b.first; });
    std::rethrow_exception(first->second);
  }
  for (auto& p : parts) {
    if (!p) continue;
    if (!run.atlas) run.atlas = std::move(p);
    else run.atlas->merge(*p);
  }
  if (!run.atlas) fail(ErrorKind::Internal, "stream_atlas: no worker produced an atlas");
  return run;
}

}  // namespace relscope::relevance
