#include "trainer/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "kernels/gpt/adamw.h"
#include "trainer/checkpoint.h"
#include "trainer/random.h"
#include "trainer/synthetic_corpus.h"
#include "trainer/token_file.h"

namespace loom::trainer {

namespace {

// The synthetic corpus: fixed sizes (not derived from the step count), so a
// resumed or longer run reads the same data.
constexpr size_t kSyntheticTrainTokens = size_t{1} << 22;
constexpr size_t kSyntheticValidationTokens = size_t{1} << 17;

}  // namespace

Result<std::unique_ptr<Trainer>> Trainer::create(const TrainConfig& config, Communicator* comm,
                                                 std::vector<std::string>* log) {
  LOOM_RETURN_IF_ERROR(config.model.validate());
  if (config.steps < 0) return Status::invalidArgument("steps=%d must not be negative", config.steps);
  if (config.valBatches < 0) return Status::invalidArgument("val batches=%d must not be negative", config.valBatches);
  std::unique_ptr<Trainer> t(new Trainer());
  t->config_ = config;
  t->comm_ = comm;
  LOOM_ASSIGN_OR_RETURN(GptModel model, GptModel::create(config.model, config.seed));
  t->model_ = std::make_unique<GptModel>(std::move(model));
  t->reducer_ = std::make_unique<GradientReducer>(comm, t->model_->parameterCount(), config.zero,
                                                  std::max<size_t>(config.bucketBytes / sizeof(float), 1));
  const size_t shard = t->reducer_->shardEnd() - t->reducer_->shardBegin();
  t->adamM_.assign(shard, 0.0f);
  t->adamV_.assign(shard, 0.0f);
  LOOM_RETURN_IF_ERROR(t->loadData(log));
  if (config.resume) {
    if (config.checkpointDir.empty()) return Status::invalidArgument("--resume needs --checkpoint-dir");
    LOOM_RETURN_IF_ERROR(t->restore(config.checkpointDir, log));
  }
  return t;
}

Status Trainer::loadData(std::vector<std::string>* log) {
  const size_t T = static_cast<size_t>(config_.model.maxSeqLen);
  const int N = reducer_->ranks();
  std::shared_ptr<const std::vector<uint16_t>> train;
  std::string trainName = config_.dataPath, valName = config_.valDataPath;
  if (config_.dataPath.empty()) {
    SyntheticCorpusSpec spec;
    spec.vocabSize = static_cast<uint32_t>(config_.model.vocabSize);
    spec.seed = config_.seed;
    LOOM_ASSIGN_OR_RETURN(SyntheticCorpus corpus, SyntheticCorpus::create(spec));
    train = std::make_shared<std::vector<uint16_t>>(corpus.generate(CorpusSplit::kTrain, kSyntheticTrainTokens));
    valTokens_ = std::make_shared<std::vector<uint16_t>>(
        corpus.generate(CorpusSplit::kValidation, kSyntheticValidationTokens));
    targetLoss_ = corpus.bestMeanCrossEntropy(T);
    trainName = "synthetic train";
    valName = "synthetic validation";
    char line[200];
    std::snprintf(line, sizeof(line),
                  "data: synthetic order-2 Markov corpus (vocab %u, seed %llu): entropy rate %.4f nats/token, best "
                  "mean loss over a window of %zu: %.4f",
                  spec.vocabSize, static_cast<unsigned long long>(spec.seed), corpus.entropyRate(), T, targetLoss_);
    log->push_back(line);
  } else {
    TokenFileRequirements need;
    need.minTokens = T + 1;
    need.vocabSize = static_cast<uint32_t>(config_.model.vocabSize);
    LOOM_ASSIGN_OR_RETURN(std::vector<uint16_t> tokens, readTokenFile(config_.dataPath, need));
    if (config_.valDataPath.empty()) {
      // Hold out the last 5% (at least one sequence) for validation.
      const size_t held = std::max(tokens.size() / 20, T + 1);
      if (tokens.size() < held + T + 1) {
        return Status::invalidArgument(
            "%s: %zu tokens are too few to hold out validation data (need at least %zu); pass --val-data",
            config_.dataPath.c_str(), tokens.size(), held + T + 1);
      }
      valTokens_ = std::make_shared<std::vector<uint16_t>>(tokens.end() - held, tokens.end());
      tokens.resize(tokens.size() - held);
      valName = config_.dataPath + " (last 5%)";
    } else {
      LOOM_ASSIGN_OR_RETURN(std::vector<uint16_t> val, readTokenFile(config_.valDataPath, need));
      valTokens_ = std::make_shared<std::vector<uint16_t>>(std::move(val));
    }
    train = std::make_shared<std::vector<uint16_t>>(std::move(tokens));
    log->push_back("data: " + config_.dataPath + " (" + std::to_string(train->size()) + " training tokens), validation " +
                   valName + " (" + std::to_string(valTokens_->size()) + " tokens)");
  }
  BatchLayout layout;
  layout.globalBatchSequences = config_.batchSequences;
  layout.sequenceLength = T;
  layout.worldSize = N;
  layout.rank = reducer_->rank();
  layout.microSteps = config_.microSteps;
  LOOM_ASSIGN_OR_RETURN(BatchLoader trainLoader, BatchLoader::create(train, layout, trainName));
  layout.microSteps = 1;
  LOOM_ASSIGN_OR_RETURN(BatchLoader valLoader, BatchLoader::create(valTokens_, layout, valName));
  trainLoader_ = std::make_unique<BatchLoader>(std::move(trainLoader));
  valLoader_ = std::make_unique<BatchLoader>(std::move(valLoader));
  return Status::ok();
}

Status Trainer::restore(const std::string& directory, std::vector<std::string>* log) {
  Result<LoadedCheckpoint> loaded = loadLatestCheckpoint(directory);
  if (!loaded.isOk() && loaded.status().code() == StatusCode::kUnavailable) {
    log->push_back("resume: no checkpoint in " + directory + " yet; starting from step 0");
    return Status::ok();
  }
  LOOM_RETURN_IF_ERROR(loaded.status());
  const TrainingCheckpoint& c = loaded->checkpoint;
  Status same = checkModelConfig(c.modelConfig, config_.model.toNamedIntegers());
  if (!same.isOk()) return Status::invalidArgument("%s: %s", loaded->path.c_str(), same.message().c_str());
  if (c.parameters.size() != model_->parameterCount()) {
    return Status::invalidArgument("%s holds %zu parameters, the model has %zu", loaded->path.c_str(),
                                   c.parameters.size(), model_->parameterCount());
  }
  // Every rank reads the file itself; make sure they all read the same step.
  LOOM_ASSIGN_OR_RETURN(double stepSum, reducer_->sumOverRanks(static_cast<double>(c.step)));
  if (stepSum != static_cast<double>(c.step) * reducer_->ranks()) {
    return Status::invalidArgument("ranks found different latest checkpoints in %s (this rank: step %llu)",
                                   directory.c_str(), static_cast<unsigned long long>(c.step));
  }
  std::copy(c.parameters.begin(), c.parameters.end(), model_->parameters().begin());
  const size_t b = reducer_->shardBegin(), e = reducer_->shardEnd();
  adamM_.assign(c.adamFirstMoment.begin() + b, c.adamFirstMoment.begin() + e);
  adamV_.assign(c.adamSecondMoment.begin() + b, c.adamSecondMoment.begin() + e);
  step_ = c.step;
  trainLoader_->setPosition(c.dataPosition);
  reducer_->takeTimes();
  log->push_back("resume from " + directory + ": " + loaded->summary() + " (step " + std::to_string(c.step) + ")");
  return Status::ok();
}

float Trainer::learningRateAt(uint64_t step) const {
  const float peak = config_.learningRate;
  if (step < static_cast<uint64_t>(config_.warmupSteps)) {
    return peak * static_cast<float>(step + 1) / static_cast<float>(config_.warmupSteps);
  }
  const double span = std::max(1, config_.steps - config_.warmupSteps);
  const double progress = std::min(1.0, static_cast<double>(step - config_.warmupSteps) / span);
  const double floor = peak * config_.minLearningRateFraction;
  return static_cast<float>(floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

Result<StepReport> Trainer::step() {
  const auto start = std::chrono::steady_clock::now();
  const int M = config_.microSteps, N = reducer_->ranks();
  const int T = config_.model.maxSeqLen;
  const float lossScale = 1.0f / static_cast<float>(M * N);
  float* grads = model_->gradients().data();
  model_->zeroGrad();
  double localLoss = 0;
  for (int m = 0; m < M; ++m) {
    LOOM_RETURN_IF_ERROR(trainLoader_->loadMicroBatch(m, batch_));
    localLoss += model_->forward(batch_.inputs.data(), batch_.targets.data(), static_cast<int>(batch_.sequences), T);
    GradientsReadyHook hook;
    if (m == M - 1 && reducer_->overlapsBackward()) {
      hook = [&](size_t offset, size_t count) { reducer_->gradientsReady(grads, offset, count); };
    }
    model_->backward(lossScale, hook);
  }
  LOOM_RETURN_IF_ERROR(reducer_->finishGradients(grads));

  // Global gradient norm: of the whole (identical) gradient without ZeRO, of
  // the shards summed over ranks with it.
  const size_t b = reducer_->shardBegin(), e = reducer_->shardEnd();
  double normSquared = gpt::globalNormSquared(reducer_->shardGradients(), e - b);
  if (reducer_->zero()) {
    LOOM_ASSIGN_OR_RETURN(normSquared, reducer_->sumOverRanks(normSquared));
  }
  const float clipScale = config_.gradClip > 0 ? gpt::gradClipScale(normSquared, config_.gradClip) : 1.0f;
  const float lr = learningRateAt(step_);
  const int adamStep = static_cast<int>(step_ + 1);
  float* params = model_->parameters().data();
  for (const GptTensorInfo& tensor : model_->tensors()) {
    const size_t from = std::max(b, tensor.offset), to = std::min(e, tensor.offset + tensor.count);
    if (from >= to) continue;
    gpt::adamwUpdate(params + from, reducer_->shardGradients() + (from - b), adamM_.data() + (from - b),
                     adamV_.data() + (from - b), to - from, lr, config_.beta1, config_.beta2, config_.epsilon,
                     tensor.isMatrix ? config_.weightDecay : 0.0f, adamStep, clipScale);
  }
  LOOM_RETURN_IF_ERROR(reducer_->gatherShards(params));
  LOOM_ASSIGN_OR_RETURN(double lossSum, reducer_->sumOverRanks(localLoss / M));
  trainLoader_->advance();
  ++step_;

  StepReport report;
  report.step = step_;
  report.loss = lossSum / N;
  report.gradientNorm = std::sqrt(normSquared);
  report.learningRate = lr;
  report.stepMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  report.comm = reducer_->takeTimes();
  report.tokensPerSecond = static_cast<double>(config_.batchSequences) * T / (report.stepMs / 1000.0);
  return report;
}

Result<double> Trainer::validationLoss() {
  const int T = config_.model.maxSeqLen;
  double sum = 0;
  valLoader_->setPosition(0);
  for (int k = 0; k < config_.valBatches; ++k) {
    LOOM_RETURN_IF_ERROR(valLoader_->loadMicroBatch(0, batch_));
    sum += model_->forward(batch_.inputs.data(), batch_.targets.data(), static_cast<int>(batch_.sequences), T);
    valLoader_->advance();
  }
  LOOM_ASSIGN_OR_RETURN(double total, reducer_->sumOverRanks(sum));
  reducer_->takeTimes();  // not part of any step's communication
  return config_.valBatches == 0 ? 0.0 : total / (config_.valBatches * reducer_->ranks());
}

Result<std::string> Trainer::saveCheckpoint() {
  if (config_.checkpointDir.empty()) return Status::invalidArgument("no checkpoint directory (--checkpoint-dir)");
  LOOM_ASSIGN_OR_RETURN(std::vector<float> m, reducer_->gatherShardArray(adamM_));
  LOOM_ASSIGN_OR_RETURN(std::vector<float> v, reducer_->gatherShardArray(adamV_));
  reducer_->takeTimes();
  if (reducer_->rank() != 0) return std::string();
  TrainingCheckpoint c;
  c.modelConfig = config_.model.toNamedIntegers();
  c.step = step_;
  c.dataPosition = trainLoader_->position();
  const auto& state = Xoshiro256(config_.seed).state();
  c.rngState.assign(state.begin(), state.end());
  c.parameters.assign(model_->parameters().begin(), model_->parameters().end());
  c.adamFirstMoment = std::move(m);
  c.adamSecondMoment = std::move(v);
  c.extra = {{"ranks", reducer_->ranks()}, {"zero", config_.zero ? 1 : 0}};
  CheckpointSaveOptions options;
  options.keepLast = static_cast<size_t>(std::max(0, config_.keepCheckpoints));
  return trainer::saveCheckpoint(config_.checkpointDir, c, options);
}

std::vector<int32_t> Trainer::prompt(size_t tokens) const {
  tokens = std::min(tokens, valTokens_->size());
  return std::vector<int32_t>(valTokens_->begin(), valTokens_->begin() + tokens);
}

}  // namespace loom::trainer
