// Result codes, ncclGetErrorString and ncclGetLastError.
#include "api/api_error.h"

#include <string>

#include "api/argument_checks.h"
#include "api/comm_handle.h"
#include "common/logging.h"

namespace loom::api {
namespace {

// The last failure on this thread, and the buffer ncclGetLastError returns
// (a copy, so a communicator's message can change under another thread
// without invalidating the pointer this thread holds).
thread_local std::string t_lastError;
thread_local std::string t_returnedError;

}  // namespace

ncclResult_t toNcclResult(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return ncclSuccess;
    case StatusCode::kSystemError: return ncclSystemError;
    case StatusCode::kInternalError: return ncclInternalError;
    case StatusCode::kInvalidArgument: return ncclInvalidArgument;
    case StatusCode::kInvalidUsage: return ncclInvalidUsage;
    // NCCL has no codes of its own for these: a peer that timed out or a
    // communicator that was aborted both mean "the other side is gone". The
    // message (which starts with "Timeout:" or "Aborted:") tells them apart.
    case StatusCode::kRemoteError:
    case StatusCode::kTimeout:
    case StatusCode::kAborted: return ncclRemoteError;
    // A missing feature or device is the environment's fault, as NCCL files
    // its missing-library and device errors.
    case StatusCode::kUnavailable: return ncclSystemError;
  }
  return ncclInternalError;
}

ncclResult_t recordFailure(const char* function, ncclComm_t comm, const Status& status) {
  std::string message = std::string(function) + ": " + status.toString();
  if (isLiveComm(comm)) {
    std::lock_guard<std::mutex> lock(comm->mu);
    comm->lastError = message;
  }
  t_lastError = std::move(message);
  return toNcclResult(status.code());
}

ncclResult_t reportFailure(const char* function, ncclComm_t comm, const Status& status) {
  LOOM_WARN(kApi, "%s: %s", function, status.toString().c_str());
  return recordFailure(function, comm, status);
}

}  // namespace loom::api

extern "C" {

const char* ncclGetErrorString(ncclResult_t result) {
  switch (loom::api::passedValue(result)) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "a CUDA call failed";
    case ncclSystemError:
      return "system error: an operating-system or library call failed, or a needed resource "
             "is missing (ncclGetLastError says which)";
    case ncclInternalError: return "internal error in the library (please report it)";
    case ncclInvalidArgument: return "invalid argument (ncclGetLastError names the value)";
    case ncclInvalidUsage: return "invalid usage: the call is not allowed at this point";
    case ncclRemoteError:
      return "remote error: a peer failed or exited, a wait timed out, or the communicator "
             "was aborted";
    case ncclInProgress: return "operation still in progress";
    default: return "unknown ncclResult_t value";
  }
}

const char* ncclGetLastError(ncclComm_t comm) {
  try {
    using loom::api::t_lastError;
    using loom::api::t_returnedError;
    if (loom::api::isLiveComm(comm)) {
      std::lock_guard<std::mutex> lock(comm->mu);
      t_returnedError = comm->lastError.empty() ? t_lastError : comm->lastError;
    } else {
      t_returnedError = t_lastError;
    }
    return t_returnedError.c_str();
  } catch (...) {
    return "out of memory while reading the last error";
  }
}

}  // extern "C"

LOOM_NCCL_PROFILING_ALIAS(ncclGetErrorString)
LOOM_NCCL_PROFILING_ALIAS(ncclGetLastError)
