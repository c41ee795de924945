// relscope/engine/executor.h — runs a Plan on the cpu kernels.
//
// Sections: PassMemo | Activations | BufferPool | execute()
//
// With `record` every intermediate value is kept (the relevance sweep needs the
// inputs of each layer); without it a value is freed after its last reader, so
// a plain forward pass holds only the live tensors, and with a BufferPool the
// freed storage is handed to later outputs instead of fresh zero-filled vectors.
#pragma once
#include <deque>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "engine/plan.h"

namespace relscope {

// ---- PassMemo ----------------------------------------------------------------------------------------------------
// Data derived from one recorded pass's values and reused by every backward sweep over it (relevance: a linear
// rule's denominators, which depend on the layer's input but not on the relevance arriving, so a second target,
// a concept or a unit over the same pass skips the rule's forward GEMMs; a max-pool's arg-max indices). Floats
// or int64s per key. Bounded: entries leave oldest first once `budget` bytes would be exceeded; one caller at
// a time, like the pass itself.
class PassMemo {
 public:
  template <class T = float>
  const std::vector<T>* find(const std::string& key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : std::get_if<std::vector<T>>(&it->second);
  }
  // Stores `v` under `key` (not when it alone exceeds the budget; a key is never replaced) and returns the
  // stored vector, or null.
  template <class T>
  const std::vector<T>* put(const std::string& key, std::vector<T> v) {
    const uint64_t size = v.size() * sizeof(T);
    if (size > budget_ || entries_.count(key)) return find<T>(key);
    while (bytes_ + size > budget_) drop_oldest();
    bytes_ += size;
    order_.push_back(key);
    return &std::get<std::vector<T>>(entries_[key] = std::move(v));
  }
  // True when `bytes` more can be stored (older entries leaving as needed) without touching anything put
  // after them in one go: put the parts of one result only when their total fits.
  bool fits(uint64_t bytes) const { return bytes <= budget_; }
  void set_budget(uint64_t bytes) { budget_ = bytes; }
  uint64_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  void drop_oldest();
  uint64_t budget_ = 0, bytes_ = 0;
  std::map<std::string, std::variant<std::vector<float>, std::vector<int64_t>>> entries_;
  std::deque<std::string> order_;   // insertion order: the first to leave
};

// ---- Activations -------------------------------------------------------------------------------------------------
struct Activations {
  const Plan* plan = nullptr;
  std::vector<Tensor> values;   // per value id; empty for constants and freed values
  mutable PassMemo memo;        // recorded passes only (Session::forward_recorded sets its budget)

  // The value's tensor: a constant (initializer/folded) or the computed one.
  const Tensor& get(int value) const { return plan->constants[value] ? *plan->constants[value] : values[value]; }
};

// ---- BufferPool --------------------------------------------------------------------------------------------------
// Float storage of values a plain forward pass has freed, for the outputs of later ops (of this pass or the
// next) whose kernels write every element (OpImpl::overwrites_outputs): they get a kept vector shrunk to size
// instead of a new one that is zero-filled first. Why: the zero-fill is serial work outside every kernel's
// thread split (the first touch of ResNet-18's two 3 MiB stem outputs alone took 0.7 ms; with the pool a
// forward pass measured 37.45 -> 36.38 ms on 1 thread). Holds at most `budget` bytes (Session: the plan's
// activation bytes); one caller at a time.
class BufferPool {
 public:
  // Smaller vectors are cheap to zero-fill; keeping them would only lengthen the search.
  static constexpr size_t kMinFloats = 4096;

  // True with `out` holding exactly n floats of unspecified value: the smallest kept vector of >= n floats.
  bool take(size_t n, std::vector<float>& out);
  // Keeps `v` (if it is worth keeping and fits the budget, else lets it go).
  void give(std::vector<float>&& v);
  void set_budget(uint64_t bytes);
  uint64_t bytes() const { return bytes_; }
  size_t size() const { return kept_.size(); }
  uint64_t taken() const { return taken_; }   // outputs served so far

 private:
  std::vector<std::vector<float>> kept_;
  uint64_t budget_ = 0, bytes_ = 0, taken_ = 0;
};

// ---- execute() ---------------------------------------------------------------------------------------------------
// `inputs` in graph-input order, shapes as the plan was made for. `pool` (plain passes only: a recorded pass
// keeps every value) supplies and receives float storage as above.
Activations execute(const Plan& plan, std::vector<Tensor> inputs, bool record, BufferPool* pool = nullptr);

}  // namespace relscope
