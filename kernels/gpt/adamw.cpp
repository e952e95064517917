#include "kernels/gpt/adamw.h"

#include <vector>

#include "kernels/gpt/cpu_threads.h"

namespace loom::gpt {

void adamwUpdate(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                 float eps, float weightDecay, int step, float gradScale) {
  const AdamWStep s = makeAdamWStep(lr, beta1, beta2, eps, weightDecay, step, gradScale);
  parallelForChunks(n, kElementChunk, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) adamwElement(params[i], m[i], v[i], grads[i], s);
  });
}

double globalNormSquared(const float* grad, size_t n) {
  std::vector<double> blockSums((n + kNormBlock - 1) / kNormBlock);
  parallelForChunks(n, kNormBlock, [&](size_t begin, size_t end) {
    double sum = 0.0;
    for (size_t i = begin; i < end; ++i) sum += static_cast<double>(grad[i]) * grad[i];
    blockSums[begin / kNormBlock] = sum;
  });
  double total = 0.0;
  for (double sum : blockSums) total += sum;
  return total;
}

}  // namespace loom::gpt
