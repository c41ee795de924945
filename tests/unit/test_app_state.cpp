// relscope/tests/unit/test_app_state.cpp — the canvas app's state (src/app/core), without a canvas:
// file sniffing, transactional loads, preprocessing, the explainer request, exports, views.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "app/core/app_state.h"
#include "app/core/json.h"
#include "app/core/view.h"
#include "core/error.h"
#include "io/file.h"
#include "io/npy.h"
#include "relevance/explain.h"
#include "relevance/request.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace relscope::app {
namespace {

std::string model_path(const std::string& name) { return std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/" + name; }
std::vector<uint8_t> model_bytes(const std::string& name) { return read_file_bytes(model_path(name), 1u << 30); }

// A 28x28 gray PNG with a bright square, made with the render stage's encoder.
std::vector<uint8_t> square_png(int w = 28, int h = 28) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 1;
  img.pixels.assign(static_cast<size_t>(w * h), 10);
  for (int y = h / 4; y < 3 * h / 4; ++y)
    for (int x = w / 4; x < 3 * w / 4; ++x) img.pixels[static_cast<size_t>(y * w + x)] = 230;
  return render::encode_png(img);
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TEST(AppJson, ParsesAndReportsPosition) {
  const Json j = parse_json(R"({"a": [1, 2.5e1, -3], "b": {"c": "x\u00e9\n"}, "t": true, "n": null})", "p.json");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.get("a")->items.size(), 3u);
  EXPECT_DOUBLE_EQ(j.get("a")->items[1].num, 25.0);
  EXPECT_EQ(j.get("b")->get("c")->str, "x\xc3\xa9\n");
  EXPECT_TRUE(j.get("t")->b);
  try {
    parse_json("{\n  \"a\": [1,]\n}", "p.json");
    FAIL() << "trailing comma accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("p.json: invalid JSON at line 2"), std::string::npos) << e.what();
  }
  JsonWriter w;
  w.begin_object().key("s").value("q\"").key("v").begin_array().value(1.5).value(NAN).end_array().end_object();
  EXPECT_EQ(w.str(), R"({"s":"q\"","v":[1.5,null]})");
}

TEST(AppState, CsvHeaderAndErrors) {
  const Table t = parse_csv("a,b,c\n1,2,3\r\n\n4, 5 ,6\n", "t.csv");
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_FLOAT_EQ(t.rows[1][1], 5.f);
  EXPECT_EQ(parse_csv("1,2\n3,4\n", "t.csv").header, (std::vector<std::string>{"f0", "f1"}));
  EXPECT_THROW(parse_csv("1,2\n3\n", "t.csv"), Error);
  EXPECT_THROW(parse_csv("a,b\n", "t.csv"), Error);
}

TEST(AppState, ImageModelPredictsAndExplainsLikeTheEngine) {
  AppState s;
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  EXPECT_TRUE(s.has_model());
  EXPECT_EQ(s.model().inputs[0].shape_text(), "[?,1,28,28]");
  EXPECT_EQ(s.preprocess().channels, 1);
  EXPECT_EQ(s.preprocess().height, 28);
  s.open("labels.txt", bytes_of("zero\none\ntwo\n"));
  s.open("x.png", square_png(56, 56));   // resized to the model's 28x28
  ASSERT_TRUE(s.dirty());
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  const Results& r = s.results();
  ASSERT_TRUE(r.valid);
  EXPECT_EQ(r.input.shape, (Shape{1, 1, 28, 28}));
  EXPECT_EQ(r.main.relevance.shape, r.input.shape);
  ASSERT_EQ(r.top.size(), 5u);
  float total = 0;
  for (const auto& t : r.top) total += t.score;
  EXPECT_GT(total, 0.f);
  EXPECT_LE(total, 1.0001f);

  // The same request through the engine directly gives the same relevance.
  Session session = Session::load_file(model_path("cnn_opset13.onnx"));
  relevance::Explainer ex(session);
  relevance::ExplainRequest req;
  req.composite = "epsilon-plus-flat";
  const auto e = ex.explain({r.input}, req);
  ASSERT_EQ(e.relevance.f.size(), r.main.relevance.f.size());
  for (size_t k = 0; k < e.relevance.f.size(); ++k) EXPECT_EQ(e.relevance.f[k], r.main.relevance.f[k]);
  EXPECT_EQ(e.targets[0], r.main.target);

  // Views: the input as the model saw it, and a heatmap of the same size.
  const Image base = model_view(r.input, s.preprocess(), true);
  EXPECT_EQ(base.width, 28);
  EXPECT_EQ(base.channels, 1);
  EXPECT_EQ(base.pixels[0], 10);            // preprocessing inverted exactly
  EXPECT_EQ(base.pixels[14 * 28 + 14], 230);
  const Heatmap heat = heatmap_image(r.main.relevance, false, "bwr");
  EXPECT_EQ(heat.rgb.width, 28);
  EXPECT_EQ(heat.rgb.channels, 3);
  ASSERT_EQ(heat.strength.size(), 28u * 28u);
  // The export is zennit's heatmap exactly.
  const auto palette = render::get_colormap("bwr").palette();
  EXPECT_EQ(heat.rgb.pixels, render::heatmap(r.main.relevance.f.data(), {1, 28, 28}, false, palette).pixels);
  // Overlay: opacity 0 is the input; where relevance is strongest, opacity 1 is the heatmap's colour.
  const Image none = overlay_image(base, heat, 0.0f);
  EXPECT_EQ(none.pixels[0], base.pixels[0]);
  const Image full = overlay_image(base, heat, 1.0f);
  size_t strongest = 0;
  for (size_t k = 0; k < heat.strength.size(); ++k)
    if (heat.strength[k] > heat.strength[strongest]) strongest = k;
  EXPECT_FLOAT_EQ(heat.strength[strongest], 1.0f);
  EXPECT_EQ(full.pixels[strongest * 3], heat.rgb.pixels[strongest * 3]);
  EXPECT_EQ(relevance_at(r.main.relevance, false, 3, 5), r.main.relevance.f[3 * 28 + 5]);
  EXPECT_EQ(relevance_at(r.main.relevance, false, 28, 0), 0.0f);
}

// Changing only what is asked (target, composite, method, compare) re-explains without running the model: the
// page's prediction and the engine's recorded pass are reused; another input runs both again. Every answer is
// the one a fresh engine gives.
TEST(AppState, ReExplainingAnInputRunsNoForwardPass) {
  AppState s;
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  s.open("x.png", square_png());
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  Session& plain = *s.session();
  Session& lrp = s.explainer()->session_for("lrp");
  EXPECT_EQ(plain.predict_runs(), 1u);
  EXPECT_EQ(lrp.recorded_runs(), 1u);
  const double forward_ms = s.results().forward_ms;

  auto check_against_fresh_engine = [&](const ExplainSettings& settings, const Explained& got) {
    Session session = Session::load_file(model_path("cnn_opset13.onnx"));
    relevance::Explainer ex(session);
    relevance::RequestText text;
    text.values = s.request_values(settings);
    text.values["target"] = std::to_string(got.target);
    const auto want = ex.explain({s.results().input}, relevance::parse_request(text, session.graph(), ""));
    EXPECT_TRUE(same_bits(got.relevance, want.relevance)) << settings.method << " " << settings.composite;
  };
  s.settings.target = 7;
  s.mark_dirty();
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_EQ(s.results().main.target, 7);
  check_against_fresh_engine(s.settings, s.results().main);
  s.settings.composite = "epsilon-alpha2-beta1-flat";
  s.compare = true;
  s.compare_settings.composite = "epsilon";
  s.mark_dirty();
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  check_against_fresh_engine(s.settings, s.results().main);
  check_against_fresh_engine(s.compare_settings, s.results().compare);
  EXPECT_EQ(plain.predict_runs(), 1u);
  EXPECT_EQ(lrp.recorded_runs(), 1u);
  EXPECT_EQ(s.results().forward_ms, forward_ms);   // the pass's own time, not a fresh one

  Image ramp;   // another input
  ramp.width = ramp.height = 28;
  ramp.channels = 1;
  for (int k = 0; k < 28 * 28; ++k) ramp.pixels.push_back(static_cast<uint8_t>(k % 251));
  s.open("y.png", render::encode_png(ramp));
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_EQ(plain.predict_runs(), 2u);
  EXPECT_EQ(lrp.recorded_runs(), 2u);
  check_against_fresh_engine(s.settings, s.results().main);
}

// The canvas' worker path (src/app/app_offload.cpp): begin_compute(), the jobs' request values explained by
// another engine (as the worker's JS API does: its own Session, parse_request of the same values), then
// explained() + finish_compute(), gives what compute() gives - main and compare, pruned-lrp's reports and a
// crp channel view included.
TEST(AppState, ExplanationsComputedElsewhereFinishLikeCompute) {
  AppState s;
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  s.open("x.png", square_png());
  Session other = Session::load_file(model_path("cnn_opset13.onnx"));
  relevance::Explainer ex(other);
  auto settings_cases = std::vector<std::pair<ExplainSettings, bool>>{};
  ExplainSettings pruned;
  pruned.method = "pruned-lrp";
  pruned.prune = 0.5f;
  ExplainSettings crp;
  crp.method = "crp";
  crp.channels = "0,1";
  crp.joint = false;
  crp.concept_view = 1;
  settings_cases.push_back({ExplainSettings{}, true});
  settings_cases.push_back({pruned, false});
  settings_cases.push_back({crp, false});
  for (const auto& [settings, with_compare] : settings_cases) {
    SCOPED_TRACE(settings.method);
    s.settings = settings;
    s.compare = with_compare;
    s.compare_settings.method = "gradient";
    s.mark_dirty();
    ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
    const Results want = s.results();
    s.mark_dirty();
    AppState::PendingCompute p = s.begin_compute();
    EXPECT_FALSE(s.dirty());
    ASSERT_EQ(p.jobs.size(), with_compare ? 2u : 1u);
    std::vector<Explained> got;
    for (size_t k = 0; k < p.jobs.size(); ++k) {
      relevance::RequestText text;
      text.values = p.jobs[k].values;
      got.push_back(s.explained(p, k, ex.explain({p.results.input}, relevance::parse_request(text, other.graph(), "")), 1.0));
    }
    s.finish_compute(std::move(p), std::move(got));
    const Results& r = s.results();
    ASSERT_TRUE(r.valid);
    EXPECT_EQ(r.main.relevance.f, want.main.relevance.f);
    EXPECT_EQ(r.main.relevance.shape, want.main.relevance.shape);
    EXPECT_EQ(r.main.target, want.main.target);
    EXPECT_EQ(r.main.maps, want.main.maps);
    EXPECT_EQ(r.main.gini, want.main.gini);
    ASSERT_EQ(r.main.pruning.size(), want.main.pruning.size());
    for (size_t k = 0; k < r.main.pruning.size(); ++k) EXPECT_EQ(r.main.pruning[k].kept, want.main.pruning[k].kept);
    EXPECT_EQ(r.has_compare, with_compare);
    if (with_compare) {
      EXPECT_EQ(r.compare.relevance.f, want.compare.relevance.f);
    }
    if (settings.method == "pruned-lrp") {
      EXPECT_FALSE(r.main.pruning.empty());
    }
    if (settings.method == "crp") {
      EXPECT_EQ(r.main.maps, 2);
    }
  }
  // A result that does not fit the job is refused, and the results stay.
  s.mark_dirty();
  AppState::PendingCompute p = s.begin_compute();
  relevance::Explanation bad;
  bad.relevance = Tensor::from_floats({1, 3}, {1, 2, 3});
  EXPECT_THROW(s.explained(p, 0, bad, 1.0), Error);
  EXPECT_THROW(s.finish_compute(std::move(p), {}), Error);
  EXPECT_TRUE(s.results().valid);
}

TEST(AppState, EveryMethodRunsWithTheAppsDefaults) {
  AppState s;
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  s.open("x.png", square_png());
  for (const auto& m : relevance::method_names()) {
    s.settings.method = m;
    s.settings.steps = s.settings.samples = 3;
    ASSERT_TRUE(s.guard([&] { s.compute(); })) << m << ": " << s.last_error;
    EXPECT_EQ(s.results().main.relevance.shape, s.results().input.shape) << m;
    const Json rec = parse_json(s.record_json(), "record");
    EXPECT_EQ(rec.get("method")->str, m);
  }
  // crp, one map per channel: one shown at a time, the count kept.
  s.settings.method = "crp";
  s.settings.channels = "0,1,2";
  s.settings.joint = false;
  s.settings.concept_view = 2;
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_EQ(s.results().main.maps, 3);
  EXPECT_EQ(s.results().main.relevance.shape, s.results().input.shape);
  EXPECT_FALSE(s.concept_layers().empty());
}

TEST(AppState, FailedLoadsKeepThePreviousState) {
  AppState s;
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  s.open("x.png", square_png());
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  const std::string hash = s.model().hash;
  const auto before = s.results().main.relevance.f;

  std::vector<uint8_t> corrupt = model_bytes("cnn_opset13.onnx");
  corrupt.resize(corrupt.size() / 3);
  EXPECT_FALSE(s.guard([&] { s.open("broken.onnx", corrupt); }));
  EXPECT_NE(s.last_error.find("broken.onnx"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.model().hash, hash);
  EXPECT_TRUE(s.results().valid);

  EXPECT_FALSE(s.guard([&] { s.open("junk.png", bytes_of("\x89PNG\r\n\x1a\n garbage")); }));
  EXPECT_EQ(s.input().label, "x.png");
  EXPECT_FALSE(s.guard([&] { s.open("notes.xyz", bytes_of("hello")); }));

  // A wrong-shape array: compute fails with a message, the last good results stay.
  s.last_error.clear();
  s.open("wrong.npy", write_npy(Tensor::zeros({1, 3, 5})));
  EXPECT_FALSE(s.guard([&] { s.compute(); }));
  EXPECT_FALSE(s.last_error.empty());
  EXPECT_EQ(s.results().main.relevance.f, before);
}

TEST(AppState, LabelsAndPresetsBelongToTheirModel) {
  AppState s;
  // The demo's order: preprocess.json (naming its model), labels, model.
  s.open("preprocess.json", bytes_of(R"({"model": "cnn.onnx", "mean": [0.5], "std": [0.25]})"));
  s.open("labels.txt", bytes_of("a\nb\nc\n"));
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  EXPECT_EQ(s.label_for(1), "b");
  ASSERT_EQ(s.preprocess().mean.size(), 1u);
  // Another model: not the preset's, and the labels were not opened with it.
  s.open("other.onnx", model_bytes("cnn_opset11.onnx"));
  EXPECT_EQ(s.label_for(1), "class 1");
  EXPECT_TRUE(s.preprocess().mean.empty());
  // Back to the first: its labels and preprocessing come back.
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  EXPECT_EQ(s.label_for(1), "b");
  ASSERT_EQ(s.preprocess().mean.size(), 1u);
  EXPECT_FLOAT_EQ(s.preprocess().mean[0], 0.5f);
}

TEST(AppState, PreprocessJsonAndPerModelMemory) {
  AppState s;
  s.open("preprocess.json", bytes_of(R"({"channels": 1, "scale": 0.00392156862745098, "mean": [0.5], "std": [0.25],
                                         "composite": "epsilon-gamma-box"})"));
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  EXPECT_EQ(s.settings.composite, "epsilon-gamma-box");
  ASSERT_EQ(s.preprocess().mean.size(), 1u);
  EXPECT_FLOAT_EQ(s.preprocess().mean[0], 0.5f);
  const auto v = s.request_values(s.settings);
  EXPECT_NEAR(std::strtod(v.at("low").c_str(), nullptr), -2.0, 1e-5);   // (0 - 0.5) / 0.25
  EXPECT_NEAR(std::strtod(v.at("high").c_str(), nullptr), 2.0, 1e-5);   // (255 * scale - 0.5) / 0.25
  s.open("x.png", square_png());
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_FALSE(s.model().nodes.empty());
  EXPECT_FALSE(s.model().nodes[0].rule.empty());

  // Edit, switch models, come back: the edit is remembered for this model's hash.
  s.preprocess().std = {0.3f};
  s.open("mlp.onnx", model_bytes("mlp_opset13.onnx"));
  s.open("cnn.onnx", model_bytes("cnn_opset13.onnx"));
  ASSERT_EQ(s.preprocess().std.size(), 1u);
  EXPECT_FLOAT_EQ(s.preprocess().std[0], 0.3f);
  EXPECT_THROW(s.open("bad.json", bytes_of("{\"std\": [0]}")), Error);
}

TEST(AppState, TablesArraysCompareAndExports) {
  AppState s;
  s.open("mlp.onnx", model_bytes("mlp_opset13.onnx"));
  s.open("rows.csv", bytes_of("a,b,c,d,e,f,g,h\n1,2,3,4,5,6,7,8\n0,0,1,0,0,1,0,0\n"));
  s.select_row(1);
  s.settings.method = "gradient-x-input";
  s.compare = true;
  s.compare_settings.method = "lrp";
  s.compare_settings.composite = "epsilon-plus";
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  const Results& r = s.results();
  EXPECT_EQ(r.input.shape, (Shape{1, 8}));
  EXPECT_TRUE(r.has_compare);
  EXPECT_EQ(feature_relevance(r.main.relevance).size(), 8u);
  EXPECT_FALSE(is_image_shaped(r.main.relevance.shape));

  const auto npy = s.relevance_npy();
  const Tensor back = read_npy(npy.data(), npy.size(), {}, "R.npy");
  EXPECT_EQ(back.f, r.main.relevance.f);
  const Json rec = parse_json(s.record_json(), "record");
  EXPECT_EQ(rec.get("model")->get("fnv1a64")->str, s.model().hash);
  EXPECT_EQ(rec.get("method")->str, "gradient-x-input");
  EXPECT_EQ(rec.get("compare")->get("method")->str, "lrp");
  EXPECT_EQ(rec.get("compare")->get("params")->get("composite")->str, "epsilon-plus");
  EXPECT_EQ(rec.get("output")->get("values")->items.size(), 3u);
  EXPECT_TRUE(rec.get("timings")->get("forwardMs")->is_number());
  const Json snap = parse_json(s.snapshot_json(), "snapshot");
  EXPECT_EQ(snap.get("inputKind")->str, "table");
  EXPECT_EQ(snap.get("heatmapShape")->items.size(), 2u);

  // A 1-D sequence model with a .npy input without the batch dim.
  AppState q;
  q.open("dna.onnx", model_bytes("dna_cnn_opset13.onnx"));
  q.open("x.npy", write_npy(Tensor::from_floats({4, 40}, std::vector<float>(160, 0.25f))));
  ASSERT_TRUE(q.guard([&] { q.compute(); })) << q.last_error;
  EXPECT_EQ(feature_relevance(q.results().main.relevance).size(), 40u);

  // A .npy of several samples: one at a time, chosen by row.
  AppState b;
  b.open("dna.onnx", model_bytes("dna_cnn_opset13.onnx"));
  std::vector<float> batch(3 * 160);
  for (size_t k = 0; k < batch.size(); ++k) batch[k] = static_cast<float>(k % 7) * 0.1f;
  b.open("batch.npy", write_npy(Tensor::from_floats({3, 4, 40}, batch)));
  EXPECT_EQ(b.input_rows(), 3);
  b.select_row(2);
  ASSERT_TRUE(b.guard([&] { b.compute(); })) << b.last_error;
  EXPECT_EQ(b.results().input.shape, (Shape{1, 4, 40}));
  EXPECT_FLOAT_EQ(b.results().input.f[0], batch[2 * 160]);

  // Chosen targets are honoured and checked against the class count.
  s.compare = false;
  s.settings.target = 2;
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_EQ(s.results().main.target, 2);
}

// A two-headed model: the chosen output is the one predicted and explained (as `explain --output 1`).
TEST(AppState, TheChosenOutputIsPredictedAndExplained) {
  AppState s;
  s.open("two_heads.onnx", model_bytes("two_heads_opset13.onnx"));
  s.open("x.npy", model_bytes("two_heads_opset13_input.npy"));
  ASSERT_EQ(s.model().outputs.size(), 2u);
  const Tensor x = read_npy(model_bytes("two_heads_opset13_input.npy").data(), model_bytes("two_heads_opset13_input.npy").size(), {}, "x.npy");
  for (size_t out : {0u, 1u}) {
    s.output = out;
    s.mark_dirty();
    ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
    const auto want_bytes = model_bytes(out == 0 ? "two_heads_opset13_output.npy" : "two_heads_opset13_output1.npy");
    const Tensor want = read_npy(want_bytes.data(), want_bytes.size(), {}, "y.npy");
    const Tensor& got = s.results().output;
    const int64_t per = want.numel() / want.shape[0];
    ASSERT_EQ(got.numel(), per) << "output " << out;
    for (int64_t k = 0; k < per; ++k) EXPECT_NEAR(got.f[k], want.f[k], 1e-5f) << "output " << out << " at " << k;

    // The explanation is the engine's for that output.
    Session session = Session::load_file(std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/two_heads_opset13.onnx");
    relevance::Explainer ex(session);
    relevance::ExplainRequest r;
    r.output = out;
    const auto e = ex.explain({slice_batch(x, 0, 1)}, r);
    ASSERT_EQ(s.results().main.relevance.f.size(), e.relevance.f.size());
    for (size_t k = 0; k < e.relevance.f.size(); ++k) EXPECT_NEAR(s.results().main.relevance.f[k], e.relevance.f[k], 1e-6f);
    EXPECT_EQ(parse_json(s.record_json(), "record").get("output")->get("index")->num, static_cast<double>(out));
  }
}

}  // namespace
}  // namespace relscope::app
