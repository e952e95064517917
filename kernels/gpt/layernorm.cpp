#include "kernels/gpt/layernorm.h"

#include <algorithm>

#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/gpt_math.h"
#include "kernels/gpt/simd.h"

namespace loom::gpt {
namespace {
// dweight and dbias are sums over rows: split by channel so each has one writer.
constexpr int kChannelBlock = 64;
}  // namespace

void layerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                      int B, int T, int C) {
  parallelFor(static_cast<long>(B) * T, [&](long row) {
    const float* x = inp + row * C;
    const float m = sumLanes(x, C) / static_cast<float>(C);
    // Two passes: the variance of (x - mean) does not cancel like E[x^2] - mean^2.
    const float var = sumLanesOf(C, [x, m](int c) { return (x[c] - m) * (x[c] - m); }) / static_cast<float>(C);
    const float r = 1.0f / sqrtf(var + kLayerNormEps);
    float* o = out + row * C;
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * r * weight[c] + bias[c];
    mean[row] = m;
    rstd[row] = r;
  });
}

void layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, const float* mean, const float* rstd, int B, int T, int C) {
  const long rows = static_cast<long>(B) * T;
  parallelFor(rows, [&](long row) {
    const float* x = inp + row * C;
    const float* d = dout + row * C;
    const float m = mean[row], r = rstd[row];
    const float meanG = sumLanesOf(C, [&](int c) { return d[c] * weight[c]; }) / static_cast<float>(C);
    const float meanGNorm =
        sumLanesOf(C, [&](int c) { return d[c] * weight[c] * ((x[c] - m) * r); }) / static_cast<float>(C);
    float* di = dinp + row * C;
    for (int c = 0; c < C; ++c) di[c] += layerNormInputGrad(d[c] * weight[c], (x[c] - m) * r, meanG, meanGNorm, r);
  });
  const long blocks = (C + kChannelBlock - 1) / kChannelBlock;
  parallelFor(blocks, [&](long block) {
    const int c0 = static_cast<int>(block) * kChannelBlock;
    const int width = std::min(C, c0 + kChannelBlock) - c0;
    float sumW[kChannelBlock] = {}, sumB[kChannelBlock] = {};
    for (long row = 0; row < rows; ++row) {
      const float* x = inp + row * C + c0;
      const float* d = dout + row * C + c0;
      const float m = mean[row], r = rstd[row];
      for (int c = 0; c < width; ++c) {
        sumW[c] += d[c] * ((x[c] - m) * r);
        sumB[c] += d[c];
      }
    }
    for (int c = 0; c < width; ++c) {
      dweight[c0 + c] += sumW[c];
      dbias[c0 + c] += sumB[c];
    }
  });
}

}  // namespace loom::gpt
