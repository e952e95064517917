// The host loops of reduceElements, as templates that each kernel file
// compiles for its own instruction set (kernels/reduce_scalar.cpp,
// reduce_avx2.cpp, reduce_avx512.cpp).
//
// Every file gets the same C++ and so the same arithmetic; only the code the
// compiler emits differs. That is what makes the vector kernels bit-identical
// to the scalar one without a second implementation of the rounding rules.
//
// Everything here sits in an anonymous namespace on purpose: each including
// file gets its own private copy, compiled under that file's target options.
// With external linkage the linker would keep one copy of, say,
// binaryLoop<float, SumOp> out of several, and could hand the AVX-512 one to
// the scalar kernel on a CPU without AVX-512. Include this header only from
// the kernel files, after every other header, so that the element functors
// of reduce.h and numeric.h (which do have external linkage) are compiled for
// the baseline ISA and merely inlined into these loops.
#pragma once

#include <cstddef>
#include <type_traits>

#include "kernels/reduce.h"

#if defined(__clang__)
#define LOOM_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define LOOM_IVDEP _Pragma("GCC ivdep")
#else
#define LOOM_IVDEP
#endif

namespace loom {
namespace {

// Loops are cut into fixed-length inner blocks because GCC's -O2 vectoriser
// (cost model "very cheap") only takes loops it can vectorise without a
// scalar remainder or a runtime alias check; a constant trip count removes
// the first, and ivdep removes the second. ivdep is true here: dst may alias
// an input only exactly, element for element, and a vector load of a[i..i+k)
// before the store to dst[i..i+k) reads the same values a scalar loop would.
// At least 16 lanes, because GCC unrolls a loop of 8 completely before the
// vectoriser sees it, and then does not vectorise what is left.
template <typename T>
constexpr size_t kLanes = sizeof(T) >= 4 ? 16 : 64 / sizeof(T);

template <typename T, typename Op>
void binaryLoop(T* dst, const T* a, const T* b, size_t count, Op op) {
  size_t i = 0;
  for (; i + kLanes<T> <= count; i += kLanes<T>) {
    LOOM_IVDEP
    for (size_t j = 0; j < kLanes<T>; ++j) dst[i + j] = op(a[i + j], b[i + j]);
  }
  for (; i < count; ++i) dst[i] = op(a[i], b[i]);
}

// Narrow floats go through float a block at a time: each pass is a plain loop
// (convert, combine, convert back) instead of one loop whose body mixes two
// conversions with the arithmetic. Converting a whole block of a and b before
// writing dst also makes exact aliasing trivially safe. Full blocks pass their
// length as a compile-time constant so that -O2 vectorises the conversions.
constexpr size_t kNarrowBlock = 256;
using FullBlock = std::integral_constant<size_t, kNarrowBlock>;

// How a block of narrow floats becomes float and back. This default goes
// element by element through Arithmetic<T>, which the compiler vectorises;
// a kernel file may substitute a policy with hardware conversions (F16C) for
// a type, provided it gives the same bits.
template <typename T>
struct ElementConvert {
  template <typename Count>
  static void load(const T* src, float* out, Count n) {
    for (size_t j = 0; j < n; ++j) out[j] = Arithmetic<T>::load(src[j]);
  }
  template <typename Count>
  static void store(const float* in, T* dst, Count n) {
    for (size_t j = 0; j < n; ++j) dst[j] = Arithmetic<T>::store(in[j]);
  }
};

template <typename Convert, typename T, typename Op, typename Count>
void binaryNarrowBlock(T* dst, const T* a, const T* b, Count n, Op op) {
  float x[kNarrowBlock];
  float y[kNarrowBlock];
  Convert::load(a, x, n);
  Convert::load(b, y, n);
  for (size_t j = 0; j < n; ++j) x[j] = op(x[j], y[j]);
  Convert::store(x, dst, n);
}

template <typename Convert, typename T, typename Op>
void binaryNarrow(T* dst, const T* a, const T* b, size_t count, Op op) {
  size_t base = 0;
  for (; base + kNarrowBlock <= count; base += kNarrowBlock) {
    binaryNarrowBlock<Convert>(dst + base, a + base, b + base, FullBlock{}, op);
  }
  if (base < count) binaryNarrowBlock<Convert>(dst + base, a + base, b + base, count - base, op);
}

// A Convert policy may also offer fused(dst, a, b, count, op) for some ops:
// convert, combine and convert back in registers, a vector at a time, for as
// many whole vectors as fit, returning how many elements it did. That skips
// the block's round trips through the stack, which bound the in-cache speed;
// the block path finishes the tail and takes every op fused() lacks.
template <template <typename> class Convert, typename T, typename Op>
void binary(void* dst, const void* a, const void* b, size_t count, Op op) {
  if constexpr (kIsNarrowFloat<T>) {
    T* d = static_cast<T*>(dst);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    size_t done = 0;
    if constexpr (requires { Convert<T>::fused(d, x, y, count, op); }) done = Convert<T>::fused(d, x, y, count, op);
    binaryNarrow<Convert<T>>(d + done, x + done, y + done, count - done, op);
  } else {
    binaryLoop(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), count, op);
  }
}

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<element type>{}); an out-of-range type does nothing.
template <typename Fn>
void withElementType(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8: return fn(TypeTag<int8_t>{});
    case DataType::kUint8: return fn(TypeTag<uint8_t>{});
    case DataType::kInt32: return fn(TypeTag<int32_t>{});
    case DataType::kUint32: return fn(TypeTag<uint32_t>{});
    case DataType::kInt64: return fn(TypeTag<int64_t>{});
    case DataType::kUint64: return fn(TypeTag<uint64_t>{});
    case DataType::kFloat16: return fn(TypeTag<Float16>{});
    case DataType::kFloat32: return fn(TypeTag<float>{});
    case DataType::kFloat64: return fn(TypeTag<double>{});
    case DataType::kBfloat16: return fn(TypeTag<Bfloat16>{});
    case DataType::kFloat8e4m3: return fn(TypeTag<Float8e4m3>{});
    case DataType::kFloat8e5m2: return fn(TypeTag<Float8e5m2>{});
  }
}

// reduceElements with narrow floats converted through Convert<T>.
template <template <typename> class Convert>
void reduceWith(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  withElementType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case RedOpKind::kSum:
      case RedOpKind::kAvg:
      case RedOpKind::kPreMulSum: return binary<Convert, T>(dst, a, b, count, SumOp{});
      case RedOpKind::kProd: return binary<Convert, T>(dst, a, b, count, ProdOp{});
      case RedOpKind::kMax: return binary<Convert, T>(dst, a, b, count, MaxOp{});
      case RedOpKind::kMin: return binary<Convert, T>(dst, a, b, count, MinOp{});
    }
  });
}

}  // namespace
}  // namespace loom
