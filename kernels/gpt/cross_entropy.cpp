#include "kernels/gpt/cross_entropy.h"

#include <algorithm>

#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/gpt_math.h"

namespace loom::gpt {
namespace {

// The softmax of one row as its maximum and sum of exp(logit - maximum);
// forward and backward both use it so they agree on every probability.
struct SoftmaxRow {
  float maximum;
  float sum;
};

SoftmaxRow softmaxRow(const float* row, int V) {
  SoftmaxRow s{row[0], 0.0f};
  for (int i = 1; i < V; ++i) s.maximum = std::max(s.maximum, row[i]);
  for (int i = 0; i < V; ++i) s.sum += expf(row[i] - s.maximum);
  return s;
}

}  // namespace

void crossEntropyForward(float* losses, const float* logits, const int32_t* targets, int B, int T, int V) {
  parallelFor(static_cast<long>(B) * T, [&](long bt) {
    const float* row = logits + bt * V;
    const SoftmaxRow s = softmaxRow(row, V);
    losses[bt] = logf(s.sum) + s.maximum - row[targets[bt]];
  });
}

void crossEntropyBackward(float* dlogits, const float* dlosses, const float* logits, const int32_t* targets, int B,
                          int T, int V) {
  parallelFor(static_cast<long>(B) * T, [&](long bt) {
    const float* row = logits + bt * V;
    const SoftmaxRow s = softmaxRow(row, V);
    const float inverse = 1.0f / s.sum;
    float* d = dlogits + bt * V;
    for (int i = 0; i < V; ++i)
      d[i] += crossEntropyLogitGrad(expf(row[i] - s.maximum) * inverse, i == targets[bt], dlosses[bt]);
  });
}

}  // namespace loom::gpt
