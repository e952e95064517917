// One data-parallel training run of the GPT model: data, model, AdamW,
// gradient exchange, validation and checkpoints, step by step. loom-train
// (loom_train.cpp) adds flags, launching and logging around it; the tests
// drive it directly on forked ranks.
//
// A step: zero the gradients; for each of M micro-steps load this rank's
// micro-batch, forward, backward with the loss scaled by 1/(M·N) (the last
// micro-step's backward hands finished gradient ranges to the
// GradientReducer, which all-reduces them while backward continues); finish
// the exchange; clip by the global gradient norm; AdamW on this rank's shard
// (everything without ZeRO) with the learning rate of the step; ZeRO:
// all-gather the updated shards. The loss reported is the mean over the whole
// global batch, so it is the same number at every rank count.
//
// Learning rate: linear warm-up over warmupSteps, then cosine decay to
// minLearningRateFraction·learningRate at `steps`. Weight decay applies to
// the matrices only (GptTensorInfo::isMatrix), as in GPT-2.
//
// Checkpoints hold the full (unsharded) parameters and moments, the step and
// the data position, so a run resumes bit for bit at the same rank count and
// continues at another (the global batch is the same; only the order of the
// floating-point sums differs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/communicator.h"
#include "trainer/batch_loader.h"
#include "trainer/gpt_model.h"
#include "trainer/gradient_reducer.h"

namespace loom::trainer {

struct TrainConfig {
  GptConfig model;  // sequence length T = model.maxSeqLen
  int steps = 300;
  size_t batchSequences = 64;  // B: sequences per optimizer step over all ranks
  int microSteps = 1;          // M: gradient accumulation
  float learningRate = 2e-2f;
  float minLearningRateFraction = 0.1f;
  int warmupSteps = 20;
  float weightDecay = 0.1f;
  float beta1 = 0.9f, beta2 = 0.95f, epsilon = 1e-8f;
  float gradClip = 1.0f;  // max global gradient norm; 0: no clipping
  uint64_t seed = 1;      // model initialisation and the synthetic corpus
  std::string dataPath;     // llm.c token file; empty: the synthetic corpus
  std::string valDataPath;  // empty: the synthetic validation stream, or the last 5% of dataPath
  int valBatches = 4;       // validation batches of B sequences per evaluation
  std::string checkpointDir;
  int keepCheckpoints = 3;  // 0: keep all
  bool resume = false;
  bool zero = false;        // ZeRO-1
  size_t bucketBytes = 32 << 10;  // small: the default model has only 0.4 MB of gradients
};

struct StepReport {
  uint64_t step = 0;  // 1-based number of the step just taken
  double loss = 0;    // mean over the global batch
  double gradientNorm = 0;  // before clipping
  float learningRate = 0;
  double stepMs = 0;
  CommTimes comm;
  double tokensPerSecond = 0;  // global batch tokens / step time
};

class Trainer {
 public:
  // Collective over `comm` (null: one rank). Loads the data, builds the model
  // (or, with resume, loads the latest valid checkpoint of checkpointDir; none
  // there is not an error, the run starts fresh). `log` receives lines worth
  // showing the user (rank 0 prints them).
  static Result<std::unique_ptr<Trainer>> create(const TrainConfig& config, Communicator* comm,
                                                 std::vector<std::string>* log);

  // One optimizer step (collective).
  Result<StepReport> step();
  // Mean validation loss over valBatches global batches (collective).
  Result<double> validationLoss();
  // Writes checkpointDir/ckpt-<step>.bin from rank 0 (collective: ZeRO
  // gathers the moments first). Returns the path on rank 0, "" elsewhere.
  Result<std::string> saveCheckpoint();

  uint64_t stepsDone() const { return step_; }
  const TrainConfig& config() const { return config_; }
  GptModel& model() { return *model_; }
  // The first tokens of the validation data: a prompt for sampling.
  std::vector<int32_t> prompt(size_t tokens) const;
  // Global sequences seen so far (the data position).
  uint64_t dataPosition() const { return trainLoader_->position(); }
  // The best loss any model could reach (synthetic corpus), else 0.
  double targetLoss() const { return targetLoss_; }

 private:
  Trainer() = default;
  Status loadData(std::vector<std::string>* log);
  Status restore(const std::string& directory, std::vector<std::string>* log);
  float learningRateAt(uint64_t step) const;

  TrainConfig config_;
  Communicator* comm_ = nullptr;
  std::unique_ptr<GptModel> model_;
  std::unique_ptr<GradientReducer> reducer_;
  std::unique_ptr<BatchLoader> trainLoader_, valLoader_;
  std::shared_ptr<const std::vector<uint16_t>> valTokens_;
  std::vector<float> adamM_, adamV_;  // this rank's shard
  uint64_t step_ = 0;
  double targetLoss_ = 0;
  MicroBatch batch_;
};

}  // namespace loom::trainer
