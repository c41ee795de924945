// relscope/cli/main.cpp — `relscope <command>`: dispatch and the one place errors become exit codes.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "core/error.h"

namespace {

constexpr const char* kUsage =
    "usage: relscope <command> [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL.onnx                       inputs, outputs, op histogram, parameters, unsupported ops\n"
    "  predict MODEL.onnx INPUT.npy...       run a batch; [--top K] [--out OUT.npy] [--output NAME|INDEX]\n"
    "  conformance DIR...                    run ONNX backend test folders; [--known FILE] [--quiet]\n"
    "  bench MODEL.onnx                      median forward time; [--repeat N] [--warmup N] [--shape 1,3,224,224]\n"
    "  explain MODEL.onnx INPUT.npy --out R.npy\n"
    "                                        relevance; [--method lrp|gradient|gradient-x-input|integrated-gradients|\n"
    "                                        smoothgrad|occlusion] [--composite NAME] [--rule NODE=RULE]... [--target pred|K|K1,K2]\n"
    "                                        [--output NAME|INDEX] [--epsilon --gamma --alpha --beta --low --high]\n"
    "                                        [--steps N] [--samples N --noise F --seed S] [--window N --stride N]\n"
    "  rules MODEL.onnx [--composite NAME]   the rule each node gets\n"
    "\n"
    "exit codes: 0 success, 2 bad or unsupported input, 1 internal error\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* cmd = argv[1];
  try {
    if (!std::strcmp(cmd, "info")) return relscope::cli::cmd_info(argc, argv);
    if (!std::strcmp(cmd, "predict")) return relscope::cli::cmd_predict(argc, argv);
    if (!std::strcmp(cmd, "conformance")) return relscope::cli::cmd_conformance(argc, argv);
    if (!std::strcmp(cmd, "bench")) return relscope::cli::cmd_bench(argc, argv);
    if (!std::strcmp(cmd, "explain")) return relscope::cli::cmd_explain(argc, argv);
    if (!std::strcmp(cmd, "rules")) return relscope::cli::cmd_rules(argc, argv);
    std::fprintf(stderr, "relscope: unknown command '%s' (relscope --help lists the commands)\n", cmd);
    return 2;
  } catch (const relscope::Error& e) {
    std::fprintf(stderr, "relscope %s: %s\n", cmd, e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "relscope %s: out of memory\n", cmd);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relscope %s: internal error: %s\n", cmd, e.what());
    return 1;
  }
}
