// Element types, reduction operators and collective kinds.
//
// The numeric values of DataType and RedOpKind equal NCCL's ncclDataType_t and
// ncclRedOp_t, so the C API converts by a range check and a cast.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/status.h"

namespace loom {

enum class DataType : int {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
  kFloat8e4m3 = 10,
  kFloat8e5m2 = 11,
};
constexpr int kNumDataTypes = 12;

LOOM_API size_t dataTypeSize(DataType type);
LOOM_API const char* dataTypeName(DataType type);  // nccl-tests' names: "float", "half", "bfloat16", ...
LOOM_API bool isValidDataType(int type);
LOOM_API bool isFloatingPoint(DataType type);

enum class RedOpKind : int {
  kSum = 0,
  kProd = 1,
  kMax = 2,
  kMin = 3,
  kAvg = 4,        // sum, then divide by the number of ranks
  kPreMulSum = 5,  // each rank's input is multiplied by a scalar, then summed
};
constexpr int kNumBuiltinRedOps = 5;

// A reduction as the executor applies it. For kPreMulSum the scalar is held in
// the element type's own representation (the first dataTypeSize bytes).
struct RedOp {
  RedOpKind kind = RedOpKind::kSum;
  uint64_t scalarBits = 0;

  static RedOp sum() { return {RedOpKind::kSum, 0}; }
  static RedOp builtin(RedOpKind kind) { return {kind, 0}; }
};
LOOM_API const char* redOpName(RedOpKind kind);  // "sum", "prod", "max", "min", "avg", "premulsum"

enum class CollectiveKind : int {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kSendRecv,  // a group of point-to-point sends and receives
};
LOOM_API const char* collectiveName(CollectiveKind kind);  // "AllReduce", ...

}  // namespace loom
