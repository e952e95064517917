// The batch loader: shifted targets, sharding that never changes the global
// order, micro-steps, wrap-around and resuming from a saved position.
#include "trainer/batch_loader.h"

#include <gtest/gtest.h>

#include <numeric>

#include "trainer/synthetic_corpus.h"

namespace loom::trainer {
namespace {

// Tokens 0, 1, 2, ... so a batch's values say exactly where it came from.
std::shared_ptr<const std::vector<uint16_t>> countingTokens(size_t count) {
  auto tokens = std::make_shared<std::vector<uint16_t>>(count);
  std::iota(tokens->begin(), tokens->end(), uint16_t{0});
  return tokens;
}

BatchLoader makeLoader(std::shared_ptr<const std::vector<uint16_t>> tokens, const BatchLayout& layout) {
  auto loader = BatchLoader::create(std::move(tokens), layout, "test tokens");
  EXPECT_TRUE(loader.isOk()) << loader.status().toString();
  return std::move(loader).value();
}

// This rank's whole share of the current step: its micro-batches in order.
MicroBatch rankShare(const BatchLoader& loader) {
  MicroBatch share;
  MicroBatch micro;
  for (int step = 0; step < loader.layout().microSteps; ++step) {
    EXPECT_TRUE(loader.loadMicroBatch(step, micro).isOk());
    share.sequences += micro.sequences;
    share.inputs.insert(share.inputs.end(), micro.inputs.begin(), micro.inputs.end());
    share.targets.insert(share.targets.end(), micro.targets.begin(), micro.targets.end());
  }
  return share;
}

TEST(BatchLoaderTest, TargetsAreTheInputsShiftedByOne) {
  const BatchLoader loader = makeLoader(countingTokens(1000), {.globalBatchSequences = 4, .sequenceLength = 8});
  MicroBatch batch;
  ASSERT_TRUE(loader.loadMicroBatch(0, batch).isOk());
  ASSERT_EQ(batch.sequences, 4u);
  ASSERT_EQ(batch.inputs.size(), 32u);
  for (size_t row = 0; row < 4; ++row) {
    for (size_t t = 0; t < 8; ++t) {
      // Sequence i is tokens [8i, 8i + 8]: consecutive sequences share a token.
      EXPECT_EQ(batch.inputs[row * 8 + t], static_cast<int32_t>(row * 8 + t));
      EXPECT_EQ(batch.targets[row * 8 + t], static_cast<int32_t>(row * 8 + t + 1));
    }
  }
}

// N ranks together must see exactly the batch one rank sees, step after step,
// including steps that wrap around the end of the data.
TEST(BatchLoaderTest, ShardsOfAnyRankCountConcatenateToTheSingleRankBatch) {
  const auto tokens = countingTokens(29 * 16 + 1);  // 29 sequences: batches straddle the wrap
  constexpr size_t kBatch = 12;
  for (int microSteps : {1, 3}) {
    BatchLoader single = makeLoader(tokens, {.globalBatchSequences = kBatch, .sequenceLength = 16});
    std::vector<BatchLoader> ranks[5];
    for (int worldSize = 1; worldSize <= 4; ++worldSize) {
      if ((kBatch / worldSize) % microSteps != 0) continue;
      for (int rank = 0; rank < worldSize; ++rank) {
        ranks[worldSize].push_back(makeLoader(tokens, {.globalBatchSequences = kBatch,
                                                       .sequenceLength = 16,
                                                       .worldSize = worldSize,
                                                       .rank = rank,
                                                       .microSteps = microSteps}));
      }
    }
    for (int step = 0; step < 7; ++step) {
      const MicroBatch expected = rankShare(single);
      for (int worldSize = 1; worldSize <= 4; ++worldSize) {
        if (ranks[worldSize].empty()) continue;
        std::vector<int32_t> inputs;
        std::vector<int32_t> targets;
        for (BatchLoader& loader : ranks[worldSize]) {
          const MicroBatch share = rankShare(loader);
          EXPECT_EQ(share.sequences, kBatch / worldSize);
          inputs.insert(inputs.end(), share.inputs.begin(), share.inputs.end());
          targets.insert(targets.end(), share.targets.begin(), share.targets.end());
          loader.advance();
        }
        EXPECT_EQ(inputs, expected.inputs) << "N=" << worldSize << " M=" << microSteps << " step " << step;
        EXPECT_EQ(targets, expected.targets) << "N=" << worldSize << " M=" << microSteps << " step " << step;
      }
      single.advance();
    }
  }
}

TEST(BatchLoaderTest, RanksAndMicroStepsTakeContiguousSlices) {
  const BatchLoader loader = makeLoader(countingTokens(10000), {.globalBatchSequences = 8,
                                                                .sequenceLength = 4,
                                                                .worldSize = 2,
                                                                .rank = 1,
                                                                .microSteps = 2});
  EXPECT_EQ(loader.microBatchSequences(), 2u);
  MicroBatch batch;
  ASSERT_TRUE(loader.loadMicroBatch(1, batch).isOk());
  // Rank 1 owns global sequences 4..7; its micro-step 1 is sequences 6 and 7.
  EXPECT_EQ(batch.firstGlobalSequence, 6u);
  EXPECT_EQ(batch.inputs.front(), 6 * 4);
  EXPECT_EQ(batch.targets.back(), 7 * 4 + 4);
  EXPECT_FALSE(loader.loadMicroBatch(2, batch).isOk());
  EXPECT_FALSE(loader.loadMicroBatch(-1, batch).isOk());
}

TEST(BatchLoaderTest, WrapsAroundToTheFirstSequenceAtTheEndOfTheData) {
  // 23 tokens hold floor(22 / 5) = 4 sequences of T=5; tokens 21 and 22 are never used.
  BatchLoader loader = makeLoader(countingTokens(23), {.globalBatchSequences = 3, .sequenceLength = 5});
  ASSERT_EQ(loader.sequencesInData(), 4u);
  MicroBatch batch;
  loader.advance();  // step 1 covers global sequences 3, 4, 5 = data sequences 3, 0, 1
  ASSERT_TRUE(loader.loadMicroBatch(0, batch).isOk());
  EXPECT_EQ(batch.firstGlobalSequence, 3u);
  EXPECT_EQ(batch.inputs, (std::vector<int32_t>{15, 16, 17, 18, 19, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(batch.targets[4], 20);  // the last sequence's final target is token 20
  EXPECT_EQ(loader.epoch(), 0u);
  loader.advance();
  EXPECT_EQ(loader.position(), 6u);
  EXPECT_EQ(loader.epoch(), 1u);
}

TEST(BatchLoaderTest, RestoredPositionGivesTheSameBatches) {
  const auto tokens = countingTokens(5000);
  const BatchLayout layout{.globalBatchSequences = 6, .sequenceLength = 10, .worldSize = 3, .rank = 2};
  BatchLoader original = makeLoader(tokens, layout);
  for (int step = 0; step < 11; ++step) original.advance();
  const uint64_t saved = original.position();
  EXPECT_EQ(saved, 66u);

  BatchLoader resumed = makeLoader(tokens, layout);
  resumed.setPosition(saved);
  for (int step = 0; step < 100; ++step) {  // runs past the end of the data (499 sequences)
    MicroBatch expected;
    MicroBatch actual;
    ASSERT_TRUE(original.loadMicroBatch(0, expected).isOk());
    ASSERT_TRUE(resumed.loadMicroBatch(0, actual).isOk());
    ASSERT_EQ(actual.inputs, expected.inputs) << "step " << step;
    ASSERT_EQ(actual.targets, expected.targets) << "step " << step;
    original.advance();
    resumed.advance();
  }
}

TEST(BatchLoaderTest, ValidationLoaderReadsItsOwnStream) {
  const SyntheticCorpus corpus = SyntheticCorpus::create().value();
  const BatchLayout layout{.globalBatchSequences = 4, .sequenceLength = 32};
  const auto train = std::make_shared<std::vector<uint16_t>>(corpus.generate(CorpusSplit::kTrain, 4096));
  const auto validation =
      std::make_shared<std::vector<uint16_t>>(corpus.generate(CorpusSplit::kValidation, 4096));
  BatchLoader trainLoader = makeLoader(train, layout);
  BatchLoader validationLoader = makeLoader(validation, layout);
  MicroBatch trainBatch;
  MicroBatch validationBatch;
  ASSERT_TRUE(trainLoader.loadMicroBatch(0, trainBatch).isOk());
  ASSERT_TRUE(validationLoader.loadMicroBatch(0, validationBatch).isOk());
  EXPECT_NE(trainBatch.inputs, validationBatch.inputs);
  EXPECT_EQ(validationBatch.inputs[0], (*validation)[0]);
  EXPECT_EQ(validationBatch.targets.back(), (*validation)[4 * 32]);
}

TEST(BatchLoaderTest, IndivisibleBatchNamesBAndN) {
  const auto loader = BatchLoader::create(countingTokens(1000),
                                          {.globalBatchSequences = 10, .sequenceLength = 4, .worldSize = 4},
                                          "train.bin");
  ASSERT_FALSE(loader.isOk());
  const std::string message = loader.status().message();
  EXPECT_NE(message.find("B=10"), std::string::npos) << message;
  EXPECT_NE(message.find("N=4"), std::string::npos) << message;
  EXPECT_NE(message.find("train.bin"), std::string::npos) << message;
}

TEST(BatchLoaderTest, IndivisibleMicroStepsAreRefused) {
  const auto loader = BatchLoader::create(
      countingTokens(1000),
      {.globalBatchSequences = 12, .sequenceLength = 4, .worldSize = 2, .microSteps = 4}, "train.bin");
  ASSERT_FALSE(loader.isOk());
  const std::string message = loader.status().message();
  EXPECT_NE(message.find("B/N=6"), std::string::npos) << message;
  EXPECT_NE(message.find("4 micro-steps"), std::string::npos) << message;
}

TEST(BatchLoaderTest, BadLayoutsAndShortDataAreRefused) {
  const auto refused = [](std::shared_ptr<const std::vector<uint16_t>> tokens, const BatchLayout& layout,
                          const std::string& fragment) {
    const auto loader = BatchLoader::create(std::move(tokens), layout, "data");
    ASSERT_FALSE(loader.isOk()) << fragment;
    EXPECT_NE(loader.status().message().find(fragment), std::string::npos) << loader.status().message();
  };
  refused(countingTokens(8), {.globalBatchSequences = 1, .sequenceLength = 8}, "8 tokens");
  refused(nullptr, {.globalBatchSequences = 1, .sequenceLength = 8}, "0 tokens");
  refused(countingTokens(100), {.globalBatchSequences = 1, .sequenceLength = 0}, "sequence length");
  refused(countingTokens(100), {.globalBatchSequences = 0, .sequenceLength = 4}, "global batch");
  refused(countingTokens(100), {.globalBatchSequences = 4, .sequenceLength = 4, .worldSize = 2, .rank = 2},
          "rank 2");
  refused(countingTokens(100), {.globalBatchSequences = 4, .sequenceLength = 4, .microSteps = 0},
          "micro-step count 0");
}

}  // namespace
}  // namespace loom::trainer
