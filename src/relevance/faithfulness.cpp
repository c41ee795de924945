// relscope/relevance/faithfulness.cpp — pixel flipping / region perturbation (faithfulness.h).
//
// Sections: the options' text form | flip_units | checks | orders | helpers | FlipRun | pixel_flipping
#include "relevance/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "core/error.h"
#include "relevance/prune.h"

namespace relscope::relevance {

namespace {

// (points) x (1 + random orders) x samples forward runs at most: a mistyped option must not run for hours.
constexpr int64_t kMaxCopies = 200000;

}  // namespace

// ---- the options' text form ------------------------------------------------------------------------------

const std::set<std::string>& flip_option_names() {
  static const std::set<std::string> names = {"flip-steps", "flip-fraction", "flip-window", "flip-baseline",
                                              "random-orders", "flip-seed"};
  return names;
}

FlipOptions parse_flip_options(const std::map<std::string, std::string>& values, const std::string& prefix) {
  FlipOptions o;
  for (const auto& [name, text] : values) {
    if (!flip_option_names().count(name)) fail_input("unknown parameter " + prefix + name);
    char* end = nullptr;
    const bool integer = name != "flip-fraction" && name != "flip-baseline";
    const double v = integer ? static_cast<double>(std::strtoll(text.c_str(), &end, 10)) : std::strtod(text.c_str(), &end);
    if (text.empty() || *end)
      fail_input(prefix + name + ": '" + text + "' is not " + (integer ? "an integer" : "a number"));
    // Integers beyond int's range would wrap in the casts below: clamp them where the range check refuses.
    const int clamped = static_cast<int>(std::max(-1.0, std::min(v, 1e9)));
    if (name == "flip-steps") o.steps = clamped;
    if (name == "flip-window") o.window = clamped;
    if (name == "random-orders") o.random_orders = clamped;
    if (name == "flip-fraction") o.fraction = v;
    if (name == "flip-baseline") o.baseline = static_cast<float>(v);
    if (name == "flip-seed") o.seed = static_cast<uint64_t>(std::strtoull(text.c_str(), nullptr, 10));
  }
  return o;
}

// ---- flip_units -----------------------------------------------------------------------------------------

FlipUnits flip_units(const Shape& sample_shape, int window, bool channels_last) {
  if (window < 1) fail_input("faithfulness: the window must be at least 1, not " + std::to_string(window));
  const int rank = static_cast<int>(sample_shape.size());
  // Spatial dims (tiled) and the channel count each block spans.
  Shape spatial = sample_shape;
  int64_t channels = 1;
  if (rank >= 2) {
    const int axis = channels_last ? rank - 1 : 0;
    channels = sample_shape[axis];
    spatial.erase(spatial.begin() + axis);
  }
  Shape blocks(spatial.size());
  for (size_t d = 0; d < spatial.size(); ++d) blocks[d] = (spatial[d] + window - 1) / window;
  const int64_t positions = shape_numel(spatial), units = shape_numel(blocks);
  FlipUnits u;
  u.begin.assign(static_cast<size_t>(units) + 1, 0);
  u.entries.resize(static_cast<size_t>(positions * channels));
  if (positions == 0 || channels == 0) {
    u.begin.assign(1, 0);   // an empty sample has no units
    u.entries.clear();
    return u;
  }
  // The unit of each spatial position, then counting sort: entries stay in row-major order within a unit.
  std::vector<int64_t> unit_of(static_cast<size_t>(positions));
  const Shape strides = shape_strides(spatial), block_strides = shape_strides(blocks);
  for (int64_t p = 0; p < positions; ++p) {
    int64_t unit = 0;
    for (size_t d = 0; d < spatial.size(); ++d) unit += (p / strides[d] % spatial[d]) / window * block_strides[d];
    unit_of[static_cast<size_t>(p)] = unit;
    u.begin[static_cast<size_t>(unit) + 1] += channels;
  }
  std::partial_sum(u.begin.begin(), u.begin.end(), u.begin.begin());
  std::vector<int64_t> next(u.begin.begin(), u.begin.end() - 1);
  const int64_t numel = positions * channels;
  for (int64_t e = 0; e < numel; ++e) {   // entry e -> its spatial position
    const int64_t p = rank < 2 ? e : channels_last ? e / channels : e % positions;
    u.entries[static_cast<size_t>(next[static_cast<size_t>(unit_of[static_cast<size_t>(p)])]++)] = e;
  }
  return u;
}

namespace {

// ---- checks ---------------------------------------------------------------------------------------------

void check_options(const FlipOptions& o) {
  if (o.steps < 1 || o.steps > 1000) fail_input("faithfulness: steps must be 1..1000, not " + std::to_string(o.steps));
  if (!(o.fraction > 0.0 && o.fraction <= 1.0))
    fail_input("faithfulness: the fraction removed must be in (0, 1], not " + std::to_string(o.fraction));
  if (o.random_orders < 0 || o.random_orders > 100)
    fail_input("faithfulness: random orders must be 0..100, not " + std::to_string(o.random_orders));
  if (!std::isfinite(o.baseline)) fail_input("faithfulness: the baseline must be finite");
  if (o.copies_per_pass < 1 || o.copies_per_pass > 64)
    fail_input("faithfulness: copies per pass must be 1..64, not " + std::to_string(o.copies_per_pass));
}

// ---- orders ---------------------------------------------------------------------------------------------

// Most relevant unit first; ties in unit order (a stable sort), so the curve is the same on every build.
std::vector<int64_t> relevance_order(const FlipUnits& u, const float* r) {
  std::vector<double> score(static_cast<size_t>(u.count()), 0.0);
  for (int64_t k = 0; k < u.count(); ++k)
    for (int64_t e = u.begin[static_cast<size_t>(k)]; e < u.begin[static_cast<size_t>(k) + 1]; ++e)
      score[static_cast<size_t>(k)] += r[u.entries[static_cast<size_t>(e)]];
  std::vector<int64_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
  return order;
}

// Fisher-Yates with mt19937_64 drawn by hand: std::shuffle and the std distributions differ between
// libstdc++ (native) and libc++ (wasm), and the CLI, the JS API and the app must agree.
std::vector<int64_t> random_order(int64_t units, std::mt19937_64& rng) {
  std::vector<int64_t> order(static_cast<size_t>(units));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = units - 1; i > 0; --i) std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  return order;
}

// ---- helpers ------------------------------------------------------------------------------------------------

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double aopc(const std::vector<double>& curve) {
  double sum = 0;
  for (double f : curve) sum += curve.front() - f;
  return sum / static_cast<double>(curve.size());
}

}  // namespace

// ---- FlipRun --------------------------------------------------------------------------------------------

FlipRun::FlipRun(Session& session, std::vector<Tensor> inputs, const Tensor& relevance, std::vector<int64_t> targets,
                 const FlipOptions& o)
    : session_(session), options_(o) {
  check_options(o);
  if (inputs.empty() || inputs[0].dtype != DType::Float32 || inputs[0].rank() < 1)
    fail_input("faithfulness: the first input must be a float tensor with a batch dimension");
  const Tensor& x = inputs[0];
  if (relevance.shape != x.shape)
    fail_input("faithfulness: the relevance map is " + shape_str(relevance.shape) + ", the input " + shape_str(x.shape));
  if (first_non_finite(relevance.f) != relevance.f.size()) fail_input("faithfulness: the relevance map holds NaN or Inf");
  const int64_t n = x.shape[0];
  if (static_cast<int64_t>(targets.size()) != n)
    fail_input("faithfulness: " + std::to_string(targets.size()) + " targets for a batch of " + std::to_string(n));
  const Shape sample_shape(x.shape.begin() + 1, x.shape.end());
  units_ = flip_units(sample_shape, o.window, o.channels_last);
  const int64_t units = units_.count(), per = n > 0 ? x.numel() / n : 0;
  if (n > 0 && units == 0) fail_input("faithfulness: the input " + shape_str(x.shape) + " has no values to remove");
  // Points: removed[k] = round(k / steps * fraction * units); one unit per step when there are fewer units
  // to remove than steps (no point repeats another).
  const int64_t last = std::max<int64_t>(1, std::llround(o.fraction * static_cast<double>(units)));
  const int64_t steps = std::min<int64_t>(o.steps, last);
  removed_.assign(static_cast<size_t>(steps) + 1, 0);
  for (int64_t k = 1; k <= steps; ++k)
    removed_[static_cast<size_t>(k)] = std::llround(static_cast<double>(k) * static_cast<double>(last) / static_cast<double>(steps));
  const int64_t total = n * (steps + 1) * (1 + o.random_orders);
  if (total > kMaxCopies)
    fail_input("faithfulness: " + std::to_string(total) + " perturbed copies (" + std::to_string(n) + " samples x " +
               std::to_string(steps + 1) + " points x " + std::to_string(1 + o.random_orders) + " orders), over " +
               std::to_string(kMaxCopies) + "; use fewer steps or random orders");

  std::mt19937_64 rng(o.seed);   // one stream over the batch: sample b's orders follow sample b-1's
  for (int64_t b = 0; b < n; ++b) {
    Sample s;
    for (const Tensor& t : inputs) s.inputs.push_back(slice_batch(t, b, 1));
    s.target = targets[static_cast<size_t>(b)];
    const float* r = relevance.f.data() + b * per;
    s.gini = gini(r, per);
    s.orders = {relevance_order(units_, r)};
    for (int k = 0; k < o.random_orders; ++k) s.orders.push_back(random_order(units, rng));
    // Every point of the relevance order; of a random order only the points between none and all removed
    // (those two are the same copy in every order).
    for (int64_t k : removed_) s.copies.push_back({0, k});
    for (size_t k = 1; k < s.orders.size(); ++k)
      for (int64_t m : removed_)
        if (m > 0 && m < units) s.copies.push_back({k, m});
    s.values.assign(s.copies.size(), 0.0);
    copies_total_ += static_cast<int64_t>(s.copies.size());
    samples_.push_back(std::move(s));
  }
}

bool FlipRun::done() const { return sample_ >= samples_.size(); }

void FlipRun::step() {
  if (done()) return;
  Sample& s = samples_[sample_];
  const Tensor& sample = s.inputs[0];
  const int64_t per = sample.numel();
  const size_t count = std::min(static_cast<size_t>(options_.copies_per_pass), s.copies.size() - next_);
  Tensor batch = sample;
  batch.shape[0] = static_cast<int64_t>(count);
  batch.f.resize(count * static_cast<size_t>(per));
  for (size_t c = 0; c < count; ++c) {
    const Copy& copy = s.copies[next_ + c];
    float* x = batch.f.data() + c * static_cast<size_t>(per);
    std::copy(sample.f.begin(), sample.f.end(), x);
    for (int64_t k = 0; k < copy.removed; ++k) {
      const auto unit = static_cast<size_t>(s.orders[copy.order][static_cast<size_t>(k)]);
      for (int64_t e = units_.begin[unit]; e < units_.begin[unit + 1]; ++e)
        x[units_.entries[static_cast<size_t>(e)]] = options_.baseline;
    }
  }
  std::vector<Tensor> in = {std::move(batch)};
  for (size_t i = 1; i < s.inputs.size(); ++i) in.push_back(concat_batch(std::vector<Tensor>(count, s.inputs[i])));
  const std::vector<Tensor> out = session_.predict(in);
  const size_t o = options_.output;
  if (o >= out.size()) fail_input("faithfulness: the model has no output " + std::to_string(o));
  const Tensor& y = out[o];
  const int64_t n = static_cast<int64_t>(count);
  if (y.dtype != DType::Float32 || y.numel() % n != 0 || s.target < 0 || s.target >= y.numel() / n)
    fail_input("faithfulness: output " + std::to_string(o) + " has no value " + std::to_string(s.target) + " per sample");
  const int64_t per_out = y.numel() / n;
  for (size_t c = 0; c < count; ++c) {
    const float v = y.f[c * static_cast<size_t>(per_out) + static_cast<size_t>(s.target)];
    if (!std::isfinite(v))
      fail_input("faithfulness: the output became " + std::string(std::isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf") +
                 " with " + std::to_string(s.copies[next_ + c].removed) + " of " + std::to_string(units_.count()) +
                 " units set to the baseline " + number(options_.baseline));
    s.values[next_ + c] = v;
  }
  next_ += count;
  copies_done_ += n;
  if (next_ == s.copies.size()) {
    ++sample_;
    next_ = 0;
  }
}

std::vector<FlipCurve> FlipRun::curves() const {
  if (!done()) fail(ErrorKind::Internal, "faithfulness: curves() before the run is done");
  std::vector<FlipCurve> out;
  const size_t points = removed_.size();
  const int64_t units = units_.count();
  for (const Sample& s : samples_) {
    FlipCurve c;
    c.target = s.target;
    c.units = units;
    c.removed = removed_;
    c.gini = s.gini;
    c.relevance_first.assign(s.values.begin(), s.values.begin() + static_cast<std::ptrdiff_t>(points));
    c.aopc = aopc(c.relevance_first);
    const int orders = options_.random_orders;
    if (orders > 0) {
      c.random.assign(points, 0.0);
      size_t next = points;
      for (int k = 0; k < orders; ++k)
        for (size_t p = 0; p < points; ++p) {
          const bool shared = removed_[p] == 0 || removed_[p] == units;
          c.random[p] += shared ? s.values[p] : s.values[next++];
        }
      for (double& f : c.random) f /= orders;   // once, so that equal curves average exactly
      c.aopc_random = aopc(c.random);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// ---- pixel_flipping -------------------------------------------------------------------------------------

std::vector<FlipCurve> pixel_flipping(Session& session, const std::vector<Tensor>& inputs, const Tensor& relevance,
                                      const std::vector<int64_t>& targets, const FlipOptions& o) {
  FlipRun run(session, inputs, relevance, targets, o);
  while (!run.done()) run.step();
  return run.curves();
}

}  // namespace relscope::relevance
