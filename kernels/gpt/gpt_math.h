// Scalar element formulas of the GPT-2 trainer, shared by the CPU kernels in
// this folder and the CUDA kernels that will sit next to them.
//
// Every function is LOOM_HOST_DEVICE and uses only C math functions that nvcc
// also provides in device code (tanhf, expf, sqrtf, sqrt, pow), so a GPU kernel
// calls exactly the formula the CPU tests check. Nothing here loops over a
// tensor: that is the kernels' business.
#pragma once

#include <math.h>

#include "kernels/numeric.h"

namespace loom::gpt {

// LayerNorm's variance epsilon, as in GPT-2.
constexpr float kLayerNormEps = 1e-5f;

// --- GELU, tanh approximation ------------------------------------------------
// gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3).
constexpr float kGeluSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

LOOM_HOST_DEVICE inline float geluValue(float x) {
  const float u = kGeluSqrt2OverPi * (x + kGeluCubic * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

// d gelu / dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,
// du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
LOOM_HOST_DEVICE inline float geluDerivative(float x) {
  const float u = kGeluSqrt2OverPi * (x + kGeluCubic * x * x * x);
  const float th = tanhf(u);
  const float dudx = kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * dudx;
}

// --- LayerNorm -----------------------------------------------------------------
// With n = (x - mean) * rstd and g = dout * weight for one row of C elements,
// dx = rstd * (g - mean(g) - n * mean(g * n)): the two means are the gradient
// flowing through mean and rstd, which depend on every element of the row.
LOOM_HOST_DEVICE inline float layerNormInputGrad(float g, float norm, float meanG, float meanGNorm, float rstd) {
  return (g - meanG - norm * meanGNorm) * rstd;
}

// --- softmax ---------------------------------------------------------------------
// Softmax backward for one element: with p = softmax(s) and dp the gradient of
// p, ds_i = p_i (dp_i - sum_j p_j dp_j); pDotDp is that sum.
LOOM_HOST_DEVICE inline float softmaxInputGrad(float p, float dp, float pDotDp) { return p * (dp - pDotDp); }

// Fused softmax + cross-entropy backward for one logit: (p - [i == target]) * dloss.
LOOM_HOST_DEVICE inline float crossEntropyLogitGrad(float p, bool isTarget, float dloss) {
  return (p - (isTarget ? 1.0f : 0.0f)) * dloss;
}

// --- AdamW -----------------------------------------------------------------------
// The constants of one optimizer step, fixed for every element of the step.
struct AdamWStep {
  float lr, beta1, beta2, eps, weightDecay;
  float biasCorrection1, biasCorrection2;  // 1 - beta1^t, 1 - beta2^t
  float gradScale;                         // multiplies every gradient (clipping)
};

// step is 1-based (the first update is step 1). The powers are taken in double
// so large step counts do not lose the correction's small difference from 1.
LOOM_HOST_DEVICE inline AdamWStep makeAdamWStep(float lr, float beta1, float beta2, float eps, float weightDecay,
                                                int step, float gradScale) {
  AdamWStep s;
  s.lr = lr;
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.eps = eps;
  s.weightDecay = weightDecay;
  s.biasCorrection1 = static_cast<float>(1.0 - pow(static_cast<double>(beta1), step));
  s.biasCorrection2 = static_cast<float>(1.0 - pow(static_cast<double>(beta2), step));
  s.gradScale = gradScale;
  return s;
}

// Decoupled weight decay (Loshchilov & Hutter): the decay uses the parameter
// before this step and is not scaled by the adaptive denominator.
LOOM_HOST_DEVICE inline void adamwElement(float& param, float& m, float& v, float grad, const AdamWStep& s) {
  const float g = grad * s.gradScale;
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  const float mHat = m / s.biasCorrection1;
  const float vHat = v / s.biasCorrection2;
  param -= s.lr * (mHat / (sqrtf(vHat) + s.eps) + s.weightDecay * param);
}

// Gradient clipping: the factor that brings a gradient of squared global norm
// normSquared down to maxNorm, or 1 when it is already within it (or maxNorm <= 0,
// meaning no clipping). Pass it to adamwUpdate as gradScale.
LOOM_HOST_DEVICE inline float gradClipScale(double normSquared, float maxNorm) {
  const double norm = sqrt(normSquared);
  if (maxNorm <= 0.0f || !(norm > static_cast<double>(maxNorm))) return 1.0f;
  return static_cast<float>(static_cast<double>(maxNorm) / norm);
}

}  // namespace loom::gpt
