// Residual add: out = inp1 + inp2, element-wise on N floats ((B,T,C) in GPT-2).
//
// Backward ACCUMULATES (+=): dinp1 += dout and dinp2 += dout. That is what
// makes the residual stream work: the branch's gradient and the skip's
// gradient land in buffers that the other uses of those inputs also add to.
#pragma once

#include <cstddef>

namespace loom::gpt {

void residualForward(float* out, const float* inp1, const float* inp2, size_t N);

void residualBackward(float* dinp1, float* dinp2, const float* dout, size_t N);

}  // namespace loom::gpt
