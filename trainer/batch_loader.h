// Training batches from a token array, sharded over data-parallel ranks and
// split into micro-steps for gradient accumulation.
//
// Sequences. A token array of n tokens holds S = floor((n - 1) / T) sequences
// of T + 1 tokens: sequence i is tokens [i*T, i*T + T]. Its inputs are the
// first T tokens and its targets the last T (each input's next token), so
// consecutive sequences share one token, as in llm.c. A tail too short for a
// whole sequence is never used.
//
// Order and wrap-around. The loader walks an endless list of global sequence
// indices 0, 1, 2, ...; global index g reads sequence g mod S. So at the end of
// the data it wraps to the beginning and every epoch repeats the same order (no
// shuffling); a batch may straddle the wrap. The position is the global index of
// the first sequence of the next step; each step advances it by B. It is
// counted in sequences, not steps, so a run resumed with a different B still
// continues from the same place in the data, and position / S is the epoch.
//
// Sharding. Step k covers global indices [position, position + B). Rank r of N
// takes the contiguous shard [r*B/N, (r+1)*B/N) of those B, and micro-step m of
// M takes the m-th contiguous slice of B/(N*M) sequences of its shard. The
// global order never depends on N or M: the N ranks' shards, each its
// micro-batches in order, concatenate to exactly the batch one rank would see.
// B must be divisible by N, and B/N by M (create() refuses otherwise, naming
// the numbers); this keeps every rank's gradient an average over the same
// number of sequences, which data-parallel averaging assumes.
//
// Validation. Use a second BatchLoader over the validation tokens (e.g. the
// synthetic corpus' validation split or a separate token file) and
// setPosition(0) before each evaluation, so every evaluation sees the same batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

struct BatchLayout {
  size_t globalBatchSequences = 1;  // B, summed over all ranks and micro-steps
  size_t sequenceLength = 1;        // T, the model's context
  int worldSize = 1;                // N, data-parallel ranks
  int rank = 0;                     // this process' rank, 0 .. N - 1
  int microSteps = 1;               // M, gradient-accumulation steps per optimizer step
};

// One micro-step's sequences, row-major [sequence][position].
struct MicroBatch {
  size_t sequences = 0;
  size_t sequenceLength = 0;
  uint64_t firstGlobalSequence = 0;  // global index of row 0 (before the wrap-around modulo)
  std::vector<int32_t> inputs;       // sequences * T token ids
  std::vector<int32_t> targets;      // targets[i*T + t] is the token after inputs[i*T + t]
};

class BatchLoader {
 public:
  // `sourceName` (a path or "synthetic train") only labels error messages.
  // Refuses: no tokens / fewer than T + 1, T or B zero, N < 1, rank outside
  // 0..N-1, M < 1, B not divisible by N, B/N not divisible by M.
  static Result<BatchLoader> create(std::shared_ptr<const std::vector<uint16_t>> tokens,
                                    const BatchLayout& layout, const std::string& sourceName);

  const BatchLayout& layout() const { return layout_; }
  // B / (N * M): rows in each micro-batch.
  size_t microBatchSequences() const { return microBatchSequences_; }
  // S: whole sequences in the data; global index g reads sequence g mod S.
  uint64_t sequencesInData() const { return sequencesInData_; }

  // Fills `batch` with this rank's micro-batch `microStep` (0 .. M-1) of the
  // current step, reusing its buffers. Does not advance.
  Status loadMicroBatch(int microStep, MicroBatch& batch) const;
  // Moves to the next step (position += B).
  void advance() { position_ += layout_.globalBatchSequences; }

  // Global sequence index of the next step's first sequence; save it in
  // checkpoints and hand it back to setPosition() to resume exactly.
  uint64_t position() const { return position_; }
  void setPosition(uint64_t position) { position_ = position; }
  // Completed passes over the data.
  uint64_t epoch() const { return position_ / sequencesInData_; }

 private:
  BatchLoader() = default;

  std::shared_ptr<const std::vector<uint16_t>> tokens_;
  BatchLayout layout_;
  size_t microBatchSequences_ = 0;
  uint64_t sequencesInData_ = 0;
  uint64_t position_ = 0;
};

}  // namespace loom::trainer
