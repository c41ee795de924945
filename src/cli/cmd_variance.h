// relscope/cli/cmd_variance.h — the variance-heatmap commands: explain's cov-lrp path and `relscope drivers`.
#pragma once
#include <optional>

#include "cli/args.h"
#include "core/tensor.h"
#include "engine/session.h"
#include "relevance/explain.h"
#include "render/colormap.h"

namespace relscope::cli {

// `relscope explain MODEL INPUT --method cov-lrp (--ensemble b.onnx,... | --mc-dropout N [--seed S])`, after
// cmd_explain parsed the request and loaded the input x. Writes --out / --heatmap; returns the exit code.
int explain_cov_command(const Args& a, Session& model, const relevance::ExplainRequest& request, const Tensor& x,
                        bool channels_last, const std::optional<render::Palette>& palette);

}  // namespace relscope::cli
