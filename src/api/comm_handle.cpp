#include "api/comm_handle.h"

#include <unordered_set>

namespace loom::api {
namespace {

std::mutex& registryMutex() {
  static std::mutex mu;
  return mu;
}

// Leaked on purpose: handles may be destroyed from static destructors of user
// code after ours would have run.
std::unordered_set<const ncclComm*>& registry() {
  static auto* live = new std::unordered_set<const ncclComm*>();
  return *live;
}

}  // namespace

ncclComm* newCommHandle() {
  auto handle = std::make_unique<ncclComm>();
  std::lock_guard<std::mutex> lock(registryMutex());
  registry().insert(handle.get());
  return handle.release();
}

void deleteCommHandle(ncclComm* handle) {
  {
    std::lock_guard<std::mutex> lock(registryMutex());
    registry().erase(handle);
  }
  delete handle;
}

bool isLiveComm(const ncclComm* handle) {
  if (handle == nullptr) return false;
  std::lock_guard<std::mutex> lock(registryMutex());
  return registry().count(handle) != 0;
}

Result<ncclComm*> requireComm(ncclComm_t comm) {
  if (comm == nullptr) {
    return Status::invalidArgument("comm is NULL; pass a communicator from ncclCommInitRank");
  }
  if (!isLiveComm(comm)) {
    return Status::invalidArgument(
        "comm %p is not a live communicator (already destroyed, or never created by "
        "ncclCommInitRank/ncclCommInitAll/ncclCommSplit)",
        static_cast<const void*>(comm));
  }
  return comm;
}

Result<ncclComm*> requireReadyComm(ncclComm_t comm) {
  LOOM_ASSIGN_OR_RETURN(ncclComm * handle, requireComm(comm));
  if (!handle->ready.load(std::memory_order_acquire)) {
    return Status::invalidUsage(
        "comm %p is still being created: it was created inside ncclGroupStart/ncclGroupEnd; "
        "call ncclGroupEnd before using it",
        static_cast<const void*>(comm));
  }
  if (handle->comm == nullptr) {
    return Status::invalidUsage("comm %p failed to initialise (%s); destroy it",
                                static_cast<const void*>(comm),
                                handle->initError.toString().c_str());
  }
  return handle;
}

}  // namespace loom::api
