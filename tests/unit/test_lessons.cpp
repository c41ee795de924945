// Tests of app/core/lessons.h: the bundled model catalog (assets/catalog.json) matches the folders, every
// lesson step opens on its model as the page hands it over, and every finding holds on the real models.
//
// Sections: catalog helpers | catalog | lesson data vs recorded findings | every lesson's finding | measures
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "app/core/app_state.h"
#include "app/core/json.h"
#include "app/core/lessons.h"
#include "core/error.h"
#include "io/file.h"

namespace relscope::app {
namespace {

// ---- catalog helpers ---------------------------------------------------------------------------------
const std::string kAssets = std::string(RELSCOPE_SOURCE_DIR) + "/assets/";

std::string text(const std::string& path) {
  const auto b = read_file_bytes(path, 1u << 30);
  return std::string(b.begin(), b.end());
}

Json catalog() { return parse_json(text(kAssets + "catalog.json"), "catalog.json"); }

const Json* entry(const Json& cat, const std::string& id) {
  for (const auto& m : cat.get("models")->items)
    if (m.get("id")->str == id) return &m;
  return nullptr;
}

// What web/app.mjs fetchBundle() reads: the manifest (or the entry itself) naming model, labels, samples.
struct Bundle {
  std::string dir, sample_dir = "samples/";
  Json manifest;
};

Bundle bundle(const Json& e) {
  Bundle b;
  b.dir = kAssets + e.get("dir")->str + "/";
  if (const Json* m = e.get("manifest")) b.manifest = parse_json(text(b.dir + m->str), m->str);
  else b.manifest = e;
  if (const Json* s = e.get("sample_dir")) b.sample_dir = s->str;
  return b;
}

// Hands a bundled model to the state as handOverBundle() in web/app.mjs does.
void open_bundle(AppState& s, const std::string& id) {
  const Json cat = catalog();
  const Json* e = entry(cat, id);
  ASSERT_NE(e, nullptr) << id;
  const Bundle b = bundle(*e);
  s.clear_samples();
  if (const Json* m = e->get("manifest")) s.open(m->str, read_file_bytes(b.dir + m->str, 1u << 30));
  if (const Json* l = b.manifest.get("labels")) s.open(l->str, read_file_bytes(b.dir + l->str, 1u << 30));
  const std::string model = b.manifest.get("model")->str;
  s.open(model, read_file_bytes(b.dir + model, 1u << 30));
  for (const auto& n : b.manifest.get("samples")->items) s.add_sample(n.str, read_file_bytes(b.dir + b.sample_dir + n.str, 1u << 30));
  s.bundle = id;
}

// ---- catalog -----------------------------------------------------------------------------------------
TEST(Lessons, CatalogListsEveryBundledFolderAndItsFiles) {
  const Json cat = catalog();
  ASSERT_TRUE(cat.get("models") && cat.get("models")->is_array());
  std::vector<std::string> dirs;
  for (const auto& m : cat.get("models")->items) {
    ASSERT_TRUE(m.get("id") && m.get("title") && m.get("dir")) << "each entry has id, title, dir";
    const Bundle b = bundle(m);
    dirs.push_back(m.get("dir")->str);
    const Json* model = b.manifest.get("model");
    ASSERT_TRUE(model && model->is_string()) << m.get("id")->str;
    EXPECT_TRUE(std::filesystem::is_regular_file(b.dir + model->str)) << b.dir + model->str;
    if (const Json* l = b.manifest.get("labels")) {
      EXPECT_TRUE(std::filesystem::is_regular_file(b.dir + l->str));
    }
    ASSERT_TRUE(b.manifest.get("samples") && !b.manifest.get("samples")->items.empty());
    for (const auto& n : b.manifest.get("samples")->items)
      EXPECT_TRUE(std::filesystem::is_regular_file(b.dir + b.sample_dir + n.str)) << n.str;
  }
  // Every folder of assets/ with a model is in the catalog.
  for (const auto& d : std::filesystem::directory_iterator(kAssets)) {
    if (!d.is_directory()) continue;
    bool has_model = false;
    for (const auto& f : std::filesystem::directory_iterator(d.path())) has_model |= f.path().extension() == ".onnx";
    if (has_model) {
      EXPECT_NE(std::find(dirs.begin(), dirs.end(), d.path().filename().string()), dirs.end()) << d.path();
    }
  }
}

// ---- lesson data vs recorded findings ----------------------------------------------------------------
TEST(Lessons, RegionsAreTheOnesTheModelsRecorded) {
  const Json ch = parse_json(text(kAssets + "clever_hans/samples/expected.json"), "expected.json");
  const Json* region = ch.get("region");
  const int top = static_cast<int>(region->get("top")->num), left = static_cast<int>(region->get("left")->num);
  const int h = static_cast<int>(region->get("height")->num), w = static_cast<int>(region->get("width")->num);
  const Json dna = parse_json(text(kAssets + "dna_motif/samples/expected.json"), "expected.json");
  const int motif_len = static_cast<int>(dna.get("motif")->str.size());
  const Json cat = catalog();
  for (const auto& l : lessons()) {
    ASSERT_NE(entry(cat, l.model), nullptr) << l.id << ": model " << l.model << " is not in the catalog";
    for (const auto& st : l.steps) {
      const FindingSpec& f = st.finding;
      if (l.model == "clever_hans" && (f.kind == FindingKind::RegionShare || f.kind == FindingKind::ConceptShare)) {
        EXPECT_EQ(f.r0, top);
        EXPECT_EQ(f.r1, top + h - 1);
        EXPECT_EQ(f.c0, left);
        EXPECT_EQ(f.c1, left + w - 1);
      }
      if (f.kind != FindingKind::PositionShare) continue;
      std::string sample;
      for (const auto& [k, v] : st.settings)
        if (k == "sample") sample = v;
      for (const auto& rec : dna.get("samples")->items) {
        if (rec.get("file")->str != sample) continue;
        const Json* start = rec.get(f.threshold >= 0 ? "motif_start" : "decoy_start");
        ASSERT_TRUE(start && start->is_number()) << sample;
        EXPECT_EQ(f.r0, static_cast<int>(start->num)) << st.title;
        EXPECT_EQ(f.r1, static_cast<int>(start->num) + motif_len - 1) << st.title;
      }
    }
  }
}

// ---- every lesson's finding --------------------------------------------------------------------------
TEST(Lessons, EveryStepOpensAndItsFindingHolds) {
  ASSERT_GE(lessons().size(), 7u);
  for (const auto& l : lessons()) {
    AppState s;
    open_bundle(s, l.model);
    for (size_t k = 0; k < l.steps.size(); ++k) {
      const LessonStep& st = l.steps[k];
      SCOPED_TRACE(l.id + " step " + std::to_string(k + 1));
      const auto rest = apply_lesson_step(s, st);
      EXPECT_TRUE(rest.empty());
      s.compute();
      const Results before = s.results();
      const Finding f = compute_finding(s, st.finding);
      EXPECT_TRUE(f.valid);
      EXPECT_TRUE(f.holds) << f.sentence;
      std::printf("[lesson] %-12s %zu: value %.4f other %.4f min %.4f n %d  %s\n", l.id.c_str(), k + 1, f.value, f.other,
                  f.min, f.count, f.sentence.c_str());
      // Surveys put the input back: the same explanation as before.
      EXPECT_EQ(s.results().main.relevance.f, before.main.relevance.f);
      EXPECT_FALSE(s.dirty());
    }
  }
}

TEST(Lessons, CleverHansSurveyCoversTheMarkedSamplesOnly) {
  AppState s;
  open_bundle(s, "clever_hans");
  const Lesson* l = find_lesson("clever-hans");
  ASSERT_NE(l, nullptr);
  apply_lesson_step(s, l->steps[2]);
  s.compute();
  const Finding f = compute_finding(s, l->steps[2].finding);
  EXPECT_EQ(f.count, 3);
  EXPECT_GE(f.min, 0.5);
  EXPECT_EQ(s.input().label, "4_shirt_marked.png");
  // The clean versions do not hold the claim: the same survey over them stays far below.
  FindingSpec clean = l->steps[2].finding;
  clean.survey = ".png";
  const Finding all = compute_finding(s, clean);
  EXPECT_EQ(all.count, 6);
  EXPECT_LT(all.min, 0.2);
}

TEST(Lessons, SharedLinkNamesTheBundledModelUntilAnotherModelOpens) {
  AppState s;
  open_bundle(s, "dna_motif");
  EXPECT_EQ(s.share_settings().at("model"), "dna_motif");
  s.select_sample(1);   // bundled .npy samples open as arrays
  EXPECT_EQ(s.input().kind, InputKind::Array);
  s.open("mine.onnx", read_file_bytes(kAssets + "dna_motif/model.onnx", 1u << 30));
  EXPECT_EQ(s.share_settings().count("model"), 0u) << "a user's model is not a bundled one";
}

// ---- measures ----------------------------------------------------------------------------------------
TEST(Lessons, MeasuresOnSmallMaps) {
  // 1 x 1 x 3 x 3 image: positive mass 1 + 2 + 3 + 4 = 10, the top-left 2x2 box holds 1 + 2 + 4 (no 3).
  Tensor r = Tensor::from_floats({1, 1, 3, 3}, {1, 2, -5, 4, 0, 0, 0, 0, 3});
  EXPECT_NEAR(region_positive_share(r, false, 0, 1, 0, 1), 0.7, 1e-9);
  Tensor t = Tensor::from_floats({1, 4}, {1, -1, 2, 0});
  EXPECT_NEAR(feature_abs_share(t, {1, 2}), 0.75, 1e-9);
  // [1,2,5]: per position 1, 0, 6, 3, -2 -> positive share of 2..3 = 9/10; top 2 positions are 2 and 3.
  Tensor q = Tensor::from_floats({1, 2, 5}, {1, 0, 5, 1, -1, 0, 0, 1, 2, -1});
  const auto [share, inside] = position_share(q, 2, 3);
  EXPECT_NEAR(share, 0.9, 1e-9);
  EXPECT_EQ(inside, 2);
  // [1,1,2,2] {1,-1;0,2}: |R| = 4; horizontal |(-1)-1| + |2-0| = 4, vertical |0-1| + |2-(-1)| = 4 -> 8/4.
  EXPECT_NEAR(roughness(Tensor::from_floats({1, 1, 2, 2}, {1, -1, 0, 2}), false), 2.0, 1e-9);
  EXPECT_NEAR(roughness(Tensor::from_floats({1, 1, 2, 2}, {1, 1, 1, 1}), false), 0.0, 1e-9);
  AppState s;
  EXPECT_THROW(compute_finding(s, FindingSpec{}), Error);
  LessonStep bad{"", {{"sample", "nope.png"}}, "", {}};
  EXPECT_THROW(apply_lesson_step(s, bad), Error);
}

}  // namespace
}  // namespace relscope::app
