// One collective (or one fused group of sends and receives) ready to run:
// the schedule plus the caller's buffers and what to do before and after.
#pragma once

#include <atomic>
#include <vector>

#include "exec/executor.h"

namespace loom {

struct Operation {
  Schedule schedule;
  CallSignature signature;
  RedOp op;
  // Indexed by BufferId; fused send/receive groups append one buffer per call.
  std::vector<void*> buffers;
  size_t inputCount = 0;   // elements of buffers[kInput] (for premulsum's scaled copy)
  size_t resultCount = 0;  // elements of buffers[kOutput] that hold the reduction (for avg's division)
};

// Runs the operation: premultiplies into a temporary for kPreMulSum, provides
// scratch, executes the schedule, divides for kAvg.
Status runOperation(Operation& operation, ConnectionProvider& connections, const std::atomic<bool>& abortRequested);

}  // namespace loom
