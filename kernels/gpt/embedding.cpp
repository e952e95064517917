#include "kernels/gpt/embedding.h"

#include <algorithm>

#include "kernels/gpt/cpu_threads.h"

namespace loom::gpt {
namespace {
// Backward splits channels, not positions: two positions with the same token
// write the same dwte row, so only a channel split keeps one writer per element.
constexpr int kChannelBlock = 64;
}  // namespace

void embeddingForward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C) {
  parallelFor(static_cast<long>(B) * T, [&](long bt) {
    const float* tokenRow = wte + static_cast<long>(tokens[bt]) * C;
    const float* positionRow = wpe + (bt % T) * C;
    float* o = out + bt * C;
    for (int c = 0; c < C; ++c) o[c] = tokenRow[c] + positionRow[c];
  });
}

void embeddingBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C) {
  const long blocks = (C + kChannelBlock - 1) / kChannelBlock;
  parallelFor(blocks, [&](long block) {
    const int c0 = static_cast<int>(block) * kChannelBlock;
    const int c1 = std::min(C, c0 + kChannelBlock);
    for (long bt = 0; bt < static_cast<long>(B) * T; ++bt) {
      const float* d = dout + bt * C;
      float* row = dwte + static_cast<long>(tokens[bt]) * C;
      for (int c = c0; c < c1; ++c) row[c] += d[c];
    }
    // dwpe[t] gets the sum over the batch, added once.
    for (int t = 0; t < T; ++t) {
      for (int c = c0; c < c1; ++c) {
        float sum = 0.0f;
        for (int b = 0; b < B; ++b) sum += dout[(static_cast<long>(b) * T + t) * C + c];
        dwpe[static_cast<long>(t) * C + c] += sum;
      }
    }
  });
}

}  // namespace loom::gpt
