#include "trainer/batch_loader.h"

namespace loom::trainer {

Result<BatchLoader> BatchLoader::create(std::shared_ptr<const std::vector<uint16_t>> tokens,
                                        const BatchLayout& layout, const std::string& sourceName) {
  const char* source = sourceName.c_str();
  if (layout.sequenceLength == 0) {
    return Status::invalidArgument("batch loader for %s: sequence length T must be positive",
                                   source);
  }
  if (layout.globalBatchSequences == 0) {
    return Status::invalidArgument("batch loader for %s: global batch B must be positive", source);
  }
  if (layout.worldSize < 1 || layout.rank < 0 || layout.rank >= layout.worldSize) {
    return Status::invalidArgument("batch loader for %s: rank %d is outside 0..N-1 for N=%d ranks",
                                   source, layout.rank, layout.worldSize);
  }
  if (layout.microSteps < 1) {
    return Status::invalidArgument("batch loader for %s: micro-step count %d must be at least 1",
                                   source, layout.microSteps);
  }
  const auto ranks = static_cast<size_t>(layout.worldSize);
  const auto microSteps = static_cast<size_t>(layout.microSteps);
  if (layout.globalBatchSequences % ranks != 0) {
    return Status::invalidArgument(
        "batch loader for %s: global batch B=%zu sequences cannot be split evenly over N=%d ranks "
        "(B must be a multiple of N)",
        source, layout.globalBatchSequences, layout.worldSize);
  }
  const size_t perRank = layout.globalBatchSequences / ranks;
  if (perRank % microSteps != 0) {
    return Status::invalidArgument(
        "batch loader for %s: each rank's B/N=%zu sequences (B=%zu, N=%d) cannot be split evenly "
        "into %d micro-steps",
        source, perRank, layout.globalBatchSequences, layout.worldSize, layout.microSteps);
  }
  const size_t tokenCount = tokens ? tokens->size() : 0;
  if (tokenCount < layout.sequenceLength + 1) {
    return Status::invalidArgument(
        "batch loader for %s: %zu tokens are fewer than one sequence needs (T+1 = %zu)", source,
        tokenCount, layout.sequenceLength + 1);
  }
  BatchLoader loader;
  loader.tokens_ = std::move(tokens);
  loader.layout_ = layout;
  loader.microBatchSequences_ = perRank / microSteps;
  loader.sequencesInData_ = (tokenCount - 1) / layout.sequenceLength;
  return loader;
}

Status BatchLoader::loadMicroBatch(int microStep, MicroBatch& batch) const {
  if (microStep < 0 || microStep >= layout_.microSteps) {
    return Status::invalidArgument("batch loader: micro-step %d is outside 0..%d", microStep,
                                   layout_.microSteps - 1);
  }
  const size_t length = layout_.sequenceLength;
  const size_t perRank = layout_.globalBatchSequences / static_cast<size_t>(layout_.worldSize);
  batch.sequences = microBatchSequences_;
  batch.sequenceLength = length;
  batch.firstGlobalSequence = position_ + static_cast<uint64_t>(layout_.rank) * perRank +
                              static_cast<uint64_t>(microStep) * microBatchSequences_;
  batch.inputs.resize(microBatchSequences_ * length);
  batch.targets.resize(microBatchSequences_ * length);
  const std::vector<uint16_t>& tokens = *tokens_;
  for (size_t row = 0; row < microBatchSequences_; ++row) {
    const uint64_t dataSequence = (batch.firstGlobalSequence + row) % sequencesInData_;
    const uint16_t* window = tokens.data() + dataSequence * length;  // T + 1 tokens
    int32_t* inputs = batch.inputs.data() + row * length;
    int32_t* targets = batch.targets.data() + row * length;
    for (size_t t = 0; t < length; ++t) {
      inputs[t] = window[t];
      targets[t] = window[t + 1];
    }
  }
  return Status::ok();
}

}  // namespace loom::trainer
