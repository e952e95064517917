// Credit-based flow control for RDMA writes into a ring of receive slots.
//
// The receiver owns a ring of N slots of fixed size, registered for remote
// write. The sender writes whole slots with RDMA-write-with-immediate; the
// immediate wakes the receiver's completion queue. A write into a slot the
// receiver has not finished reading would silently corrupt data (RDMA has no
// back-pressure of its own), so the sender may only write while it holds a
// credit, one per free slot.
//
// Counters, not deltas: both sides count slots in 32-bit sequence numbers
// that wrap, and the receiver returns credit as its cumulative "released"
// count. A returned counter is idempotent (a later one supersedes a lost or
// reordered earlier one) and modular subtraction keeps every difference right
// across the 2^32 wrap as long as fewer than 2^31 slots are outstanding, which
// N < 2^31 guarantees. Slot indices are kept as separate cursors rather than
// seq % N: 2^32 is not a multiple of every N, so seq % N would jump at the
// wrap and put two consecutive writes into the same slot.
//
// Batching: returning every credit costs one RDMA write per slot. The
// receiver returns them when `batch` have accumulated (default N/2) or when a
// write to the peer is going out anyway (piggyback). No deadlock: a sender
// stalls only with 0 credits, i.e. all N slots unreturned; once the receiver
// has read them, N >= batch credits are pending and go back.
#pragma once

#include <cstdint>
#include <optional>

#include "loom/status.h"

namespace loom {

// Sender side: which slot to write next, and whether it may.
class CreditSender {
 public:
  // `firstSeq` is agreed with the receiver at connection time (tests start
  // near 2^32 to cross the wrap).
  explicit CreditSender(uint32_t slots, uint32_t firstSeq = 0);

  uint32_t slots() const { return slots_; }
  uint32_t credits() const { return slots_ - (next_ - returned_); }
  // Slots written whose credit has not come back.
  uint32_t outstanding() const { return next_ - returned_; }
  uint32_t nextSeq() const { return next_; }

  struct Grant {
    uint32_t seq;   // sequence number of this write
    uint32_t slot;  // ring slot to write: the peer's and the local staging one
  };
  // Takes one credit, or nullopt when the ring is full.
  std::optional<Grant> acquire();
  // The receiver has released every slot before `releasedThrough`
  // (cumulative). Stale values (older than already seen) are ignored; a value
  // beyond what was sent is a protocol error.
  Status onCreditReturn(uint32_t releasedThrough);

 private:
  uint32_t slots_;
  uint32_t next_;      // sequence number of the next slot to write
  uint32_t nextSlot_ = 0;
  uint32_t returned_;  // everything before this has been released by the receiver
};

// Receiver side: which slot arrived, and when to send credit back.
class CreditReceiver {
 public:
  // batch 0 means slots / 2 (at least 1); clamped to [1, slots].
  CreditReceiver(uint32_t slots, uint32_t batch = 0, uint32_t firstSeq = 0);

  uint32_t slots() const { return slots_; }
  uint32_t batch() const { return batch_; }
  // Arrived and not yet released (the slots the reader may look at).
  uint32_t unread() const { return arrived_ - released_; }
  // Released but not yet told to the sender.
  uint32_t pendingCredits() const { return released_ - returned_; }
  // Sequence number and ring slot of the oldest unread slot.
  uint32_t readSeq() const { return released_; }
  uint32_t readSlot() const { return readSlot_; }

  struct Arrival {
    uint32_t seq;
    uint32_t slot;
  };
  // A write-with-immediate completed. RC delivers in order, so it is the next
  // sequence number and slot. An error means the sender wrote with no credit
  // (N slots already unread or unreturned): the ring overran.
  Result<Arrival> onArrival();
  // The reader finished the oldest unread slot.
  Status release();

  // The counter to send now, or nullopt if not worth a write yet. With
  // `piggyback` a message to the peer is leaving anyway, so any pending
  // credit rides along; `force` sends any pending credit (idle flush).
  std::optional<uint32_t> creditToReturn(bool piggyback = false, bool force = false);
  // The counter was handed to the transport (not necessarily delivered yet:
  // re-sending a later counter makes up for a loss).
  void markReturned(uint32_t counter);

 private:
  uint32_t slots_;
  uint32_t batch_;
  uint32_t arrived_;   // next sequence number to arrive
  uint32_t released_;  // next to release
  uint32_t returned_;  // last counter given to the sender
  uint32_t arriveSlot_ = 0;
  uint32_t readSlot_ = 0;
};

// The immediate value of a slot write: its payload length. The sequence
// number needs no room there because RC delivers writes in order.
inline uint32_t encodeSlotImmediate(uint32_t payloadBytes) { return payloadBytes; }
Result<uint32_t> decodeSlotImmediate(uint32_t immediate, uint32_t slotBytes);

}  // namespace loom
