// The synthetic Markov corpus: determinism, the chain's structure, and that the
// entropies it reports are the ones its tokens actually have.
#include "trainer/synthetic_corpus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <unordered_map>

namespace loom::trainer {
namespace {

SyntheticCorpus makeCorpus(const SyntheticCorpusSpec& spec = {}) {
  auto corpus = SyntheticCorpus::create(spec);
  EXPECT_TRUE(corpus.isOk()) << corpus.status().toString();
  return std::move(corpus).value();
}

// FNV-1a over the tokens' values, to pin a long stream in one number.
uint64_t fingerprint(const std::vector<uint16_t>& tokens) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (uint16_t token : tokens) {
    hash = (hash ^ token) * 0x100000001B3ULL;
  }
  return hash;
}

TEST(SyntheticCorpusTest, SameSeedGivesTheSameTokens) {
  const auto first = makeCorpus({.seed = 7}).generate(CorpusSplit::kTrain, 100000);
  const auto second = makeCorpus({.seed = 7}).generate(CorpusSplit::kTrain, 100000);
  EXPECT_EQ(first, second);
}

// Pins the generator's output so that a change to the chain, the PRNG or the
// sampling (or a platform that computes differently) shows up here: a seed
// must mean the same corpus on every machine.
TEST(SyntheticCorpusTest, DefaultStreamsMatchRecordedTokens) {
  const SyntheticCorpus corpus = makeCorpus();
  const std::vector<uint16_t> head = corpus.generate(CorpusSplit::kTrain, 12);
  EXPECT_EQ(head, (std::vector<uint16_t>{42, 23, 39, 41, 35, 27, 57, 33, 22, 48, 58, 43}));
  EXPECT_EQ(fingerprint(corpus.generate(CorpusSplit::kTrain, 1000000)), 2443693821139246127ULL);
  EXPECT_EQ(fingerprint(corpus.generate(CorpusSplit::kValidation, 1000000)),
            15575945122423728614ULL);
}

TEST(SyntheticCorpusTest, DifferentSeedsAndSplitsGiveDifferentTokens) {
  const SyntheticCorpus corpus = makeCorpus({.seed = 7});
  const auto train = corpus.generate(CorpusSplit::kTrain, 10000);
  const auto validation = corpus.generate(CorpusSplit::kValidation, 10000);
  const auto otherSeed = makeCorpus({.seed = 8}).generate(CorpusSplit::kTrain, 10000);
  EXPECT_NE(train, validation);
  EXPECT_NE(train, otherSeed);
  // A different seed is a different chain, not just a different walk.
  bool chainDiffers = false;
  const SyntheticCorpus other = makeCorpus({.seed = 8});
  for (uint16_t token = 0; token < 64 && !chainDiffers; ++token) {
    const auto a = corpus.successors(token);
    const auto b = other.successors(token);
    chainDiffers = !std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  EXPECT_TRUE(chainDiffers);
}

TEST(SyntheticCorpusTest, StreamingInPiecesEqualsGeneratingAtOnce) {
  const SyntheticCorpus corpus = makeCorpus();
  const auto whole = corpus.generate(CorpusSplit::kValidation, 5000);
  SyntheticTokenStream stream = corpus.stream(CorpusSplit::kValidation);
  std::vector<uint16_t> pieces(5000);
  stream.fill(std::span(pieces).first(1234));
  for (size_t i = 1234; i < 2000; ++i) pieces[i] = stream.next();
  stream.fill(std::span(pieces).subspan(2000));
  EXPECT_EQ(pieces, whole);
}

TEST(SyntheticCorpusTest, EveryTransitionFollowsTheChain) {
  const SyntheticCorpus corpus = makeCorpus();
  const auto tokens = corpus.generate(CorpusSplit::kTrain, 200000);
  for (size_t i = 2; i < tokens.size(); ++i) {
    ASSERT_LT(tokens[i], corpus.vocabSize());
    ASSERT_GT(corpus.nextTokenProbability(tokens[i - 2], tokens[i - 1], tokens[i]), 0.0)
        << "impossible transition at " << i;
  }
}

TEST(SyntheticCorpusTest, EachContextHasAFewSuccessorsAndNoCertainOne) {
  const SyntheticCorpusSpec spec;
  const SyntheticCorpus corpus = makeCorpus(spec);
  for (const ContextProbability& context : corpus.stationaryContexts()) {
    const auto successors = corpus.successors(context.previous);
    ASSERT_EQ(successors.size(), spec.successorsPerToken);
    double total = 0;
    double largest = 0;
    for (uint16_t next : successors) {
      const double probability =
          corpus.nextTokenProbability(context.twoBack, context.previous, next);
      total += probability;
      largest = std::max(largest, probability);
    }
    EXPECT_NEAR(total, 1.0, 1e-12);
    // The largest possible share: one favoured weight-2 successor against five unfavoured weight-1 ones.
    EXPECT_LE(largest, 128.0 / 133.0 + 1e-12);
  }
}

TEST(SyntheticCorpusTest, StationaryDistributionSumsToOneAndIsStationary) {
  const SyntheticCorpus corpus = makeCorpus();
  std::map<std::pair<uint16_t, uint16_t>, double> probability;
  double total = 0;
  for (const ContextProbability& context : corpus.stationaryContexts()) {
    EXPECT_GE(context.probability, 0.0);
    probability[{context.twoBack, context.previous}] = context.probability;
    total += context.probability;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(probability.size(), 64u * 6u);  // every (a, b) with b a successor of a, once

  // One step of the chain maps the distribution onto itself.
  std::map<std::pair<uint16_t, uint16_t>, double> stepped;
  for (const auto& [context, mass] : probability) {
    for (uint16_t next : corpus.successors(context.second)) {
      stepped[{context.second, next}] +=
          mass * corpus.nextTokenProbability(context.first, context.second, next);
    }
  }
  for (const auto& [context, mass] : probability) EXPECT_NEAR(stepped[context], mass, 1e-12);
}

TEST(SyntheticCorpusTest, EntropiesAreOrderedAndFarBelowUniform) {
  const SyntheticCorpus corpus = makeCorpus();
  const double uniform = std::log(64.0);
  EXPECT_LT(corpus.marginalEntropy(), uniform + 1e-12);
  EXPECT_GT(corpus.marginalEntropy(), corpus.oneTokenConditionalEntropy());
  // The token two back matters: a bigram model is well over 10% above the rate.
  EXPECT_GT(corpus.oneTokenConditionalEntropy(), 1.2 * corpus.entropyRate());
  EXPECT_LT(corpus.entropyRate(), 0.5 * uniform);
  EXPECT_GT(corpus.entropyRate(), 0.5);  // several plausible successors, not near-deterministic
  // The defaults' values, as the header and README quote them.
  EXPECT_NEAR(corpus.entropyRate(), 1.1538, 1e-3);
  EXPECT_NEAR(corpus.oneTokenConditionalEntropy(), 1.6386, 1e-3);
  EXPECT_NEAR(corpus.marginalEntropy(), 4.0608, 1e-3);
}

// The plug-in estimate of H(X | two previous tokens) from 1M generated tokens
// must agree with the exact entropy rate. Its bias is about (number of
// (context, next) cells - number of contexts) / 2N = 1e-3 nats and its noise
// a few 1e-3, hence the tolerance.
TEST(SyntheticCorpusTest, EmpiricalConditionalEntropyMatchesTheEntropyRate) {
  const SyntheticCorpus corpus = makeCorpus();
  const auto tokens = corpus.generate(CorpusSplit::kTrain, 1000000);
  std::unordered_map<uint32_t, uint64_t> contextCounts;
  std::unordered_map<uint64_t, uint64_t> transitionCounts;
  double meanNegativeLogProbability = 0;
  for (size_t i = 2; i < tokens.size(); ++i) {
    const uint32_t context = (uint32_t{tokens[i - 2]} << 16) | tokens[i - 1];
    ++contextCounts[context];
    ++transitionCounts[(uint64_t{context} << 16) | tokens[i]];
    meanNegativeLogProbability -=
        std::log(corpus.nextTokenProbability(tokens[i - 2], tokens[i - 1], tokens[i]));
  }
  const double samples = static_cast<double>(tokens.size() - 2);
  meanNegativeLogProbability /= samples;
  double plugIn = 0;
  for (const auto& [transition, count] : transitionCounts) {
    const double contextCount = static_cast<double>(contextCounts.at(static_cast<uint32_t>(transition >> 16)));
    plugIn -= static_cast<double>(count) / samples * std::log(static_cast<double>(count) / contextCount);
  }
  EXPECT_NEAR(plugIn, corpus.entropyRate(), 0.01);
  EXPECT_NEAR(meanNegativeLogProbability, corpus.entropyRate(), 0.01);
}

TEST(SyntheticCorpusTest, BestCrossEntropyChargesTheFirstPositionMore) {
  const SyntheticCorpus corpus = makeCorpus();
  const double rate = corpus.entropyRate();
  const double firstPosition = corpus.oneTokenConditionalEntropy();
  EXPECT_DOUBLE_EQ(corpus.bestCrossEntropyAtPosition(0), firstPosition);
  EXPECT_DOUBLE_EQ(corpus.bestCrossEntropyAtPosition(1), rate);
  EXPECT_DOUBLE_EQ(corpus.bestCrossEntropyAtPosition(63), rate);
  EXPECT_DOUBLE_EQ(corpus.bestMeanCrossEntropy(1), firstPosition);
  EXPECT_NEAR(corpus.bestMeanCrossEntropy(64), (firstPosition + 63 * rate) / 64, 1e-15);
  EXPECT_GT(corpus.bestMeanCrossEntropy(8), corpus.bestMeanCrossEntropy(64));
  EXPECT_GT(corpus.bestMeanCrossEntropy(64), rate);
  EXPECT_EQ(corpus.bestMeanCrossEntropy(0), 0.0);
}

TEST(SyntheticCorpusTest, OtherShapesWorkToo) {
  for (const SyntheticCorpusSpec spec :
       {SyntheticCorpusSpec{.vocabSize = 2, .successorsPerToken = 2},
        SyntheticCorpusSpec{.vocabSize = 128, .successorsPerToken = 3, .favouredWeight = 1},
        SyntheticCorpusSpec{.vocabSize = 65536, .successorsPerToken = 4}}) {
    const SyntheticCorpus corpus = makeCorpus(spec);
    const auto tokens = corpus.generate(CorpusSplit::kTrain, 1000);
    for (uint16_t token : tokens) ASSERT_LT(uint32_t{token}, spec.vocabSize);
    EXPECT_GT(corpus.entropyRate(), 0.0);
    EXPECT_LE(corpus.entropyRate(), std::log(double(spec.successorsPerToken)) + 1e-12);
  }
}

TEST(SyntheticCorpusTest, OutOfRangeSpecsAreRefusedByName) {
  const auto expectRefused = [](const SyntheticCorpusSpec& spec, const std::string& fragment) {
    const auto corpus = SyntheticCorpus::create(spec);
    ASSERT_FALSE(corpus.isOk()) << fragment;
    EXPECT_NE(corpus.status().message().find(fragment), std::string::npos)
        << corpus.status().message();
  };
  expectRefused({.vocabSize = 1}, "vocabSize 1");
  expectRefused({.vocabSize = 70000}, "vocabSize 70000");
  expectRefused({.vocabSize = 4, .successorsPerToken = 5}, "successorsPerToken 5");
  expectRefused({.successorsPerToken = 1}, "successorsPerToken 1");
  expectRefused({.successorsPerToken = 17}, "successorsPerToken 17");
  expectRefused({.favouredWeight = 0}, "favouredWeight 0");
}

}  // namespace
}  // namespace loom::trainer
