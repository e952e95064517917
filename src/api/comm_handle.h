// What an ncclComm_t points to: a loom::Communicator plus the state the C API
// keeps beside it (dynamic reduction ops, the last error, a pending init).
//
// Handles are entered in a process-wide registry while alive, so a NULL,
// stale or foreign pointer is refused with a clear message instead of being
// dereferenced.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "loom/communicator.h"
#include "nccl.h"

// A custom reduction op made by ncclRedOpCreatePreMulSum: valid only with the
// datatype it was made for.
struct LoomDynamicRedOp {
  loom::RedOp op;
  loom::DataType type;
};

struct ncclComm {
  // Set once: at creation, or at ncclGroupEnd for an init deferred by a group.
  // `ready` is stored (release) after `comm` or `initError` is written.
  std::unique_ptr<loom::Communicator> comm;
  loom::Status initError;
  std::atomic<bool> ready{false};
  bool finalized = false;  // ncclCommFinalize succeeded (destroy then skips it)

  std::mutex mu;  // guards the members below
  std::map<int, LoomDynamicRedOp> dynamicOps;
  int nextDynamicOp = ncclNumOps;
  std::string lastError;
};

namespace loom::api {

// A new handle, already registered. Throws only std::bad_alloc.
ncclComm* newCommHandle();
// Unregisters and frees; the communicator (if any) is destroyed with it.
void deleteCommHandle(ncclComm* handle);
// True while `handle` is a registered, not yet destroyed handle.
bool isLiveComm(const ncclComm* handle);

// The live handle `comm`, or InvalidArgument naming the pointer.
Result<ncclComm*> requireComm(ncclComm_t comm);
// requireComm, and also refuses a handle whose init is pending or failed.
Result<ncclComm*> requireReadyComm(ncclComm_t comm);

}  // namespace loom::api
