// One collective (or one fused group of sends and receives) ready to run:
// the schedule plus the caller's buffers and what to do before and after.
#pragma once

#include <atomic>
#include <vector>

#include "exec/executor.h"
#include "exec/one_shot_slots.h"

namespace loom {

struct Operation {
  Schedule schedule;
  CallSignature signature;
  RedOp op;
  // Indexed by BufferId; fused send/receive groups append one buffer per call.
  std::vector<void*> buffers;
  size_t inputCount = 0;   // elements of buffers[kInput] (for premulsum's scaled copy)
  size_t resultCount = 0;  // elements of buffers[kOutput] that hold the reduction (for avg's division)
  // Run through the communicator's shared-memory slots instead of the
  // schedule (a small one-shot all-reduce on one host; see one_shot_slots.h).
  bool oneShot = false;
};

// Runs the operation: premultiplies into a temporary for kPreMulSum, provides
// scratch, executes the schedule (or the one-shot through `slots`), divides
// for kAvg. `slots` (null when the communicator has none) numbers every
// collective, so ranks can tell which call a peer is in.
Status runOperation(Operation& operation, ConnectionProvider& connections, OneShotSlots* slots,
                    const std::atomic<bool>& abortRequested);

// A one-shot all-reduce through the slots (what runOperation does for an
// operation marked oneShot), callable without building an Operation: the
// path an 8-byte blocking all-reduce takes.
Status runOneShotAllReduce(OneShotSlots& slots, const CallSignature& signature, RedOp op, const void* input,
                           void* output, int nranks, const std::atomic<bool>& abortRequested);

}  // namespace loom
