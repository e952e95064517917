// LayerNorm over the channel dimension, with weight and bias (eps kLayerNormEps).
//
// Layouts (row-major):
//   inp, out, dout, dinp  (B,T,C)
//   weight, bias          (C)
//   mean, rstd            (B,T) saved by forward for backward; rstd = 1/sqrt(var + eps)
// out = (inp - mean) * rstd * weight + bias, with the biased variance (divide by C).
//
// Backward ACCUMULATES (+=) into dinp, dweight and dbias: dinp is the residual
// stream's gradient, and dweight/dbias collect every micro-batch. Each call
// computes its contribution in full and adds it once.
#pragma once

namespace loom::gpt {

void layerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                      int B, int T, int C);

void layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, const float* mean, const float* rstd, int B, int T, int C);

}  // namespace loom::gpt
