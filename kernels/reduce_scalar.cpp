// The baseline reduce kernel: the shared loops compiled for the default target
// (SSE2 on x86-64), which every CPU runs and the vector kernels must match.
#include "kernels/reduce_dispatch.h"
#include "kernels/reduce_loops.h"

namespace loom::reduce_dispatch {

void reduceElementsScalar(DataType type, RedOpKind op, void* dst, const void* a, const void* b, size_t count) {
  reduceWith<ElementConvert>(type, op, dst, a, b, count);
}

}  // namespace loom::reduce_dispatch
