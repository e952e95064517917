// Data-parallel gradient exchange on Loom: what makes N ranks train one model.
//
// Plain data parallelism (ZeRO off). Every rank holds all parameters and
// AdamW moments. During the last micro-step's backward, GptModel reports each
// gradient range as soon as it is final (lnf, layer L-1, ..., layer 0, wpe,
// wte); gradientsReady() merges adjacent ranges into buckets of at least
// `bucketFloats` and hands each full bucket to a communication thread, which
// all-reduces it in place (sum) with Loom while backward goes on computing the
// earlier layers. finishGradients() sends the last bucket and waits: only that
// wait is communication the step did not hide. With the loss scaled by
// 1/(M·N) in backward, the sums are the gradient of the global mean loss, the
// same on every rank, so every rank takes the same optimizer step.
//
// ZeRO-1 (`zero`). The flat arrays are split into N equal shards (the last
// padded with zeros); rank r owns shard r: it keeps AdamW moments only for it
// and updates only it. finishGradients() reduce-scatters the whole gradient
// array (so each rank receives the summed gradient of its shard) and
// gatherShards() all-gathers the updated shards into every rank's full
// parameter array. Both happen after backward, so nothing is hidden: ZeRO-1
// trades that for 1/N of the optimizer memory and work.
//
// Only Loom collectives are used here; with one rank (comm null or size 1)
// every call is a local no-op or copy.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "loom/communicator.h"

namespace loom::trainer {

// Communication time of one step, in milliseconds.
struct CommTimes {
  double totalMs = 0;    // time spent inside Loom collectives
  double exposedMs = 0;  // part of it the step waited for (not overlapped with backward)
};

class GradientReducer {
 public:
  // `comm` (may be null for one rank) must outlive the reducer.
  GradientReducer(Communicator* comm, size_t parameterCount, bool zero, size_t bucketFloats);
  ~GradientReducer();  // waits for the communication thread
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  int ranks() const { return ranks_; }
  int rank() const { return rank_; }
  bool zero() const { return zero_; }
  // The parameters this rank updates: [shardBegin, shardEnd) of the flat
  // arrays (the whole array without ZeRO; the last shard is clipped to the
  // parameter count, so it may be shorter or even empty).
  size_t shardBegin() const { return shardBegin_; }
  size_t shardEnd() const { return shardEnd_; }

  // True when backward should report ready ranges (plain data parallelism on
  // more than one rank).
  bool overlapsBackward() const { return ranks_ > 1 && !zero_; }
  // Backward's hook on the last micro-step: gradients [offset, offset+count)
  // of `gradients` are final. Ranges must arrive as GptModel reports them,
  // each directly below the previous one.
  void gradientsReady(float* gradients, size_t offset, size_t count);
  // After backward. Plain: all-reduces what is still pending and waits. ZeRO:
  // reduce-scatters `gradients` (parameterCount floats). Afterwards
  // shardGradients() holds the summed gradients of this rank's shard.
  Status finishGradients(float* gradients);
  // Summed gradients for [shardBegin, shardEnd): element i is parameter
  // shardBegin + i.
  const float* shardGradients() const { return shardGradients_; }

  // ZeRO: every rank's shard of `values` (parameterCount floats; this rank
  // updated its own) into all of `values`. Without ZeRO: nothing to do.
  Status gatherShards(float* values);
  // Like gatherShards for per-shard arrays (AdamW moments, shardEnd-shardBegin
  // floats each): the full parameterCount-float array, on every rank.
  Result<std::vector<float>> gatherShardArray(std::span<const float> shard);

  // The sum of `value` over ranks (the same on every rank).
  Result<double> sumOverRanks(double value);

  // Communication time since the last call, then reset.
  CommTimes takeTimes();

 private:
  struct Bucket {
    float* data;
    size_t count;
  };
  void communicationLoop();
  void enqueue(Bucket bucket);
  void addExposed(double ms);  // a blocking collective on the calling thread: all of it exposed

  Communicator* comm_;
  int ranks_ = 1, rank_ = 0;
  size_t parameterCount_ = 0;
  bool zero_ = false;
  size_t bucketFloats_ = 0;
  size_t shardFloats_ = 0;  // padded shard length (ZeRO)
  size_t shardBegin_ = 0, shardEnd_ = 0;

  float* pendingData_ = nullptr;  // the bucket being collected: [pendingData_, +pendingCount_)
  size_t pendingCount_ = 0;
  const float* shardGradients_ = nullptr;
  std::vector<float> padded_;       // ZeRO: N·shardFloats_ staging for the whole array
  std::vector<float> shardBuffer_;  // ZeRO: shardFloats_ floats (the received gradient shard)

  // The communication thread and its queue.
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Bucket> queue_;
  bool busy_ = false, stopping_ = false;
  Status firstError_ = Status::ok();
  CommTimes times_;
};

}  // namespace loom::trainer
