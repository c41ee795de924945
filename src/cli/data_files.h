// relscope/cli/data_files.h — a folder of inputs for the commands that read data sets (atlas, spray), and the
// two JSON helpers their outputs share.
#pragma once
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/input_args.h"
#include "core/limits.h"
#include "graph/graph.h"

namespace relscope::cli {

// Regular files of `dir` sorted by name: images by their first bytes, or named *.npy; anything else is
// skipped and counted in `skipped` (a folder often holds a README or labels next to the samples). BadInput
// when `dir` is not a directory or holds no input file.
std::vector<std::string> data_files(const std::string& dir, size_t* skipped);

// One file as a float32 batch. --mean/--std/--bgr only reach images (load_inputs refuses them for an .npy).
LoadedInput load_file(const std::string& path, const Graph& g, const Args& a, const Limits& limits);

// JSON text of a string (quoted, escaped) and of a number (%.9g; null when not finite).
std::string json_string(const std::string& s);
std::string json_number(double v);

}  // namespace relscope::cli
