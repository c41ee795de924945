// relscope/app/core/variance_view.h — the canvas's variance view: what drives the prediction and what
// drives the uncertainty, as plain data (no ImGui; the window is app_variance.cpp).
//
// Sections: VarianceSettings | VarianceResult | VarianceView
//
// For a Gaussian-head model (mean and variance outputs, gaussian_head.h) the view explains the mean and the
// variance unit of the current input with the main panel's method and composite, side by side, and shows
// the predicted mean +- sd. With ensemble members (other .onnx files taking the same input) or MC-dropout
// samples it adds CovLRP (cov_lrp.h): the map of what makes the members disagree, and each member's
// prediction. Computed on demand (a button), not on every edit: CovLRP runs M explanations.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "relevance/cov_lrp.h"

namespace relscope::app {

struct VarianceSettings {
  std::string mean_unit, var_unit, var_kind;   // empty: from the output names (gaussian_head.h syntax)
  int mc_dropout = 0;                          // > 1: CovLRP over this many MC-dropout samples
  int seed = 0;
  std::string cov = "marg";                    // diag | marg
  bool operator==(const VarianceSettings&) const = default;
};

struct VarianceResult {
  bool valid = false;
  bool gaussian = false;
  std::string head_problem;          // why no Gaussian head was found (shown instead of the two maps)
  std::string mean_text, var_text;   // "mean of output 'mean_logvar' unit 0", "log-variance of ... unit 1"
  std::string method;                // the first-order method both maps use
  Tensor mean_map, var_map;          // the input's shape (batch 1)
  double mean = 0, sd = 0;           // the prediction: mean +- sd
  bool has_cov = false;
  Tensor cov_map;                    // CovLRP-diag or -marg (+ aleatoric term for Gaussian heads)
  std::vector<float> member_outputs; // each member's explained value
  double output_variance = 0, cov_total = 0, aleatoric_total = 0;
  std::string cov_text;              // "4 ensemble members; explained: mean of output 'mean' unit 0"
};

class VarianceView {
 public:
  VarianceSettings settings;

  // Another ensemble member (an .onnx taking the model's input); same name replaces. Throws like
  // AppState::load_model; a failed load leaves the members as they were.
  void add_member(const std::string& label, const std::vector<uint8_t>& bytes, const Limits& limits);
  void clear_members() { members_.clear(); }
  std::vector<std::string> member_names() const;
  bool take_next_model = false;      // the next .onnx the page opens becomes a member (platform.cpp)

  // Explains the current model and input of `state` (after a successful AppState::compute()). Throws; on
  // failure the previous result stays.
  void compute(AppState& state);
  const VarianceResult& result() const { return result_; }
  void reset() { result_ = {}; }

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Session>>> members_;
  VarianceResult result_;
};

}  // namespace relscope::app
