// relscope/relevance/faithfulness.h — is a relevance map faithful to the model? Pixel flipping (region
// perturbation with windows larger than 1), against random orders.
//
// Sections: FlipOptions (and their text form) | FlipUnits | FlipCurve | FlipRun | pixel_flipping()
//
// METHODS.md "Faithfulness and sparsity" (Samek et al. 2017): split a sample's input into units, remove
// (set to the baseline) the most relevant units first, a share per step, and record the explained output
// after each step. A map that points at what the model uses makes the output fall fast: AOPC, the mean drop
// over the points, is large. The same removal in random orders is the reference a map must beat. Sparsity
// (Gini of |R|) comes with it, because pruned LRP trades a little faithfulness for a sparser map and a user
// must see both to choose.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/session.h"

namespace relscope::relevance {

// ---- FlipOptions ----------------------------------------------------------------------------------------

struct FlipOptions {
  int steps = 20;              // points after the unperturbed one (fewer when there are fewer units to remove)
  double fraction = 1.0;       // share of the units removed at the last point, in (0, 1]
  int window = 1;              // a unit: a window^d block of the spatial dims, all channels (1: pixel flipping)
  float baseline = 0.0f;       // what a removed entry becomes, in the model's input space (after normalisation)
  int random_orders = 4;       // random orders averaged into the reference curve (0: no reference)
  uint64_t seed = 0;           // of the random orders (the same on every build: its own shuffle, not std's)
  size_t output = 0;           // the graph output whose target value is recorded
  bool channels_last = false;  // samples are (spatial..., C) instead of (C, spatial...)
  int copies_per_pass = 8;     // perturbed copies per forward pass, 1..64 (a canvas keeps its frames short with 1)
};

// The options as named text, shared by the CLI (--flip-steps 10) and the JS API ({'flip-steps': 10}) so that
// both check them alike: flip-steps flip-fraction flip-window flip-baseline random-orders flip-seed. Unknown
// names and values that are not whole numbers are refused naming prefix + name; ranges are checked by
// pixel_flipping. `output` and `channels_last` come from the explanation, not from here.
const std::set<std::string>& flip_option_names();
FlipOptions parse_flip_options(const std::map<std::string, std::string>& values, const std::string& prefix);

// ---- FlipUnits ------------------------------------------------------------------------------------------

// How one sample's entries group into units, as compressed rows: unit u covers the entries
// entries[begin[u] .. begin[u + 1]) (offsets within the sample, row-major). A sample of rank 0 or 1 has no
// channel axis: its entries are features, in windows along the one axis. Of rank >= 2, the channel axis is the
// first (or the last with channels_last) and the rest are spatial, tiled by window^d blocks (clipped at the
// far edges), each block with all its channels. Units are numbered in row-major order of their blocks.
struct FlipUnits {
  std::vector<int64_t> begin;     // units + 1
  std::vector<int64_t> entries;   // every entry once
  int64_t count() const { return static_cast<int64_t>(begin.size()) - 1; }
};
FlipUnits flip_units(const Shape& sample_shape, int window, bool channels_last);

// ---- FlipCurve ------------------------------------------------------------------------------------------

struct FlipCurve {
  int64_t target = 0;
  int64_t units = 0;
  std::vector<int64_t> removed;          // units removed at each point; removed[0] = 0
  std::vector<double> relevance_first;   // output[target] at each point, units removed in order of decreasing
                                         // relevance (the sum of R over the unit; ties: lower unit first)
  std::vector<double> random;            // the mean over the random orders (empty without them)
  double aopc = 0;                       // mean over the points of f(x) - f(x_k), most relevant first
  double aopc_random = 0;                // the same for the random curve
  double gini = 0;                       // Gini of |R| over the sample's entries
};

// ---- FlipRun --------------------------------------------------------------------------------------------

// The same work in steps of one forward pass (up to copies_per_pass perturbed copies of one sample), so that a canvas can run
// it between frames and show how far it got. The constructor checks everything pixel_flipping() checks and
// draws the random orders; it keeps copies of the inputs and the map but refers to `session`, which must
// outlive the run.
class FlipRun {
 public:
  FlipRun(Session& session, std::vector<Tensor> inputs, const Tensor& relevance, std::vector<int64_t> targets,
          const FlipOptions& options);
  bool done() const;
  void step();                                   // one forward pass (copies_per_pass copies); nothing once done()
  double progress() const { return copies_total_ ? double(copies_done_) / double(copies_total_) : 1.0; }
  int64_t copies_total() const { return copies_total_; }
  std::vector<FlipCurve> curves() const;         // once done() (Internal error before)
  const FlipOptions& options() const { return options_; }

 private:
  struct Copy {
    size_t order;        // 0: the relevance order; k: the k-th random order
    int64_t removed;     // units of the order set to the baseline
  };
  struct Sample {
    std::vector<Tensor> inputs;                  // batch 1
    int64_t target = 0;
    double gini = 0;
    std::vector<std::vector<int64_t>> orders;
    std::vector<Copy> copies;
    std::vector<double> values;                  // the output at target, per copy
  };
  Session& session_;
  FlipOptions options_;
  FlipUnits units_;
  std::vector<int64_t> removed_;
  std::vector<Sample> samples_;
  size_t sample_ = 0, next_ = 0;                 // the next copy to run
  int64_t copies_done_ = 0, copies_total_ = 0;
};

// ---- pixel_flipping() -----------------------------------------------------------------------------------

// One curve per sample of inputs[0] (perturbed; other inputs stay as they are), for relevance maps of its
// shape and one target per sample (index into the sample's flattened output, as Explanation::targets).
// Runs the model on (points) x (1 + random_orders) perturbed copies per sample, several per forward pass.
// BadInput for options out of range, a map of another shape, a non-finite map, or a non-finite output.
std::vector<FlipCurve> pixel_flipping(Session& session, const std::vector<Tensor>& inputs, const Tensor& relevance,
                                      const std::vector<int64_t>& targets, const FlipOptions& options);

}  // namespace relscope::relevance
