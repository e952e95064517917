// Shared-memory transport: one single-producer single-consumer byte ring per
// (sender, receiver, channel) in a POSIX shared-memory segment.
//
// Either side may open the segment first (both create it if missing and size
// it identically); the second to attach unlinks the name, so a crash later
// leaves nothing behind in /dev/shm. A sender that closes before its receiver
// attached leaves the name in place only if it holds undelivered data. The producer only writes `head`, the
// consumer only writes `tail`: no locks on the data path.
#pragma once

#include <memory>
#include <string>

#include "transports/connection.h"
#include "transports/shm/doorbell.h"

namespace loom {

struct ShmEndpoint {
  std::string name;  // segment name, e.g. "/loom-<job>-<src>-<dst>-<channel>"
  size_t capacity = 0;
  int peerRank = -1;
  int peerPid = 0;  // checked for liveness while waiting
  Doorbell* peerBell = nullptr;  // rung when the peer may now make progress (may be null)
};

Result<std::unique_ptr<SendConnection>> openShmSend(const ShmEndpoint& endpoint);
Result<std::unique_ptr<RecvConnection>> openShmRecv(const ShmEndpoint& endpoint);

// False when the process is gone or a zombie.
bool processAlive(int pid);

}  // namespace loom
