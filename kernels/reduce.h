// Element-wise reduction arithmetic for every DataType and RedOpKind.
//
// Two layers. The element functors below (SumOp, ProdOp, MaxOp, MinOp and the
// Arithmetic<T> load/store pair) are header-only and LOOM_HOST_DEVICE, so the
// CUDA kernels and the host loops in reduce.cpp apply exactly the same
// arithmetic. The three entry points at the bottom run that arithmetic over
// host buffers.
//
// Semantics, whatever the device:
//   - integers wrap around (two's complement) on sum and product;
//   - floating max/min follow IEEE 754-2019 maximum/minimum: a NaN input gives
//     NaN, and +0 counts as larger than -0, so the result does not depend on
//     the order of the operands (except which NaN comes out);
//   - narrow floats (half, bfloat16, fp8) compute in float and round once,
//     which is correctly rounded (see kernels/numeric.h);
//   - avg and premulsum combine with sum; their scaling is a separate step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/numeric.h"
#include "loom/types.h"

namespace loom {

// --- element level -----------------------------------------------------------

// The type arithmetic happens in, and how an element gets there and back.
// Narrow floats widen to float; everything else computes in its own type.
template <typename T, typename Enable = void>
struct Arithmetic {
  using Compute = T;
  LOOM_HOST_DEVICE static Compute load(T value) { return value; }
  LOOM_HOST_DEVICE static T store(Compute value) { return value; }
};

template <typename T>
struct Arithmetic<T, std::enable_if_t<kIsNarrowFloat<T>>> {
  using Compute = float;
  LOOM_HOST_DEVICE static float load(T value) { return value.toFloat(); }
  LOOM_HOST_DEVICE static T store(float value) { return T::fromFloat(value); }
};

namespace reduce_detail {

// Unsigned arithmetic wraps by definition, while signed overflow is undefined.
// Types narrower than int would be promoted to (signed) int, so widen them to
// unsigned int explicitly; the conversion back to T keeps the low bits.
template <typename T>
using WrapType = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

// For equal operands of max and min, which differ at most in the sign of a
// zero: AND of the bits clears the sign if either is +0 (max), OR sets it if
// either is -0 (min). Bit operations rather than a sign test keep the loops
// vectorisable for double on plain SSE2.
LOOM_HOST_DEVICE inline float andBits(float a, float b) { return floatOfBits(bitsOfFloat(a) & bitsOfFloat(b)); }
LOOM_HOST_DEVICE inline float orBits(float a, float b) { return floatOfBits(bitsOfFloat(a) | bitsOfFloat(b)); }
LOOM_HOST_DEVICE inline double andBits(double a, double b) { return doubleOfBits(bitsOfDouble(a) & bitsOfDouble(b)); }
LOOM_HOST_DEVICE inline double orBits(double a, double b) { return doubleOfBits(bitsOfDouble(a) | bitsOfDouble(b)); }

}  // namespace reduce_detail

struct SumOp {
  template <typename T>
  LOOM_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      using W = reduce_detail::WrapType<T>;
      return static_cast<T>(static_cast<W>(a) + static_cast<W>(b));
    } else {
      return a + b;
    }
  }
};

struct ProdOp {
  template <typename T>
  LOOM_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      using W = reduce_detail::WrapType<T>;
      return static_cast<T>(static_cast<W>(a) * static_cast<W>(b));
    } else {
      return a * b;
    }
  }
};

struct MaxOp {
  template <typename T>
  LOOM_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      return a < b ? b : a;
    } else {
      if (a != a) return a;
      if (b != b) return b;
      if (a == b) return reduce_detail::andBits(a, b);
      return a > b ? a : b;
    }
  }
};

struct MinOp {
  template <typename T>
  LOOM_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      return b < a ? b : a;
    } else {
      if (a != a) return a;
      if (b != b) return b;
      if (a == b) return reduce_detail::orBits(a, b);
      return a < b ? a : b;
    }
  }
};

// x * scalar, premulsum's scaling, in the compute type (float for narrow
// floats, so the product rounds once to the element type).
template <typename C>
struct ScaleOp {
  C scalar;
  LOOM_HOST_DEVICE C operator()(C x) const { return ProdOp{}(x, scalar); }
};

// x / divisor, the last step of avg. Integers truncate toward zero (C++ `/`),
// computed in 64 bits so a divisor outside T's range still means what it says.
// Integer division by 0, and INT64_MIN / -1, trap on x86 and are undefined
// everywhere; a kernel must not take the process down on a caller's mistake,
// so 0 leaves x alone and -1 negates with wrap-around.
struct DivideOp {
  int divisor;
  template <typename T>
  LOOM_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      if (divisor == 0) return x;
      if (divisor == -1) {
        using W = reduce_detail::WrapType<T>;
        return static_cast<T>(W{0} - static_cast<W>(x));
      }
      return static_cast<T>(static_cast<int64_t>(x) / divisor);
    } else if constexpr (std::is_integral_v<T>) {
      if (divisor == 0) return x;
      return static_cast<T>(static_cast<uint64_t>(x) / static_cast<uint64_t>(divisor));
    } else {
      return x / static_cast<T>(divisor);
    }
  }
};

// --- host buffers ------------------------------------------------------------
//
// Callers validate: `type` and `op` are valid, the buffers hold `count`
// elements aligned to the element size, and dst either equals a (or b, or
// src) exactly or does not overlap it at all. Nothing outside [0, count) is
// read or written, and count == 0 touches nothing (null pointers are fine).

// dst[i] = a[i] op b[i]. kAvg and kPreMulSum combine with sum. Runs the
// widest kernel the CPU supports (AVX-512, AVX2 or baseline), chosen once per
// process; all give the same bits, and LOOM_CPU_FEATURES=scalar|avx2 caps the
// choice (kernels/reduce_dispatch.h).
void reduceElements(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count);

// dst[i] = src[i] * scalar, the scalar held in the element type's own
// representation in the low dataTypeSize(type) bytes of scalarBits (what a
// memcpy of one element into a zeroed uint64_t gives on a little-endian host).
void preMultiplyElements(DataType type, uint64_t scalarBits, void* dst, const void* src, size_t count);

// data[i] /= divisor, in place: integers truncate toward zero (unsigned types
// divide unsigned), floats divide in float (double for float64) and round once.
// The divisor is meant to be positive (a rank count); see DivideOp for 0 and -1.
void divideElements(DataType type, void* data, size_t count, int divisor);

}  // namespace loom
