// The AVX-512 reduce kernel: the shared loops compiled for AVX-512 F/BW/VL
// with 512-bit vectors, half precision converted by the 16-wide forms of
// VCVTPH2PS / VCVTPS2PH, and block tails by masked loads and stores.
//
// As in reduce_avx2.cpp: every header before the target pragma, so only the
// loops are AVX-512 code, and no FMA, so nothing is contracted.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/numeric.h"
#include "kernels/reduce.h"
#include "kernels/reduce_dispatch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_REDUCE_AVX512 1
#include <immintrin.h>
#endif

#if defined(LOOM_REDUCE_AVX512)

// GCC's generic tuning may keep auto-vectorised loops at 256 bits even with
// AVX-512 enabled; ask for 512 so this kernel differs from the AVX2 one.
// (Clang's target attribute has no such key; it keeps its own default.)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,f16c,prefer-vector-width=512")
#endif

#include "kernels/reduce_loops.h"

// GCC 12 reports the "undefined" start vector inside many unmasked AVX-512
// intrinsics as (maybe) uninitialised once they are inlined here (GCC bug
// 105593, fixed in 13). The vector is never read; silence just that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace loom {
namespace {

template <typename T>
struct Avx512Convert : ElementConvert<T> {};

// As in reduce_avx2.cpp: sum and product fuse, max and min take the block path.
inline __m512 apply(SumOp, __m512 x, __m512 y) { return _mm512_add_ps(x, y); }
inline __m512 apply(ProdOp, __m512 x, __m512 y) { return _mm512_mul_ps(x, y); }

template <typename Op>
concept FusedOp = std::is_same_v<Op, SumOp> || std::is_same_v<Op, ProdOp>;

// Same instructions as the AVX2 kernel (see there for why the bits match the
// codec), 16 lanes at a time; the last partial group of a block is masked, so
// nothing outside the block is read or written. The zero-masking forms with
// every lane enabled compile to the plain instructions; the unmasked
// intrinsics start from an "undefined" vector that GCC 12 reports as
// uninitialised once inlined here.
template <>
struct Avx512Convert<Float16> {
  static constexpr __mmask16 kAllLanes = 0xffff;
  template <typename Count>
  static void load(const Float16* src, float* out, Count n) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j));
      _mm512_storeu_ps(out + j, _mm512_maskz_cvtph_ps(kAllLanes, h));
    }
    if (j < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1);
      const __m256i h = _mm256_maskz_loadu_epi16(m, src + j);
      _mm512_mask_storeu_ps(out + j, m, _mm512_maskz_cvtph_ps(kAllLanes, h));
    }
  }
  template <typename Count>
  static void store(const float* in, Float16* dst, Count n) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const __m256i h = _mm512_maskz_cvtps_ph(kAllLanes, _mm512_loadu_ps(in + j), _MM_FROUND_TO_NEAREST_INT);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), h);
    }
    if (j < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1);
      const __m256i h = _mm512_maskz_cvtps_ph(m, _mm512_maskz_loadu_ps(m, in + j), _MM_FROUND_TO_NEAREST_INT);
      _mm256_mask_storeu_epi16(dst + j, m, h);
    }
  }
  template <FusedOp Op>
  static size_t fused(Float16* dst, const Float16* a, const Float16* b, size_t count, Op op) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
      const __m512 x = _mm512_maskz_cvtph_ps(kAllLanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
      const __m512 y = _mm512_maskz_cvtph_ps(kAllLanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
      const __m256i h = _mm512_maskz_cvtps_ph(kAllLanes, apply(op, x, y), _MM_FROUND_TO_NEAREST_INT);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    }
    return i;
  }
};

// Bfloat16: the element-wise block conversions, plus a fused loop doing the
// integer steps of floatToBfloat16Bits by hand, 16 lanes at a time.
template <>
struct Avx512Convert<Bfloat16> : ElementConvert<Bfloat16> {
  static __m512 load16(const Bfloat16* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static __m256i round16(__m512 v) {
    const __m512i in = _mm512_castps_si512(v);
    const __m512i high = _mm512_srli_epi32(in, 16);
    const __m512i lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(in, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __m512i nan = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    const __mmask16 isNan =
        _mm512_cmpgt_epi32_mask(_mm512_and_si512(in, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    // VPMOVDW keeps the low 16 bits of each lane: the bfloat16 code.
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(isNan, rounded, nan));
  }
  template <FusedOp Op>
  static size_t fused(Bfloat16* dst, const Bfloat16* a, const Bfloat16* b, size_t count, Op op) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), round16(apply(op, load16(a + i), load16(b + i))));
    }
    return i;
  }
};

void reduceElementsAvx512(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  reduceWith<Avx512Convert>(type, op, dst, a, b, count);
}

}  // namespace
}  // namespace loom

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // LOOM_REDUCE_AVX512

namespace loom::reduce_dispatch {

Kernel avx512KernelIfBuilt() {
#if defined(LOOM_REDUCE_AVX512)
  return &reduceElementsAvx512;
#else
  return nullptr;
#endif
}

}  // namespace loom::reduce_dispatch
