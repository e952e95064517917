// The host entry points of reduce.h. reduceElements hands over to the kernel
// chosen for this CPU (kernels/reduce_dispatch.h); the scaling steps of avg
// and premulsum run once per collective, not once per hop, so they stay on
// the baseline loops here.
#include "kernels/reduce.h"

#include <cstring>
#include <type_traits>

#include "kernels/reduce_dispatch.h"
#include "kernels/reduce_loops.h"

namespace loom {
namespace {

// The one-input counterparts of binaryLoop and binaryNarrow in
// reduce_loops.h, blocked the same way for the same reasons.
template <typename T, typename Op>
void unaryLoop(T* dst, const T* src, size_t count, Op op) {
  size_t i = 0;
  for (; i + kLanes<T> <= count; i += kLanes<T>) {
    LOOM_IVDEP
    for (size_t j = 0; j < kLanes<T>; ++j) dst[i + j] = op(src[i + j]);
  }
  for (; i < count; ++i) dst[i] = op(src[i]);
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
void unaryNarrow(T* dst, const T* src, size_t count, Op op) {
  size_t base = 0;
  for (; base + kNarrowBlock <= count; base += kNarrowBlock) unaryNarrowBlock(dst + base, src + base, FullBlock{}, op);
  if (base < count) unaryNarrowBlock(dst + base, src + base, count - base, op);
}

template <typename T, typename Op>
void unary(void* dst, const void* src, size_t count, Op op) {
  if constexpr (kIsNarrowFloat<T>) {
    unaryNarrow(static_cast<T*>(dst), static_cast<const T*>(src), count, op);
  } else {
    unaryLoop(static_cast<T*>(dst), static_cast<const T*>(src), count, op);
  }
}

}  // namespace

void reduceElements(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  reduce_dispatch::selectedKernel()(type, op, dst, a, b, count);
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
