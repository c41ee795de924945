// relscope/kernels/webgpu/program.h — a GPU program: buffers and a list of kernel dispatches.
//
// Sections: kernels and their words | Program | running it on the CPU (the reference)
//
// Why a program and not one call per kernel: in the browser WebGPU results come back asynchronously
// (mapAsync), and a synchronous engine cannot wait for them. So the engine *compiles* a whole forward pass
// plus relevance sweep into a Program (src/relevance/gpu_explain.h); the JS bridge (bridge.mjs) creates the
// buffers, encodes every dispatch into one command buffer and reads the results back once. Buffers stay
// on the GPU between layers. The same Program runs on the CPU (run_on_cpu, through src/kernels/cpu), which
// is what every WGSL kernel is tested against (ggml's pattern: one op, one kernel per back-end).
//
// A buffer is an array of 32-bit words (float32, or uint32 for max-pool indices and targets). Every step
// binds its uniform words at binding 0 and up to five buffers at bindings 1..5 (-1: unused; the bridge
// binds a dummy). A buffer a step writes is bound once in that step (WebGPU forbids aliasing a writable
// binding); run_on_cpu checks this, so native tests catch a builder that breaks it.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace relscope::kernels::gpu {

// ---- kernels and their words ---------------------------------------------------------------------------
// Word 0 of every step is `count`: the number of invocations (one per output element unless said).
// Geometry triples are (d, h, w) as in ConvParams/PoolParams: 1-D and 2-D ops pad the front with 1s.
//
// ConvForward      [x, w, b, y]  y = conv(x, w) (+ b). count = N*M*out.  words: 1 N, 2 C, 3 M, 4 group,
//                  5-7 in, 8-10 out, 11-13 kernel, 14-16 stride, 17-19 dilation, 20-22 pad_begin, 23 has_bias,
//                  24 k_splits (0, 1: none), 25 epilogue, 26 f (float). Split-K (a layer of few output tiles and
//                  a long K, which would leave most of a GPU idle): y holds k_splits slices of count words, slice
//                  s the sum over the s-th K range (the bias in slice 0); an Ew::SliceSum adds them. The CPU
//                  reference puts the whole result in slice 0 and zeros in the others: only the slices' sum is
//                  specified. Epilogue (what becomes of the sum; not with a bias or split-K): 0 y = sum (+ b),
//                  1 y = f * m[j] * sum, 2 y += f * m[j] * sum, with m (output-sized) bound as b: a rule term's
//                  x * f^T(ratio) without a Product step after it. Prologue (what the step reads as x): word 27
//                  0 x itself, 1 x / (d + (d >= 0 ? e : -e)) with e = word 28 (float) and d (x-sized) at binding
//                  5: Ew::StabDivide's ratio R / stab(z) read on the fly, without a step before it.
// ConvBackwardData [dy, w, dx, m, d] dx = conv^T(dy, w), the same words as the forward conv (epilogue 1-2 with m
//                  at binding 4, prologue 1 on dy with d at binding 5); count = N*C*in. Word 29: how the
//                  shader computes it, 1 an implicit GEMM per stride phase in 64x64 tiles, 0 a gather per dx
//                  position and block of word 30 (1 to kConvBackwardGatherChannels) channels of a group (the
//                  builder picks 1 from kConvBackwardTiledMinChannels input channels a group, else 0 with blocks
//                  of min(cg, kConvBackwardGatherChannels); the result is the same either way). Split-K (word
//                  24) as the forward conv's, dx then k_splits slices of count words; only the tiled path
//                  deals out K ranges, the gather puts the whole sum in slice 0 and zeros in the others, as
//                  the CPU reference does.
// Gemm             [A, B, C]     C[b] = op(A[b]) op(B[b]); count = batch*M*N. words: 1 M, 2 N, 3 K, 4 transA,
//                  5 transB, 6 lda, 7 ldb, 8 ldc, 9 batch, 10-12 per-batch offsets of A, B, C (0: shared).
//                  op(A)(i,k) = transA ? A[k*lda+i] : A[i*lda+k]; op(B)(k,j) = transB ? B[j*ldb+k] : B[k*ldb+j].
// Elementwise      [a, b, c, out] words: 1 op (Ew), 2 inner, 3 channels, 4 f (float), 5 mode, 6 f2 (float). ch(j) =
//                  (j / inner) % channels. Ops below; `out +=` ops read and write out.
// MaxPool          [x, y, idx]   count = planes*out. words: 1 planes (N*C), 2-4 in, 5-7 out, 8-10 kernel,
//                  11-13 stride, 14-16 dilation, 17-19 pad_begin. idx (uint32): flat index into x of the
//                  first maximum in row-major window order; padding never wins; a window with no tap in
//                  the input gives -inf and idx 0xffffffff.
// MaxPoolBackward  [dy, idx, dx] dx[i] = sum of dy[o] over outputs o with idx[o] == i; MaxPool's words,
//                  count = planes*in.
// AvgPool          [x, y]        MaxPool's words, plus 20-22 pad_end, 23 count_include_pad. Divisor: taps in
//                  the input, or (count_include_pad) taps inside [-pad_begin, in + pad_end); 0 taps give 0.
// AvgPoolBackward  [dy, dx]      dx[i] = sum of dy[o] / divisor(o) over windows o holding i; count = planes*in.
// RowMean          [x, y]        y[r] = mean of x[r*size .. r*size+size); count = rows, word 1 size.
// Seed             [y, seed, targets]  per sample b (count = batch): t = targets[b] as it is (word 4 nonzero:
//                  targets given, or found by an earlier Seed), else word 2, or (0xffffffff) the first arg-max
//                  of y's row b (word 1 values per sample); seed's row b is 0 but for seed[b*per+t] =
//                  word 3 ? y[b*per+t] : 1; targets[b] = t (uint32).
// Gather           [src, idx, offsets, out]  moves elements along an index map made on the CPU (routing ops,
//                  broadcasting and its adjoint); count = out's elements; words: 1 mode (GatherMode), 2 f (float).
//                  idx and offsets are uint32; no_index means "no source".
// Rows             [a, b, c, out]  one invocation per row (count = outer*inner rows); words: 1 op (RowOp), 2 len,
//                  3 inner, 4 f (float), 5 has_c. Row r = (o, i) with o = r / inner, i = r % inner holds the
//                  elements (o*len + l)*inner + i, l < len; "b[l]" below is b indexed by l alone (a per-row
//                  parameter such as LayerNorm's scale), sums run over l in order, Kahan-compensated (the CPU
//                  engine sums these statistics in double; the GPU has no double).
// Window           [a, b, c, out]  occlusion's window over the trailing spatial dims of a batch of inputs; count
//                  = the input's elements, one invocation each; element j sits at spatial offset sp = j % word 2
//                  (spatial size) of sample j / word 1 (per sample), sp's (d, h, w) from words 3-5 (span);
//                  inside = origin (6-8) <= (d, h, w) < origin + extent (9-11). Word 12 mode:
//                  0 occlude  out = inside ? f (word 13, float) : a                     (a: the input)
//                  1 drop     out += inside ? a[b*per_out+t] - b[b*per_out+t] : 0, t = c[b] (uint32 targets),
//                             per_out = word 14: the target's drop from the plain output a to the occluded b
// Prune            [r, keep]       pruned LRP's choice per sample (kernels.h: prune_relevance, prune_keep_mask);
//                  one 256-wide workgroup per sample, count = samples. words: 1 per (values per sample), 2 p_pos,
//                  3 p_neg (floats), 4 mode: 0 prune r in place (keep unbound), 1 keep = 0/1 mask, r unchanged.
//                  The CPU sums the masses in double, the GPU in double-float (~44 bits): the choice agrees but
//                  for a running sum within ~1e-13 of the budget.
constexpr int max_bindings = 5;   // storage buffers per step (bridge.mjs: STEP_WORDS = 1 + 32 + 5)
enum class Kernel : uint32_t {
  ConvForward, ConvBackwardData, Gemm, Elementwise, MaxPool, MaxPoolBackward, AvgPool, AvgPoolBackward, RowMean,
  Seed, Gather, Rows, Window, Prune,
};
constexpr int kernel_count = 14;
// ConvBackwardData runs tiled, an implicit GEMM per stride phase, from this many input channels a group, else
// as a gather (its word 29): a 64-row tile of fewer channels would be mostly empty.
constexpr int64_t kConvBackwardTiledMinChannels = 16;
// The gather's blocks (word 30): channels of a group one invocation computes, reading each dy once for all.
constexpr int64_t kConvBackwardGatherChannels = 4;
// The WGSL entry file of each kernel (src/kernels/webgpu/<name>.wgsl) and its name in JS.
const char* kernel_name(Kernel k);

// Elementwise ops (word 1). j is the element index, f = word 4 and f2 = word 6 as floats (may be +-inf).
enum class Ew : uint32_t {
  Copy,               // out = a
  Fill,               // out = f
  Relu,               // out = max(a, 0)
  Negative,           // out = min(a, 0)
  Add,                // out = a + b
  Mul,                // out = a * b
  Broadcast,          // out = b[ch(j)]
  ChannelAffine,      // out = a * b[ch(j)] + c[ch(j)]
  StabDivide,         // out = on(j) ? a / (b + (b >= 0 ? f : -f)) : 0; on: mode 0 always, 1 c > 0, 2 c < 0
  Accumulate,         // out += f * a
  AccumulateProduct,  // out += f * a * b
  AccumulateBias,     // out += f * b[ch(j)]
  ReluGrad,           // out = b > 0 ? a : 0
  Expand,             // out = f * a[j / inner]
  LeakyRelu,          // out = a < 0 ? f * a : a
  LeakyReluGrad,      // out = b > 0 ? a : f * a        (b: the activation's input)
  Sigmoid,            // out = 1 / (1 + exp(-a))
  Tanh,               // out = tanh(a)
  SigmoidGrad,        // out = a * c * (1 - c)          (c: the activation's output)
  TanhGrad,           // out = a * (1 - c * c)
  Clip,               // out = min(max(a, f), f2)
  ClipGrad,           // out = f <= b && b <= f2 ? a : 0   (b: the activation's input)
  Divide,             // out = a / b
  Sqrt,               // out = sqrt(a)
  Erf,                // out = erf(a)  (WGSL has none: Abramowitz-Stegun 7.1.26, |error| <= 1.5e-7)
  Pow,                // out = a^f; an integral f keeps the sign rules of a negative base (WGSL's pow does not)
  ErfGrad,            // out = a * 2/sqrt(pi) * exp(-b*b)        (b: the activation's input)
  PowGrad,            // out = a * f * b^(f-1)                   (b: the activation's input; Pow's rules)
  SliceSum,           // sum = the sum over s < inner of a[s * count + j], in s order (split-K's slices); mode 0
                      // out = sum, 1 out = f * b * sum, 2 out += f * b * sum (a convolution's epilogue)
  Product,            // out = f * a * b   (AccumulateProduct's first term: no Fill of zeros before it)
};
constexpr int ew_count = 30;

constexpr uint32_t no_target = 0xffffffffu;
constexpr uint32_t no_index = 0xffffffffu;

// Gather modes (word 1).
enum class GatherMode : uint32_t {
  Select,   // out[j] = idx[j] == no_index ? f : src[idx[j]]
  Place,    // out[j] = src[idx[j]] where idx[j] != no_index; the other elements keep their value
  Sum,      // out[j] = sum of src[idx[t]] for t in [offsets[j], offsets[j+1]), in t order, Kahan-compensated
            // (an adjoint of Select; also ReduceMean/ReduceSum, which the CPU sums in double)
};

// Row ops (word 1); each reads and writes whole rows (see Rows above).
enum class RowOp : uint32_t {
  Softmax,        // out = exp(a - max_l a) * (1 / sum_l exp(a - max_l a))  (the reciprocal as the CPU engine)
  SoftmaxGrad,    // out = b * (c - sum_l c*b)                   b: the softmax output, c: dy
  SoftmaxRule,    // out = a * (c - b * sum_l c)                  AttnLRP; a: x, b: the softmax output, c: R
  LayerNorm,      // out = (a - mean) * rstd * b[l] + (has_c ? c[l] : 0), rstd = 1 / sqrt(var + f), var biased
  LayerNormGrad,  // out = rstd * (g - mean_l g - xh * mean_l(g * xh)), xh = (a - mean) * rstd, g = c * b[l]
                  //       (the gradient of LayerNorm with respect to its input; a: x, b: scale, c: dy)
  LogSoftmax,     // out = (a - max_l a) - log(sum_l exp(a - max_l a))
  LogSoftmaxGrad, // out = c - exp(b) * sum_l c                  b: the log-softmax output, c: dy
};
constexpr int row_op_count = 7;

inline uint32_t float_word(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  return w;
}
inline float word_float(uint32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

// ---- Program ------------------------------------------------------------------------------------------------
struct Buffer {
  int64_t words = 0;             // size in 32-bit words (at least 1)
  const float* data = nullptr;   // initial contents (`words` floats), else zero-filled
  std::string key;               // non-empty: kept by a runner between runs under this key (weights; a kept
                                 // range's buffers and its forward pass's inputs, dropped with the pass)
};

struct Step {
  Kernel kernel = Kernel::Elementwise;
  std::array<uint32_t, 32> words{};
  std::array<int, 5> bind{-1, -1, -1, -1, -1};
};

// Steps whose results a runner may keep between runs: kept[0] the forward pass, kept[1] (if any) the rules'
// denominators computed on it. Range r's steps [from, to) write only buffers keyed `key` + "/" + ordinal, and no
// step outside the range writes those. Every later range's key starts with kept[0]'s key + "/". A runner that
// still holds a range from an earlier, successful run of a program with the same key skips its steps (a key
// hashes the inputs and the steps themselves). It keeps one forward pass at a time (another kept[0] key frees
// everything kept under the old one first) and the kKeptDenominatorSets most recently used sets of
// denominators on it (a composite and the one before it: the canvas' A/B switch costs no forward GEMMs; the
// least recently used set is freed before a new one is created, so kept memory stays at most the pass plus
// that many sets, each no larger than the pass).
struct KeptRange {
  std::string key;
  size_t from = 0, to = 0;
};
constexpr size_t kKeptDenominatorSets = 2;   // bridge.mjs: KEPT_DENOMINATOR_SETS

struct Program {
  std::vector<Buffer> buffers;
  std::vector<Step> steps;
  std::vector<int> readback;     // buffers whose contents the caller gets back, in this order
  std::vector<KeptRange> kept;   // empty: nothing to keep (programs of several forward passes)

  int add_buffer(int64_t words, const float* data = nullptr, std::string key = {});
};

// Which bindings a step writes (bit i: bind[i], binding i + 1).
unsigned written_bindings(const Step& s);

// ---- running it on the CPU ----------------------------------------------------------------------------------
// Runs every step with src/kernels/cpu and returns the readback buffers' words (floats; uint32 buffers
// bit-cast). Throws Internal on a malformed program (binding out of range, a written buffer bound twice,
// words that do not fit the buffers).
std::vector<std::vector<float>> run_on_cpu(const Program& program);

// What a runner keeps between runs, as the JS bridge does: keyed buffers (constants, a kept pass's buffers)
// and which pass they hold. run_on_cpu with one skips a kept pass's steps as the bridge does.
struct KeptBuffers {
  std::map<std::string, std::vector<float>> by_key;
  std::string pass;                  // the forward pass (kept[0]) whose buffers by_key holds
  std::set<std::string> complete;    // ranges a finished run computed (or reused): skipped from now on
  std::vector<std::string> recent;   // denominator ranges' keys by use, the most recent last
  size_t last_skipped = 0;           // steps the last run skipped
};
std::vector<std::vector<float>> run_on_cpu(const Program& program, KeptBuffers* kept);

}  // namespace relscope::kernels::gpu
