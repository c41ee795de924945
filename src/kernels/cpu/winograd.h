// relscope/kernels/cpu/winograd.h — 3x3 stride-1 convolution by Winograd F(2x2, 3x3) or F(4x4, 3x3) (CPU back-end
// only).
//
// Sections: entry points
//
// conv_forward and conv_backward_data take this path when winograd_pays; the why and the layout are in
// winograd.cpp. Results equal the im2col path's up to float rounding, relative to a tile's magnitude rather
// than each output's (winograd_pays says what that means for pruned LRP).
#pragma once
#include "graph/op_params.h"

namespace relscope::kernels::detail {

// ---- entry points --------------------------------------------------------------------------------------------------
// 2-D (or 3-D with depth 1) conv, 3x3 kernel, stride 1, dilation 1, one group; any padding.
bool winograd_fits(const ConvParams& p);
// winograd_fits, and large enough that the GEMMs and the weight transform beat one im2col GEMM (measured):
// the output tile that pays, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)), or 0 (im2col).
int winograd_tile(const ConvParams& p);
bool winograd_pays(const ConvParams& p);   // winograd_tile(p) != 0
// conv_forward's and conv_backward_data's contracts, for shapes that winograd_fits; `tile` 2 or 4 forces that
// variant (tests, benchmarks), 0 takes winograd_tile's (2 where it says 0).
void winograd_conv_forward(const ConvParams& p, const float* x, const float* w, const float* b_or_null, float* y,
                           int tile = 0);
void winograd_conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, int tile = 0);

// The other path, im2col + GEMM (conv.cpp), for any shape: benchmarks and tests time and check both on one shape.
void im2col_conv_forward(const ConvParams& p, const float* x, const float* w, const float* b_or_null, float* y);
void im2col_conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx);

}  // namespace relscope::kernels::detail
