// One direction of a byte stream between two ranks, as the executor sees it.
//
// Every transport (shared memory, TCP, later UCX, ibverbs, CUDA IPC) implements
// this one interface. All calls are non-blocking: the executor's progress loop
// decides when to spin, yield or sleep, so a transport never parks a thread and
// a dead peer can never hold one forever. A connection carries messages of one
// channel between one pair of ranks; message boundaries are the executor's
// business (it frames each message with a MessageHeader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "loom/status.h"

namespace loom {

class SendConnection {
 public:
  virtual ~SendConnection() = default;
  // Accepts up to `bytes`; returns how many were taken (0 when the peer's
  // buffer is full). An error means the peer is gone or aborted.
  virtual Result<size_t> write(const void* data, size_t bytes) = 0;
  // Tells the receiver this side is aborting, so it errors instead of waiting.
  virtual void abort() = 0;
  // Non-OK when the peer has died or aborted; cheap enough to call while waiting.
  virtual Status peerStatus() = 0;
  // A file descriptor that becomes writable when write() can make progress, or -1.
  virtual int pollFd() const { return -1; }
};

class RecvConnection {
 public:
  virtual ~RecvConnection() = default;
  // The longest contiguous run of received bytes not yet consumed (possibly
  // empty). Reducing straight out of this span is what saves a copy.
  virtual Result<std::span<const std::byte>> peek() = 0;
  virtual void consume(size_t bytes) = 0;
  virtual void abort() = 0;
  virtual Status peerStatus() = 0;
  // A file descriptor that becomes readable when peek() can make progress, or -1.
  virtual int pollFd() const { return -1; }
};

}  // namespace loom
