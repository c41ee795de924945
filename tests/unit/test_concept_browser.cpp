// relscope/tests/unit/test_concept_browser.cpp — the canvas' concept browser (src/app/core/concept_browser.h)
// on the bundled demo, without a canvas: the ranking is Explainer::concepts', the maps of all channels add up
// to the LRP heatmap, the incremental atlas equals the batch atlas, caches follow the input, the data set
// grows with opened inputs (duplicates left out), references get receptive-field crops.
//
// Sections: fixture | ranking and maps | attribution graph | jobs for another thread | atlas | caches |
//           opened inputs and crops
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "app/core/app_state.h"
#include "app/core/concept_browser.h"
#include "core/error.h"
#include "io/file.h"
#include "relevance/atlas.h"
#include "relevance/explain.h"
#include "render/heatmap.h"

namespace relscope::app {
namespace {

// ---- fixture -----------------------------------------------------------------------------------------
std::string demo(const std::string& name) { return std::string(RELSCOPE_SOURCE_DIR) + "/assets/demo/" + name; }
std::vector<uint8_t> bytes(const std::string& path) { return read_file_bytes(path, 1u << 30); }

const std::vector<std::string> kSamples = {"0_ankle_boot.png", "1_pullover.png", "2_trouser.png",
                                           "4_shirt.png", "6_coat.png", "8_sandal.png"};

// The page's boot: preprocess.json, labels, model, the bundled samples, the default one selected, computed.
void boot(AppState& s) {
  s.open("preprocess.json", bytes(demo("preprocess.json")));
  s.open("labels.txt", bytes(demo("labels.txt")));
  s.open("fashion_cnn.onnx", bytes(demo("fashion_cnn.onnx")));
  for (const auto& n : kSamples) s.add_sample(n, bytes(demo("samples/" + n)));
  s.select_sample(0);
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
}

// Steps until the browser is idle; returns the number of steps that did work.
int run_until_idle(ConceptBrowser& b, AppState& s, int cap = 500) {
  int steps = 0;
  while (b.step(s) && steps < cap) ++steps;
  return steps;
}

// An independent engine on the same model and the browser's request.
struct Reference {
  Session session = Session::load_file(demo("fashion_cnn.onnx"));
  relevance::Explainer explainer{session};
};

// ---- ranking and maps --------------------------------------------------------------------------------
TEST(ConceptBrowser, RankingIsTheEnginesAndAllMapsAddUpToTheLrpHeatmap) {
  AppState s;
  boot(s);
  ConceptBrowser b;
  b.set_thumbnails(1000);   // every channel: the maps must add up to the LRP map
  ASSERT_TRUE(b.step(s));
  ASSERT_EQ(b.error(), "");
  EXPECT_EQ(b.layers(), s.concept_layers());
  ASSERT_FALSE(b.layer().empty());
  const int64_t c = b.channels();
  ASSERT_GT(c, 1);
  ASSERT_EQ(static_cast<int64_t>(b.ranking().size()), c);

  Reference ref;
  relevance::ExplainRequest req = s.lrp_request();
  req.crp.layer = b.layer();
  req.targets = {s.results().main.target};
  const auto want = ref.explainer.concepts({s.results().input}, req);
  std::vector<bool> seen(static_cast<size_t>(c), false);
  for (size_t k = 0; k < b.ranking().size(); ++k) {
    const RankedConcept& r = b.ranking()[k];
    ASSERT_GE(r.channel, 0);
    ASSERT_LT(r.channel, c);
    EXPECT_FALSE(seen[static_cast<size_t>(r.channel)]) << "channel listed twice";
    seen[static_cast<size_t>(r.channel)] = true;
    EXPECT_EQ(r.relevance, want.relevance.f[static_cast<size_t>(r.channel)]) << "channel " << r.channel;
    EXPECT_EQ(r.share, want.normalized.f[static_cast<size_t>(r.channel)]);
    if (k > 0) {
      EXPECT_GE(b.ranking()[k - 1].relevance, r.relevance) << "ranked best first";
    }
  }

  // The conditional maps of all channels add up to the LRP heatmap the canvas shows (s.settings is lrp).
  ASSERT_EQ(s.settings.method, "lrp");
  const Tensor& lrp = s.results().main.relevance;
  ASSERT_EQ(static_cast<int64_t>(b.map_channels().size()), c);
  std::vector<double> sum(lrp.f.size(), 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    const Tensor m = b.map_of(ch);
    ASSERT_EQ(m.shape, lrp.shape);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += m.f[i];
  }
  double max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < sum.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(lrp.f[i])));
    max_diff = std::max(max_diff, std::fabs(sum[i] - lrp.f[i]));
  }
  ASSERT_GT(max_abs, 0);
  EXPECT_LE(max_diff, 1e-5 * max_abs);
  // A map is its channel's: the top channel's map sums to ... its share of the input relevance, not zero.
  EXPECT_TRUE(b.map_of(c + 5).f.empty());
}

// ---- attribution graph -------------------------------------------------------------------------------
TEST(ConceptBrowser, SelectingAChannelGivesItsAttributionGraphAndMap) {
  AppState s;
  boot(s);
  ConceptBrowser b;
  b.set_thumbnails(2);
  ASSERT_TRUE(b.step(s));
  const int64_t last = b.ranking().back().channel;   // not among the 2 thumbnails
  b.select(last);
  ASSERT_TRUE(b.step(s));
  ASSERT_EQ(b.error(), "");
  const auto& g = b.graph();
  ASSERT_FALSE(g.nodes.empty());
  EXPECT_EQ(g.nodes[0].layer, b.layer());
  EXPECT_EQ(g.nodes[0].channel, last);
  EXPECT_FLOAT_EQ(g.nodes[0].relevance, b.ranking().back().relevance);
  std::vector<int> children(g.nodes.size(), 0);
  for (size_t k = 1; k < g.nodes.size(); ++k) {
    EXPECT_LE(g.nodes[k].depth, 2);
    ++children[static_cast<size_t>(g.nodes[k].parent)];
  }
  for (int n : children) EXPECT_LE(n, 3);
  if (s.concept_layers().front() != b.layer()) {
    EXPECT_GT(g.nodes.size(), 1u);
  }
  // Its map is computed on selection, and it is the crp map of that channel alone.
  const Tensor m = b.map_of(last);
  ASSERT_EQ(m.shape, s.results().main.relevance.shape);
  Reference ref;
  relevance::ExplainRequest req = s.lrp_request();
  req.method = "crp";
  req.crp.layer = b.layer();
  req.crp.channels = {last};
  req.crp.joint = true;
  req.targets = {s.results().main.target};
  const Tensor want = ref.explainer.explain({s.results().input}, req).relevance;
  for (size_t i = 0; i < want.f.size(); ++i) ASSERT_EQ(m.f[i], want.f[i]);
}

// ---- jobs for another thread -------------------------------------------------------------------------
// The canvas hands the ranking and selections to the page's worker: a browser with an offloader must end up
// exactly where one that computes in step() does, wait meanwhile, drop stale answers, run a failed job here
// and ask again after a cancel.
TEST(ConceptBrowser, OffloadedJobsEndWhereComputingHereEnds) {
  AppState s;
  boot(s);
  ConceptBrowser here, there;
  here.set_thumbnails(3);
  there.set_thumbnails(3);
  std::vector<ConceptJob> jobs;   // rankings and selections; atlas samples are declined (they run in step())
  there.set_offloader([&](const ConceptJob& j) {
    if (j.kind == ConceptJob::Kind::AtlasSample) return false;
    jobs.push_back(j);
    return true;
  });
  ASSERT_TRUE(here.step(s));
  ASSERT_TRUE(there.step(s));
  ASSERT_EQ(jobs.size(), 1u);
  const ConceptJob job = jobs[0];
  EXPECT_EQ(job.kind, ConceptJob::Kind::Ranking);
  EXPECT_EQ(job.values.at("layer"), here.layer());
  EXPECT_EQ(job.values.at("target"), std::to_string(s.results().main.target));
  EXPECT_EQ(job.thumbnails, 3);
  EXPECT_TRUE(there.waiting());
  EXPECT_TRUE(there.ranking().empty());
  // While it waits it hands out nothing more (atlas work goes on) and is not idle.
  for (int k = 0; k < 5; ++k) there.step(s);
  EXPECT_EQ(jobs.size(), 1u);
  EXPECT_FALSE(there.idle());
  // A stale answer is dropped; the real one makes the same ranking and maps as computing here.
  there.deliver("some other key", run_concept_job(s, job));
  EXPECT_TRUE(there.ranking().empty());
  EXPECT_EQ(there.delivered(), 0);
  there.deliver(job.key, run_concept_job(s, job));
  EXPECT_FALSE(there.waiting());
  EXPECT_EQ(there.delivered(), 1);
  ASSERT_EQ(there.ranking().size(), here.ranking().size());
  for (size_t k = 0; k < here.ranking().size(); ++k) {
    EXPECT_EQ(there.ranking()[k].channel, here.ranking()[k].channel);
    EXPECT_EQ(there.ranking()[k].relevance, here.ranking()[k].relevance);
    EXPECT_EQ(there.ranking()[k].share, here.ranking()[k].share);
  }
  EXPECT_EQ(there.map_channels(), here.map_channels());
  EXPECT_EQ(there.maps().f, here.maps().f);
  EXPECT_EQ(there.target(), here.target());

  // A selection outside the thumbnails asks for its map too; the answer gives the same graph and map.
  const int64_t last = here.ranking().back().channel;
  here.select(last);
  there.select(last);
  ASSERT_TRUE(here.step(s));
  ASSERT_TRUE(there.step(s));
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].kind, ConceptJob::Kind::Selection);
  EXPECT_EQ(jobs[1].channel, last);
  EXPECT_TRUE(jobs[1].need_map);
  there.deliver(jobs[1].key, run_concept_job(s, jobs[1]));
  ASSERT_EQ(there.graph().nodes.size(), here.graph().nodes.size());
  for (size_t k = 0; k < here.graph().nodes.size(); ++k) {
    EXPECT_EQ(there.graph().nodes[k].channel, here.graph().nodes[k].channel);
    EXPECT_EQ(there.graph().nodes[k].relevance, here.graph().nodes[k].relevance);
  }
  EXPECT_EQ(there.map_of(last).f, here.map_of(last).f);

  // A cancelled job is asked again; a failed one runs here (the offloader is not asked for it again).
  there.set_thumbnails(2);
  ASSERT_TRUE(there.step(s));
  ASSERT_EQ(jobs.size(), 3u);
  there.job_failed(jobs[2].key, true);
  ASSERT_TRUE(there.step(s));
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[3].key, jobs[2].key);
  there.job_failed(jobs[3].key, false);
  ASSERT_TRUE(there.step(s));
  EXPECT_EQ(jobs.size(), 4u);
  EXPECT_FALSE(there.waiting());
  EXPECT_EQ(there.map_channels().size(), 2u);
  EXPECT_EQ(there.error(), "");
}

// Atlas samples go out one at a time, in order; answered, the atlas equals the one built in step().
TEST(ConceptBrowser, OffloadedAtlasSamplesGiveTheSameAtlas) {
  AppState s;
  boot(s);
  ConceptBrowser here, there;
  run_until_idle(here, s);
  ASSERT_TRUE(here.atlas_status().complete());
  std::vector<ConceptJob> jobs;
  there.set_offloader([&](const ConceptJob& j) { jobs.push_back(j); return true; });
  int atlas_jobs = 0, guard = 0;
  while (guard++ < 200) {
    const size_t before = jobs.size();
    const bool worked = there.step(s);
    if (jobs.size() > before) {
      const ConceptJob& j = jobs.back();
      if (j.kind == ConceptJob::Kind::AtlasSample) {
        ++atlas_jobs;
        EXPECT_EQ(j.values.count("target"), 0u) << "every sample on its own prediction";
        ASSERT_EQ(j.input.shape, s.results().input.shape);
        // Nothing else of the atlas goes out before this answer.
        there.step(s);
        EXPECT_EQ(std::count_if(jobs.begin(), jobs.end(), [](const ConceptJob& x) { return x.kind == ConceptJob::Kind::AtlasSample; }),
                  atlas_jobs);
      }
      there.deliver(j.key, run_concept_job(s, j));
    } else if (!worked && !there.waiting()) {
      break;
    }
  }
  EXPECT_EQ(atlas_jobs, static_cast<int>(kSamples.size()));
  ASSERT_TRUE(there.atlas_status().complete());
  ASSERT_NE(there.atlas(), nullptr);
  ASSERT_EQ(there.atlas()->channels(), here.atlas()->channels());
  for (int64_t c = 0; c < here.atlas()->channels(); ++c) {
    const auto a = here.atlas()->relmax(c), b = there.atlas()->relmax(c);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].sample, b[k].sample);
      EXPECT_EQ(a[k].value, b[k].value);
      EXPECT_EQ(a[k].position, b[k].position);
    }
  }
  EXPECT_EQ(there.atlas_sample_names(), here.atlas_sample_names());
}

// ---- atlas -------------------------------------------------------------------------------------------
TEST(ConceptBrowser, IncrementalAtlasEqualsTheBatchAtlas) {
  AppState s;
  boot(s);
  ConceptBrowser b;
  b.set_thumbnails(4);
  int64_t done = 0;
  for (int k = 0; k < 100 && b.step(s); ++k) {
    const int64_t now = b.atlas_status().done;
    EXPECT_LE(now - done, 1) << "at most one sample per step";
    done = now;
  }
  const AtlasStatus st = b.atlas_status();
  EXPECT_TRUE(st.complete());
  EXPECT_EQ(st.done, static_cast<int64_t>(kSamples.size()));
  EXPECT_EQ(st.skipped, 0);
  ASSERT_NE(b.atlas(), nullptr);
  EXPECT_EQ(b.atlas_sample_names(), kSamples);

  Reference ref;
  relevance::ExplainRequest req = s.lrp_request();
  req.crp.layer = b.layer();
  std::unique_ptr<relevance::ConceptAtlas> batch;
  for (size_t k = 0; k < kSamples.size(); ++k) {
    const Image img = decode_image(s.samples()[k].bytes.data(), s.samples()[k].bytes.size(), kSamples[k], s.limits());
    const auto ls = relevance::layer_sample(ref.explainer, image_to_tensor(img, s.preprocess()), req);
    if (!batch) batch = std::make_unique<relevance::ConceptAtlas>(ls.relevance.shape[0], ConceptBrowser::kAtlasTop);
    batch->add(static_cast<int64_t>(k), ls.relevance, ls.activation);
  }
  ASSERT_EQ(batch->channels(), b.atlas()->channels());
  for (int64_t c = 0; c < batch->channels(); ++c)
    for (int act = 0; act < 2; ++act) {
      const auto& got = act ? b.atlas()->actmax(c) : b.atlas()->relmax(c);
      const auto& want = act ? batch->actmax(c) : batch->relmax(c);
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        EXPECT_EQ(got[r].sample, want[r].sample) << "channel " << c << (act ? " actmax" : " relmax") << " rank " << r;
        EXPECT_EQ(got[r].value, want[r].value);
        EXPECT_EQ(got[r].position, want[r].position);
        if (r > 0) {
          EXPECT_GE(got[r - 1].value, got[r].value);
        }
      }
    }
}

// ---- caches ------------------------------------------------------------------------------------------
TEST(ConceptBrowser, CachesFollowTheInputTargetAndComposite) {
  AppState s;
  boot(s);
  ConceptBrowser b;
  b.set_thumbnails(3);
  run_until_idle(b, s);
  ASSERT_EQ(b.computations(), 1);
  EXPECT_FALSE(b.step(s)) << "nothing to do: everything is cached";
  EXPECT_EQ(b.computations(), 1);
  const auto first = b.ranking();
  const int64_t atlas_done = b.atlas_status().done;

  // Another input: the ranking is recomputed (and is the engine's for it); the atlas stays.
  s.select_sample(2);
  EXPECT_FALSE(b.step(s)) << "the main compute runs first";
  ASSERT_TRUE(s.guard([&] { s.compute(); }));
  run_until_idle(b, s);
  EXPECT_EQ(b.computations(), 2);
  EXPECT_EQ(b.atlas_status().done, atlas_done);
  Reference ref;
  relevance::ExplainRequest req = s.lrp_request();
  req.crp.layer = b.layer();
  req.targets = {s.results().main.target};
  const auto want = ref.explainer.concepts({s.results().input}, req);
  bool differs = false;
  for (size_t k = 0; k < b.ranking().size(); ++k) {
    EXPECT_EQ(b.ranking()[k].relevance, want.relevance.f[static_cast<size_t>(b.ranking()[k].channel)]);
    differs |= b.ranking()[k].relevance != first[k].relevance;
  }
  EXPECT_TRUE(differs) << "a different input ranks differently";

  // Another target: recomputed too.
  s.settings.target = (s.results().main.target + 1) % 10;
  s.mark_dirty();
  ASSERT_TRUE(s.guard([&] { s.compute(); }));
  run_until_idle(b, s);
  EXPECT_EQ(b.computations(), 3);
  EXPECT_EQ(b.target(), s.settings.target);

  // Another composite: the ranking and the atlas start again.
  s.settings.composite = "epsilon-plus";
  s.mark_dirty();
  ASSERT_TRUE(s.guard([&] { s.compute(); }));
  ASSERT_TRUE(b.step(s));
  EXPECT_EQ(b.computations(), 4);
  ASSERT_TRUE(b.step(s));
  EXPECT_EQ(b.atlas_status().done, 1) << "the atlas was reset and fed one sample";
  run_until_idle(b, s);
  EXPECT_TRUE(b.atlas_status().complete());

  // Another layer: everything for that layer.
  const std::string other = s.concept_layers().front() == b.layer() ? s.concept_layers().back() : s.concept_layers().front();
  b.set_layer(other);
  ASSERT_TRUE(b.step(s));
  EXPECT_EQ(b.layer(), other);
  EXPECT_EQ(b.computations(), 5);
}

// ---- opened inputs and crops -------------------------------------------------------------------------
TEST(ConceptBrowser, OpenedInputsJoinTheAtlasAndReferencesGetCrops) {
  AppState s;
  boot(s);
  ConceptBrowser b;
  b.set_thumbnails(2);
  run_until_idle(b, s);
  ASSERT_TRUE(b.atlas_status().complete());
  const int64_t n = b.atlas_status().done;

  // A bundled sample opened again is not a new sample; a new image is; a table does not fit: skipped.
  s.open("again.png", bytes(demo("samples/" + kSamples[3])));
  Image img;
  img.width = img.height = 28;
  img.channels = 1;
  img.pixels.assign(28 * 28, 0);
  for (int y = 4; y < 10; ++y)
    for (int x = 4; x < 24; ++x) img.pixels[static_cast<size_t>(y * 28 + x)] = 255;
  s.open("bar.png", render::encode_png(img));
  s.open("rows.csv", {'1', ',', '2', '\n'});
  s.select_sample(0);
  ASSERT_TRUE(s.guard([&] { s.compute(); }));
  run_until_idle(b, s);
  const AtlasStatus st = b.atlas_status();
  EXPECT_TRUE(st.complete());
  EXPECT_EQ(st.done, n + 1);
  EXPECT_EQ(st.skipped, 1);
  EXPECT_EQ(b.atlas_sample_names().back(), "bar.png");

  // The top channel's references: RelMax best first, every one cut to a box inside the 28 x 28 sample.
  const int64_t top = b.ranking()[0].channel;
  b.select(top);
  const int steps = run_until_idle(b, s);
  EXPECT_GE(steps, 2) << "the graph, then crops one at a time";
  ASSERT_EQ(b.error(), "");
  const auto& rel = b.references(false);
  ASSERT_EQ(static_cast<int64_t>(rel.size()), std::min<int64_t>(ConceptBrowser::kAtlasTop, n + 1));
  for (size_t k = 0; k < rel.size(); ++k) {
    if (k > 0) {
      EXPECT_GE(rel[k - 1].value, rel[k].value);
    }
    EXPECT_TRUE(rel[k].cut);
    EXPECT_FALSE(rel[k].box.empty());
    EXPECT_LE(rel[k].box.bottom, 28);
    EXPECT_LE(rel[k].box.right, 28);
    EXPECT_EQ(rel[k].crop.width, rel[k].box.right - rel[k].box.left);
    EXPECT_EQ(rel[k].crop.height, rel[k].box.bottom - rel[k].box.top);
    EXPECT_EQ(rel[k].crop.pixels.size(), static_cast<size_t>(rel[k].crop.width * rel[k].crop.height));
  }
  EXPECT_FALSE(b.references(true).empty());
  EXPECT_NE(b.snapshot_json().find("\"complete\":true"), std::string::npos);
}

}  // namespace
}  // namespace relscope::app
