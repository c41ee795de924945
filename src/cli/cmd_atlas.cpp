// relscope/cli/cmd_atlas.cpp — `relscope atlas`: CRP reference samples of a layer's channels over a folder
// of inputs (RelMax and ActMax, relevance/atlas.h), with receptive-field crops and an atlas.json index.
//
// Sections: helpers (JSON, crops; data files: data_files.h) | cmd_atlas
//
// Memory stays bounded by one input file per worker: pass 1 reads every file to count samples (and to name a
// bad file before any long work), pass 2 streams the samples into the accumulator on --threads workers
// (default: the hardware's; 1 in wasm), pass 3 reloads only the files holding kept samples to cut their crops.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "cli/data_files.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "engine/session.h"
#include "io/file.h"
#include "io/image.h"
#include "relevance/atlas.h"
#include "render/heatmap.h"

namespace fs = std::filesystem;

namespace relscope::cli {

namespace {

// Row-major position index -> coordinates over the layer's position dims.
std::string json_position(int64_t p, const Shape& dims) {
  std::vector<int64_t> c(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    c[d] = p % dims[d];
    p /= dims[d];
  }
  std::string out = "[";
  for (size_t d = 0; d < c.size(); ++d) {
    if (d) out += ',';
    out += std::to_string(c[d]);
  }
  return out + "]";
}

std::string json_dims(const Shape& dims) {
  std::string out = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) out += ',';
    out += std::to_string(dims[d]);
  }
  return out + "]";
}

// ---- crops ----
// The preprocessed input (1,C,H,W or 1,H,W,C; C = 1 or 3) mapped to 0..255 by the sample's min/max, cut to
// `box`. RGB for 3 channels (B,G,R inputs swapped back), gray for 1.
Image crop_image(const Tensor& x, bool channels_last, bool bgr, const relevance::Box& box) {
  const int64_t c_count = channels_last ? x.shape[3] : x.shape[1];
  const int64_t h = channels_last ? x.shape[1] : x.shape[2], w = channels_last ? x.shape[2] : x.shape[3];
  const auto [lo, hi] = std::minmax_element(x.f.begin(), x.f.end());
  const float min = *lo, range = *hi - *lo;
  Image img;
  img.width = static_cast<int>(box.right - box.left);
  img.height = static_cast<int>(box.bottom - box.top);
  img.channels = static_cast<int>(c_count);
  for (int64_t y = box.top; y < box.bottom; ++y)
    for (int64_t xx = box.left; xx < box.right; ++xx)
      for (int64_t k = 0; k < c_count; ++k) {
        const int64_t c = bgr && c_count == 3 ? 2 - k : k;
        const float v = x.f[static_cast<size_t>(channels_last ? (y * w + xx) * c_count + c : (c * h + y) * w + xx)];
        img.pixels.push_back(range > 0 ? static_cast<uint8_t>(std::lround((v - min) / range * 255.0f)) : 0);
      }
  return img;
}

bool image_like(const LoadedInput& in) {
  const Shape& s = in.tensor.shape;
  if (s.size() != 4) return false;
  const int64_t c = in.channels_last ? s[3] : s[1];
  return c == 1 || c == 3;
}

struct SampleRef {
  size_t file = 0;
  int64_t index = 0, target = 0;
};

struct Kept {   // one crop to cut: entry `rank` of channel `channel`'s RelMax (or ActMax) list
  int64_t channel = 0, rank = 0;
  bool act = false;
};

}  // namespace

// ---- cmd_atlas ----
int cmd_atlas(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"out", "top", "threads"});
  options.insert(input_value_options().begin(), input_value_options().end());
  auto flags = explain_flag_options();
  flags.insert(input_flag_options().begin(), input_flag_options().end());
  const Args a = parse_args(argc, argv, 2, options, flags);
  if (a.positional.size() != 2 || !a.has("layer") || !a.has("out"))
    fail_input("usage: relscope atlas MODEL.onnx DATA_DIR --layer NODE --out DIR [--top K] [--threads N] [--composite C] [--target T] ...");
  const long long top = a.get_int("top", 8);
  if (top < 1) fail_input("--top must be at least 1");
  // --threads: workers, each explaining whole samples with its own engine (the kernels inside stay on one
  // thread: samples are the coarser, better-scaling unit). 0 or absent: every hardware thread (1 in wasm,
  // which has no pthreads).
  long long threads = a.get_int("threads", 0);
  if (threads < 0 || threads > 256) fail_input("--threads: expected 0 (all hardware threads) to 256, got " + std::to_string(threads));
#ifdef __EMSCRIPTEN__
  threads = 1;
#else
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
#endif
  Session s = Session::load_file(a.positional[0]);
  if (s.graph().inputs.size() != 1) fail_input(s.graph().label + ": atlas needs a model with one input");
  const auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"));
  const std::string dir = a.positional[1], out = a.get("out", "");
  size_t skipped = 0;
  const auto files = data_files(dir, &skipped);
  auto path_of = [&](size_t f) { return (fs::path(dir) / files[f]).string(); };
  relevance::Explainer explainer(s);

  // Pass 1: count samples; the first one also checks the layer and the flags before the long work, and
  // gives the layer's position dims.
  std::vector<int64_t> per_file;
  int64_t total = 0;
  Shape position_dims;
  for (size_t f = 0; f < files.size(); ++f) {
    const LoadedInput in = load_file(path_of(f), s.graph(), a, s.limits());
    if (total == 0 && in.tensor.shape[0] > 0) {
      const auto ls = relevance::layer_sample(explainer, slice_batch(in.tensor, 0, 1), request);
      position_dims.assign(ls.relevance.shape.begin() + 1, ls.relevance.shape.end());
    }
    per_file.push_back(in.tensor.shape[0]);
    total += in.tensor.shape[0];
  }
  if (total == 0) fail_input(dir + ": the input files hold no samples");

  // Pass 2: stream every sample into the accumulator, on `threads` workers (relevance::stream_atlas: each
  // with its own Session and Explainer; the merged top-K equals the one-thread result exactly).
  relevance::AtlasSource source;
  source.counts = per_file;
  source.load = [&](size_t f) { return load_file(path_of(f), s.graph(), a, s.limits()).tensor; };
  int64_t reported = 0;
  auto progress = [&](int64_t done, int64_t all) {
    if (done * 10 / all > reported || done == all) {
      reported = done * 10 / all;
      std::fprintf(stderr, "atlas: %lld/%lld samples\n", static_cast<long long>(done), static_cast<long long>(all));
    }
  };
  const std::string model_path = a.positional[0];
  const Limits limits = s.limits();
  const auto t0 = std::chrono::steady_clock::now();
  auto run = relevance::stream_atlas([&] { return Session::load_file(model_path, limits); }, source, request, top,
                                      static_cast<int>(threads), progress);
  const double stream_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::unique_ptr<relevance::ConceptAtlas> atlas = std::move(run.atlas);
  std::vector<SampleRef> samples;
  for (size_t f = 0; f < files.size(); ++f)
    for (int64_t b = 0; b < per_file[f]; ++b) samples.push_back({f, b, run.targets[samples.size()]});

  // Pass 3: crops, file by file, one forward pass per kept sample and one sweep per distinct unit.
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out, ec)) fail_input(out + ": cannot create the output folder");
  const int64_t channels = atlas->channels();
  std::map<int64_t, std::vector<Kept>> by_sample;
  for (int64_t c = 0; c < channels; ++c)
    for (int act = 0; act < 2; ++act) {
      const auto& list = act ? atlas->actmax(c) : atlas->relmax(c);
      for (size_t r = 0; r < list.size(); ++r) by_sample[list[r].sample].push_back({c, static_cast<int64_t>(r), act == 1});
    }
  struct Crop {
    std::string name;
    relevance::Box box;
  };
  std::map<std::pair<int64_t, int64_t>, Crop> crops;   // (channel, rank * 2 + act)
  size_t loaded = files.size();
  LoadedInput in;
  for (const auto& entry : by_sample) {
    const SampleRef& ref = samples[static_cast<size_t>(entry.first)];
    if (ref.file != loaded) {
      in = load_file(path_of(ref.file), s.graph(), a, s.limits());
      loaded = ref.file;
    }
    if (!image_like(in)) continue;
    const Tensor x = slice_batch(in.tensor, ref.index, 1);
    std::vector<relevance::ConceptUnit> units;
    std::map<std::pair<int64_t, int64_t>, size_t> unit_of;
    for (const Kept& k : entry.second) {
      const auto& e = (k.act ? atlas->actmax(k.channel) : atlas->relmax(k.channel))[static_cast<size_t>(k.rank)];
      if (unit_of.emplace(std::make_pair(k.channel, e.position), units.size()).second) units.push_back({k.channel, e.position});
    }
    relevance::ExplainRequest r = request;
    r.targets = {ref.target};   // the target the sample was ranked on
    const auto maps = explainer.unit_maps({x}, r, units);
    for (const Kept& k : entry.second) {
      const auto& e = (k.act ? atlas->actmax(k.channel) : atlas->relmax(k.channel))[static_cast<size_t>(k.rank)];
      relevance::Box box = relevance::footprint_box(maps[unit_of[{k.channel, e.position}]], in.channels_last);
      if (box.empty()) {   // no relevance reaches the input from this unit: show the whole sample
        box.bottom = in.channels_last ? x.shape[1] : x.shape[2];
        box.right = in.channels_last ? x.shape[2] : x.shape[3];
      }
      const std::string name = "c" + std::to_string(k.channel) + (k.act ? "_actmax_" : "_relmax_") + std::to_string(k.rank) + ".png";
      const auto png = render::encode_png(crop_image(x, in.channels_last, a.has("bgr"), box));
      write_file_bytes((fs::path(out) / name).string(), png.data(), png.size());
      crops[{k.channel, k.rank * 2 + (k.act ? 1 : 0)}] = {name, box};
    }
  }

  // atlas.json: the index.
  std::string j = "{\n  \"layer\": " + json_string(request.crp.layer) + ",\n  \"channels\": " + std::to_string(channels) +
                  ",\n  \"k\": " + std::to_string(top) + ",\n  \"composite\": " + json_string(request.composite) +
                  ",\n  \"position_dims\": " + json_dims(position_dims) + ",\n  \"files\": [";
  for (size_t i = 0; i < samples.size(); ++i)
    j += std::string(i ? "," : "") + "\n    {\"sample\": " + std::to_string(i) + ", \"file\": " + json_string(files[samples[i].file]) +
         ", \"index\": " + std::to_string(samples[i].index) + ", \"target\": " + std::to_string(samples[i].target) + "}";
  j += "\n  ],\n  \"concepts\": [";
  for (int64_t c = 0; c < channels; ++c) {
    j += std::string(c ? "," : "") + "\n    {\"channel\": " + std::to_string(c);
    for (int act = 0; act < 2; ++act) {
      j += act ? ",\n     \"actmax\": [" : ",\n     \"relmax\": [";
      const auto& list = act ? atlas->actmax(c) : atlas->relmax(c);
      for (size_t r = 0; r < list.size(); ++r) {
        const auto it = crops.find({c, static_cast<int64_t>(r) * 2 + act});
        j += std::string(r ? ", " : "") + "{\"sample\": " + std::to_string(list[r].sample) + ", \"value\": " + json_number(list[r].value) +
             ", \"position\": " + json_position(list[r].position, position_dims) +
             ", \"crop\": " + (it == crops.end() ? std::string("null") : json_string(it->second.name)) +
             (it == crops.end() ? std::string()
                                : ", \"box\": [" + std::to_string(it->second.box.top) + "," + std::to_string(it->second.box.left) + "," +
                                      std::to_string(it->second.box.bottom) + "," + std::to_string(it->second.box.right) + "]") +
             "}";
      }
      j += "]";
    }
    j += "}";
  }
  j += "\n  ]\n}\n";
  write_file_bytes((fs::path(out) / "atlas.json").string(), reinterpret_cast<const uint8_t*>(j.data()), j.size());
  std::printf("# layer %s (%lld channels), %lld samples from %zu files%s, top %lld, %lld thread(s)\n", request.crp.layer.c_str(),
              static_cast<long long>(channels), static_cast<long long>(total), files.size(),
              skipped ? (", " + std::to_string(skipped) + " other files skipped").c_str() : "", top, threads);
  std::printf("# streamed in %.3f s (%.2f ms per sample)\n", stream_s, 1000.0 * stream_s / static_cast<double>(total));
  std::printf("wrote %s\n", (fs::path(out) / "atlas.json").string().c_str());
  return 0;
}

}  // namespace relscope::cli
