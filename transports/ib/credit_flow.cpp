#include "transports/ib/credit_flow.h"

namespace loom {

CreditSender::CreditSender(uint32_t slots, uint32_t firstSeq)
    : slots_(slots == 0 ? 1 : slots), next_(firstSeq), returned_(firstSeq) {}

std::optional<CreditSender::Grant> CreditSender::acquire() {
  if (credits() == 0) return std::nullopt;
  Grant g{next_++, nextSlot_};
  nextSlot_ = nextSlot_ + 1 == slots_ ? 0 : nextSlot_ + 1;
  return g;
}

Status CreditSender::onCreditReturn(uint32_t releasedThrough) {
  // Distances from the oldest unreturned slot, modulo 2^32.
  const uint32_t advance = releasedThrough - returned_;
  const uint32_t sent = next_ - returned_;
  if (advance > sent) {
    // Either stale (wrapped "negative": an older counter arriving late) or
    // beyond what was sent. Stale counters look like huge advances; anything
    // within half the number space behind is treated as stale.
    if (advance >= 0x80000000u) return Status::ok();
    return Status::remoteError(
        "peer returned credit through slot %u but only %u slot(s) were written since %u (sender at %u)",
        releasedThrough, sent, returned_, next_);
  }
  returned_ = releasedThrough;
  return Status::ok();
}

CreditReceiver::CreditReceiver(uint32_t slots, uint32_t batch, uint32_t firstSeq)
    : slots_(slots == 0 ? 1 : slots), arrived_(firstSeq), released_(firstSeq), returned_(firstSeq) {
  batch_ = batch == 0 ? slots_ / 2 : batch;
  if (batch_ < 1) batch_ = 1;
  if (batch_ > slots_) batch_ = slots_;
}

Result<CreditReceiver::Arrival> CreditReceiver::onArrival() {
  // Slots the sender cannot have had credit for: every slot from returned_
  // on is still charged to it, so at most `slots_` may be between them.
  if (arrived_ - returned_ >= slots_) {
    return Status::remoteError(
        "receive ring overrun: slot %u arrived while %u of %u slots were unread or their credit unreturned",
        arrived_, arrived_ - returned_, slots_);
  }
  Arrival a{arrived_++, arriveSlot_};
  arriveSlot_ = arriveSlot_ + 1 == slots_ ? 0 : arriveSlot_ + 1;
  return a;
}

Status CreditReceiver::release() {
  if (released_ == arrived_) return Status::internal("released a slot that has not arrived (next %u)", released_);
  ++released_;
  readSlot_ = readSlot_ + 1 == slots_ ? 0 : readSlot_ + 1;
  return Status::ok();
}

std::optional<uint32_t> CreditReceiver::creditToReturn(bool piggyback, bool force) {
  const uint32_t pending = pendingCredits();
  if (pending == 0) return std::nullopt;
  if (pending >= batch_ || piggyback || force) return released_;
  return std::nullopt;
}

void CreditReceiver::markReturned(uint32_t counter) {
  // Only ever forwards: a counter older than the last one changes nothing.
  if (counter - returned_ <= released_ - returned_) returned_ = counter;
}

Result<uint32_t> decodeSlotImmediate(uint32_t immediate, uint32_t slotBytes) {
  if (immediate == 0 || immediate > slotBytes) {
    return Status::remoteError("slot write carries %u bytes, outside 1..%u (slot size)", immediate, slotBytes);
  }
  return immediate;
}

}  // namespace loom
