// relscope/cli/cmd_conformance.cpp — `relscope conformance DIR...`: ONNX backend node tests.
//
// Sections: known-failure list | one folder | the command
//
// A folder is model.onnx + test_data_set_*/input_N.pb, output_N.pb. Verdicts:
//   PASS         every output within rtol 1e-4, atol 1e-5
//   FAIL         wrong numbers, or an error on a model relscope claims to run
//   UNSUPPORTED  the model uses an op relscope does not implement (not a failure),
//                or a dtype/attribute relscope does not claim — allowed only when
//                the folder is listed in --known with a reason.
// A --known folder that passes is reported as stale: the list must stay true.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "engine/executor.h"
#include "engine/session.h"
#include "io/file.h"
#include "onnx/model.h"

namespace fs = std::filesystem;

namespace relscope::cli {

namespace {

constexpr double kRtol = 1e-4, kAtol = 1e-5;

std::map<std::string, std::string> read_known(const std::string& path) {
  std::map<std::string, std::string> known;
  std::ifstream in(path);
  if (!in) fail_input(path + ": cannot open the known-failure list");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, reason;
    ss >> name;
    std::getline(ss, reason);
    const auto start = reason.find_first_not_of(" \t");
    reason = start == std::string::npos ? "" : reason.substr(start);
    if (reason.empty()) fail_input(path + ": '" + name + "' has no reason");
    known[name] = reason;
  }
  return known;
}

Tensor read_pb_tensor(const fs::path& p, std::string* name) {
  const auto bytes = read_file_bytes(p.string(), Limits{}.max_file_bytes);
  return onnx::decode_tensor(bytes.data(), bytes.size(), Limits{}, p.filename().string(), name);
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (int k = 0;; ++k) {
    fs::path p = dir / (prefix + std::to_string(k) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(p);
  }
  return out;
}

// "" when equal within tolerance, else what differs.
std::string compare(const Tensor& got, const Tensor& want, const std::string& what) {
  if (got.shape != want.shape) return what + ": shape " + shape_str(got.shape) + ", expected " + shape_str(want.shape);
  const auto g = got.as_floats(), w = want.as_floats();
  if (want.dtype == DType::Int64 && got.dtype == DType::Int64) {
    for (size_t k = 0; k < g.size(); ++k)
      if (got.i[k] != want.i[k])
        return what + "[" + std::to_string(k) + "] = " + std::to_string(got.i[k]) + ", expected " + std::to_string(want.i[k]);
    return "";
  }
  for (size_t k = 0; k < g.size(); ++k) {
    if (std::isnan(w[k]) && std::isnan(g[k])) continue;
    if (std::isinf(w[k]) && g[k] == w[k]) continue;
    if (!(std::fabs(g[k] - w[k]) <= kAtol + kRtol * std::fabs(w[k]))) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "[%zu] = %.8g, expected %.8g", k, g[k], w[k]);
      return what + buf;
    }
  }
  return "";
}

struct Verdict {
  enum Kind { Pass, Fail, Unsupported } kind;
  bool op_not_claimed = false;   // the model uses an op outside relscope's list
  std::string reason;
};

Verdict run_folder(const fs::path& dir) {
  try {
    const auto bytes = read_file_bytes((dir / "model.onnx").string(), Limits{}.max_file_bytes);
    onnx::ModelProto model = onnx::decode_model(bytes.data(), bytes.size(), Limits{}, "model.onnx");
    // Op coverage first: a folder testing an op relscope does not implement says so, whatever else
    // (input dtypes, opsets) would also stop it.
    for (const auto& n : model.graph.nodes)
      if (!(n.domain.empty() || n.domain == "ai.onnx") || op_from_name(n.op_type) == Op::Unsupported)
        return {Verdict::Unsupported, true, "op " + (n.domain.empty() ? "" : n.domain + ".") + n.op_type + " is not implemented"};
    Session s = Session::from_model(std::move(model), "model.onnx");
    const Graph& g = s.graph();
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) return {Verdict::Fail, false, "no test_data_set_* folder"};
    for (const auto& set : sets) {
      std::vector<Tensor> inputs(g.inputs.size());
      const auto in_files = numbered(set, "input_");
      if (in_files.size() != g.inputs.size())
        return {Verdict::Fail, false, std::to_string(in_files.size()) + " input files for " + std::to_string(g.inputs.size()) + " inputs"};
      for (size_t k = 0; k < in_files.size(); ++k) {
        std::string name;
        Tensor t = read_pb_tensor(in_files[k], &name);
        size_t slot = k;   // by name when the file names a graph input, else by position
        for (size_t j = 0; j < g.inputs.size(); ++j)
          if (!name.empty() && g.values[g.inputs[j]].name == name) slot = j;
        inputs[slot] = std::move(t);
      }
      const Plan& plan = s.plan_for(inputs);
      Activations act = execute(plan, inputs, false);
      const auto out_files = numbered(set, "output_");
      if (out_files.size() != g.outputs.size())
        return {Verdict::Fail, false, std::to_string(out_files.size()) + " output files for " + std::to_string(g.outputs.size()) + " outputs"};
      for (size_t k = 0; k < out_files.size(); ++k) {
        const Tensor want = read_pb_tensor(out_files[k], nullptr);
        const std::string diff = compare(act.get(g.outputs[k]), want, set.filename().string() + " output " + std::to_string(k));
        if (!diff.empty()) return {Verdict::Fail, false, diff};
      }
    }
    return {Verdict::Pass, false, ""};
  } catch (const Error& e) {
    return {e.kind() == ErrorKind::Unsupported ? Verdict::Unsupported : Verdict::Fail, false, e.what()};
  } catch (const std::exception& e) {
    return {Verdict::Fail, false, std::string("internal error: ") + e.what()};
  }
}

}  // namespace

int cmd_conformance(int argc, char** argv) {
  const Args a = parse_args(argc, argv, 2, {"known"}, {"quiet"});
  if (a.positional.empty()) fail_input("usage: relscope conformance DIR... [--known FILE] [--quiet]");
  const bool strict = a.has("known");   // with a list, claimed ops must pass or be listed
  const auto known = strict ? read_known(a.get("known", "")) : std::map<std::string, std::string>{};
  const bool quiet = a.has("quiet");
  int passed = 0, failed = 0, unsupported = 0;
  for (const auto& d : a.positional) {
    const fs::path dir(d);
    const std::string name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
    const Verdict v = run_folder(dir);
    const auto k = known.find(name);
    if (v.kind == Verdict::Pass) {
      if (k != known.end()) {
        ++failed;
        std::printf("FAIL %s: passes but is listed as known (%s); remove it from the list\n", name.c_str(), k->second.c_str());
      } else {
        ++passed;
        if (!quiet) std::printf("PASS %s\n", name.c_str());
      }
    } else if (v.kind == Verdict::Unsupported && (v.op_not_claimed || !strict)) {
      ++unsupported;
      if (!quiet) std::printf("UNSUPPORTED %s: %s\n", name.c_str(), v.reason.c_str());
    } else if (k != known.end()) {
      ++unsupported;
      if (!quiet) std::printf("UNSUPPORTED %s: %s (known: %s)\n", name.c_str(), v.reason.c_str(), k->second.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", name.c_str(), v.reason.c_str());
    }
  }
  std::printf("%d passed, %d failed, %d unsupported\n", passed, failed, unsupported);
  return failed ? 1 : 0;
}

}  // namespace relscope::cli
