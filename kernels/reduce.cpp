// Host loops over the element functors of reduce.h.
#include "kernels/reduce.h"

#include <cstring>
#include <type_traits>

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

template <typename T, typename Op>
void unaryLoop(T* dst, const T* src, size_t count, Op op) {
  size_t i = 0;
  for (; i + kLanes<T> <= count; i += kLanes<T>) {
    LOOM_IVDEP
    for (size_t j = 0; j < kLanes<T>; ++j) dst[i + j] = op(src[i + j]);
  }
  for (; i < count; ++i) dst[i] = op(src[i]);
}

// Narrow floats go through float a block at a time: each pass is a plain loop
// (convert, combine, convert back) instead of one loop whose body mixes two
// conversions with the arithmetic. Converting a whole block of a and b before
// writing dst also makes exact aliasing trivially safe. Full blocks pass their
// length as a compile-time constant so that -O2 vectorises the conversions.
constexpr size_t kNarrowBlock = 256;
using FullBlock = std::integral_constant<size_t, kNarrowBlock>;

template <typename T, typename Op, typename Count>
void binaryNarrowBlock(T* dst, const T* a, const T* b, Count n, Op op) {
  using A = Arithmetic<T>;
  float x[kNarrowBlock];
  float y[kNarrowBlock];
  for (size_t j = 0; j < n; ++j) x[j] = A::load(a[j]);
  for (size_t j = 0; j < n; ++j) y[j] = A::load(b[j]);
  for (size_t j = 0; j < n; ++j) x[j] = op(x[j], y[j]);
  for (size_t j = 0; j < n; ++j) dst[j] = A::store(x[j]);
}

template <typename T, typename Op, typename Count>
void unaryNarrowBlock(T* dst, const T* src, Count n, Op op) {
  using A = Arithmetic<T>;
  float x[kNarrowBlock];
  for (size_t j = 0; j < n; ++j) x[j] = A::load(src[j]);
  for (size_t j = 0; j < n; ++j) x[j] = op(x[j]);
  for (size_t j = 0; j < n; ++j) dst[j] = A::store(x[j]);
}

template <typename T, typename Op>
void binaryNarrow(T* dst, const T* a, const T* b, size_t count, Op op) {
  size_t base = 0;
  for (; base + kNarrowBlock <= count; base += kNarrowBlock) {
    binaryNarrowBlock(dst + base, a + base, b + base, FullBlock{}, op);
  }
  if (base < count) binaryNarrowBlock(dst + base, a + base, b + base, count - base, op);
}

template <typename T, typename Op>
void unaryNarrow(T* dst, const T* src, size_t count, Op op) {
  size_t base = 0;
  for (; base + kNarrowBlock <= count; base += kNarrowBlock) unaryNarrowBlock(dst + base, src + base, FullBlock{}, op);
  if (base < count) unaryNarrowBlock(dst + base, src + base, count - base, op);
}

template <typename T, typename Op>
void binary(void* dst, const void* a, const void* b, size_t count, Op op) {
  if constexpr (kIsNarrowFloat<T>) {
    binaryNarrow(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), count, op);
  } else {
    binaryLoop(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), count, op);
  }
}

template <typename T, typename Op>
void unary(void* dst, const void* src, size_t count, Op op) {
  if constexpr (kIsNarrowFloat<T>) {
    unaryNarrow(static_cast<T*>(dst), static_cast<const T*>(src), count, op);
  } else {
    unaryLoop(static_cast<T*>(dst), static_cast<const T*>(src), count, op);
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

}  // namespace

void reduceElements(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  withElementType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case RedOpKind::kSum:
      case RedOpKind::kAvg:
      case RedOpKind::kPreMulSum: return binary<T>(dst, a, b, count, SumOp{});
      case RedOpKind::kProd: return binary<T>(dst, a, b, count, ProdOp{});
      case RedOpKind::kMax: return binary<T>(dst, a, b, count, MaxOp{});
      case RedOpKind::kMin: return binary<T>(dst, a, b, count, MinOp{});
    }
  });
}

void preMultiplyElements(DataType type, uint64_t scalarBits, void* dst, const void* src, size_t count) {
  withElementType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = Arithmetic<T>;
    T scalar;
    std::memcpy(&scalar, &scalarBits, sizeof(T));
    unary<T>(dst, src, count, ScaleOp<typename A::Compute>{A::load(scalar)});
  });
}

void divideElements(DataType type, void* data, size_t count, int divisor) {
  withElementType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    unary<T>(data, data, count, DivideOp{divisor});
  });
}

}  // namespace loom
