// Token + position embedding, the first op of GPT-2.
//
// Layouts (row-major, last index fastest):
//   tokens  (B,T)  int32, each in [0, V)
//   wte     (V,C)  token embedding table (also the tied output head's weight)
//   wpe     (maxT,C) position embedding table, maxT >= T
//   out     (B,T,C) out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
//
// Backward ACCUMULATES (+=) into dwte and dwpe: they are also fed by the output
// head and by earlier micro-batches. Positions sharing a token add into the
// same dwte row in (b,t) order.
#pragma once

#include <cstdint>

namespace loom::gpt {

void embeddingForward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C);

void embeddingBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C);

}  // namespace loom::gpt
