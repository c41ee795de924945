// relscope/app/core/lessons.cpp — the lesson table and the settings a step applies.
//
// Sections: helpers | lesson table | applying a step
//
// The texts refer to what is on screen after the step's settings are applied (left: the main map; right:
// the compare map). The numbers quoted in them are the measured ones (assets/*/README.md); the panel shows
// the live number next to them. Findings are computed in lesson_findings.cpp.
#include "app/core/lessons.h"

#include <cstdlib>

#include "core/error.h"

namespace relscope::app {

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

FindingSpec spec(FindingKind kind, double threshold) {
  FindingSpec s;
  s.kind = kind;
  s.threshold = threshold;
  return s;
}

FindingSpec box(FindingKind kind, int r0, int r1, int c0, int c1, double threshold, std::string survey = "") {
  FindingSpec s = spec(kind, threshold);
  s.r0 = r0, s.r1 = r1, s.c0 = c0, s.c1 = c1;
  s.survey = std::move(survey);
  return s;
}

FindingSpec features(std::vector<int> f, double threshold) {
  FindingSpec s = spec(FindingKind::FeatureShare, threshold);
  s.features = std::move(f);
  s.survey = "rows";
  // The log-variance is learnt from one squared residual per row: single rows are noisy (assets/variance/
  // README.md reports the mean share over the 64 test rows), so the claim is about the mean.
  s.every = false;
  return s;
}

// The Clever Hans scoring region of assets/clever_hans/samples/expected.json ("region": rows and columns
// 0..5: the 4x4 mark at 1..4 grown by the pixel the Flat rule spreads onto). Checked against that file by
// tests/unit/test_lessons.cpp.
constexpr int kMarkLo = 0, kMarkHi = 5;

std::vector<Lesson> make_lessons() {
  std::vector<Lesson> L;
  L.push_back({"heatmap", "1. What a heatmap is: gradient vs LRP", "demo", {{
      "Two answers to 'why Ankle boot?'",
      {{"sample", "0_ankle_boot.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}, {"compare", "1"},
       {"compare-method", "gradient"}},
      "Every pixel gets a number: red speaks for the predicted class, blue against it. Left, LRP hands the "
      "class score back layer by layer, so its map adds up to (about) that score. Right, the gradient only "
      "says how the score would change if a pixel changed: speckled, half of it negative, and its sum means "
      "nothing.",
      spec(FindingKind::Conservation, 0.5)}}});

  L.push_back({"composites", "2. Rules and composites", "demo", {{
      "epsilon-plus-flat vs epsilon-plus",
      {{"sample", "0_ankle_boot.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}, {"compare", "1"},
       {"compare-method", "lrp"}, {"compare-composite", "epsilon-plus"}},
      "A composite picks one LRP rule per layer (see the Model panel). Both maps use Epsilon on the dense "
      "layers and ZPlus on the upper convolution; they differ at the first layer. Flat (left) ignores the "
      "pixel values and spreads each unit's relevance evenly over its 3x3 window: a smooth map, the model's "
      "evidence at the resolution of its first layer. ZPlus (right) weighs each pixel by its value and "
      "weight: finer, but grainier. The number is the roughness (how much the map changes from one pixel to "
      "the next, over its total |R|); Flat's is about half.",
      spec(FindingKind::Roughness, 0.8)}}});

  L.push_back({"clever-hans", "3. Clever Hans: find the watermark", "clever_hans", {
      {"A shirt with a mark",
       {{"sample", "4_shirt_marked.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}},
       "This model was trained on shirts of which 90% carried a small checkerboard in the top-left corner. "
       "It calls this image a Shirt, and the red is in the corner, not on the garment. The number is the "
       "share of positive relevance inside the 6x6 corner box, which is 4.6% of the pixels.",
       box(FindingKind::RegionShare, kMarkLo, kMarkHi, kMarkLo, kMarkHi, 0.5)},
      {"The same shirt without it",
       {{"sample", "4_shirt.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}},
       "Without the mark the model calls the same shirt a T-shirt/top, and the corner holds almost no "
       "relevance. Its test accuracy looked fine (95%); the heatmap shows what it actually learned.",
       box(FindingKind::RegionShare, kMarkLo, kMarkHi, kMarkLo, kMarkHi, -0.2)},
      {"Confirm over many samples",
       {{"sample", "4_shirt_marked.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}},
       "One heatmap is an anecdote. Every marked sample bundled with the model (a shirt, a T-shirt and a "
       "coat, all called Shirt because of the mark) is explained in turn: the number is the mean share in "
       "the corner box, and the smallest one.",
       box(FindingKind::RegionShare, kMarkLo, kMarkHi, kMarkLo, kMarkHi, 0.5, "_marked")}}});

  L.push_back({"concepts", "4. Concepts with CRP", "clever_hans", {{
      "The watermark concept",
      {{"sample", "4_shirt_marked.png"}, {"method", "crp"}, {"composite", "epsilon-plus-flat"},
       {"layer", "/features/features.3/Conv"}, {"channels", "12"}, {"joint", "1"}, {"compare", "1"},
       {"compare-method", "lrp"}},
      "CRP splits a heatmap by concepts, the channels of a hidden layer. Left: only the relevance that flows "
      "through channel 12 of the second convolution; right: all of it (plain LRP). Channel 12 is the "
      "model's watermark detector: its map sits in the corner, and it alone carries about a fifth of the "
      "relevance. The Concept browser ranks all 32 channels.",
      box(FindingKind::ConceptShare, kMarkLo, kMarkHi, kMarkLo, kMarkHi, 0.5)}}});

  L.push_back({"pruned", "5. Sparser explanations with pruned LRP", "demo", {{
      "Prune half of each layer's relevance",
      {{"sample", "0_ankle_boot.png"}, {"method", "pruned-lrp"}, {"composite", "epsilon-plus-flat"},
       {"prune", "0.5"}, {"prune-mode", "lambda"}, {"compare", "1"}, {"compare-method", "lrp"}},
      "Pruned LRP zeroes, in every hidden layer, the weakest relevance (here half of each sign's mass) and "
      "rescales the rest, so the total is kept. The left map concentrates on fewer pixels than plain LRP on "
      "the right. The Gini index measures that: 0 when relevance is spread evenly, 1 when one pixel holds "
      "all of it; the table under the prune slider gives it per layer.",
      spec(FindingKind::GiniVsCompare, 0.05)}}});

  L.push_back({"uncertainty", "6. What drives uncertainty", "variance", {
      {"What drives the prediction",
       {{"sample", "samples.npy"}, {"method", "lrp"}, {"composite", "epsilon"}, {"target", "0"}},
       "This model reads 8 features (x0 to x7, left to right in the bars) and predicts a mean (unit 0) and "
       "a log-variance (unit 1). The data were made so that x0, x1, x2 set the mean, x3 and x4 the noise, "
       "and x5-x7 nothing. Explaining the mean, the bars land on x0-x2; the number is their share of |R| over "
       "the 64 test rows.",
       features({0, 1, 2}, 0.8)},
      {"What drives the uncertainty",
       {{"sample", "samples.npy"}, {"method", "lrp"}, {"composite", "epsilon"}, {"target", "1"}},
       "Now unit 1 is explained: the log-variance, the model's own uncertainty. The relevance moves to x3 "
       "and x4: what makes a prediction uncertain is not what sets its value. Single rows vary (move the "
       "sample slider); the Variance window shows both maps with the mean +- sd.",
       features({3, 4}, 0.8)}}});

  L.push_back({"dna", "7. DNA motif: relevance on the motif", "dna_motif", {
      {"Where is the motif?",
       {{"sample", "3_motif_decoy.npy"}, {"method", "lrp"}, {"composite", "epsilon-plus"}},
       "Each of the 100 positions is one base (A, C, G, T: 4 channels); a sequence is 'motif' when it "
       "contains TGACGTCA. The track under the heatmap sums relevance per position: the tall red bars are "
       "positions 7-14, exactly where the motif sits.",
       box(FindingKind::PositionShare, 7, 14, 0, 0, 0.5)},
      {"Ignoring the decoy",
       {{"sample", "3_motif_decoy.npy"}, {"method", "lrp"}, {"composite", "epsilon-plus"}},
       "The same sequence carries a decoy at positions 90-97 (TGACGCGA: two bases off). A model that "
       "matched loosely would light it up; this one gives it almost nothing.",
       box(FindingKind::PositionShare, 90, 97, 0, 0, -0.1)}}});

  L.push_back({"faithfulness", "8. Which heatmap does the model agree with?", "demo", {{
      "Flip the most relevant pixels first",
      {{"sample", "0_ankle_boot.png"}, {"method", "lrp"}, {"composite", "epsilon-plus-flat"}, {"compare", "1"},
       {"compare-method", "gradient"}},
      "Two heatmaps of the same prediction disagree: LRP (left) and the plain gradient (right). Ask the model: "
      "set the most relevant 2x2 blocks to the background first and watch the score fall (Faithfulness, under "
      "the method settings, runs it and draws the curves). AOPC, the mean drop, is larger for LRP on every "
      "sample: a gradient says where the score is sensitive, not which pixels are evidence for it.",
      box(FindingKind::Faithfulness, 2, 0, 0, 0, 0.5, ".png")}}});
  return L;
}

}  // namespace

// ---- lesson table ------------------------------------------------------------------------------------
const std::vector<Lesson>& lessons() {
  static const std::vector<Lesson> table = make_lessons();
  return table;
}

const Lesson* find_lesson(const std::string& id) {
  for (const auto& l : lessons())
    if (l.id == id) return &l;
  return nullptr;
}

// ---- applying a step ---------------------------------------------------------------------------------
bool apply_state_setting(AppState& s, const std::string& key, const std::string& value) {
  auto target = [](const std::string& v) { return v == "pred" ? -1 : std::atoi(v.c_str()); };
  auto flag = [](const std::string& v) { return v == "1" || v == "true"; };
  if (key == "sample") {
    for (size_t k = 0; k < s.samples().size(); ++k) {
      if (s.samples()[k].name == value) {
        s.select_sample(k);
        return true;
      }
    }
    fail_input("sample '" + value + "' is not among this model's samples");
  }
  if (key == "method") s.settings.method = value;
  else if (key == "composite") s.settings.composite = value;
  else if (key == "target") s.settings.target = target(value);
  else if (key == "compare") s.compare = flag(value);
  else if (key == "compare-method") s.compare_settings.method = value;
  else if (key == "compare-composite") s.compare_settings.composite = value;
  else if (key == "compare-target") s.compare_settings.target = target(value);
  else if (key == "prune") s.settings.prune = static_cast<float>(std::atof(value.c_str()));
  else if (key == "prune-mode") s.settings.prune_mask = value == "mask";
  else if (key == "layer") s.settings.layer = value;
  else if (key == "channels") s.settings.channels = value;
  else if (key == "joint") s.settings.joint = flag(value);
  else if (key == "row") s.select_row(std::atoi(value.c_str()));
  else return false;
  s.mark_dirty();
  return true;
}

std::vector<std::pair<std::string, std::string>> apply_lesson_step(AppState& s, const LessonStep& step) {
  // A plain start, so a step never inherits a parameter the student or an earlier lesson changed.
  const std::string composite = s.settings.composite;
  s.settings = ExplainSettings{};
  s.settings.composite = composite;
  s.compare = false;
  s.compare_settings = ExplainSettings{};
  s.compare_settings.composite = composite;
  s.output = 0;
  std::vector<std::pair<std::string, std::string>> rest;
  for (const auto& [key, value] : step.settings) {
    if (!apply_state_setting(s, key, value)) rest.emplace_back(key, value);
    // The compare side follows the main composite unless the step names its own.
    if (key == "composite") s.compare_settings.composite = value;
  }
  s.mark_dirty();
  return rest;
}

}  // namespace relscope::app
