#include "exec/operation.h"

#include <cstring>

#include "kernels/reduce.h"

namespace loom {
namespace {

// avg and premulsum combine elements by sum; their scaling is a separate step.
RedOpKind elementOperation(RedOpKind op) {
  return op == RedOpKind::kAvg || op == RedOpKind::kPreMulSum ? RedOpKind::kSum : op;
}

}  // namespace

Status runOneShotAllReduce(OneShotSlots& slots, const CallSignature& signature, RedOp op, const void* input,
                           void* output, int nranks, const std::atomic<bool>& abortRequested) {
  // Stage, publish, wait, then reduce the n slots in rank order, so every
  // rank gets the bitwise-same result.
  const DataType type = signature.type;
  const size_t count = signature.count;
  const uint64_t sequence = slots.nextSequence();
  LOOM_ASSIGN_OR_RETURN(void* own, slots.ownSlot(sequence, abortRequested));
  if (op.kind == RedOpKind::kPreMulSum) {
    preMultiplyElements(type, op.scalarBits, own, input, count);
  } else if (count > 0) {
    std::memcpy(own, input, count * dataTypeSize(type));
  }
  slots.publish(sequence, signature);
  LOOM_RETURN_IF_ERROR(slots.waitForAll(sequence, signature, abortRequested));
  if (nranks == 1) {
    if (count > 0) std::memcpy(output, slots.slotOf(0, sequence), count * dataTypeSize(type));
    return Status::ok();
  }
  const RedOpKind combine = elementOperation(op.kind);
  reduceElements(type, combine, output, slots.slotOf(0, sequence), slots.slotOf(1, sequence), count);
  for (int r = 2; r < nranks; ++r) reduceElements(type, combine, output, output, slots.slotOf(r, sequence), count);
  if (op.kind == RedOpKind::kAvg) divideElements(type, output, count, nranks);
  return Status::ok();
}

Status runOperation(Operation& operation, ConnectionProvider& connections, OneShotSlots* slots,
                    const std::atomic<bool>& abortRequested) {
  if (operation.oneShot) {
    return runOneShotAllReduce(*slots, operation.signature, operation.op,
                               operation.buffers[static_cast<int>(BufferId::kInput)],
                               operation.buffers[static_cast<int>(BufferId::kOutput)], operation.schedule.nranks,
                               abortRequested);
  }
  if (slots != nullptr && operation.signature.kind != CollectiveKind::kSendRecv) {
    slots->announce(slots->nextSequence());
  }
  const DataType type = operation.signature.type;
  const size_t elementSize = dataTypeSize(type);
  Execution e;
  e.schedule = &operation.schedule;
  e.type = type;
  e.signature = operation.signature;
  e.buffers = operation.buffers;
  e.combine = elementOperation(operation.op.kind);
  std::vector<std::byte> scaledInput;
  if (operation.op.kind == RedOpKind::kPreMulSum && operation.inputCount > 0) {
    scaledInput.resize(operation.inputCount * elementSize);
    preMultiplyElements(type, operation.op.scalarBits, scaledInput.data(),
                        operation.buffers[static_cast<int>(BufferId::kInput)], operation.inputCount);
    e.buffers[static_cast<int>(BufferId::kInput)] = scaledInput.data();
  }
  std::vector<std::byte> scratch(operation.schedule.scratchCount * elementSize);
  e.buffers[static_cast<int>(BufferId::kScratch)] = scratch.data();
  LOOM_RETURN_IF_ERROR(executeSchedule(e, connections, abortRequested));

  if (operation.op.kind == RedOpKind::kAvg && operation.resultCount > 0) {
    divideElements(type, operation.buffers[static_cast<int>(BufferId::kOutput)], operation.resultCount,
                   operation.schedule.nranks);
  }
  return Status::ok();
}

}  // namespace loom
