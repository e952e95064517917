#include "api/argument_checks.h"

#include <cstdint>
#include <cstdio>
#include <mutex>

#include "api/host_stream_table.h"

namespace loom::api {

Result<DataType> checkDataType(int datatype) {
  if (!isValidDataType(datatype)) {
    return Status::invalidArgument(
        "datatype %d is not a valid ncclDataType_t (expected 0..%d, ncclInt8..ncclFloat8e5m2)",
        datatype, kNumDataTypes - 1);
  }
  return static_cast<DataType>(datatype);
}

Result<RedOp> checkRedOp(ncclComm* handle, int op, DataType type) {
  if (op >= 0 && op < kNumBuiltinRedOps) return RedOp::builtin(static_cast<RedOpKind>(op));
  if (op >= ncclNumOps) {
    std::lock_guard<std::mutex> lock(handle->mu);
    auto it = handle->dynamicOps.find(op);
    if (it != handle->dynamicOps.end()) {
      if (it->second.type != type) {
        return Status::invalidArgument(
            "op %d was created by ncclRedOpCreatePreMulSum for datatype %s but is used with %s; "
            "create one op per datatype",
            op, dataTypeName(it->second.type), dataTypeName(type));
      }
      return it->second.op;
    }
  }
  return Status::invalidArgument(
      "op %d is neither a built-in ncclRedOp_t (0..%d: sum, prod, max, min, avg) nor a live op "
      "created by ncclRedOpCreatePreMulSum on this communicator (never created, or already "
      "destroyed)",
      op, kNumBuiltinRedOps - 1);
}

Status checkCount(const char* what, size_t count, size_t blocks, DataType type) {
  // "count 5 of float (4 bytes each)" or "recvbuff: 4 ranks x count 5 of float (4 bytes each)"
  char amount[256];
  if (blocks == 1) {
    std::snprintf(amount, sizeof(amount), "count %zu of %s (%zu bytes each)", count,
                  dataTypeName(type), dataTypeSize(type));
  } else {
    std::snprintf(amount, sizeof(amount), "%s: %zu ranks x count %zu of %s (%zu bytes each)", what,
                  blocks, count, dataTypeName(type), dataTypeSize(type));
  }
  size_t elements = 0;
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, blocks, &elements) ||
      __builtin_mul_overflow(elements, dataTypeSize(type), &bytes)) {
    return Status::invalidArgument("%s overflows a size_t byte count", amount);
  }
  if (bytes > static_cast<size_t>(PTRDIFF_MAX)) {
    return Status::invalidArgument(
        "%s is %zu bytes, more than the largest possible buffer (PTRDIFF_MAX = %zu bytes)", amount,
        bytes, static_cast<size_t>(PTRDIFF_MAX));
  }
  return Status::ok();
}

Status checkBuffer(const char* name, const void* buffer, size_t count) {
  if (buffer == nullptr && count > 0) {
    return Status::invalidArgument("%s is NULL but count is %zu; pass a buffer of count elements",
                                   name, count);
  }
  return Status::ok();
}

Status checkRank(const char* what, int value, int nranks) {
  if (value < 0 || value >= nranks) {
    return Status::invalidArgument("%s %d is out of range: the communicator has %d ranks (0..%d)",
                                   what, value, nranks, nranks - 1);
  }
  return Status::ok();
}

Result<Stream*> checkStream(cudaStream_t stream) {
  if (stream == nullptr) return static_cast<Stream*>(nullptr);
  if (Stream* host = findHostStream(stream)) return host;
  return Status::invalidArgument(
      "stream %p is not usable: this Loom build has no usable GPU, so buffers are host memory and "
      "the stream must be NULL (synchronous call) or a host stream from loomHostStreamCreate "
      "(asynchronous)",
      static_cast<const void*>(stream));
}

}  // namespace loom::api
