// ncclGroupStart / ncclGroupEnd.
#include <system_error>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/group_state.h"
#include "loom/communicator.h"

namespace loom::api {
namespace {

thread_local int t_groupDepth = 0;
thread_local std::vector<std::function<Status()>> t_deferred;

// Runs the deferred creations concurrently (they wait for each other) and
// returns the first failure.
Status runDeferred(std::vector<std::function<Status()>> tasks) {
  if (tasks.empty()) return Status::ok();
  std::vector<Status> outcomes(tasks.size());
  if (tasks.size() == 1) {
    outcomes[0] = tasks[0]();
  } else {
    std::vector<std::thread> threads;
    threads.reserve(tasks.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
      try {
        threads.emplace_back([&, i] { outcomes[i] = tasks[i](); });
      } catch (const std::system_error& e) {
        // The ranks already started will time out waiting for this one.
        outcomes[i] = Status::systemError("cannot start a thread for a deferred init: %s", e.what());
      }
    }
    for (auto& t : threads) t.join();
  }
  for (const Status& s : outcomes) {
    if (!s.isOk()) return s;
  }
  return Status::ok();
}

}  // namespace

bool insideGroup() { return t_groupDepth > 0; }

void deferToGroupEnd(std::function<Status()> task) { t_deferred.push_back(std::move(task)); }

}  // namespace loom::api

using loom::Status;
using loom::api::guardedCall;

extern "C" {

ncclResult_t ncclGroupStart(void) {
  return guardedCall("ncclGroupStart", nullptr, []() -> Status {
    LOOM_RETURN_IF_ERROR(loom::groupStart());
    ++loom::api::t_groupDepth;
    return Status::ok();
  });
}

ncclResult_t ncclGroupEnd(void) {
  return guardedCall("ncclGroupEnd", nullptr, []() -> Status {
    if (loom::api::t_groupDepth == 0) {
      return Status::invalidUsage("ncclGroupEnd called without a matching ncclGroupStart");
    }
    --loom::api::t_groupDepth;
    Status launched = loom::groupEnd();
    if (loom::api::t_groupDepth > 0) return launched;
    // Outermost end: the communicators created in the group join now, after
    // the group's collectives (which cannot use them) were launched.
    Status created = loom::api::runDeferred(std::move(loom::api::t_deferred));
    loom::api::t_deferred.clear();
    LOOM_RETURN_IF_ERROR(launched);
    return created;
  });
}

}  // extern "C"

LOOM_NCCL_PROFILING_ALIAS(ncclGroupStart)
LOOM_NCCL_PROFILING_ALIAS(ncclGroupEnd)
