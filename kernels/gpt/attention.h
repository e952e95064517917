// Causal multi-head self-attention (the part between the qkv projection and
// the output projection).
//
// Layouts (row-major), hs = C / NH the head size (C must be a multiple of NH):
//   qkv, dqkv  (B,T,3C)    per position q (C), then k (C), then v (C);
//                          head h owns channels [h*hs, (h+1)*hs) of each
//   att        (B,NH,T,T)  saved by forward for backward: att[b,h,t,t2] is the
//                          softmax probability position t gives position t2;
//                          t2 > t (the future) is written as 0
//   out, dout  (B,T,C)     heads concatenated: head h in channels [h*hs, (h+1)*hs)
// att[b,h,t,:] = softmax_{t2<=t}(q_t · k_t2 / sqrt(hs)),  out_t = sum_t2 att[t,t2] v_t2.
//
// Backward ACCUMULATES (+=) into dqkv; it needs the forward's qkv and att, not
// the pre-softmax scores. It is parallel over (b, h): each pair owns its
// slices of dqkv and computes them in full before adding them once.
#pragma once

namespace loom::gpt {

void attentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH);

void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                       int NH);

}  // namespace loom::gpt
