// How the CPU kernels get vector code without changing a bit. Internal.
//
// Run-time ISA choice: LOOM_GPT_VECTOR_CLONES marks a plain-array loop nest
// for GCC's and Clang's target_clones, which compile it once per listed ISA
// and pick the best the CPU runs when the program loads (no -march=native, so
// the binary runs anywhere). The matmul forward's register tile instead
// dispatches by hand (matmul_tile.h explains why). Either way every variant
// rounds identically: the library is built with -ffp-contract=off, so no
// variant fuses a*b+c into an FMA the others lack, and no compiler reorders
// float sums without -ffast-math.
//
// Float sums:
// C++ forbids reassociating float additions, so a plain running sum compiles
// to a scalar chain. These helpers instead keep kLanes interleaved partial
// sums (element i goes to lane i % kLanes) and add the lanes in a fixed tree at
// the end. The order is spelled out in the source, so every compiler, ISA and
// thread count gives the same bits, and the lane loop maps onto SIMD registers.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LOOM_GPT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#if !defined(LOOM_GPT_VECTOR_CLONES)
#define LOOM_GPT_VECTOR_CLONES
#endif

namespace loom::gpt {

constexpr int kLanes = 8;

template <typename Term>
inline float sumLanesOf(int n, const Term& term) {
  float lane[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += term(i + j);
  for (int j = 0; i + j < n; ++j) lane[j] += term(i + j);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

inline float sumLanes(const float* x, int n) {
  return sumLanesOf(n, [x](int i) { return x[i]; });
}

inline float dotLanes(const float* a, const float* b, int n) {
  return sumLanesOf(n, [a, b](int i) { return a[i] * b[i]; });
}

}  // namespace loom::gpt
