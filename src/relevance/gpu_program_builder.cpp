// relscope/relevance/gpu_program_builder.cpp — the steps of linear layers and their constant buffers.
//
// Sections: steps (put3, conv, gemm) | linear layers (forward, backward) | weights and biases
#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance::gpu_detail {

// ---- steps ---------------------------------------------------------------------------------------------------------
void put3(Step& s, int at, const Dims3& d) {
  for (int k = 0; k < 3; ++k) s.words[at + k] = static_cast<uint32_t>(d[k]);
}

// ---- linear layers ------------------------------------------------------------------------------------------------
void conv_step(Builder& B, Kernel k, const ConvParams& cp, int in, int w, int bias, int out) {
  const int64_t count = k == Kernel::ConvForward ? cp.N * cp.M * cp.out_size() : cp.N * cp.C * cp.in_size();
  Step& s = k == Kernel::ConvForward ? B.step(k, count, {in, w, bias, out}) : B.step(k, count, {in, w, out});
  s.words[1] = static_cast<uint32_t>(cp.N), s.words[2] = static_cast<uint32_t>(cp.C);
  s.words[3] = static_cast<uint32_t>(cp.M), s.words[4] = static_cast<uint32_t>(cp.group);
  put3(s, 5, cp.in), put3(s, 8, cp.out), put3(s, 11, cp.kernel), put3(s, 14, cp.stride), put3(s, 17, cp.dilation);
  put3(s, 20, cp.pad_begin);
  s.words[23] = bias >= 0 ? 1 : 0;
}

void gemm_step(Builder& B, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int a, int64_t lda, int b, int64_t ldb,
               int c, int64_t ldc, int64_t batch, int64_t off_a, int64_t off_b, int64_t off_c) {
  Step& s = B.step(Kernel::Gemm, batch * M * N, {a, b, c});
  const int64_t w[] = {M, N, K, tA, tB, lda, ldb, ldc, batch, off_a, off_b, off_c};
  for (int i = 0; i < 12; ++i) s.words[1 + i] = static_cast<uint32_t>(w[i]);
}

void linear_forward(Builder& B, const LinearLayer& L, int x, int w, int y) {
  using F = LinearLayer::Form;
  switch (L.form) {
    case F::Conv: conv_step(B, Kernel::ConvForward, L.conv, x, w, -1, y); return;
    case F::ConvTranspose: conv_step(B, Kernel::ConvBackwardData, L.conv, x, w, -1, y); return;
    case F::Gemm: gemm_step(B, L.trans_x, false, L.M, L.N, L.K, x, L.trans_x ? L.M : L.K, w, L.N, y, L.N); return;
    case F::MatMulRight: gemm_step(B, false, false, L.M, L.N, L.K, x, L.K, w, L.N, y, L.N); return;
    case F::MatMulLeft:
      gemm_step(B, false, false, L.M, L.N, L.K, w, L.K, x, L.N, y, L.N, L.batches, 0, L.K * L.N, L.M * L.N);
      return;
  }
}

void linear_backward(Builder& B, const LinearLayer& L, int dy, int w, int dx) {
  using F = LinearLayer::Form;
  switch (L.form) {
    case F::Conv: conv_step(B, Kernel::ConvBackwardData, L.conv, dy, w, -1, dx); return;
    case F::ConvTranspose: conv_step(B, Kernel::ConvForward, L.conv, dy, w, -1, dx); return;
    case F::Gemm:
      if (L.trans_x) gemm_step(B, false, true, L.K, L.M, L.N, w, L.N, dy, L.N, dx, L.M);
      else gemm_step(B, false, true, L.M, L.K, L.N, dy, L.N, w, L.N, dx, L.K);
      return;
    case F::MatMulRight: gemm_step(B, false, true, L.M, L.K, L.N, dy, L.N, w, L.N, dx, L.K); return;
    case F::MatMulLeft:
      gemm_step(B, true, false, L.K, L.N, L.M, w, L.K, dy, L.N, dx, L.N, L.batches, 0, L.M * L.N, L.K * L.N);
      return;
  }
}

// ---- weights and biases ---------------------------------------------------------------------------------------------
int weight_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma) {
  const float* w = modified_weight(L, m, gamma);
  return B.constant("w:" + L.memo_key + "/" + modifier_key(m, gamma), w, static_cast<int64_t>(L.weight_size));
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
