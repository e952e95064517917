// The AVX2 reduce kernel: the shared loops compiled for AVX2, with half
// precision converted by F16C instead of the integer codec of numeric.h.
//
// Only the loops below the target pragma are AVX2 code; every header comes
// first, so the inline functions they define stay baseline code that any CPU
// can run if the linker picks this file's copy (see reduce_loops.h). FMA is
// left out on purpose: GCC contracts a * b + c by default in GNU mode, which
// would round once where the scalar kernel rounds twice.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/numeric.h"
#include "kernels/reduce.h"
#include "kernels/reduce_dispatch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_REDUCE_AVX2 1
#include <immintrin.h>
#endif

#if defined(LOOM_REDUCE_AVX2)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,f16c")
#endif

#include "kernels/reduce_loops.h"

namespace loom {
namespace {

template <typename T>
struct Avx2Convert : ElementConvert<T> {};

// Sum and product are one IEEE instruction each, as in the scalar kernel, so
// the fused loops below take them; max and min (NaN and signed-zero rules)
// stay on the block path.
inline __m256 apply(SumOp, __m256 x, __m256 y) { return _mm256_add_ps(x, y); }
inline __m256 apply(ProdOp, __m256 x, __m256 y) { return _mm256_mul_ps(x, y); }

template <typename Op>
concept FusedOp = std::is_same_v<Op, SumOp> || std::is_same_v<Op, ProdOp>;

// VCVTPH2PS is exact, as the codec's decode is, and quiets a signalling NaN
// the same way. VCVTPS2PH with immediate 0 rounds to nearest even whatever
// MXCSR says, keeps the top payload bits of a NaN with the quiet bit set, and
// turns float subnormals into signed zero (DAZ does not apply): the codec's
// encode, bit for bit. The tail of a block, under 8 elements, uses the codec.
template <>
struct Avx2Convert<Float16> {
  template <typename Count>
  static void load(const Float16* src, float* out, Count n) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j));
      _mm256_storeu_ps(out + j, _mm256_cvtph_ps(h));
    }
    // Full blocks are whole vectors; skipping the tail loop for them also
    // spares GCC a bogus -Waggressive-loop-optimizations on it.
    if constexpr (!std::is_same_v<Count, FullBlock>) {
      for (; j < n; ++j) out[j] = src[j].toFloat();
    }
  }
  template <typename Count>
  static void store(const float* in, Float16* dst, Count n) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + j), _MM_FROUND_TO_NEAREST_INT);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), h);
    }
    if constexpr (!std::is_same_v<Count, FullBlock>) {
      for (; j < n; ++j) dst[j] = Float16::fromFloat(in[j]);
    }
  }
  template <FusedOp Op>
  static size_t fused(Float16* dst, const Float16* a, const Float16* b, size_t count, Op op) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
      const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
      const __m256 y = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(apply(op, x, y), _MM_FROUND_TO_NEAREST_INT));
    }
    return i;
  }
};

// Bfloat16 keeps the element-wise block conversions (the compiler vectorises
// them) and adds a fused loop doing the same integer steps by hand.
template <>
struct Avx2Convert<Bfloat16> : ElementConvert<Bfloat16> {
  // floatToBfloat16Bits on 8 lanes, each result in the low half of its lane.
  static __m256i round8(__m256 v) {
    const __m256i in = _mm256_castps_si256(v);
    const __m256i high = _mm256_srli_epi32(in, 16);
    const __m256i lsb = _mm256_and_si256(high, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(in, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_or_si256(high, _mm256_set1_epi32(0x40));
    // |in| > Inf as signed 32-bit compares: both sides are non-negative.
    const __m256i isNan =
        _mm256_cmpgt_epi32(_mm256_and_si256(in, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(rounded, nan, isNan);
  }
  template <FusedOp Op>
  static size_t fused(Bfloat16* dst, const Bfloat16* a, const Bfloat16* b, size_t count, Op op) {
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
      // Interleaving zeros below each code widens it to its float (code << 16),
      // elements 0-3 and 8-11 in lo, 4-7 and 12-15 in hi: the order is
      // scrambled across 128-bit halves, but the op works lane by lane and
      // packus (which also works within halves) undoes exactly this shuffle.
      // Lanes are <= 0xffff, so its unsigned saturation changes nothing.
      const __m256 xlo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, x));
      const __m256 xhi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, x));
      const __m256 ylo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, y));
      const __m256 yhi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, y));
      const __m256i packed = _mm256_packus_epi32(round8(apply(op, xlo, ylo)), round8(apply(op, xhi, yhi)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), packed);
    }
    return i;
  }
};

void reduceElementsAvx2(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  reduceWith<Avx2Convert>(type, op, dst, a, b, count);
}

}  // namespace
}  // namespace loom

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // LOOM_REDUCE_AVX2

namespace loom::reduce_dispatch {

Kernel avx2KernelIfBuilt() {
#if defined(LOOM_REDUCE_AVX2)
  return &reduceElementsAvx2;
#else
  return nullptr;
#endif
}

}  // namespace loom::reduce_dispatch
