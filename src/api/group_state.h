// This thread's ncclGroupStart nesting, and the communicator creations
// deferred to its outermost ncclGroupEnd.
//
// Creating a communicator blocks until every rank has joined, so a thread
// that initialises several ranks between ncclGroupStart and ncclGroupEnd (as
// single-process multi-device NCCL programs do) would wait for itself. Those
// creations are queued here instead and run concurrently, one thread each, at
// the outermost ncclGroupEnd.
#pragma once

#include <functional>

#include "loom/status.h"

namespace loom::api {

// True between this thread's first ncclGroupStart and its matching ncclGroupEnd.
bool insideGroup();

// Queues `task` to run at the outermost ncclGroupEnd of this thread. The task
// records its own outcome on its handle and returns it, so that
// ncclGroupEnd can report the first failure.
void deferToGroupEnd(std::function<Status()> task);

}  // namespace loom::api
