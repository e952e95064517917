// Runs one rank's schedule over transport connections.
//
// Each channel is a lane that runs its steps in order. A send is posted and
// then progresses in the background of the loop; a receive holds its lane
// until the whole message has arrived; a step that writes memory still being
// sent by an earlier step waits for that send to drain (so a posted send
// always carries the data as it was when posted). When nothing progresses the
// loop spins briefly, then yields, then sleeps, and every wait ends: with the
// data, with the peer's death or abort, or at LOOM_TIMEOUT_S.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "loom/types.h"
#include "schedule/schedule.h"
#include "transports/connection.h"

namespace loom {

// What the call was, as every rank should agree. Each message carries it so a
// receiver can tell a mismatched call (different count, type, op or root on
// different ranks) from corrupted data.
struct CallSignature {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  DataType type = DataType::kFloat32;
  RedOpKind op = RedOpKind::kSum;
  int root = 0;
  uint64_t count = 0;

  std::string toString() const;  // "AllReduce(count=1000, float, sum)"
};

class ConnectionProvider {
 public:
  virtual ~ConnectionProvider() = default;
  virtual Result<SendConnection*> sendConnection(int peer, int channel) = 0;
  virtual Result<RecvConnection*> recvConnection(int peer, int channel) = 0;
  // Sleeping when nothing can progress: read activitySnapshot() before looking
  // for work; waitForActivity() returns when a peer may have made some (or
  // after `micros`).
  virtual uint32_t activitySnapshot() { return 0; }
  virtual void waitForActivity(uint32_t seen, int micros);
};

struct Execution {
  const Schedule* schedule = nullptr;
  DataType type = DataType::kFloat32;
  RedOpKind combine = RedOpKind::kSum;  // the element operation (avg and premulsum combine by sum)
  std::vector<void*> buffers;           // indexed by BufferId (fused groups add more)
  CallSignature signature;
};

// Runs the schedule to completion or to the first error. `abortRequested` is
// polled while waiting.
Status executeSchedule(const Execution& execution, ConnectionProvider& connections,
                       const std::atomic<bool>& abortRequested);

}  // namespace loom
