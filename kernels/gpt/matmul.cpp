#include "kernels/gpt/matmul.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/gpt/cpu_threads.h"
#include "kernels/gpt/simd.h"

namespace loom::gpt {
namespace {

// Forward blocking. A tile is kTileRows rows x kPanel output channels, held in
// registers (6 x 16 floats = 12 AVX2 or 6 AVX-512 registers) while it runs
// down a depth block; the packed weight block (kDepthBlock x kColBlock) stays
// in L1/L2 while the rows of a row block stream past it.
constexpr int kTileRows = 6;
constexpr int kPanel = 16;
constexpr int kRowBlock = 16 * kTileRows;
constexpr int kColBlock = 4 * kPanel;
constexpr int kDepthBlock = 256;

using TileKernel = void (*)(const float* const* rows, const float* panel, int depth, float* acc);

// The tile kernel for each ISA (matmul_tile.h). Packed panels and tiles are
// aligned to the widest vector.
constexpr size_t kTileAlign = 64;

namespace base {
#define LOOM_GPT_TILE_FLOATS 4
#include "kernels/gpt/matmul_tile.h"
#undef LOOM_GPT_TILE_FLOATS
}  // namespace base

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_GPT_X86_TILES 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
namespace avx2 {
#define LOOM_GPT_TILE_FLOATS 8
#include "kernels/gpt/matmul_tile.h"
#undef LOOM_GPT_TILE_FLOATS
}  // namespace avx2
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
namespace avx512 {
#define LOOM_GPT_TILE_FLOATS 16
#include "kernels/gpt/matmul_tile.h"
#undef LOOM_GPT_TILE_FLOATS
}  // namespace avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

// The widest tile kernel this CPU runs, chosen once.
TileKernel selectTileKernel() {
#if defined(LOOM_GPT_X86_TILES)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return &avx512::tileKernel;
  if (__builtin_cpu_supports("avx2")) return &avx2::tileKernel;
#endif
  return &base::tileKernel;
}

float* alignUp(float* p) {
  const auto bits = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<float*>((bits + kTileAlign - 1) / kTileAlign * kTileAlign);
}

// One task of the forward: rows [r0, r1) x output channels [o0, o1).
void forwardBlock(float* out, const float* inp, const float* weight, const float* bias, long r0, long r1, int o0,
                  int o1, int C, int OC) {
  const int panels = (o1 - o0 + kPanel - 1) / kPanel;
  static const TileKernel tileKernel = selectTileKernel();
  float* packed = alignUp(threadScratch(static_cast<size_t>(kDepthBlock) * kColBlock + kTileAlign / sizeof(float)));
  for (int k0 = 0; k0 < C; k0 += kDepthBlock) {
    const int depth = std::min(kDepthBlock, C - k0);
    // packed[p][k][j] = weight[o0 + p*kPanel + j][k0 + k]; channels past o1 are 0.
    for (int p = 0; p < panels; ++p)
      for (int j = 0; j < kPanel; ++j) {
        const int o = o0 + p * kPanel + j;
        float* dst = packed + p * depth * kPanel + j;
        if (o < o1) {
          const float* src = weight + static_cast<long>(o) * C + k0;
          for (int k = 0; k < depth; ++k) dst[k * kPanel] = src[k];
        } else {
          for (int k = 0; k < depth; ++k) dst[k * kPanel] = 0.0f;
        }
      }
    for (long t0 = r0; t0 < r1; t0 += kTileRows) {
      // A short last tile repeats its last row; those results are not stored.
      const float* rows[kTileRows];
      for (int i = 0; i < kTileRows; ++i) rows[i] = inp + std::min(t0 + i, r1 - 1) * C + k0;
      const int tileRows = static_cast<int>(std::min<long>(kTileRows, r1 - t0));
      for (int p = 0; p < panels; ++p) {
        const int pc0 = o0 + p * kPanel;
        const int width = std::min(kPanel, o1 - pc0);
        alignas(kTileAlign) float acc[kTileRows * kPanel] = {};
        // The first depth block starts from the bias; later ones from the partial sums in out.
        for (int i = 0; i < tileRows; ++i)
          for (int j = 0; j < width; ++j)
            acc[i * kPanel + j] = k0 == 0 ? (bias ? bias[pc0 + j] : 0.0f) : out[(t0 + i) * OC + pc0 + j];
        tileKernel(rows, packed + p * depth * kPanel, depth, acc);
        for (int i = 0; i < tileRows; ++i)
          for (int j = 0; j < width; ++j) out[(t0 + i) * OC + pc0 + j] = acc[i * kPanel + j];
      }
    }
  }
}

// Backward blocking: a task owns kSumRows rows x kSumCols columns of the result.
constexpr int kSumRows = 8;
constexpr int kSumCols = 256;

// dst[i][c] += sum_k coef(i, k) * src[k][c] for i in [i0, i0+rows), c in [c0, c0+cols),
// with coef(i, k) = coef[i * coefI + k * coefK]; the sum runs over k in order and
// is added to dst once. Both dinp (k = output channel) and dweight (k = row)
// have this form; only the strides differ.
LOOM_GPT_VECTOR_CLONES
void sumProductsBlock(float* dst, const float* coef, long coefI, long coefK, const float* src, long k, long i0,
                      int rows, int c0, int cols, int width) {
  float acc[kSumRows][kSumCols] = {};
  for (long kk = 0; kk < k; ++kk) {
    const float* s = src + kk * width + c0;
    for (int i = 0; i < rows; ++i) {
      const float a = coef[(i0 + i) * coefI + kk * coefK];
      for (int c = 0; c < cols; ++c) acc[i][c] += a * s[c];
    }
  }
  for (int i = 0; i < rows; ++i) {
    float* d = dst + (i0 + i) * width + c0;
    for (int c = 0; c < cols; ++c) d[c] += acc[i][c];
  }
}

void sumProducts(float* dst, const float* coef, long coefI, long coefK, const float* src, long n, long k, int width) {
  const long rowBlocks = (n + kSumRows - 1) / kSumRows;
  const long colBlocks = (width + kSumCols - 1) / kSumCols;
  parallelFor(rowBlocks * colBlocks, [&](long task) {
    const long i0 = (task / colBlocks) * kSumRows;
    const int c0 = static_cast<int>(task % colBlocks) * kSumCols;
    sumProductsBlock(dst, coef, coefI, coefK, src, k, i0, static_cast<int>(std::min<long>(kSumRows, n - i0)), c0,
                     std::min(kSumCols, width - c0), width);
  });
}

}  // namespace

void matmulForward(float* out, const float* inp, const float* weight, const float* bias, int B, int T, int C,
                   int OC) {
  const long rows = static_cast<long>(B) * T;
  const long rowBlocks = (rows + kRowBlock - 1) / kRowBlock;
  const long colBlocks = (OC + kColBlock - 1) / kColBlock;
  parallelFor(rowBlocks * colBlocks, [&](long task) {
    const long r0 = (task / colBlocks) * kRowBlock;
    const int o0 = static_cast<int>(task % colBlocks) * kColBlock;
    forwardBlock(out, inp, weight, bias, r0, std::min(rows, r0 + kRowBlock), o0, std::min(OC, o0 + kColBlock), C,
                 OC);
  });
}

void matmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int B, int T, int C, int OC) {
  const long rows = static_cast<long>(B) * T;
  if (dinp) sumProducts(dinp, dout, OC, 1, weight, rows, OC, C);
  sumProducts(dweight, dout, 1, OC, inp, OC, rows, C);
  if (dbias) {
    const long blocks = (OC + kSumCols - 1) / kSumCols;
    parallelFor(blocks, [&](long block) {
      const int o0 = static_cast<int>(block) * kSumCols;
      const int width = std::min(kSumCols, OC - o0);
      float acc[kSumCols] = {};
      for (long r = 0; r < rows; ++r)
        for (int o = 0; o < width; ++o) acc[o] += dout[r * OC + o0 + o];
      for (int o = 0; o < width; ++o) dbias[o0 + o] += acc[o];
    });
  }
}

}  // namespace loom::gpt
