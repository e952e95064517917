// Narrow floating-point element types and their conversions to and from float.
//
// The host has no native half, bfloat16 or 8-bit float, yet the same reduce
// code must run on the host (where it is tested) and under nvcc (where it runs
// on the GPU). So each narrow type is a plain struct holding its bit pattern,
// and every conversion is plain integer and float arithmetic: no intrinsics
// and no lookup tables, and no branches, so the host compiler vectorises it.
//
// Formats:
//   Float16     IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits.
//   Bfloat16    the top half of a binary32: 1, 8 (bias 127), 7.
//   Float8e4m3  OCP FP8 E4M3: 1, 4 (bias 7), 3. No infinities; only S.1111.111
//               is NaN, so S.1111.000-110 are finite and the largest is 448.
//   Float8e5m2  OCP FP8 E5M2: 1, 5 (bias 15), 2; IEEE-like with Inf and NaN.
//
// Every float -> narrow conversion rounds to nearest, ties to even, and keeps
// subnormals, signed zero, Inf and NaN. A value too large for the format
// becomes Inf where the format has one, and NaN for E4M3 (the non-saturating
// mode OCP defines; NVIDIA's __NV_NOSAT does the same).
//
// Arithmetic on narrow types converts to float, computes once and rounds once.
// That is correctly rounded, not merely close: float's 24-bit significand is at
// least 2p+2 bits for every format here (binary16 is the tight case, p = 11),
// and with that much headroom rounding twice gives the same result as rounding
// the exact value once for +, -, * and / (Figueroa, "When is double rounding
// innocuous?", 1995), provided float neither overflows nor underflows first.
// For binary16 and FP8 it cannot: their products and quotients stay far inside
// float's normal range. Bfloat16 shares float's range, but where a float sum or
// product of bfloat16 values is subnormal it is either exact (sums, and most
// products) or below half of bfloat16's smallest subnormal, where both
// roundings give zero; so +, - and * are correctly rounded for it too.
// min and max return one of their inputs, so they are exact.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define LOOM_HOST_DEVICE __host__ __device__
#else
#define LOOM_HOST_DEVICE
#endif

namespace loom {

LOOM_HOST_DEVICE inline uint32_t bitsOfFloat(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

LOOM_HOST_DEVICE inline float floatOfBits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

LOOM_HOST_DEVICE inline uint64_t bitsOfDouble(double value) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(value));
#else
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

LOOM_HOST_DEVICE inline double doubleOfBits(uint64_t bits) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

namespace numeric_detail {

// cond ? a : b on bits, written as masks. The conversions below compute every
// case and pick one this way, with no branch, so GCC vectorises the block
// conversions even at -O2: a ?: over a float operation could be sunk into a
// branch, and under -ftrapping-math the vectoriser may not run a float
// operation that a branch guarded.
LOOM_HOST_DEVICE inline uint32_t selectBits(bool cond, uint32_t a, uint32_t b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(cond);
  return (a & mask) | (b & ~mask);
}

// One codec for binary16 and both FP8 formats: they differ only in field
// widths and in whether the all-ones exponent means Inf/NaN (IEEE) or is an
// ordinary binade whose top code alone is NaN (E4M3).
template <int kExpBits, int kFracBits, bool kHasInf>
struct NarrowCodec {
  static constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  static constexpr int kMinNormalExp = 1 - kBias;
  static constexpr int kSignShift = kExpBits + kFracBits;
  static constexpr uint32_t kSign = 1u << kSignShift;
  static constexpr uint32_t kExpMask = ((1u << kExpBits) - 1) << kFracBits;
  static constexpr uint32_t kFracMask = (1u << kFracBits) - 1;
  static constexpr uint32_t kQuietBit = 1u << (kFracBits - 1);
  static constexpr uint32_t kNan = kHasInf ? (kExpMask | kQuietBit) : (kExpMask | kFracMask);
  // For E4M3 the largest finite code is one below the NaN code.
  static constexpr uint32_t kMaxFinite = kHasInf ? (kExpMask - 1) : (kExpMask | (kFracMask - 1));
  static constexpr uint32_t kOverflow = kHasInf ? kExpMask : kNan;
  static constexpr int kFracShift = 23 - kFracBits;
  // Float bits of the smallest normal value of this format.
  static constexpr uint32_t kMinNormalBits = static_cast<uint32_t>(127 + kMinNormalExp) << 23;
  // Rebiases a float exponent field to ours; negative, so it wraps on purpose.
  static constexpr uint32_t kRebias = static_cast<uint32_t>(kBias - 127) << 23;

  // Subnormal spacing and magic numbers below are normal floats.
  static_assert(kMinNormalExp - kFracBits > -100, "format too wide for this codec");

  LOOM_HOST_DEVICE static float decode(uint32_t bits) {
    const uint32_t sign = (bits & kSign) << (31 - kSignShift);
    const uint32_t magnitude = bits & ~kSign;
    const uint32_t frac = bits & kFracMask;
    const uint32_t normal = (magnitude << kFracShift) - kRebias;
    // frac * 2^(minNormalExp - fracBits) is exact: a small integer times a
    // power of two that float holds as a normal number.
    const float spacing = floatOfBits(static_cast<uint32_t>(127 + kMinNormalExp - kFracBits) << 23);
    const uint32_t subnormal = bitsOfFloat(static_cast<float>(static_cast<int32_t>(frac)) * spacing);
    uint32_t out = selectBits(magnitude <= kFracMask, subnormal, normal);
    if constexpr (kHasInf) {
      // Inf, or NaN with its payload kept and the quiet bit set, as hardware
      // conversions do.
      const uint32_t special = 0x7f800000u | (frac << kFracShift) | (static_cast<uint32_t>(frac != 0) << 22);
      out = selectBits(magnitude >= kExpMask, special, out);
    } else {
      out = selectBits(magnitude == kNan, 0x7fc00000u, out);
    }
    return floatOfBits(sign | out);
  }

  LOOM_HOST_DEVICE static uint32_t encode(float value) {
    const uint32_t in = bitsOfFloat(value);
    const uint32_t sign = (in >> 31) << kSignShift;
    const uint32_t abs = in & 0x7fffffffu;

    // Normal result: drop kFracShift bits, rounding to nearest even by adding
    // just under half of the dropped weight plus the kept lsb. A carry out of
    // the fraction bumps the exponent, which is the right answer, including
    // the step from the largest finite value to the overflow code.
    const uint32_t odd = (abs >> kFracShift) & 1u;
    const uint32_t normal = (abs + kRebias + ((1u << (kFracShift - 1)) - 1) + odd) >> kFracShift;

    // Subnormal result: adding a power of two whose float ulp equals our
    // subnormal spacing makes the float adder do the variable shift and the
    // round to nearest even; the fraction bits that remain are the code, and
    // rounding up into the smallest normal lands on its code too. Float inputs
    // below that spacing, float subnormals included, come out as zero. This
    // relies on round-to-nearest, the default mode, as every float sum in a
    // reduction does.
    const float magic = floatOfBits(static_cast<uint32_t>(127 + kMinNormalExp - kFracBits + 23) << 23);
    const uint32_t subnormal = bitsOfFloat(floatOfBits(abs) + magic) - bitsOfFloat(magic);

    uint32_t magnitude = selectBits(abs < kMinNormalBits, subnormal, normal);
    // Inf lands here too: +Inf rounds "normally" far past the largest code.
    magnitude = selectBits(magnitude > kMaxFinite, kOverflow, magnitude);
    if constexpr (kHasInf) {
      // Keep the top of the payload; the quiet bit also stops a payload whose
      // top bits are zero from turning into Inf.
      magnitude = selectBits(abs > 0x7f800000u, kExpMask | kQuietBit | ((abs >> kFracShift) & kFracMask), magnitude);
    } else {
      magnitude = selectBits(abs > 0x7f800000u, kNan, magnitude);
    }
    return sign | magnitude;
  }
};

using HalfCodec = NarrowCodec<5, 10, true>;
using E4m3Codec = NarrowCodec<4, 3, false>;
using E5m2Codec = NarrowCodec<5, 2, true>;

}  // namespace numeric_detail

LOOM_HOST_DEVICE inline float halfBitsToFloat(uint16_t bits) { return numeric_detail::HalfCodec::decode(bits); }
LOOM_HOST_DEVICE inline uint16_t floatToHalfBits(float value) {
  return static_cast<uint16_t>(numeric_detail::HalfCodec::encode(value));
}

LOOM_HOST_DEVICE inline float bfloat16BitsToFloat(uint16_t bits) {
  return floatOfBits(static_cast<uint32_t>(bits) << 16);
}
LOOM_HOST_DEVICE inline uint16_t floatToBfloat16Bits(float value) {
  const uint32_t in = bitsOfFloat(value);
  // Adding just under half an ulp, plus the kept lsb, rounds ties to even; a
  // carry ripples into the exponent, so overflow lands exactly on Inf and
  // subnormals need no special case.
  const uint32_t rounded = (in + 0x7fffu + ((in >> 16) & 1u)) >> 16;
  // Rounding a NaN could carry into the sign or leave an all-zero fraction
  // (Inf), so NaN keeps its top bits and sets the quiet bit instead.
  const uint32_t nan = (in >> 16) | 0x0040u;
  return static_cast<uint16_t>(numeric_detail::selectBits((in & 0x7fffffffu) > 0x7f800000u, nan, rounded));
}

LOOM_HOST_DEVICE inline float fp8e4m3BitsToFloat(uint8_t bits) { return numeric_detail::E4m3Codec::decode(bits); }
LOOM_HOST_DEVICE inline uint8_t floatToFp8e4m3Bits(float value) {
  return static_cast<uint8_t>(numeric_detail::E4m3Codec::encode(value));
}

LOOM_HOST_DEVICE inline float fp8e5m2BitsToFloat(uint8_t bits) { return numeric_detail::E5m2Codec::decode(bits); }
LOOM_HOST_DEVICE inline uint8_t floatToFp8e5m2Bits(float value) {
  return static_cast<uint8_t>(numeric_detail::E5m2Codec::encode(value));
}

// Storage types: trivially copyable, the size of the element, and aggregates,
// so `Float16{0x3c00}` names 1.0 by its bits.
struct Float16 {
  uint16_t bits;
  LOOM_HOST_DEVICE static Float16 fromFloat(float value) { return {floatToHalfBits(value)}; }
  LOOM_HOST_DEVICE float toFloat() const { return halfBitsToFloat(bits); }
};

struct Bfloat16 {
  uint16_t bits;
  LOOM_HOST_DEVICE static Bfloat16 fromFloat(float value) { return {floatToBfloat16Bits(value)}; }
  LOOM_HOST_DEVICE float toFloat() const { return bfloat16BitsToFloat(bits); }
};

struct Float8e4m3 {
  uint8_t bits;
  LOOM_HOST_DEVICE static Float8e4m3 fromFloat(float value) { return {floatToFp8e4m3Bits(value)}; }
  LOOM_HOST_DEVICE float toFloat() const { return fp8e4m3BitsToFloat(bits); }
};

struct Float8e5m2 {
  uint8_t bits;
  LOOM_HOST_DEVICE static Float8e5m2 fromFloat(float value) { return {floatToFp8e5m2Bits(value)}; }
  LOOM_HOST_DEVICE float toFloat() const { return fp8e5m2BitsToFloat(bits); }
};

static_assert(sizeof(Float16) == 2 && std::is_trivially_copyable_v<Float16>);
static_assert(sizeof(Bfloat16) == 2 && std::is_trivially_copyable_v<Bfloat16>);
static_assert(sizeof(Float8e4m3) == 1 && std::is_trivially_copyable_v<Float8e4m3>);
static_assert(sizeof(Float8e5m2) == 1 && std::is_trivially_copyable_v<Float8e5m2>);

template <typename T>
inline constexpr bool kIsNarrowFloat = std::is_same_v<T, Float16> || std::is_same_v<T, Bfloat16> ||
                                       std::is_same_v<T, Float8e4m3> || std::is_same_v<T, Float8e5m2>;

// The arithmetic the reductions need, each rounded once (see the top of file).
template <typename T, typename = std::enable_if_t<kIsNarrowFloat<T>>>
LOOM_HOST_DEVICE inline T operator+(T a, T b) {
  return T::fromFloat(a.toFloat() + b.toFloat());
}
template <typename T, typename = std::enable_if_t<kIsNarrowFloat<T>>>
LOOM_HOST_DEVICE inline T operator-(T a, T b) {
  return T::fromFloat(a.toFloat() - b.toFloat());
}
template <typename T, typename = std::enable_if_t<kIsNarrowFloat<T>>>
LOOM_HOST_DEVICE inline T operator*(T a, T b) {
  return T::fromFloat(a.toFloat() * b.toFloat());
}
template <typename T, typename = std::enable_if_t<kIsNarrowFloat<T>>>
LOOM_HOST_DEVICE inline T operator/(T a, T b) {
  return T::fromFloat(a.toFloat() / b.toFloat());
}

}  // namespace loom
