// The C API's communicator lifetime and queries: version, unique id, init,
// split, finalize, destroy, abort, count, rank, device, async error.
#include <cstddef>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/comm_handle.h"
#include "api/group_state.h"
#include "loom/communicator.h"

namespace loom::api {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(UniqueId), "ncclUniqueId and loom::UniqueId differ");
static_assert(sizeof(ncclConfig_t) == 80, "ncclConfig_t must keep NCCL 2.28's layout");
static_assert(offsetof(ncclConfig_t, netName) == 32 && offsetof(ncclConfig_t, commName) == 48,
              "ncclConfig_t must keep NCCL 2.28's layout");

UniqueId toLoomId(const ncclUniqueId& id) {
  UniqueId out;
  std::memcpy(out.bytes, id.internal, sizeof(out.bytes));
  return out;
}

// What Loom takes from an ncclConfig_t.
struct InitSettings {
  CommOptions options;
  bool blocking = true;
};

// True when the caller's config (of config->size bytes, perhaps from an older
// header) contains the field ending at `end`.
bool hasField(const ncclConfig_t* config, size_t end) { return config->size >= end; }
#define LOOM_CONFIG_HAS(config, field) \
  hasField(config, offsetof(ncclConfig_t, field) + sizeof((config)->field))

Result<InitSettings> readConfig(const ncclConfig_t* config) {
  InitSettings settings;
  if (config == nullptr) return settings;
  if (config->magic != LOOM_NCCL_CONFIG_MAGIC || !LOOM_CONFIG_HAS(config, blocking)) {
    return Status::invalidArgument(
        "config %p was not set up with NCCL_CONFIG_INITIALIZER (magic 0x%x, size %zu); start every "
        "ncclConfig_t from NCCL_CONFIG_INITIALIZER",
        static_cast<const void*>(config), config->magic, config->size);
  }
  if (config->blocking != NCCL_CONFIG_UNDEF_INT && config->blocking != 0 && config->blocking != 1) {
    return Status::invalidArgument("config->blocking is %d; use 0, 1 or leave it undefined",
                                   config->blocking);
  }
  // Non-blocking init is honoured trivially: creation finishes before the
  // call returns, which a non-blocking caller polling for ncclSuccess accepts.
  settings.blocking = config->blocking != 0;
  if (LOOM_CONFIG_HAS(config, commName) && config->commName != nullptr) {
    settings.options.name = config->commName;
  }
  return settings;
}

// Stores the outcome of creating `handle`'s communicator and publishes it.
Status completeHandle(ncclComm* handle, const char* function,
                      Result<std::unique_ptr<Communicator>> created) {
  if (created.isOk()) {
    handle->comm = std::move(created).value();
  } else {
    handle->initError = created.status();
    std::lock_guard<std::mutex> lock(handle->mu);
    handle->lastError = std::string(function) + ": " + handle->initError.toString();
  }
  handle->ready.store(true, std::memory_order_release);
  return handle->initError;
}

Status initRank(ncclComm_t* comm, int nranks, const ncclUniqueId& commId, int rank,
                const ncclConfig_t* config) {
  if (comm == nullptr) return Status::invalidArgument("comm (output pointer) is NULL");
  *comm = nullptr;
  if (nranks < 1) return Status::invalidArgument("nranks %d must be at least 1", nranks);
  if (rank < 0 || rank >= nranks) {
    return Status::invalidArgument("rank %d is out of range for nranks %d (expected 0..%d)", rank,
                                   nranks, nranks - 1);
  }
  LOOM_ASSIGN_OR_RETURN(InitSettings settings, readConfig(config));
  UniqueId id = toLoomId(commId);

  if (insideGroup()) {
    ncclComm* handle = newCommHandle();
    deferToGroupEnd([handle, nranks, id, rank, options = settings.options] {
      return completeHandle(handle, "ncclCommInitRank",
                            Communicator::create(nranks, id, rank, options));
    });
    *comm = handle;
    return Status::ok();
  }
  LOOM_ASSIGN_OR_RETURN(auto created, Communicator::create(nranks, id, rank, settings.options));
  ncclComm* handle = newCommHandle();
  handle->comm = std::move(created);
  handle->ready.store(true, std::memory_order_release);
  *comm = handle;
  return Status::ok();
}

// Destroys the communicators of ranks that did join after a sibling failed.
void abortAll(std::vector<Result<std::unique_ptr<Communicator>>>& created) {
  for (auto& c : created) {
    if (c.isOk() && c.value() != nullptr) {
      c.value()->abort();
      c.value().reset();
    }
  }
}

Status initAll(ncclComm_t* comms, int ndev) {
  if (comms == nullptr) return Status::invalidArgument("comm (output array) is NULL");
  if (ndev < 1) return Status::invalidArgument("ndev %d must be at least 1", ndev);
  for (int i = 0; i < ndev; ++i) comms[i] = nullptr;
  LOOM_ASSIGN_OR_RETURN(UniqueId id, createUniqueId());

  // Creation blocks until all ranks joined, so each rank joins on its own thread.
  std::vector<Result<std::unique_ptr<Communicator>>> created;
  created.reserve(ndev);
  for (int r = 0; r < ndev; ++r) created.emplace_back(Status::internal("rank %d was not started", r));
  std::vector<std::thread> threads;
  threads.reserve(ndev);
  for (int r = 0; r < ndev; ++r) {
    try {
      threads.emplace_back([&, r] { created[r] = Communicator::create(ndev, id, r); });
    } catch (const std::system_error& e) {
      // Ranks already started fail after LOOM_TIMEOUT_S waiting for this one.
      created[r] = Status::systemError("cannot start a thread to create rank %d: %s", r, e.what());
    }
  }
  for (auto& t : threads) t.join();

  for (int r = 0; r < ndev; ++r) {
    if (!created[r].isOk()) {
      Status failure = created[r].status().withContext("creating rank " + std::to_string(r));
      abortAll(created);
      return failure;
    }
  }
  std::vector<ncclComm*> handles;
  handles.reserve(ndev);
  for (int r = 0; r < ndev; ++r) {
    ncclComm* handle = newCommHandle();
    handle->comm = std::move(created[r]).value();
    handle->ready.store(true, std::memory_order_release);
    handles.push_back(handle);
  }
  for (int r = 0; r < ndev; ++r) comms[r] = handles[r];
  return Status::ok();
}

Status split(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, const ncclConfig_t* config) {
  if (newcomm == nullptr) return Status::invalidArgument("newcomm (output pointer) is NULL");
  *newcomm = nullptr;
  LOOM_ASSIGN_OR_RETURN(ncclComm * parent, requireReadyComm(comm));
  if (color < 0 && color != NCCL_SPLIT_NOCOLOR) {
    return Status::invalidArgument(
        "color %d is negative; use a color >= 0, or NCCL_SPLIT_NOCOLOR (-1) to join no new "
        "communicator",
        color);
  }
  LOOM_ASSIGN_OR_RETURN(InitSettings settings, readConfig(config));
  Communicator* parentComm = parent->comm.get();

  if (insideGroup()) {
    // Every rank of the parent takes part, NOCOLOR ranks included; those get
    // no handle.
    ncclComm* handle = color == NCCL_SPLIT_NOCOLOR ? nullptr : newCommHandle();
    deferToGroupEnd([handle, parentComm, color, key, options = settings.options]() -> Status {
      auto created = parentComm->split(color, key, options);
      if (handle == nullptr) return created.status();
      return completeHandle(handle, "ncclCommSplit", std::move(created));
    });
    *newcomm = handle;
    return Status::ok();
  }
  LOOM_ASSIGN_OR_RETURN(auto created, parentComm->split(color, key, settings.options));
  if (created == nullptr) return Status::ok();  // NOCOLOR
  ncclComm* handle = newCommHandle();
  handle->comm = std::move(created);
  handle->ready.store(true, std::memory_order_release);
  *newcomm = handle;
  return Status::ok();
}

Status refusePending(ncclComm* handle, const char* verb) {
  if (!handle->ready.load(std::memory_order_acquire)) {
    return Status::invalidUsage(
        "cannot %s comm %p while its creation is deferred to ncclGroupEnd; call ncclGroupEnd first",
        verb, static_cast<const void*>(handle));
  }
  return Status::ok();
}

Status requireOutput(const void* out, const char* name) {
  if (out == nullptr) return Status::invalidArgument("%s (output pointer) is NULL", name);
  return Status::ok();
}

}  // namespace
}  // namespace loom::api

using loom::Status;
using loom::api::guardedCall;

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  return guardedCall("ncclGetVersion", nullptr, [&]() -> Status {
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(version, "version"));
    *version = NCCL_VERSION_CODE;
    return Status::ok();
  });
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return guardedCall("ncclGetUniqueId", nullptr, [&]() -> Status {
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(uniqueId, "uniqueId"));
    LOOM_ASSIGN_OR_RETURN(loom::UniqueId id, loom::createUniqueId());
    std::memcpy(uniqueId->internal, id.bytes, sizeof(uniqueId->internal));
    return Status::ok();
  });
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  return guardedCall("ncclCommInitRank", nullptr, [&]() -> Status {
    return loom::api::initRank(comm, nranks, commId, rank, nullptr);
  });
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank,
                                    ncclConfig_t* config) {
  return guardedCall("ncclCommInitRankConfig", nullptr, [&]() -> Status {
    return loom::api::initRank(comm, nranks, commId, rank, config);
  });
}

ncclResult_t ncclCommInitAll(ncclComm_t* comm, int ndev, const int* /*devlist: no devices on host*/) {
  return guardedCall("ncclCommInitAll", nullptr,
                     [&]() -> Status { return loom::api::initAll(comm, ndev); });
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm,
                           ncclConfig_t* config) {
  return guardedCall("ncclCommSplit", comm, [&]() -> Status {
    return loom::api::split(comm, color, key, newcomm, config);
  });
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  return guardedCall("ncclCommFinalize", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireReadyComm(comm));
    LOOM_RETURN_IF_ERROR(handle->comm->finalize());
    handle->finalized = true;
    return Status::ok();
  });
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;  // as NCCL: destroying nothing succeeds
  return guardedCall("ncclCommDestroy", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireComm(comm));
    LOOM_RETURN_IF_ERROR(loom::api::refusePending(handle, "destroy"));
    Status finalized = Status::ok();
    if (handle->comm != nullptr && !handle->finalized) finalized = handle->comm->finalize();
    loom::api::deleteCommHandle(handle);
    // The handle is gone either way; a failure of the work it waited for is
    // still worth returning.
    return finalized;
  });
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  return guardedCall("ncclCommAbort", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireComm(comm));
    LOOM_RETURN_IF_ERROR(loom::api::refusePending(handle, "abort"));
    if (handle->comm != nullptr) handle->comm->abort();
    loom::api::deleteCommHandle(handle);
    return Status::ok();
  });
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  return guardedCall("ncclCommCount", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireReadyComm(comm));
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(count, "count"));
    *count = handle->comm->size();
    return Status::ok();
  });
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return guardedCall("ncclCommUserRank", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireReadyComm(comm));
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(rank, "rank"));
    *rank = handle->comm->rank();
    return Status::ok();
  });
}

// A host communicator has no CUDA device. We answer -1, which is CUDA's own
// cudaCpuDeviceId ("the device that is the CPU"), with ncclSuccess:
//  - an error code would stop the many programs that wrap every NCCL call in
//    a check macro, though nothing is wrong;
//  - 0 would be a lie that sends a program to cudaSetDevice(0) and device
//    pointers on a machine whose buffers are host memory;
//  - -1 is truthful, prints sensibly in logs, and any CUDA call a program
//    makes with it fails at that call with CUDA's own clear error.
ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return guardedCall("ncclCommCuDevice", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireReadyComm(comm));
    (void)handle;
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(device, "device"));
    *device = -1;
    return Status::ok();
  });
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  return guardedCall("ncclCommGetAsyncError", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(ncclComm * handle, loom::api::requireComm(comm));
    LOOM_RETURN_IF_ERROR(loom::api::requireOutput(asyncError, "asyncError"));
    if (!handle->ready.load(std::memory_order_acquire)) {
      *asyncError = ncclInProgress;
      return Status::ok();
    }
    Status error = handle->comm != nullptr ? handle->comm->asyncError() : handle->initError;
    // Kept for ncclGetLastError but not logged: programs poll this in loops.
    *asyncError = error.isOk() ? ncclSuccess
                               : loom::api::recordFailure("asynchronous error", comm, error);
    return Status::ok();
  });
}

}  // extern "C"

LOOM_NCCL_PROFILING_ALIAS(ncclGetVersion)
LOOM_NCCL_PROFILING_ALIAS(ncclGetUniqueId)
LOOM_NCCL_PROFILING_ALIAS(ncclCommInitRank)
LOOM_NCCL_PROFILING_ALIAS(ncclCommInitRankConfig)
LOOM_NCCL_PROFILING_ALIAS(ncclCommInitAll)
LOOM_NCCL_PROFILING_ALIAS(ncclCommSplit)
LOOM_NCCL_PROFILING_ALIAS(ncclCommFinalize)
LOOM_NCCL_PROFILING_ALIAS(ncclCommDestroy)
LOOM_NCCL_PROFILING_ALIAS(ncclCommAbort)
LOOM_NCCL_PROFILING_ALIAS(ncclCommCount)
LOOM_NCCL_PROFILING_ALIAS(ncclCommUserRank)
LOOM_NCCL_PROFILING_ALIAS(ncclCommCuDevice)
LOOM_NCCL_PROFILING_ALIAS(ncclCommGetAsyncError)
