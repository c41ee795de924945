// relscope/kernels/webgpu/program_cpu.cpp — a GPU program run with the CPU kernels: the reference every
// WGSL kernel is tested against, and what lets native tests check the program builder (gpu_explain.h).
//
// Sections: names | checks | geometry from words | the interpreter
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/webgpu/program.h"

namespace relscope::kernels::gpu {

// ---- names ---------------------------------------------------------------------------------------------------
const char* kernel_name(Kernel k) {
  static const char* names[kernel_count] = {"conv_forward", "conv_backward_data", "gemm", "elementwise", "max_pool",
                                            "max_pool_backward", "avg_pool", "avg_pool_backward", "row_mean", "seed", "gather", "rows", "window",
                                            "prune"};
  const auto i = static_cast<uint32_t>(k);
  return i < kernel_count ? names[i] : "unknown";
}

int Program::add_buffer(int64_t words, const float* data, std::string key) {
  buffers.push_back({std::max<int64_t>(words, 1), data, std::move(key)});
  return static_cast<int>(buffers.size()) - 1;
}

unsigned written_bindings(const Step& s) {
  switch (s.kernel) {
    case Kernel::ConvForward: return 1u << 3;
    case Kernel::ConvBackwardData: return 1u << 2;
    case Kernel::Gemm: return 1u << 2;
    case Kernel::Elementwise: return 1u << 3;
    case Kernel::MaxPool: return (1u << 1) | (1u << 2);
    case Kernel::MaxPoolBackward: return 1u << 2;
    case Kernel::AvgPool: return 1u << 1;
    case Kernel::AvgPoolBackward: return 1u << 1;
    case Kernel::RowMean: return 1u << 1;
    case Kernel::Seed: return (1u << 1) | (1u << 2);
    case Kernel::Gather: return 1u << 3;
    case Kernel::Rows: return 1u << 3;
    case Kernel::Window: return 1u << 3;
    case Kernel::Prune: return s.words[4] == 0 ? 1u << 0 : 1u << 1;
  }
  return 0;
}

namespace {

// ---- checks --------------------------------------------------------------------------------------------------
[[noreturn]] void bad(size_t step, const Step& s, const std::string& why) {
  fail(ErrorKind::Internal, std::string("GPU program step ") + std::to_string(step) + " (" + kernel_name(s.kernel) + "): " + why);
}

// ---- geometry from words ---------------------------------------------------------------------------------------
Dims3 dims(const Step& s, int at) { return {s.words[at], s.words[at + 1], s.words[at + 2]}; }

ConvParams conv_params(const Step& s) {
  ConvParams p;
  p.nspatial = 3;
  p.N = s.words[1], p.C = s.words[2], p.M = s.words[3], p.group = s.words[4];
  p.in = dims(s, 5), p.out = dims(s, 8), p.kernel = dims(s, 11), p.stride = dims(s, 14), p.dilation = dims(s, 17);
  p.pad_begin = dims(s, 20);
  // conv_forward/backward never read pad_end (the output size already says where the input ends)
  for (int d = 0; d < 3; ++d)
    p.pad_end[d] = std::max<int64_t>(0, (p.out[d] - 1) * p.stride[d] + (p.kernel[d] - 1) * p.dilation[d] + 1 - p.in[d] - p.pad_begin[d]);
  return p;
}

PoolParams pool_params(const Step& s, bool with_end) {
  PoolParams p;
  p.nspatial = 3;
  p.N = 1, p.C = s.words[1];
  p.in = dims(s, 2), p.out = dims(s, 5), p.kernel = dims(s, 8), p.stride = dims(s, 11), p.dilation = dims(s, 14);
  p.pad_begin = dims(s, 17);
  if (with_end) {
    p.pad_end = dims(s, 20);
    p.count_include_pad = s.words[23] != 0;
  }
  return p;
}

float ew_value(Ew op, size_t j, const float* a, const float* b, const float* c, float out, uint32_t inner, uint32_t channels,
               float f, uint32_t mode, float f2) {
  const size_t ch = channels ? (j / inner) % channels : 0;
  switch (op) {
    case Ew::Copy: return a[j];
    case Ew::Fill: return f;
    case Ew::Relu: return std::max(a[j], 0.0f);
    case Ew::Negative: return std::min(a[j], 0.0f);
    case Ew::Add: return a[j] + b[j];
    case Ew::Mul: return a[j] * b[j];
    case Ew::Broadcast: return b[ch];
    case Ew::ChannelAffine: return a[j] * b[ch] + c[ch];
    case Ew::StabDivide: {
      const bool on = mode == 0 || (mode == 1 ? c[j] > 0.0f : c[j] < 0.0f);
      return on ? a[j] / (b[j] + (b[j] >= 0.0f ? f : -f)) : 0.0f;
    }
    case Ew::Accumulate: return out + f * a[j];
    case Ew::AccumulateProduct: return out + f * a[j] * b[j];
    case Ew::AccumulateBias: return out + f * b[ch];
    case Ew::ReluGrad: return b[j] > 0.0f ? a[j] : 0.0f;
    case Ew::Expand: return f * a[j / inner];
    case Ew::LeakyRelu: return a[j] < 0.0f ? f * a[j] : a[j];
    case Ew::LeakyReluGrad: return b[j] > 0.0f ? a[j] : f * a[j];
    case Ew::Sigmoid: return 1.0f / (1.0f + std::exp(-a[j]));
    case Ew::Tanh: return std::tanh(a[j]);
    case Ew::SigmoidGrad: return a[j] * c[j] * (1.0f - c[j]);
    case Ew::TanhGrad: return a[j] * (1.0f - c[j] * c[j]);
    case Ew::Clip: return std::min(std::max(a[j], f), f2);
    case Ew::ClipGrad: return f <= b[j] && b[j] <= f2 ? a[j] : 0.0f;
    case Ew::Divide: return a[j] / b[j];
    case Ew::Sqrt: return std::sqrt(a[j]);
    case Ew::Erf: return std::erf(a[j]);
    case Ew::Pow: return std::pow(a[j], f);
    case Ew::ErfGrad: return a[j] * 1.1283791670955126f * std::exp(-b[j] * b[j]);
    case Ew::PowGrad: return a[j] * f * std::pow(b[j], f - 1.0f);
    case Ew::Product: return f * a[j] * b[j];
    case Ew::SliceSum: break;   // the interpreter sums the slices itself (it needs count)
  }
  return 0.0f;
}

// A convolution's (or SliceSum's) epilogue (program.h): out = sum, f * m * sum, or out += f * m * sum, the
// product in Ew::Product's order.
void apply_epilogue(uint32_t mode, float f, const float* m, const float* sum, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if (mode == 0) out[j] = sum[j];
    else if (mode == 1) out[j] = f * m[j] * sum[j];
    else out[j] += f * m[j] * sum[j];
  }
}

// The sums an epilogue reads and the ratios a prologue makes (grow-only; one interpreter step at a time uses them).
std::vector<float>& grown(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v;
}
std::vector<float>& epilogue_scratch(size_t n) {
  static thread_local std::vector<float> scratch;
  return grown(scratch, n);
}
std::vector<float>& prologue_scratch(size_t n) {
  static thread_local std::vector<float> scratch;
  return grown(scratch, n);
}

uint32_t word_of(const float* p, size_t k) {
  uint32_t w;
  std::memcpy(&w, p + k, sizeof w);
  return w;
}

// A compensated (Kahan) float sum: the GPU has no double, and the CPU engine sums LayerNorm's and ReduceMean's
// statistics in double; compensation brings a float sum to within about one rounding of that, which is what
// keeps relevance through epsilon-stabilised near-zero denominators within 1e-5 of the CPU's.
struct KahanSum {
  float sum = 0.0f, carry = 0.0f;
  void add(float v) {
    const float y = v - carry, t = sum + y;
    carry = (t - sum) - y;
    sum = t;
  }
};

// One row of a Rows step (program.h): element l of the row is at base + l * inner.
void row_op(RowOp op, size_t base, size_t len, size_t inner, const float* a, const float* b, const float* c, bool has_c,
            float f, float* out) {
  auto at = [&](size_t l) { return base + l * inner; };
  switch (op) {
    case RowOp::Softmax:
    case RowOp::LogSoftmax: {
      float mx = -std::numeric_limits<float>::infinity();
      for (size_t l = 0; l < len; ++l) mx = std::max(mx, a[at(l)]);
      KahanSum sum;
      for (size_t l = 0; l < len; ++l) sum.add(std::exp(a[at(l)] - mx));
      if (op == RowOp::LogSoftmax) {   // (x - max) - log(sum): adding max back first would lose digits
        const float ls = std::log(sum.sum);
        for (size_t l = 0; l < len; ++l) out[at(l)] = (a[at(l)] - mx) - ls;
        return;
      }
      const float inv = 1.0f / sum.sum;   // times the reciprocal, as the CPU engine's softmax
      for (size_t l = 0; l < len; ++l) out[at(l)] = std::exp(a[at(l)] - mx) * inv;
      return;
    }
    case RowOp::LogSoftmaxGrad: {
      KahanSum total;
      for (size_t l = 0; l < len; ++l) total.add(c[at(l)]);
      for (size_t l = 0; l < len; ++l) out[at(l)] = c[at(l)] - std::exp(b[at(l)]) * total.sum;
      return;
    }
    case RowOp::SoftmaxGrad:
    case RowOp::SoftmaxRule: {
      const bool rule = op == RowOp::SoftmaxRule;
      KahanSum dot;
      for (size_t l = 0; l < len; ++l) dot.add(rule ? c[at(l)] : c[at(l)] * b[at(l)]);
      for (size_t l = 0; l < len; ++l) {
        const size_t k = at(l);
        out[k] = rule ? a[k] * (c[k] - b[k] * dot.sum) : b[k] * (c[k] - dot.sum);
      }
      return;
    }
    case RowOp::LayerNorm:
    case RowOp::LayerNormGrad: {
      KahanSum sum, sq;
      for (size_t l = 0; l < len; ++l) sum.add(a[at(l)]);
      const float mean = sum.sum / static_cast<float>(len);
      for (size_t l = 0; l < len; ++l) sq.add((a[at(l)] - mean) * (a[at(l)] - mean));
      const float rstd = 1.0f / std::sqrt(sq.sum / static_cast<float>(len) + f);
      if (op == RowOp::LayerNorm) {
        for (size_t l = 0; l < len; ++l) out[at(l)] = (a[at(l)] - mean) * rstd * b[l] + (has_c ? c[l] : 0.0f);
        return;
      }
      KahanSum sg, sgx;
      for (size_t l = 0; l < len; ++l) {
        const float g = c[at(l)] * b[l], xh = (a[at(l)] - mean) * rstd;
        sg.add(g), sgx.add(g * xh);
      }
      const float mg = sg.sum / static_cast<float>(len), mgx = sgx.sum / static_cast<float>(len);
      for (size_t l = 0; l < len; ++l) {
        const float g = c[at(l)] * b[l], xh = (a[at(l)] - mean) * rstd;
        out[at(l)] = rstd * (g - mg - xh * mgx);
      }
      return;
    }
  }
}

}  // namespace

// ---- the interpreter ---------------------------------------------------------------------------------------------
std::vector<std::vector<float>> run_on_cpu(const Program& prog) { return run_on_cpu(prog, nullptr); }

std::vector<std::vector<float>> run_on_cpu(const Program& prog, KeptBuffers* kept) {
  // As the bridge: another forward pass frees everything kept under the old one, the least recently used sets
  // of denominators beyond kKeptDenominatorSets go next; a range a finished run computed is skipped.
  std::vector<bool> skip(prog.kept.size(), false);
  if (kept) {
    auto drop = [&](const std::string& prefix) {
      for (auto it = kept->by_key.begin(); it != kept->by_key.end();)
        it = it->first.rfind(prefix + "/", 0) == 0 ? kept->by_key.erase(it) : std::next(it);
    };
    if (!prog.kept.empty() && prog.kept[0].key != kept->pass) {
      if (!kept->pass.empty()) drop(kept->pass);
      kept->pass = prog.kept[0].key;
      kept->complete.clear();
      kept->recent.clear();
    }
    const size_t used = prog.kept.empty() ? 0 : prog.kept.size() - 1;
    for (size_t r = 1; r < prog.kept.size(); ++r) {
      std::erase(kept->recent, prog.kept[r].key);
      kept->recent.push_back(prog.kept[r].key);
    }
    while (kept->recent.size() > std::max(kKeptDenominatorSets, used)) {
      drop(kept->recent.front());
      kept->complete.erase(kept->recent.front());
      kept->recent.erase(kept->recent.begin());
    }
    for (size_t r = 0; r < prog.kept.size(); ++r) skip[r] = kept->complete.count(prog.kept[r].key) > 0;
    kept->last_skipped = 0;
  }
  std::vector<std::vector<float>> mem(prog.buffers.size());
  for (size_t b = 0; b < prog.buffers.size(); ++b) {
    const Buffer& buf = prog.buffers[b];
    const std::vector<float>* have = nullptr;   // kept from an earlier run: not uploaded again
    if (kept && !buf.key.empty()) {
      const auto it = kept->by_key.find(buf.key);
      if (it != kept->by_key.end() && static_cast<int64_t>(it->second.size()) == buf.words) have = &it->second;
    }
    if (have) mem[b] = *have;
    else if (buf.data) mem[b].assign(buf.data, buf.data + buf.words);
    else mem[b].assign(static_cast<size_t>(buf.words), 0.0f);
  }
  for (size_t si = 0; si < prog.steps.size(); ++si) {
    bool skipped = false;
    for (size_t r = 0; r < prog.kept.size(); ++r) skipped = skipped || (skip[r] && si >= prog.kept[r].from && si < prog.kept[r].to);
    if (skipped) {
      ++kept->last_skipped;
      continue;
    }
    const Step& s = prog.steps[si];
    if (static_cast<uint32_t>(s.kernel) >= kernel_count) bad(si, s, "unknown kernel");
    const unsigned writes = written_bindings(s);
    float* p[max_bindings] = {};
    size_t size[max_bindings] = {};
    for (int i = 0; i < max_bindings; ++i) {
      const int id = s.bind[i];
      if (id < 0) {
        if (writes & (1u << i)) bad(si, s, "binding " + std::to_string(i + 1) + " is written but unbound");
        continue;
      }
      if (id >= static_cast<int>(mem.size())) bad(si, s, "binding " + std::to_string(i + 1) + " names buffer " + std::to_string(id) + " of " + std::to_string(mem.size()));
      for (int k = 0; k < max_bindings; ++k)
        if (k != i && s.bind[k] == id && ((writes >> i) & 1u)) bad(si, s, "buffer " + std::to_string(id) + " is written and bound twice");
      p[i] = mem[id].data();
      size[i] = mem[id].size();
    }
    const uint32_t count = s.words[0];
    auto need = [&](int i, int64_t n, const char* what) {
      if (!p[i] || static_cast<int64_t>(size[i]) < n)
        bad(si, s, std::string(what) + " needs " + std::to_string(n) + " words, buffer has " + std::to_string(size[i]));
    };
    switch (s.kernel) {
      case Kernel::ConvForward:
      case Kernel::ConvBackwardData: {
        const ConvParams cp = conv_params(s);
        const int64_t xs = cp.N * cp.C * cp.in_size(), ys = cp.N * cp.M * cp.out_size();
        const int64_t ws = cp.M * cp.C_per_group() * cp.kernel_size();
        const uint32_t epilogue = s.words[25], prologue = s.words[27];
        const float f = word_float(s.words[26]);
        if (epilogue > 2) bad(si, s, "unknown epilogue " + std::to_string(epilogue));
        if (prologue > 1) bad(si, s, "unknown prologue " + std::to_string(prologue));
        // Prologue 1: the step reads in / stab(d) (Ew::StabDivide's value) instead of its input.
        auto input = [&](int64_t n) -> const float* {
          if (!prologue) return p[0];
          need(4, n, "d");
          std::vector<float>& ratio = prologue_scratch(static_cast<size_t>(n));
          for (int64_t j = 0; j < n; ++j)
            ratio[j] = ew_value(Ew::StabDivide, static_cast<size_t>(j), p[0], p[4], nullptr, 0.0f, 1, 0, word_float(s.words[28]), 0, 0.0f);
          return ratio.data();
        };
        if (s.kernel == Kernel::ConvForward) {
          const int64_t splits = std::max<uint32_t>(1, s.words[24]);
          need(0, xs, "x"), need(1, ws, "w"), need(3, splits * ys, "y");
          const float* x = input(xs);
          if (s.words[23]) need(2, cp.M, "b");
          if (count != ys) bad(si, s, "count is not N*M*out");
          if (epilogue && (s.words[23] || splits > 1)) bad(si, s, "an epilogue with a bias or split-K");
          if (epilogue) {
            need(2, ys, "m");
            std::vector<float>& sum = epilogue_scratch(static_cast<size_t>(ys));
            conv_forward(cp, x, p[1], nullptr, sum.data());
            apply_epilogue(epilogue, f, p[2], sum.data(), p[3], ys);
          } else {
            conv_forward(cp, x, p[1], s.words[23] ? p[2] : nullptr, p[3]);
            std::fill(p[3] + ys, p[3] + splits * ys, 0.0f);   // split-K: the whole sum in slice 0
          }
        } else {
          const int64_t splits = std::max<uint32_t>(1, s.words[24]);
          need(0, ys, "dy"), need(1, ws, "w"), need(2, splits * xs, "dx");
          if (count != xs) bad(si, s, "count is not N*C*in");
          if (epilogue && splits > 1) bad(si, s, "an epilogue with split-K");
          if (s.words[29] > 1) bad(si, s, "unknown way " + std::to_string(s.words[29]) + " (word 29: 0 gather, 1 tiled)");
          if (s.words[29] == 0 && (s.words[30] < 1 || s.words[30] > kConvBackwardGatherChannels))
            bad(si, s, "a gather's blocks of " + std::to_string(s.words[30]) + " channels (word 30: 1-" +
                           std::to_string(kConvBackwardGatherChannels) + ")");
          const float* dy = input(ys);
          if (epilogue) {
            need(3, xs, "m");
            std::vector<float>& sum = epilogue_scratch(static_cast<size_t>(xs));
            conv_backward_data(cp, dy, p[1], sum.data());
            apply_epilogue(epilogue, f, p[3], sum.data(), p[2], xs);
          } else {
            conv_backward_data(cp, dy, p[1], p[2]);
            std::fill(p[2] + xs, p[2] + splits * xs, 0.0f);   // split-K: the whole sum in slice 0
          }
        }
        break;
      }
      case Kernel::Gemm: {
        const int64_t M = s.words[1], N = s.words[2], K = s.words[3], batch = s.words[9];
        const bool tA = s.words[4], tB = s.words[5];
        const int64_t lda = s.words[6], ldb = s.words[7], ldc = s.words[8];
        const int64_t oa = s.words[10], ob = s.words[11], oc = s.words[12];
        if (count != batch * M * N) bad(si, s, "count is not batch*M*N");
        need(0, (batch - 1) * oa + (tA ? (K - 1) * lda + M : (M - 1) * lda + K), "A");
        need(1, (batch - 1) * ob + (tB ? (N - 1) * ldb + K : (K - 1) * ldb + N), "B");
        need(2, (batch - 1) * oc + (M - 1) * ldc + N, "C");
        for (int64_t b = 0; b < batch; ++b) gemm(tA, tB, M, N, K, 1.0f, p[0] + b * oa, lda, p[1] + b * ob, ldb, 0.0f, p[2] + b * oc, ldc);
        break;
      }
      case Kernel::Elementwise: {
        const auto op = static_cast<Ew>(s.words[1]);
        if (s.words[1] >= ew_count) bad(si, s, "unknown elementwise op " + std::to_string(s.words[1]));
        const uint32_t inner = std::max<uint32_t>(1, s.words[2]), channels = s.words[3], mode = s.words[5];
        const float f = word_float(s.words[4]);
        need(3, count, "out");
        const bool reads_a = op != Ew::Fill && op != Ew::Broadcast && op != Ew::AccumulateBias;
        const bool reads_b = op == Ew::Add || op == Ew::Mul || op == Ew::Divide || op == Ew::ErfGrad || op == Ew::PowGrad || op == Ew::StabDivide || op == Ew::AccumulateProduct ||
                             op == Ew::Product ||
                             op == Ew::ReluGrad || op == Ew::LeakyReluGrad || op == Ew::ClipGrad;
        const bool reads_ch = op == Ew::Broadcast || op == Ew::ChannelAffine || op == Ew::AccumulateBias;
        if (reads_a) need(0, op == Ew::Expand ? (count + inner - 1) / inner : op == Ew::SliceSum ? int64_t{count} * inner : count, "a");
        if (reads_b) need(1, count, "b");
        if (reads_ch) {
          if (channels == 0) bad(si, s, "channels is 0");
          need(1, channels, "b");
          if (op == Ew::ChannelAffine) need(2, channels, "c");
        }
        if ((op == Ew::StabDivide && s.words[5] != 0) || op == Ew::SigmoidGrad || op == Ew::TanhGrad) need(2, count, "c");
        if (op == Ew::SliceSum) {   // (ew_value has no count to find the slices with)
          if (mode > 2) bad(si, s, "unknown SliceSum mode " + std::to_string(mode));
          if (mode) need(1, count, "b");
          std::vector<float>& sums = epilogue_scratch(count);
          for (size_t j = 0; j < count; ++j) {
            float sum = 0.0f;
            for (uint32_t sl = 0; sl < inner; ++sl) sum += p[0][sl * size_t{count} + j];
            sums[j] = sum;
          }
          apply_epilogue(mode, f, p[1], sums.data(), p[3], count);
          break;
        }
        for (size_t j = 0; j < count; ++j) p[3][j] = ew_value(op, j, p[0], p[1], p[2], p[3][j], inner, channels, f, mode, word_float(s.words[6]));
        break;
      }
      case Kernel::MaxPool:
      case Kernel::MaxPoolBackward: {
        const PoolParams pp = pool_params(s, false);
        const int64_t xs = pp.C * pp.in_size(), ys = pp.C * pp.out_size();
        if (s.kernel == Kernel::MaxPool) {
          need(0, xs, "x"), need(1, ys, "y"), need(2, ys, "idx");
          if (count != ys) bad(si, s, "count is not planes*out");
          std::vector<int64_t> idx(static_cast<size_t>(ys));
          max_pool(pp, p[0], p[1], idx.data());
          for (int64_t o = 0; o < ys; ++o) {
            const bool empty = p[1][o] == -std::numeric_limits<float>::infinity() && p[0][idx[o]] != p[1][o];
            const uint32_t w = empty ? 0xffffffffu : static_cast<uint32_t>(idx[o]);
            std::memcpy(&p[2][o], &w, sizeof w);
          }
        } else {
          need(0, ys, "dy"), need(1, ys, "idx"), need(2, xs, "dx");
          if (count != xs) bad(si, s, "count is not planes*in");
          std::fill(p[2], p[2] + xs, 0.0f);
          for (int64_t o = 0; o < ys; ++o) {
            uint32_t w;
            std::memcpy(&w, &p[1][o], sizeof w);
            if (w != 0xffffffffu && w < xs) p[2][w] += p[0][o];
          }
        }
        break;
      }
      case Kernel::AvgPool:
      case Kernel::AvgPoolBackward: {
        const PoolParams pp = pool_params(s, true);
        const int64_t xs = pp.C * pp.in_size(), ys = pp.C * pp.out_size();
        if (s.kernel == Kernel::AvgPool) {
          need(0, xs, "x"), need(1, ys, "y");
          if (count != ys) bad(si, s, "count is not planes*out");
          avg_pool(pp, p[0], p[1]);
        } else {
          need(0, ys, "dy"), need(1, xs, "dx");
          if (count != xs) bad(si, s, "count is not planes*in");
          avg_pool_backward(pp, p[0], p[1]);
        }
        break;
      }
      case Kernel::RowMean: {
        const int64_t sz = s.words[1];
        need(0, count * sz, "x"), need(1, count, "y");
        global_pool(false, count, sz, p[0], p[1]);
        break;
      }
      case Kernel::Seed: {
        const int64_t per = s.words[1];
        need(0, count * per, "y"), need(1, count * per, "seed"), need(2, count, "targets");
        for (int64_t b = 0; b < count; ++b) {
          const float* y = p[0] + b * per;
          int64_t t = s.words[4] ? word_of(p[2], static_cast<size_t>(b)) : s.words[2];
          if (!s.words[4] && s.words[2] == no_target) t = std::max_element(y, y + per) - y;
          if (t < 0 || t >= per) bad(si, s, "target " + std::to_string(t) + " out of range");
          std::fill(p[1] + b * per, p[1] + (b + 1) * per, 0.0f);
          p[1][b * per + t] = s.words[3] ? y[t] : 1.0f;
          const uint32_t w = static_cast<uint32_t>(t);
          std::memcpy(&p[2][b], &w, sizeof w);
        }
        break;
      }
      case Kernel::Gather: {
        const uint32_t mode = s.words[1];
        if (mode > static_cast<uint32_t>(GatherMode::Sum)) bad(si, s, "unknown gather mode " + std::to_string(mode));
        need(3, count, "out");
        auto source = [&](uint32_t i) {
          if (static_cast<size_t>(i) >= size[0]) bad(si, s, "index " + std::to_string(i) + " past src's " + std::to_string(size[0]) + " words");
          return p[0][i];
        };
        if (mode == static_cast<uint32_t>(GatherMode::Sum)) {
          need(2, int64_t{count} + 1, "offsets");
          for (size_t j = 0; j < count; ++j) {
            const uint32_t from = word_of(p[2], j), to = word_of(p[2], j + 1);
            if (to < from || to > size[1]) bad(si, s, "offsets " + std::to_string(from) + ".." + std::to_string(to) + " outside idx");
            KahanSum sum;
            for (uint32_t t = from; t < to; ++t) sum.add(source(word_of(p[1], t)));
            p[3][j] = sum.sum;
          }
          break;
        }
        need(1, count, "idx");
        const float f = word_float(s.words[2]);
        for (size_t j = 0; j < count; ++j) {
          const uint32_t i = word_of(p[1], j);
          if (i != no_index) p[3][j] = source(i);
          else if (mode == static_cast<uint32_t>(GatherMode::Select)) p[3][j] = f;
        }
        break;
      }
      case Kernel::Window: {
        const uint64_t per = std::max<uint32_t>(1, s.words[1]), spatial = std::max<uint32_t>(1, s.words[2]);
        const Dims3 span = dims(s, 3), origin = dims(s, 6), extent = dims(s, 9);
        const uint32_t mode = s.words[12], per_out = s.words[14];
        if (mode > 1) bad(si, s, "unknown window mode " + std::to_string(mode));
        if (span[0] * span[1] * span[2] != static_cast<int64_t>(spatial) || per % spatial) bad(si, s, "span does not match the sizes");
        need(3, count, "out");
        if (mode == 0) need(0, count, "a");
        const int64_t batch = (int64_t{count} + static_cast<int64_t>(per) - 1) / static_cast<int64_t>(per);
        if (mode == 1) need(0, batch * per_out, "a"), need(1, batch * per_out, "b"), need(2, batch, "c");
        for (size_t j = 0; j < count; ++j) {
          const int64_t sp = static_cast<int64_t>(j % spatial);
          const int64_t at[3] = {sp / (span[1] * span[2]), (sp / span[2]) % span[1], sp % span[2]};
          bool inside = true;
          for (int d = 0; d < 3; ++d) inside = inside && at[d] >= origin[d] && at[d] < origin[d] + extent[d];
          if (mode == 0) {
            p[3][j] = inside ? word_float(s.words[13]) : p[0][j];
          } else if (inside) {
            const size_t b = j / per, t = word_of(p[2], b);
            if (t >= per_out) bad(si, s, "target " + std::to_string(t) + " out of range");
            p[3][j] += p[0][b * per_out + t] - p[1][b * per_out + t];
          }
        }
        break;
      }
      case Kernel::Prune: {
        const int64_t per = s.words[1];
        const float p_pos = word_float(s.words[2]), p_neg = word_float(s.words[3]);
        const uint32_t mode = s.words[4];
        if (mode > 1) bad(si, s, "unknown prune mode " + std::to_string(mode));
        need(0, int64_t{count} * per, "r");
        if (mode == 1) need(1, int64_t{count} * per, "keep");
        for (int64_t b = 0; b < count; ++b) {
          if (mode == 0) prune_relevance(p[0] + b * per, per, p_pos, p_neg);
          else prune_keep_mask(p[0] + b * per, per, p_pos, p_neg, p[1] + b * per);
        }
        break;
      }
      case Kernel::Rows: {
        const auto op = static_cast<RowOp>(s.words[1]);
        if (s.words[1] >= row_op_count) bad(si, s, "unknown row op " + std::to_string(s.words[1]));
        const int64_t len = s.words[2], inner = std::max<uint32_t>(1, s.words[3]), total = int64_t{count} * len;
        if (count % inner) bad(si, s, "count is not a multiple of inner");
        const bool per_l = op == RowOp::LayerNorm || op == RowOp::LayerNormGrad, has_c = s.words[5] != 0;
        need(3, total, "out");
        const bool forward = op == RowOp::Softmax || op == RowOp::LogSoftmax;
        if (op != RowOp::SoftmaxGrad && op != RowOp::LogSoftmaxGrad) need(0, total, "a");
        if (!forward) need(1, per_l ? len : total, "b");
        if (op == RowOp::LayerNorm ? has_c : !forward) need(2, op == RowOp::LayerNorm ? len : total, "c");
        for (int64_t r = 0; r < count; ++r) {
          const int64_t o = r / inner, i = r % inner;
          row_op(op, static_cast<size_t>(o * len * inner + i), static_cast<size_t>(len), static_cast<size_t>(inner), p[0], p[1], p[2],
                 has_c, word_float(s.words[4]), p[3]);
        }
        break;
      }
    }
  }
  std::vector<std::vector<float>> out;
  for (int id : prog.readback) {
    if (id < 0 || id >= static_cast<int>(mem.size())) fail(ErrorKind::Internal, "GPU program: readback of buffer " + std::to_string(id));
    out.push_back(mem[id]);
  }
  if (kept) {   // a finished run: keyed buffers stay as the run left them (the bridge's are the GPU buffers)
    for (size_t b = 0; b < prog.buffers.size(); ++b)
      if (!prog.buffers[b].key.empty()) kept->by_key[prog.buffers[b].key] = std::move(mem[b]);
    for (const KeptRange& r : prog.kept) kept->complete.insert(r.key);
  }
  return out;
}

}  // namespace relscope::kernels::gpu
