#include "exec/operation.h"

#include "kernels/reduce.h"

namespace loom {

Status runOperation(Operation& operation, ConnectionProvider& connections, const std::atomic<bool>& abortRequested) {
  const DataType type = operation.signature.type;
  const size_t elementSize = dataTypeSize(type);
  Execution e;
  e.schedule = &operation.schedule;
  e.type = type;
  e.signature = operation.signature;
  e.buffers = operation.buffers;
  e.combine = operation.op.kind;
  if (e.combine == RedOpKind::kAvg || e.combine == RedOpKind::kPreMulSum) e.combine = RedOpKind::kSum;

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
