// How the C API reports failure: a loom::Status becomes an ncclResult_t, and
// its message is kept for ncclGetLastError (per thread, and per communicator
// when the call had a live one) and logged at WARN.
//
// Every exported function runs its body through guardedCall, which also
// turns any exception that escapes the C++ layers into an error code: the C
// API never lets one cross into C code.
#pragma once

#include <exception>
#include <new>

#include "loom/status.h"
#include "nccl.h"

namespace loom::api {

ncclResult_t toNcclResult(StatusCode code);

// Records `status` (not OK) as the last error of this thread and, if `comm`
// is a live communicator, of `comm`; returns its ncclResult_t.
ncclResult_t recordFailure(const char* function, ncclComm_t comm, const Status& status);
// recordFailure, and logs the message at WARN: for failures a call returns.
ncclResult_t reportFailure(const char* function, ncclComm_t comm, const Status& status);

// Runs body (returning Status) and reports what it returns or throws.
template <typename Body>
ncclResult_t guardedCall(const char* function, ncclComm_t comm, Body&& body) noexcept {
  try {
    Status status = body();
    if (status.isOk()) return ncclSuccess;
    return reportFailure(function, comm, status);
  } catch (const std::bad_alloc&) {
    return reportFailure(function, comm, Status::systemError("out of host memory"));
  } catch (const std::exception& e) {
    return reportFailure(function, comm,
                         Status::internal("unexpected C++ exception: %s", e.what()));
  } catch (...) {
    return reportFailure(function, comm, Status::internal("unexpected non-standard C++ exception"));
  }
}

}  // namespace loom::api

// Defines pnccl<name> as a second exported name of ncclname, as NCCL provides
// for profilers that interpose on the ncclXxx names.
#define LOOM_NCCL_PROFILING_ALIAS(name) \
  extern "C" __typeof__(name) p##name __attribute__((alias(#name)));
