// Fully connected layer: out = inp · weight^T + bias, the GPT-2 linear layers
// (qkv, attention projection, MLP up/down) and the tied output head.
//
// Layouts (row-major):
//   inp, dinp        (B*T, C)   one row per position
//   weight, dweight  (OC, C)    one row per output channel (PyTorch Linear layout)
//   bias, dbias      (OC)       may be null (no bias; the tied head has none)
//   out, dout        (B*T, OC)
// out[r][o] = bias[o] + sum_c inp[r][c] * weight[o][c], summed in c order.
//
// The forward is cache-blocked and packs weight tiles so the inner loop runs
// over 16 contiguous output channels, in vector registers of the widest ISA
// the CPU has (AVX-512, AVX2 or the baseline; matmul_tile.h), all giving the
// same bits; it is parallel over tiles of (rows x output channels). C >= 1.
//
// Backward ACCUMULATES (+=) into dinp, dweight and dbias (dinp and dbias may be
// null to skip them): each call computes its contribution in full, in a fixed
// order, and adds it once.
//   dinp    += dout · weight          (sum over o)
//   dweight += dout^T · inp           (sum over rows, in row order)
//   dbias   += column sums of dout    (sum over rows, in row order)
#pragma once

namespace loom::gpt {

void matmulForward(float* out, const float* inp, const float* weight, const float* bias, int B, int T, int C, int OC);

void matmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int B, int T, int C, int OC);

}  // namespace loom::gpt
