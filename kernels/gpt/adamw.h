// AdamW update and the global gradient norm used for clipping.
//
// adamwUpdate updates n elements of params, m (first moment) and v (second
// moment), all float32 and laid out alike, from grads:
//   g = grads * gradScale;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   params -= lr * ((m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps) + weightDecay * params)
// (element formula: adamwElement in gpt_math.h). step counts from 1. The range
// is any slice of the whole, so a data-parallel rank can update only its shard
// of the parameters (and of m and v); updating in pieces gives the same bits
// as in one call. Pass weightDecay = 0 for parameters that take no decay
// (biases, LayerNorm), and gradScale = gradClipScale(...) to clip.
//
// Clipping: globalNormSquared gives sum(grad^2) over n elements in double; add
// the values of every parameter tensor (and of every shard, across ranks) and
// pass the total to gradClipScale(normSquared, maxNorm) (gpt_math.h).
// It sums fixed blocks of kNormBlock elements in order, each in double, then
// adds the block sums in order, so the result does not depend on threads.
#pragma once

#include <cstddef>

#include "kernels/gpt/gpt_math.h"

namespace loom::gpt {

void adamwUpdate(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                 float eps, float weightDecay, int step, float gradScale);

constexpr size_t kNormBlock = 4096;

double globalNormSquared(const float* grad, size_t n);

}  // namespace loom::gpt
