#include "kernels/gpt/residual.h"

#include "kernels/gpt/cpu_threads.h"

namespace loom::gpt {

void residualForward(float* out, const float* inp1, const float* inp2, size_t N) {
  parallelForChunks(N, kElementChunk, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = inp1[i] + inp2[i];
  });
}

void residualBackward(float* dinp1, float* dinp2, const float* dout, size_t N) {
  parallelForChunks(N, kElementChunk, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      dinp1[i] += dout[i];
      dinp2[i] += dout[i];
    }
  });
}

}  // namespace loom::gpt
