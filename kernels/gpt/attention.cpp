#include "kernels/gpt/attention.h"

#include <algorithm>

#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/gpt_math.h"
#include "kernels/gpt/simd.h"

namespace loom::gpt {

void attentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  const long C3 = 3L * C;
  // One task per (b, h, t): one row of att and one head slice of out.
  parallelFor(static_cast<long>(B) * NH * T, [&](long task) {
    const int t = static_cast<int>(task % T);
    const int h = static_cast<int>((task / T) % NH);
    const long b = task / (static_cast<long>(T) * NH);
    const float* base = qkv + b * T * C3 + static_cast<long>(h) * hs;
    const float* q = base + t * C3;
    float* row = att + task * T;
    float maxScore = -INFINITY;
    for (int t2 = 0; t2 <= t; ++t2) {
      row[t2] = dotLanes(q, base + t2 * C3 + C, hs) * scale;
      maxScore = std::max(maxScore, row[t2]);
    }
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; ++t2) {
      row[t2] = expf(row[t2] - maxScore);
      sum += row[t2];
    }
    const float inverse = 1.0f / sum;
    for (int t2 = 0; t2 <= t; ++t2) row[t2] *= inverse;
    for (int t2 = t + 1; t2 < T; ++t2) row[t2] = 0.0f;
    float* o = out + (b * T + t) * C + static_cast<long>(h) * hs;
    std::fill(o, o + hs, 0.0f);
    for (int t2 = 0; t2 <= t; ++t2) {
      const float* v = base + t2 * C3 + 2L * C;
      for (int i = 0; i < hs; ++i) o[i] += row[t2] * v[i];
    }
  });
}

void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                       int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  const long C3 = 3L * C;
  parallelFor(static_cast<long>(B) * NH, [&](long task) {
    const int h = static_cast<int>(task % NH);
    const long b = task / NH;
    const float* base = qkv + b * T * C3 + static_cast<long>(h) * hs;
    // Scratch: dq, dk, dv as (T, hs) each, then one row of d(att).
    const long slice = static_cast<long>(T) * hs;
    float* dq = threadScratch(3 * slice + T);
    float* dk = dq + slice;
    float* dv = dk + slice;
    float* datt = dv + slice;
    std::fill(dq, dq + 3 * slice, 0.0f);
    for (int t = 0; t < T; ++t) {
      const float* row = att + (task * T + t) * T;
      const float* d = dout + (b * T + t) * C + static_cast<long>(h) * hs;
      const float* q = base + t * C3;
      // out_t = sum_t2 att[t2] v_t2: gradients of att and of v.
      for (int t2 = 0; t2 <= t; ++t2) {
        datt[t2] = dotLanes(d, base + t2 * C3 + 2L * C, hs);
        float* dvRow = dv + static_cast<long>(t2) * hs;
        for (int i = 0; i < hs; ++i) dvRow[i] += row[t2] * d[i];
      }
      // Through the softmax, then the scaled scores q_t · k_t2.
      const float pDotDp = dotLanes(row, datt, t + 1);
      float* dqRow = dq + static_cast<long>(t) * hs;
      for (int t2 = 0; t2 <= t; ++t2) {
        const float dscore = softmaxInputGrad(row[t2], datt[t2], pDotDp) * scale;
        const float* k = base + t2 * C3 + C;
        float* dkRow = dk + static_cast<long>(t2) * hs;
        for (int i = 0; i < hs; ++i) {
          dqRow[i] += dscore * k[i];
          dkRow[i] += dscore * q[i];
        }
      }
    }
    float* dbase = dqkv + b * T * C3 + static_cast<long>(h) * hs;
    for (int t = 0; t < T; ++t)
      for (int part = 0; part < 3; ++part) {
        const float* src = dq + part * slice + static_cast<long>(t) * hs;
        float* dst = dbase + t * C3 + part * static_cast<long>(C);
        for (int i = 0; i < hs; ++i) dst[i] += src[i];
      }
  });
}

}  // namespace loom::gpt
