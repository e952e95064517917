// Loom's C++ API: communicators, host streams and collectives.
//
// A Communicator is one rank's membership in a group of ranks. Collectives are
// enqueued on a Stream and return at once; pass stream == nullptr to run the
// call synchronously (it returns when this rank's part is complete). Between
// groupStart() and groupEnd() calls are recorded and launched together at
// groupEnd(), so point-to-point sends and receives in one group never deadlock.
//
// Buffers are host memory in this build. Every function validates its
// arguments and returns a Status naming the bad value; nothing throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "loom/status.h"
#include "loom/types.h"

namespace loom {

constexpr size_t kUniqueIdBytes = 128;

// How ranks find each other: the root's address and the job's secret token.
// Opaque to users; created once and handed to every rank.
struct UniqueId {
  char bytes[kUniqueIdBytes] = {};
};

// Creates a UniqueId and starts the bootstrap root in this process. The root
// waits (up to LOOM_TIMEOUT_S) for nranks ranks presenting the same token.
LOOM_API Result<UniqueId> createUniqueId();

// An in-order queue of work served by its own thread: the host counterpart of
// a cudaStream_t. Work enqueued on one stream runs in order.
class LOOM_API Stream {
 public:
  Stream();
  ~Stream();  // waits for queued work
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Waits for all work enqueued so far; returns the first error any of it hit
  // (and clears it).
  Status synchronize();
  // True when all work enqueued so far has finished.
  bool query() const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

// A point in a stream's work: done when everything enqueued on the stream
// before record() has finished. The host counterpart of a cudaEvent_t.
class LOOM_API Event {
 public:
  Event();
  ~Event();
  void record(Stream& stream);
  bool query() const;  // true once reached (and for an event never recorded)
  void synchronize() const;
  // Makes `stream` wait for this event before running work enqueued after.
  void enqueueWait(Stream& stream) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

struct CommOptions {
  std::string name;  // shown in logs
  // Algorithm rules for this communicator in LOOM_ALGO syntax ("ring",
  // "allreduce:tree;broadcast:ring", "^ring"); empty: LOOM_ALGO's.
  std::string algorithm;
};

class LOOM_API Communicator {
 public:
  // Joins the group described by `id` as `rank` of `nranks`. Blocks until all
  // ranks have joined or LOOM_TIMEOUT_S expires.
  static Result<std::unique_ptr<Communicator>> create(int nranks, const UniqueId& id, int rank,
                                                      const CommOptions& options = {});
  // Joins using torchrun's variables RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
  // (and LOOM_SECRET for the job's token).
  static Result<std::unique_ptr<Communicator>> createFromEnvironment(const CommOptions& options = {});

  ~Communicator();  // finalizes (waits for queued work) unless aborted
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int size() const;

  Status allReduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op,
                   Stream* stream = nullptr);
  Status broadcast(const void* sendbuf, void* recvbuf, size_t count, DataType type, int root,
                   Stream* stream = nullptr);
  Status reduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op, int root,
                Stream* stream = nullptr);
  Status allGather(const void* sendbuf, void* recvbuf, size_t sendcount, DataType type,
                   Stream* stream = nullptr);
  Status reduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount, DataType type,
                       RedOp op, Stream* stream = nullptr);
  Status allToAll(const void* sendbuf, void* recvbuf, size_t count, DataType type,
                  Stream* stream = nullptr);
  Status send(const void* sendbuf, size_t count, DataType type, int peer, Stream* stream = nullptr);
  Status recv(void* recvbuf, size_t count, DataType type, int peer, Stream* stream = nullptr);

  // A new communicator of the ranks that pass the same color, ordered by key
  // (then by rank). color < 0 means "not in any": returns nullptr.
  Result<std::unique_ptr<Communicator>> split(int color, int key, const CommOptions& options = {});

  // Waits for all queued work; afterwards collectives are refused.
  Status finalize();
  // Stops all work now; peers waiting on this rank get an error, not a hang.
  void abort();
  // The first error hit by asynchronous work (OK if none).
  Status asyncError() const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Group calls: nestable; calls on any communicator between the outermost
// groupStart() and groupEnd() of this thread launch together at groupEnd().
LOOM_API Status groupStart();
LOOM_API Status groupEnd();

}  // namespace loom
