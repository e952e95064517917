#include "kernels/gpt/gelu.h"

#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/gpt_math.h"

namespace loom::gpt {

void geluForward(float* out, const float* inp, size_t N) {
  parallelForChunks(N, kElementChunk, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = geluValue(inp[i]);
  });
}

void geluBackward(float* dinp, const float* inp, const float* dout, size_t N) {
  parallelForChunks(N, kElementChunk, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) dinp[i] += geluDerivative(inp[i]) * dout[i];
  });
}

}  // namespace loom::gpt
