// ncclRedOpCreatePreMulSum / ncclRedOpDestroy: per-communicator op ids from
// ncclNumOps up, each standing for a loom::RedOp{kPreMulSum, scalar}.
#include <cstring>

#include "api/api_error.h"
#include "api/argument_checks.h"
#include "api/comm_handle.h"

using loom::Status;
using loom::api::guardedCall;

extern "C" {

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
  return guardedCall("ncclRedOpCreatePreMulSum", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireReadyComm(comm));
    if (op == nullptr) return Status::invalidArgument("op (output pointer) is NULL");
    if (scalar == nullptr) return Status::invalidArgument("scalar is NULL");
    LOOM_ASSIGN_OR_RETURN(loom::DataType type, loom::api::checkDataType(loom::api::passedValue(datatype)));
    const int where = loom::api::passedValue(residence);
    if (where != ncclScalarDevice && where != ncclScalarHostImmediate) {
      return Status::invalidArgument(
          "residence %d is not an ncclScalarResidence_t (0: ncclScalarDevice, 1: "
          "ncclScalarHostImmediate)",
          where);
    }
    // Device memory is host memory in this build, so both residences are read
    // now; a later change to *scalar does not affect the op.
    loom::RedOp redOp{loom::RedOpKind::kPreMulSum, 0};
    std::memcpy(&redOp.scalarBits, scalar, loom::dataTypeSize(type));

    std::lock_guard<std::mutex> lock(handle->mu);
    if (handle->nextDynamicOp == ncclMaxRedOp) {
      return Status::invalidUsage(
          "this communicator has created %d reduction ops, the most ncclRedOp_t can number",
          ncclMaxRedOp - ncclNumOps);
    }
    int id = handle->nextDynamicOp++;  // never reused: a destroyed id stays invalid
    handle->dynamicOps[id] = LoomDynamicRedOp{redOp, type};
    *op = static_cast<ncclRedOp_t>(id);
    return Status::ok();
  });
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  return guardedCall("ncclRedOpDestroy", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireComm(comm));
    const int id = loom::api::passedValue(op);
    if (id >= 0 && id < ncclNumOps) {
      return Status::invalidArgument("op %d is a built-in ncclRedOp_t and cannot be destroyed", id);
    }
    std::lock_guard<std::mutex> lock(handle->mu);
    if (handle->dynamicOps.erase(id) == 0) {
      return Status::invalidArgument(
          "op %d is not a live op of this communicator (never created here, or already destroyed)",
          id);
    }
    return Status::ok();
  });
}

}  // extern "C"

LOOM_NCCL_PROFILING_ALIAS(ncclRedOpCreatePreMulSum)
LOOM_NCCL_PROFILING_ALIAS(ncclRedOpDestroy)
