// relscope/cli/cmd_spray.cpp — `relscope spray`: SpRAy over a folder of inputs (relevance/spray.h): every
// sample explained at one target, the heatmaps clustered into the model's strategies for that class.
//
// Sections: helpers | cmd_spray
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_files.h"
#include "cli/explain_args.h"
#include "cli/heatmap_files.h"
#include "cli/input_args.h"
#include "cli/threads_option.h"
#include "core/error.h"
#include "engine/session.h"
#include "relevance/explain.h"
#include "relevance/spray.h"
#include "render/colormap.h"

namespace fs = std::filesystem;

namespace relscope::cli {

namespace {

// ---- helpers --------------------------------------------------------------------------------------------

struct MapRef {
  std::string file;
  int64_t index = 0;        // sample within the file
  int64_t predicted = 0;    // the sample's arg-max output
};

std::string name_of(const MapRef& m, bool batched) {
  return batched ? m.file + "[" + std::to_string(m.index) + "]" : m.file;
}

}  // namespace

// ---- cmd_spray ------------------------------------------------------------------------------------------

int cmd_spray(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"out", "heatmaps", "size", "neighbours", "clusters", "max-clusters", "spray-seed", "cmap", kThreadsOption});
  options.insert(input_value_options().begin(), input_value_options().end());
  auto flags = explain_flag_options();
  flags.insert(input_flag_options().begin(), input_flag_options().end());
  flags.insert("predicted-only");
  const Args a = parse_args(argc, argv, 2, options, flags);
  apply_threads_option(a);
  if (a.positional.size() != 2 || !a.has("target"))
    fail_input("usage: relscope spray MODEL.onnx DATA_DIR --target K [--predicted-only] [--size S] [--neighbours K] "
               "[--clusters C] [--max-clusters M] [--spray-seed S] [--out S.json] [--heatmaps DIR] [explain flags]");
  relevance::SprayOptions so;
  so.size = static_cast<int>(a.get_int("size", so.size));
  so.neighbours = static_cast<int>(a.get_int("neighbours", so.neighbours));
  so.clusters = static_cast<int>(a.get_int("clusters", so.clusters));
  so.max_clusters = static_cast<int>(a.get_int("max-clusters", so.max_clusters));
  so.seed = static_cast<uint64_t>(a.get_int("spray-seed", 0));
  const bool predicted_only = a.has("predicted-only");
  std::optional<render::Palette> palette;
  if (a.has("heatmaps")) palette = render::get_colormap(a.get("cmap", "bwr")).palette();
  else if (a.has("cmap")) fail_input("--cmap: only used with --heatmaps DIR");

  Session s = Session::load_file(a.positional[0]);
  if (s.graph().inputs.size() != 1) fail_input(s.graph().label + ": spray needs a model with one input");
  const auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"), repeated_option(argc, argv, "prune-at"));
  if (request.targets.size() != 1) fail_input("--target: spray explains one class: give one index");
  if (request.method == "crp" || request.method == "cov-lrp")
    fail_input("--method " + request.method + " gives several maps or a variance map, not one heatmap per sample");
  const int64_t target = request.targets[0];
  const std::string dir = a.positional[1];
  size_t skipped = 0;
  const auto files = data_files(dir, &skipped);
  relevance::Explainer explainer(s);

  // Every sample of every file explained at the target; kept unless --predicted-only and it predicts another.
  std::vector<Tensor> maps;
  std::vector<MapRef> refs;
  bool batched = false, channels_last = false;
  int64_t seen = 0;
  for (const auto& f : files) {
    const LoadedInput in = load_file((fs::path(dir) / f).string(), s.graph(), a, s.limits());
    channels_last = in.channels_last;
    const auto e = explainer.explain({in.tensor}, request);
    const int64_t n = in.tensor.shape[0], per_out = e.output.numel() / std::max<int64_t>(n, 1);
    batched |= n > 1;
    for (int64_t b = 0; b < n; ++b, ++seen) {
      const float* y = e.output.f.data() + b * per_out;
      const int64_t predicted = std::max_element(y, y + per_out) - y;
      if (predicted_only && predicted != target) continue;
      maps.push_back(slice_batch(e.relevance, b, 1));
      refs.push_back({f, b, predicted});
    }
    explainer.drop_recorded();
  }
  so.channels_last = channels_last;
  if (maps.size() < 3)
    fail_input("spray: " + std::to_string(maps.size()) + " of " + std::to_string(seen) + " samples in " + dir +
               (predicted_only ? " are predicted as " + std::to_string(target) : "") + "; clustering needs at least 3");
  const relevance::SprayResult r = relevance::spray(concat_batch(maps), so);

  std::string feature;
  for (size_t d = 0; d < r.feature_shape.size(); ++d) feature += (d ? "x" : "") + std::to_string(r.feature_shape[d]);
  std::printf("spray: %zu heatmaps of target %lld by %s from %zu file(s) in %s%s; features %s, %d neighbours\n",
              maps.size(), static_cast<long long>(target), relevance::method_label(request.method, request.composite).c_str(),
              files.size(), dir.c_str(), predicted_only ? ", predicted as the target only" : "", feature.c_str(),
              std::min<int>(so.neighbours, static_cast<int>(maps.size()) - 1));
  std::printf("eigenvalues:");
  for (double v : r.eigenvalues) std::printf(" %.4f", v);
  std::printf("\n%d cluster(s)%s\n", r.clusters, so.clusters ? " (as asked)" : " (the largest eigengap)");
  for (int c = 0; c < r.clusters; ++c) {
    std::printf("cluster %d: %lld map(s), %.1f%%:", c, static_cast<long long>(r.sizes[static_cast<size_t>(c)]),
                100.0 * static_cast<double>(r.sizes[static_cast<size_t>(c)]) / static_cast<double>(maps.size()));
    int shown = 0;
    for (size_t i = 0; i < refs.size(); ++i)
      if (r.label[i] == c && shown++ < 12) std::printf(" %s", name_of(refs[i], batched).c_str());
    if (shown > 12) std::printf(" ... (%d more)", shown - 12);
    std::printf("\n");
  }

  if (a.has("out")) {
    const std::string path = a.get("out", "");
    std::ofstream o(path);
    if (!o) fail_input("--out: cannot write " + path);
    o << "{\"target\": " << target << ", \"method\": " << json_string(request.method) << ", \"composite\": "
      << json_string(request.composite) << ", \"clusters\": " << r.clusters << ",\n \"eigenvalues\": [";
    for (size_t k = 0; k < r.eigenvalues.size(); ++k) o << (k ? ", " : "") << json_number(r.eigenvalues[k]);
    o << "],\n \"sizes\": [";
    for (size_t k = 0; k < r.sizes.size(); ++k) o << (k ? ", " : "") << r.sizes[k];
    o << "],\n \"maps\": [";
    for (size_t i = 0; i < refs.size(); ++i)
      o << (i ? ",\n  " : "\n  ") << "{\"file\": " << json_string(refs[i].file) << ", \"index\": " << refs[i].index
        << ", \"predicted\": " << refs[i].predicted << ", \"cluster\": " << r.label[i] << ", \"embedding\": ["
        << json_number(r.embedding[i][0]) << ", " << json_number(r.embedding[i][1]) << "]}";
    o << "\n]}\n";
    if (!o.flush()) fail_input("--out: cannot write " + path);
    std::printf("wrote %s\n", path.c_str());
  }
  if (palette) {   // each cluster's mean (downsized) map: what the strategy looks at
    const std::string out = a.get("heatmaps", "");
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) fail_input("--heatmaps: cannot create " + out + " (" + ec.message() + ")");
    for (int c = 0; c < r.clusters; ++c) {
      Shape shape = r.feature_shape;   // [H, W] or [L]: heatmap_files.h draws both; the batch dim of 1 first
      shape.insert(shape.begin(), 1);
      const Tensor mean = Tensor::from_floats(shape, r.centroids[static_cast<size_t>(c)]);
      write_heatmaps((fs::path(out) / ("cluster_" + std::to_string(c) + ".png")).string(), mean, 1, false, *palette);
    }
  }
  return 0;
}

}  // namespace relscope::cli
