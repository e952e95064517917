// Softmax + cross-entropy, fused: the loss of the output head.
//
// Layouts (row-major):
//   logits, dlogits  (B,T,V)
//   targets          (B,T) int32, each in [0, V)
//   losses, dlosses  (B,T)  per-position loss in nats, and its gradient
//                           (1/(B*T) each for the mean loss)
// loss[b,t] = logsumexp(logits[b,t,:]) - logits[b,t,target], computed after
// subtracting the row maximum so no exp overflows.
//
// The probabilities are not stored: backward recomputes them from the logits
// with the same code as forward, which costs one pass over V per position and
// saves a (B,T,V) buffer.
// Backward ACCUMULATES (+=): dlogits += (softmax(logits) - onehot(target)) * dloss.
#pragma once

#include <cstdint>

namespace loom::gpt {

void crossEntropyForward(float* losses, const float* logits, const int32_t* targets, int B, int T, int V);

void crossEntropyBackward(float* dlogits, const float* dlosses, const float* logits, const int32_t* targets, int B,
                          int T, int V);

}  // namespace loom::gpt
