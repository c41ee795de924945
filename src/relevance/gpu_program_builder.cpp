// relscope/relevance/gpu_program_builder.cpp — the steps of linear layers and their constant buffers.
//
// Sections: steps (put3, conv with split-K and epilogue, gemm) | transposed convolutions as forward ones | linear
//           layers (forward, backward, backward times the input) | weights and biases
#include <numeric>

#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance::gpu_detail {

// ---- steps ---------------------------------------------------------------------------------------------------------
void put3(Step& s, int at, const Dims3& d) {
  for (int k = 0; k < 3; ++k) s.words[at + k] = static_cast<uint32_t>(d[k]);
}

// Split-K for a convolution whose 64x64 output tiles are too few to keep a GPU busy (a ResNet's last stages:
// 8-16 tiles) and whose K is long: K ranges of at least 256 so that the tiles times ranges reach about 128
// workgroups, the partial sums in slices added by one elementwise step.
int64_t k_splits(int64_t tiles, int64_t kdim) {
  constexpr int64_t kWorkgroups = 128, kMinRange = 256;
  return std::max<int64_t>(1, std::min((kWorkgroups + tiles - 1) / tiles, kdim / kMinRange));
}

// A forward convolution: tiles of (output channels, positions), K = input channels x taps.
int64_t conv_k_splits(const ConvParams& cp) {
  return k_splits((cp.out_size() + 63) / 64 * ((cp.M / cp.group + 63) / 64) * cp.N * cp.group,
                  cp.C_per_group() * cp.kernel_size());
}

// A strided layer's transposed convolution when it runs tiled, per stride phase (program.h): its
// tiles are the phases' positions x the input channels, its K the output channels x a phase's taps (at most
// ceil(k / jstep) a dim, jstep = stride / gcd(stride, dilation)). ResNet-18's layer4 has 16 such tiles and
// K = 512 x 1-4 taps: one long K per workgroup on 16 of an H200's 132 SMs took 0.72 ms, 8 ranges 0.11 ms.
bool conv_backward_tiled(const ConvParams& cp) { return cp.C_per_group() >= kernels::gpu::kConvBackwardTiledMinChannels; }

int64_t conv_backward_k_splits(const ConvParams& cp) {
  if (!conv_backward_tiled(cp)) return 1;   // the gather deals out none
  int64_t phases = 1, positions = 1, taps = 1;
  for (int d = 0; d < 3; ++d) {
    const int64_t s = cp.stride[d], jstep = s / std::gcd(s, static_cast<int64_t>(cp.dilation[d]));
    phases *= s, positions *= (cp.in[d] + s - 1) / s, taps *= (cp.kernel[d] + jstep - 1) / jstep;
  }
  return k_splits((positions + 63) / 64 * ((cp.C_per_group() + 63) / 64) * cp.N * cp.group * phases, cp.M / cp.group * taps);
}

// The epilogue runs in the step itself, or with split-K in the SliceSum that adds the slices.
void conv_step(Builder& B, Kernel k, const ConvParams& cp, int in, int w, int bias, int out, const Epilogue& ep,
               const Prologue& pro) {
  if (ep.mode && bias >= 0) fail(ErrorKind::Internal, "GPU program: a convolution step with a bias and an epilogue");
  const int64_t count = k == Kernel::ConvForward ? cp.N * cp.M * cp.out_size() : cp.N * cp.C * cp.in_size();
  const int64_t splits = k == Kernel::ConvForward ? conv_k_splits(cp) : conv_backward_k_splits(cp);
  const int y = splits > 1 ? B.temp(splits * count) : out;
  const bool in_step = splits == 1 && ep.mode;
  Step& s = k == Kernel::ConvForward ? B.step(k, count, {in, w, in_step ? ep.m : bias, y, pro.d})
                                     : B.step(k, count, {in, w, y, in_step ? ep.m : -1, pro.d});
  s.words[1] = static_cast<uint32_t>(cp.N), s.words[2] = static_cast<uint32_t>(cp.C);
  s.words[3] = static_cast<uint32_t>(cp.M), s.words[4] = static_cast<uint32_t>(cp.group);
  put3(s, 5, cp.in), put3(s, 8, cp.out), put3(s, 11, cp.kernel), put3(s, 14, cp.stride), put3(s, 17, cp.dilation);
  put3(s, 20, cp.pad_begin);
  s.words[23] = bias >= 0 ? 1 : 0;
  s.words[24] = static_cast<uint32_t>(splits);
  s.words[25] = in_step ? ep.mode : 0;
  s.words[26] = float_word(in_step ? ep.f : 0.0f);
  s.words[27] = pro.d >= 0 ? 1 : 0;
  s.words[28] = float_word(pro.d >= 0 ? pro.eps : 0.0f);
  if (k == Kernel::ConvBackwardData) {   // tiled, or a gather in blocks of channels
    const bool tiled = conv_backward_tiled(cp);
    s.words[29] = tiled ? 1 : 0;
    s.words[30] = tiled ? 0 : static_cast<uint32_t>(std::min(cp.C_per_group(), kernels::gpu::kConvBackwardGatherChannels));
  }
  if (splits > 1) {
    B.ew(Ew::SliceSum, count, y, ep.mode ? ep.m : -1, -1, out, ep.f, splits, 0, ep.mode);
    B.release(y);
  }
}

void gemm_step(Builder& B, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int a, int64_t lda, int b, int64_t ldb,
               int c, int64_t ldc, int64_t batch, int64_t off_a, int64_t off_b, int64_t off_c) {
  Step& s = B.step(Kernel::Gemm, batch * M * N, {a, b, c});
  const int64_t w[] = {M, N, K, tA, tB, lda, ldb, ldc, batch, off_a, off_b, off_c};
  for (int i = 0; i < 12; ++i) s.words[1 + i] = static_cast<uint32_t>(w[i]);
}

// ---- transposed convolutions as forward ones ---------------------------------------------------------------------
// conv^T(dy; w) of a stride-1 convolution is the convolution of dy with the flipped, channel-swapped kernel
// w~[g*cg + c, m, k-1-j] = w[g*mg + m, c, j] and front padding dilation*(k-1) - pad: dx[i] = sum over taps j
// of dy[i + pad - j*dil] w[j] = sum over j~ of dy[i - pad~ + j~*dil] w~[j~]. So the backward sweep's
// transposed convolutions of stride-1 layers (most of a ResNet's) run on the forward kernel, which also has split-K;
// strided layers run conv_backward_data.wgsl (tiled per stride phase, or a gather for few channels a group).
namespace {

bool transposes_as_forward(const ConvParams& cp) {
  for (int d = 0; d < 3; ++d)
    if (cp.stride[d] != 1 || cp.pad_begin[d] > cp.dilation[d] * (cp.kernel[d] - 1)) return false;
  return true;
}

ConvParams as_forward(const ConvParams& cp) {
  ConvParams t = cp;
  t.C = cp.M, t.M = cp.C, t.in = cp.out, t.out = cp.in;
  for (int d = 0; d < 3; ++d) {
    t.pad_begin[d] = cp.dilation[d] * (cp.kernel[d] - 1) - cp.pad_begin[d];
    t.pad_end[d] = cp.dilation[d] * (cp.kernel[d] - 1) - cp.pad_end[d];
  }
  return t;
}

// w~ of the weight under w's modifier, once per plan (Plan::memo, next to the modified weights).
int flipped_weight_buffer(Builder& B, const LinearLayer& L, const Weight& w) {
  const std::string key = "gpu:flip:" + L.memo_key + "/" + modifier_key(w.mod, w.gamma);
  const std::vector<float>& data = L.plan->memo_floats(key, [&] {
    const ConvParams& cp = L.conv;
    const float* src = modified_weight(L, w.mod, w.gamma);
    const int64_t cg = cp.C_per_group(), mg = cp.M_per_group(), ks = cp.kernel_size();
    std::vector<float> out(L.weight_size);
    for (int64_t g = 0; g < cp.group; ++g)
      for (int64_t m = 0; m < mg; ++m)
        for (int64_t c = 0; c < cg; ++c) {
          const float* from = src + ((g * mg + m) * cg + c) * ks;
          float* to = out.data() + ((g * cg + c) * mg + m) * ks;
          for (int64_t j = 0; j < ks; ++j) to[ks - 1 - j] = from[j];   // flipping every spatial dim = reversing
        }
    return out;
  });
  return B.constant(key, data.data(), static_cast<int64_t>(data.size()));
}

// dx = conv^T(dy; w) for the conv L.conv describes (through the prologue and epilogue).
void transposed_conv(Builder& B, const LinearLayer& L, int dy, const Weight& w, int dx, const Epilogue& ep = {},
                     const Prologue& pro = {}) {
  if (transposes_as_forward(L.conv)) conv_step(B, Kernel::ConvForward, as_forward(L.conv), dy, flipped_weight_buffer(B, L, w), -1, dx, ep, pro);
  else conv_step(B, Kernel::ConvBackwardData, L.conv, dy, w.buffer, -1, dx, ep, pro);
}

// conv^T(dy; ones) (Flat's weights) as kernels::conv_backward_data_ones computes it: every input channel of a
// group receives, at tap j, the sum over the group's output channels of dy. So dy is first summed over each
// group's channels (a 1x1 convolution with ones, reading R / stab(z) in its prologue, once per element), then
// transposed through ones with one output channel a group. A ResNet's stem (64 channels, 7x7 taps, 3 input
// channels: a gather of 64 x taps per input element) does 64x fewer multiply-adds. A flipped kernel of ones is
// the same ones, so stride-1 layers still run on the forward kernel.
void transposed_conv_ones(Builder& B, const LinearLayer& L, int dy, int dx, const Epilogue& ep, const Prologue& pro) {
  const ConvParams& cp = L.conv;
  ConvParams sum = cp;   // (N, M, out) -> (N, group, out): 1x1, stride 1, no padding
  sum.C = cp.M, sum.M = cp.group, sum.in = cp.out;
  sum.kernel = sum.stride = sum.dilation = {1, 1, 1};
  sum.pad_begin = sum.pad_end = {0, 0, 0};
  ConvParams spread = cp;   // the layer with one output channel a group
  spread.M = cp.group;
  const int summed = B.temp(cp.N * cp.group * cp.out_size());
  conv_step(B, Kernel::ConvForward, sum, dy, ones_constant(B, *L.plan, cp.M), -1, summed, {}, pro);
  const int ones = ones_constant(B, *L.plan, cp.C * cp.kernel_size());
  if (transposes_as_forward(spread)) conv_step(B, Kernel::ConvForward, as_forward(spread), summed, ones, -1, dx, ep);
  else conv_step(B, Kernel::ConvBackwardData, spread, summed, ones, -1, dx, ep);
  B.release(summed);
}

}  // namespace

// ---- linear layers -------------------------------------------------------------------------------------------------
bool linear_forward(Builder& B, const LinearLayer& L, int x, const Weight& wt, int y, int bias) {
  using F = LinearLayer::Form;
  const int w = wt.buffer;
  switch (L.form) {
    case F::Conv: conv_step(B, Kernel::ConvForward, L.conv, x, w, bias, y); return bias >= 0;
    case F::ConvTranspose: transposed_conv(B, L, x, wt, y); return false;
    case F::Gemm: gemm_step(B, L.trans_x, L.trans_w, L.M, L.N, L.K, x, L.trans_x ? L.M : L.K, w, L.weight_ld(), y, L.N); return false;
    case F::MatMulRight: gemm_step(B, false, false, L.M, L.N, L.K, x, L.K, w, L.N, y, L.N); return false;
    case F::MatMulLeft:
      gemm_step(B, false, false, L.M, L.N, L.K, w, L.K, x, L.N, y, L.N, L.batches, 0, L.K * L.N, L.M * L.N);
      return false;
  }
  return false;
}

void linear_backward(Builder& B, const LinearLayer& L, int dy, const Weight& wt, int dx) {
  using F = LinearLayer::Form;
  const int w = wt.buffer;
  switch (L.form) {
    case F::Conv: transposed_conv(B, L, dy, wt, dx); return;
    case F::ConvTranspose: conv_step(B, Kernel::ConvForward, L.conv, dy, w, -1, dx); return;
    case F::Gemm:
      if (L.trans_x) gemm_step(B, L.trans_w, true, L.K, L.M, L.N, w, L.weight_ld(), dy, L.N, dx, L.M);
      else gemm_step(B, false, !L.trans_w, L.M, L.K, L.N, dy, L.N, w, L.weight_ld(), dx, L.K);
      return;
    case F::MatMulRight: gemm_step(B, false, true, L.M, L.K, L.N, dy, L.N, w, L.N, dx, L.K); return;
    case F::MatMulLeft:
      gemm_step(B, true, false, L.K, L.N, L.M, w, L.K, dy, L.N, dx, L.N, L.batches, 0, L.M * L.N, L.K * L.N);
      return;
  }
}

bool reads_ratio_in_prologue(const LinearLayer& L) {
  return L.form == LinearLayer::Form::Conv || L.form == LinearLayer::Form::ConvTranspose;
}

void linear_backward_product(Builder& B, const LinearLayer& L, int dy, const Weight& w, int x, float coef, int out, bool accumulate,
                             const Prologue& pro) {
  const Epilogue ep{accumulate ? 2u : 1u, x, coef};
  if (L.form == LinearLayer::Form::Conv && w.mod == ParamMod::Ones) return transposed_conv_ones(B, L, dy, out, ep, pro);
  if (L.form == LinearLayer::Form::Conv) return transposed_conv(B, L, dy, w, out, ep, pro);
  if (L.form == LinearLayer::Form::ConvTranspose) return conv_step(B, Kernel::ConvForward, L.conv, dy, w.buffer, -1, out, ep, pro);
  if (pro.d >= 0) fail(ErrorKind::Internal, "GPU program: a prologue on a layer that is not a convolution");
  const int64_t nx = shape_numel(L.x_shape);
  const int grad = B.temp(nx);
  linear_backward(B, L, dy, w, grad);
  B.ew(accumulate ? Ew::AccumulateProduct : Ew::Product, nx, x, grad, -1, out, coef);
  B.release(grad);
}

// ---- weights and biases ---------------------------------------------------------------------------------------------
int ones_constant(Builder& B, const Plan& plan, int64_t n) {
  const std::string key = "gpu:ones:" + std::to_string(n);
  const std::vector<float>& ones = plan.memo_floats(key, [&] { return std::vector<float>(static_cast<size_t>(n), 1.0f); });
  return B.constant(key, ones.data(), n);
}

Weight weight_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma) {
  if (m == ParamMod::Ones) return {ones_constant(B, *L.plan, static_cast<int64_t>(L.weight_size)), m, gamma};
  const float* w = modified_weight(L, m, gamma);
  return {B.constant("w:" + L.memo_key + "/" + modifier_key(m, gamma), w, static_cast<int64_t>(L.weight_size)), m, gamma};
}

int bias_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma, float sign) {
  if (L.bias.empty() || m == ParamMod::Zero) return -1;
  const std::string key = "b" + std::to_string(L.output_value) + ":" + modifier_key(m, gamma) + (sign < 0 ? "-" : "+") +
                          ":" + std::to_string(L.bias.size());
  if (const auto it = B.by_key.find(key); it != B.by_key.end()) return it->second;   // made by an earlier term
  std::vector<float> b(L.bias.size());
  for (size_t c = 0; c < b.size(); ++c) b[c] = sign * modify_param(L.bias[c], m, gamma);
  auto p = std::make_shared<const std::vector<float>>(std::move(b));
  B.gx.owned.push_back(p);
  return B.constant(key, p->data(), static_cast<int64_t>(p->size()));
}

void add_bias(Builder& B, const LinearLayer& L, int bias, int y) {
  const int64_t ny = shape_numel(L.y_shape);
  B.ew(Ew::AccumulateBias, ny, -1, bias, -1, y, 1.0f, L.bias_inner, static_cast<int64_t>(L.bias.size()));
}

}  // namespace relscope::relevance::gpu_detail
