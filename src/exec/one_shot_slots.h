// Shared-memory staging slots for small all-reduces on one host.
//
// The "oneshot" algorithm (algorithms/direct.h) has every rank reduce all n
// inputs itself. Run as a schedule, that is n-1 framed messages per rank
// through the transport rings; on one host the ranks can instead read each
// other's inputs where they lie. Every rank copies its input into its own slot
// of one shared segment, publishes the call's sequence number, waits until
// every rank has published, and reduces the n slots in rank order. An 8-byte
// all-reduce then costs a few cache-line transfers and no message framing, and
// every rank computes the bitwise-same result (same operands, same order).
//
// Each rank has two data slots, used by alternate calls. Every collective of
// the communicator, whatever runs it, advances the rank's sequence (publish()
// for one-shots, announce() for calls run as schedules), so a rank can tell a
// peer that ran a different call from one that is late. A slot is rewritten two calls after
// its last use, and only once every peer has published the call in between,
// which a peer does only after it finished reading the slot.
//
// Waits spin briefly, then yield, then sleep on a shared doorbell; they end
// with the peers' data, an abort (any rank's abort() reaches all), a peer's
// death, or LOOM_TIMEOUT_S.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "exec/executor.h"
#include "transports/shm/doorbell.h"

namespace loom {

class OneShotSlots {
 public:
  // Collective: every rank of the communicator (all on one host) calls it.
  // An error names the shared-memory size needed when /dev/shm is too small.
  static Result<std::unique_ptr<OneShotSlots>> create(Bootstrap& bootstrap, size_t slotBytes);
  ~OneShotSlots();
  OneShotSlots(const OneShotSlots&) = delete;
  OneShotSlots& operator=(const OneShotSlots&) = delete;

  size_t slotBytes() const { return slotBytes_; }

  // The next call's sequence number; every rank numbers its collectives alike.
  uint64_t nextSequence() { return ++sequence_; }
  // A call run as a schedule: advances this rank's sequence only.
  void announce(uint64_t sequence);
  // A call run here: waits until the slot for `sequence` is free, and returns it.
  Result<void*> ownSlot(uint64_t sequence, const std::atomic<bool>& abortRequested);
  // Makes this rank's slot (filled through ownSlot) visible with the call's signature.
  void publish(uint64_t sequence, const CallSignature& signature);
  // Waits until every rank has published `sequence`; an error when one ran a
  // different call, aborted, died or stayed silent past LOOM_TIMEOUT_S.
  Status waitForAll(uint64_t sequence, const CallSignature& signature, const std::atomic<bool>& abortRequested);
  // A rank's data for `sequence` (valid after waitForAll).
  const void* slotOf(int rank, uint64_t sequence) const;

  // Makes every rank waiting here fail instead of waiting for this one.
  void abort();

 private:
  struct RankState;
  struct SlotHeader;
  OneShotSlots() = default;
  RankState* rankState(int rank) const;
  SlotHeader* slotHeader(int rank, uint64_t sequence) const;
  uint64_t progressOf(int rank) const;  // the last call `rank` announced or published
  // Waits until every peer's latest sequence is at least `sequence`.
  Status waitForSequence(uint64_t sequence, const std::atomic<bool>& abortRequested, const char* purpose);

  int rank_ = 0;
  int nranks_ = 1;
  size_t slotBytes_ = 0;
  size_t slotStride_ = 0;
  size_t rankStride_ = 0;
  int spinLimit_ = 128;  // polls before yielding the core
  std::vector<int> pids_;
  std::byte* base_ = nullptr;
  size_t mappedBytes_ = 0;
  std::unique_ptr<Doorbell> bell_;
  uint64_t sequence_ = 0;
};

}  // namespace loom
