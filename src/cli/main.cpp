// relscope/cli/main.cpp — `relscope <command>`: dispatch and the one place errors become exit codes.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "cli/limit_args.h"
#include "core/error.h"

namespace {

constexpr const char* kUsage =
    "usage: relscope <command> [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL.onnx                       inputs, outputs, op histogram, parameters, unsupported ops\n"
    "  predict MODEL.onnx INPUT...           run a batch; [--top K] [--out OUT.npy] [--output NAME|INDEX]\n"
    "                                        INPUT is .npy, .csv (a row per sample) or an image (PNG/JPEG/BMP/GIF, resized to the model\n"
    "                                        input, scaled to [0,1]); for images [--mean m1,m2,m3] [--std s1,s2,s3] [--bgr]\n"
    "  conformance DIR...                    run ONNX backend test folders; [--known FILE] [--quiet]\n"
    "  bench MODEL.onnx                      median forward time; [--repeat N] [--warmup N] [--shape 1,3,224,224]\n"
    "  explain MODEL.onnx INPUT --out R.npy and/or --heatmap H.png\n"
    "                                        INPUT as for predict; --heatmap: one PNG per sample (H_0.png, H_1.png, ... if N > 1)\n"
    "                                        [--cmap bwr|gray|wred|wblue|hot|cold|coldnhot|france|seismic|coolio|coleus|SOURCE]\n"
    "                                        relevance; [--method lrp|pruned-lrp|crp|gradient|gradient-x-input|\n"
    "                                        integrated-gradients|smoothgrad|occlusion] [--composite NAME] [--rule NODE=RULE]...\n"
    "                                        [--target pred|K|K1,K2] [--output NAME|INDEX]\n"
    "                                        [--epsilon --stabilizer --gamma --alpha --beta --low --high]\n"
    "                                        [--steps N] [--samples N --noise F --seed S] [--window N --stride N]\n"
    "                                        pruned-lrp: [--prune P] [--prune-pos P --prune-neg P] [--prune-at NODE=P[:Q]]...\n"
    "                                        [--prune-mode lambda|mask] (mask: PLRP-M, pruned activations masked)\n"
    "                                        crp: --layer NODE --channels c1,c2,... [--joint] (R: N x K x input dims)\n"
    "                                        Gaussian heads: [--explain mean|variance] [--mean-unit U] [--var-unit U]\n"
    "                                        [--var-kind logvar|var|sd] (U: K, OUTPUT or OUTPUT:K)\n"
    "                                        cov-lrp: --ensemble b.onnx,c.onnx,... (members after MODEL) | --mc-dropout N\n"
    "                                        [--seed S]; [--cov diag|marg|both] (marg)\n"
    "  faithfulness MODEL.onnx INPUT         pixel flipping: AOPC of the explanation vs random orders, and Gini\n"
    "                                        [--compare M1,M2,...] (methods or composites) and the explain flags;\n"
    "                                        [--flip-steps N (20)] [--flip-fraction F (1)] [--flip-window W (1)]\n"
    "                                        [--flip-baseline V (0)] [--random-orders R (4)] [--flip-seed S]\n"
    "                                        [--curve C.csv] (the curves)\n"
    "  rules MODEL.onnx [--composite NAME]   the rule each node gets\n"
    "  concepts MODEL.onnx INPUT --layer NODE\n"
    "                                        channels of NODE ranked by relevance (CRP); [--top K] [--out C.npy]\n"
    "                                        --graph C [--depth D (2)] [--top K (3)]: C's attribution graph\n"
    "                                        and the explain flags for composite, target, output\n"
    "  atlas MODEL.onnx DATA_DIR --layer NODE --out DIR\n"
    "                                        CRP reference samples per channel (RelMax, ActMax) over DATA_DIR's\n"
    "                                        images and .npy files: DIR/atlas.json and receptive-field crops\n"
    "                                        c<ch>_relmax_<rank>.png; [--top K] (8), image and explain flags\n"
    "  spray MODEL.onnx DATA_DIR --target K  SpRAy: every sample of DATA_DIR's images and .npy files explained at K,\n"
    "                                        the heatmaps clustered into the model's strategies for K (eigengap,\n"
    "                                        spectral clustering); [--predicted-only] [--size S (32)]\n"
    "                                        [--neighbours K (10)] [--clusters C] [--max-clusters M (8)]\n"
    "                                        [--spray-seed S] [--out S.json] [--heatmaps DIR] (cluster means)\n"
    "  drivers MODEL.onnx DATA --mean-features i,j,... --var-features k,l,...\n"
    "                                        share of |R| on the true drivers of a Gaussian head's mean and\n"
    "                                        variance, per method; [--method m1,m2,...] [--composite C (epsilon)]\n"
    "\n"
    "exit codes: 0 success, 2 bad or unsupported input, 1 internal error\n";

}  // namespace

int main(int argc, char** argv) {
  try {
    argc = relscope::cli::apply_limit_flags(argc, argv);   // --max-memory etc., for every command
  } catch (const relscope::Error& e) {
    std::fprintf(stderr, "relscope: %s\n", e.what());
    return 2;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    std::fputs(relscope::cli::kLimitUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* cmd = argv[1];
  try {
    if (!std::strcmp(cmd, "info")) return relscope::cli::cmd_info(argc, argv);
    if (!std::strcmp(cmd, "predict")) return relscope::cli::cmd_predict(argc, argv);
    if (!std::strcmp(cmd, "conformance")) return relscope::cli::cmd_conformance(argc, argv);
    if (!std::strcmp(cmd, "bench")) return relscope::cli::cmd_bench(argc, argv);
    if (!std::strcmp(cmd, "explain")) return relscope::cli::cmd_explain(argc, argv);
    if (!std::strcmp(cmd, "faithfulness")) return relscope::cli::cmd_faithfulness(argc, argv);
    if (!std::strcmp(cmd, "rules")) return relscope::cli::cmd_rules(argc, argv);
    if (!std::strcmp(cmd, "concepts")) return relscope::cli::cmd_concepts(argc, argv);
    if (!std::strcmp(cmd, "atlas")) return relscope::cli::cmd_atlas(argc, argv);
    if (!std::strcmp(cmd, "spray")) return relscope::cli::cmd_spray(argc, argv);
    if (!std::strcmp(cmd, "drivers")) return relscope::cli::cmd_drivers(argc, argv);
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
