// loomHostStreamCreate/Synchronize/Destroy: a loom::Stream handed out as a
// cudaStream_t. The table of live streams lets the collectives accept these
// and refuse every other stream value.
#include <mutex>
#include <unordered_set>

#include "api/api_error.h"
#include "api/host_stream_table.h"

namespace loom::api {
namespace {

std::mutex& tableMutex() {
  static std::mutex mu;
  return mu;
}

std::unordered_set<const void*>& table() {
  static auto* live = new std::unordered_set<const void*>();  // outlives user static destructors
  return *live;
}

Stream* asStream(cudaStream_t stream) { return reinterpret_cast<Stream*>(stream); }

Status unknownStream(const char* verb, cudaStream_t stream) {
  return Status::invalidArgument(
      "cannot %s stream %p: it is not a live host stream from loomHostStreamCreate", verb,
      static_cast<const void*>(stream));
}

}  // namespace

Stream* findHostStream(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(tableMutex());
  return table().count(stream) ? asStream(stream) : nullptr;
}

}  // namespace loom::api

using loom::Status;
using loom::api::guardedCall;

extern "C" {

ncclResult_t loomHostStreamCreate(cudaStream_t* stream) {
  return guardedCall("loomHostStreamCreate", nullptr, [&]() -> Status {
    if (stream == nullptr) return Status::invalidArgument("stream (output pointer) is NULL");
    auto created = std::make_unique<loom::Stream>();
    {
      std::lock_guard<std::mutex> lock(loom::api::tableMutex());
      loom::api::table().insert(created.get());
    }
    *stream = reinterpret_cast<cudaStream_t>(created.release());
    return Status::ok();
  });
}

ncclResult_t loomHostStreamSynchronize(cudaStream_t stream) {
  return guardedCall("loomHostStreamSynchronize", nullptr, [&]() -> Status {
    loom::Stream* host = loom::api::findHostStream(stream);
    if (host == nullptr) return loom::api::unknownStream("synchronize", stream);
    return host->synchronize();
  });
}

ncclResult_t loomHostStreamDestroy(cudaStream_t stream) {
  return guardedCall("loomHostStreamDestroy", nullptr, [&]() -> Status {
    {
      std::lock_guard<std::mutex> lock(loom::api::tableMutex());
      if (loom::api::table().erase(stream) == 0) return loom::api::unknownStream("destroy", stream);
    }
    // Report what the queued work hit; the destructor would swallow it.
    Status pending = loom::api::asStream(stream)->synchronize();
    delete loom::api::asStream(stream);
    return pending;
  });
}

}  // extern "C"
