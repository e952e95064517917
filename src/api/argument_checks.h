// Checks of C API arguments. Each returns a Status whose message names the
// argument, its value and what would be accepted, so ncclGetLastError alone
// tells the caller what to fix.
#pragma once

#include <cstddef>
#include <cstring>

#include "api/comm_handle.h"
#include "loom/communicator.h"
#include "nccl.h"

namespace loom::api {

// The int a C caller passed for an enum parameter (ncclDataType_t,
// ncclRedOp_t, ...). C lets a caller pass any int, but reading a value
// outside the enumerators as a C++ enum is undefined, so the bytes are
// copied out instead.
template <typename Enum>
int passedValue(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int), "NCCL enums are int-sized");
  int raw;
  std::memcpy(&raw, &value, sizeof(raw));
  return raw;
}

// The element type for an ncclDataType_t value.
Result<DataType> checkDataType(int datatype);

// The reduction for `op` as used with `type` on `handle`: a built-in, or a
// live op from ncclRedOpCreatePreMulSum on that communicator.
Result<RedOp> checkRedOp(ncclComm* handle, int op, DataType type);

// `count * blocks` elements of `type` must fit in one buffer: the byte size
// may neither overflow size_t nor exceed PTRDIFF_MAX. `what` names the buffer
// that holds `blocks` (one per rank) blocks when blocks > 1.
Status checkCount(const char* what, size_t count, size_t blocks, DataType type);

// A buffer that will be touched must not be NULL when there is data.
Status checkBuffer(const char* name, const void* buffer, size_t count);

// `value` (a root or peer) must be a rank of a communicator of `nranks`.
Status checkRank(const char* what, int value, int nranks);

// NULL -> nullptr (synchronous); a stream from loomHostStreamCreate -> that
// stream; anything else is refused because this build cannot run on a GPU.
Result<Stream*> checkStream(cudaStream_t stream);

}  // namespace loom::api
