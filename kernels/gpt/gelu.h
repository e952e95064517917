// GELU, tanh approximation (formula in gpt_math.h), element-wise on N floats.
//
// Layouts: inp, out, dout, dinp are flat arrays of N (in GPT-2, (B,T,4C)).
// Backward ACCUMULATES (+=) into dinp: dinp += geluDerivative(inp) * dout.
#pragma once

#include <cstddef>

namespace loom::gpt {

void geluForward(float* out, const float* inp, size_t N);

void geluBackward(float* dinp, const float* inp, const float* dout, size_t N);

}  // namespace loom::gpt
