// relscope/cli/commands.h — one function per `relscope` subcommand.
//
// Each returns the process exit code: 0 success, 2 the user's input is bad or
// unsupported (errors are thrown as relscope::Error and printed by main), 1 a bug.
#pragma once

namespace relscope::cli {

int cmd_info(int argc, char** argv);          // relscope info MODEL.onnx
int cmd_predict(int argc, char** argv);       // relscope predict MODEL.onnx INPUT... [--top K] [--out OUT.npy]
int cmd_conformance(int argc, char** argv);   // relscope conformance DIR... [--known FILE]
int cmd_bench(int argc, char** argv);         // relscope bench MODEL.onnx [--repeat N] [--shape ...]
int cmd_explain(int argc, char** argv);       // relscope explain MODEL.onnx INPUT --out R.npy|--heatmap H.png [...]
int cmd_faithfulness(int argc, char** argv);  // relscope faithfulness MODEL.onnx INPUT [--compare ...] [--flip-* ...]
int cmd_rules(int argc, char** argv);         // relscope rules MODEL.onnx [--composite NAME]
int cmd_concepts(int argc, char** argv);      // relscope concepts MODEL.onnx INPUT --layer NODE [--top K] [--out C.npy]
int cmd_drivers(int argc, char** argv);       // relscope drivers MODEL.onnx DATA --mean-features ... --var-features ...
int cmd_spray(int argc, char** argv);        // relscope spray MODEL.onnx DATA_DIR --target K [...]
int cmd_atlas(int argc, char** argv);         // relscope atlas MODEL.onnx DATA_DIR --layer NODE --out DIR [--top K]

}  // namespace relscope::cli
