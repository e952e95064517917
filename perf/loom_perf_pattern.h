// The data loom-perf puts in buffers and the results it expects back.
//
// Every input is a small non-negative integer chosen so that the result of the
// collective, and every partial result an algorithm may form on the way
// (any subset of ranks reduced in any order), is exactly representable in the
// element type, from int8 to fp8. A correct collective therefore matches the
// expectation bit for bit, whatever algorithm ran; the only exception is avg on
// floating-point types, where an implementation may scale before summing, so
// there a few units in the last place are tolerated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/types.h"

namespace loom::perf {

// The scalar loom-perf's premultiplied sum multiplies by: a power of two, so
// the products stay exact.
constexpr double kPreMulSumScalar = 2.0;

void storeElement(DataType type, void* base, size_t index, double value);
double loadElement(DataType type, const void* base, size_t index);
// `value` in the element type's representation, as RedOp::scalarBits holds it.
uint64_t elementBits(DataType type, double value);
// The largest n such that every integer in [0, n] is exact in `type`.
double exactIntegerLimit(DataType type);
// A byte pattern no expected value can take (NaN or a negative/huge integer),
// written over output buffers so a skipped write shows as wrong.
constexpr unsigned char kSentinelByte = 0xFF;

class DataPattern {
 public:
  // `reducing` selects the reduction patterns; otherwise `op` is ignored and
  // inputs are just distinct per rank and index. `rep` varies the data
  // between check iterations.
  DataPattern(DataType type, RedOpKind op, bool reducing, int nranks, int rep);

  // What `rank` contributes at element `index` of its input.
  double input(int rank, size_t index) const;
  // The reduction over all ranks of input(r, index).
  double reduced(size_t index) const;
  bool matches(double got, double expected) const;

  DataType type() const { return type_; }

 private:
  double sumLikeInput(int rank, uint64_t i, double limit) const;

  DataType type_;
  RedOpKind op_;
  bool reducing_;
  int nranks_;
  uint64_t rep_;
  double limit_;
  uint64_t smallCap_;  // bound for max/min and data-movement values
  int prodTwos_;       // most factors of two a product may hold
  double avgTolerance_;
};

}  // namespace loom::perf
