// The matmul forward's register tile, compiled once per instruction set.
// Internal to matmul.cpp, which includes this file once per ISA (so there is
// no #pragma once), each time inside its own namespace, after switching the
// target (#pragma GCC target) and defining LOOM_GPT_TILE_FLOATS, that ISA's
// vector width in floats.
//
// Why not target_clones: GCC fixes a vector type's machine mode where the type
// is declared, so a vector declared for the baseline target goes through the
// stack even inside an AVX2 clone. Declared here, under the ISA's own target,
// the tile (kTileRows x kPanel floats) stays in registers. Every lane does one
// IEEE multiply and one add per step (no FMA, see simd.h), so all ISAs give
// the same bits.

typedef float TileVec __attribute__((vector_size(LOOM_GPT_TILE_FLOATS * sizeof(float))));
constexpr int kVecsPerRow = kPanel / LOOM_GPT_TILE_FLOATS;

// acc[i][j] += sum_k rows[i][k] * panel[k][j] for k = 0..depth-1 in order.
// panel and acc must be aligned to sizeof(TileVec).
inline void tileKernel(const float* const* rows, const float* panel, int depth, float* acc) {
  const TileVec* w = reinterpret_cast<const TileVec*>(panel);
  TileVec* io = reinterpret_cast<TileVec*>(acc);
  TileVec sum[kTileRows][kVecsPerRow];
  for (int i = 0; i < kTileRows; ++i)
    for (int v = 0; v < kVecsPerRow; ++v) sum[i][v] = io[i * kVecsPerRow + v];
  for (int k = 0; k < depth; ++k, w += kVecsPerRow) {
#pragma GCC unroll 8
    for (int i = 0; i < kTileRows; ++i) {
      const float a = rows[i][k];
#pragma GCC unroll 4
      for (int v = 0; v < kVecsPerRow; ++v) sum[i][v] += a * w[v];
    }
  }
  for (int i = 0; i < kTileRows; ++i)
    for (int v = 0; v < kVecsPerRow; ++v) io[i * kVecsPerRow + v] = sum[i][v];
}
