// The GPT model: config validation, parameter layout and initialisation, a
// finite-difference check of every parameter's gradient, training on the
// synthetic corpus, determinism, the gradients-ready hook and sampling.
#include "trainer/gpt_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/gpt/adamw.h"
#include "kernels/gpt/cpu_threads.h"
#include "trainer/random.h"
#include "trainer/synthetic_corpus.h"

namespace loom::trainer {
namespace {

// These models are tiny: with several threads on a loaded machine the
// kernels' parallel loops cost far more than the work (OpenMP hand-offs), so
// the tests run on one thread. The results do not depend on the thread count
// (kernels/gpt/README.md); SameSeedGivesBitwiseSameTraining checks that for
// the whole model.
class OneThread : public ::testing::Environment {
 public:
  void SetUp() override { gpt::setCpuThreads(1); }
};
const auto* const kOneThread = ::testing::AddGlobalTestEnvironment(new OneThread);

GptModel makeModel(const GptConfig& config, uint64_t seed = 1) {
  auto model = GptModel::create(config, seed);
  EXPECT_TRUE(model.isOk()) << model.status().toString();
  return std::move(model).value();
}

GptConfig tinyConfig() { return {.vocabSize = 11, .maxSeqLen = 5, .layers = 2, .heads = 2, .channels = 8}; }

// Deterministic tokens in [0, V).
std::vector<int32_t> randomTokens(size_t n, int V, uint64_t seed) {
  Xoshiro256 random(seed);
  std::vector<int32_t> tokens(n);
  for (int32_t& t : tokens) t = static_cast<int32_t>(random.uniformBelow(V));
  return tokens;
}

TEST(GptConfigTest, ValidateNamesTheBadValue) {
  EXPECT_TRUE(GptConfig{}.validate().isOk());
  const Status heads = GptConfig{.heads = 3, .channels = 64}.validate();
  EXPECT_FALSE(heads.isOk());
  EXPECT_NE(heads.message().find("heads=3 does not divide channels=64"), std::string::npos) << heads.message();
  const Status layers = GptConfig{.layers = 0}.validate();
  EXPECT_NE(layers.message().find("layers=0 must be positive"), std::string::npos) << layers.message();
  const Status vocab = GptConfig{.vocabSize = -1}.validate();
  EXPECT_NE(vocab.message().find("vocabSize=-1"), std::string::npos) << vocab.message();
  EXPECT_NE(GptConfig{.maxSeqLen = 0}.validate().message().find("maxSeqLen=0"), std::string::npos);
  EXPECT_NE(GptConfig{.heads = 0}.validate().message().find("heads=0"), std::string::npos);
  EXPECT_NE(GptConfig{.channels = 0}.validate().message().find("channels=0"), std::string::npos);
  EXPECT_FALSE(GptConfig({.vocabSize = 1 << 20, .channels = 4096}).validate().isOk());
  const auto model = GptModel::create(GptConfig{.heads = 3}, 1);
  EXPECT_FALSE(model.isOk());
}

TEST(GptConfigTest, NamedIntegersRoundTrip) {
  const GptConfig config = tinyConfig();
  const auto named = config.toNamedIntegers();
  EXPECT_EQ(named.at("vocab_size"), 11);
  EXPECT_EQ(named.at("channels"), 8);
  auto back = GptConfig::fromNamedIntegers(named);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(back->toNamedIntegers(), named);
  auto missing = named;
  missing.erase("heads");
  EXPECT_NE(GptConfig::fromNamedIntegers(missing).status().message().find("heads is missing"), std::string::npos);
  auto bad = named;
  bad["heads"] = 3;
  EXPECT_FALSE(GptConfig::fromNamedIntegers(bad).isOk());
}

TEST(GptModelTest, ParameterCountAndLayout) {
  // GPT-2 small (124M) with the unpadded vocabulary: the published count.
  const GptConfig gpt2{.vocabSize = 50257, .maxSeqLen = 1024, .layers = 12, .heads = 12, .channels = 768};
  EXPECT_EQ(gpt2.parameterCount(), 124439808u);

  const GptConfig config = tinyConfig();
  const size_t V = 11, T = 5, L = 2, C = 8;
  EXPECT_EQ(config.parameterCount(), V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C);
  GptModel model = makeModel(config);
  EXPECT_EQ(model.parameterCount(), config.parameterCount());
  EXPECT_EQ(model.parameters().size(), model.gradients().size());
  // Tensors tile the array in order, without gaps.
  size_t offset = 0;
  for (const GptTensorInfo& t : model.tensors()) {
    EXPECT_EQ(t.offset, offset) << t.name;
    offset += t.count;
  }
  EXPECT_EQ(offset, model.parameterCount());
  EXPECT_EQ(model.tensors().size(), 2 + 12 * L + 2);
  EXPECT_EQ(model.tensors().front().name, "wte");
  EXPECT_EQ(model.tensors().back().name, "lnfb");
  EXPECT_EQ(model.parameter("h1.qkvw").size(), 3 * C * C);
  EXPECT_EQ(model.parameter("h0.fcprojw").size(), 4 * C * C);
  EXPECT_TRUE(model.parameter("nope").empty());
  const auto [layerOffset, layerCount] = model.layerRange(1);
  EXPECT_EQ(layerCount, 12 * C * C + 13 * C);
  EXPECT_EQ(layerOffset, V * C + T * C + layerCount);
}

TEST(GptModelTest, InitialisationFollowsGpt2) {
  const GptConfig config{.vocabSize = 64, .maxSeqLen = 32, .layers = 8, .heads = 4, .channels = 64};
  GptModel model = makeModel(config, 42);
  auto stddev = [](std::span<const float> values) {
    double sum = 0, sumSquares = 0;
    for (float v : values) {
      sum += v;
      sumSquares += double{v} * v;
    }
    const double mean = sum / values.size();
    return std::sqrt(sumSquares / values.size() - mean * mean);
  };
  EXPECT_NEAR(stddev(model.parameter("wte")), 0.02, 0.001);
  EXPECT_NEAR(stddev(model.parameter("h3.qkvw")), 0.02, 0.001);
  EXPECT_NEAR(stddev(model.parameter("h3.fcw")), 0.02, 0.001);
  EXPECT_NEAR(stddev(model.parameter("h3.fcprojw")), 0.02 / 4.0, 0.0003);  // 1/sqrt(2*8)
  EXPECT_NEAR(stddev(model.parameter("h3.attprojw")), 0.02 / 4.0, 0.0005);
  for (float v : model.parameter("h5.ln2w")) ASSERT_EQ(v, 1.0f);
  for (float v : model.parameter("lnfw")) ASSERT_EQ(v, 1.0f);
  for (float v : model.parameter("h5.fcb")) ASSERT_EQ(v, 0.0f);
  for (float v : model.parameter("lnfb")) ASSERT_EQ(v, 0.0f);
  for (float v : model.gradients()) ASSERT_EQ(v, 0.0f);
  GptModel other = makeModel(config, 43);
  EXPECT_NE(std::memcmp(model.parameters().data(), other.parameters().data(), 64 * 64 * sizeof(float)), 0);
}

TEST(GptModelTest, ForwardWithoutTargetsGivesTheLogitsOfTheLoss) {
  GptModel model = makeModel(tinyConfig(), 3);
  const auto inputs = randomTokens(10, 11, 1), targets = randomTokens(10, 11, 2);
  const float loss = model.forward(inputs.data(), targets.data(), 2, 5);
  EXPECT_NEAR(loss, std::log(11.0), 0.05);  // small init: close to uniform
  model.forward(inputs.data(), nullptr, 2, 5);
  ASSERT_EQ(model.logits().size(), 10u * 11u);
  double sum = 0;
  for (int i = 0; i < 10; ++i) {
    const float* row = model.logits().data() + i * 11;
    double total = 0;
    for (int v = 0; v < 11; ++v) total += std::exp(double{row[v]});
    sum += std::log(total) - row[targets[i]];
  }
  EXPECT_NEAR(sum / 10, loss, 1e-5);
}

// Every parameter's analytic gradient against a central difference of the
// float loss. The parameters are re-drawn large (not the 0.02 init) so that
// every path carries a sizeable gradient; perturbation h = 1e-2 keeps the
// float rounding of the loss (~1e-7 relative) at ~1e-5 in the difference while
// the truncation error stays ~h^2.
struct GradientComparison {
  double worstRelative = 0;  // max |a - n| / (|a| + |n| + floor)
  double relativeNorm = 0;   // ||a - n|| / ||n||
};

GradientComparison compare(const std::vector<double>& analytic, const std::vector<double>& numeric) {
  GradientComparison result;
  double diff2 = 0, num2 = 0;
  for (size_t i = 0; i < analytic.size(); ++i) {
    const double d = std::abs(analytic[i] - numeric[i]);
    diff2 += d * d;
    num2 += numeric[i] * numeric[i];
    result.worstRelative =
        std::max(result.worstRelative, d / (std::abs(analytic[i]) + std::abs(numeric[i]) + 2e-3));
  }
  result.relativeNorm = std::sqrt(diff2 / num2);
  return result;
}

TEST(GptModelTest, GradientsMatchFiniteDifferencesForEveryParameter) {
  const int B = 2, T = 5, V = 11;
  GptModel model = makeModel(tinyConfig(), 5);
  Xoshiro256 random(99);
  for (const GptTensorInfo& t : model.tensors()) {
    const bool lnWeight = t.name.ends_with("ln1w") || t.name.ends_with("ln2w") || t.name == "lnfw";
    for (size_t i = 0; i < t.count; ++i) {
      const double u = random.uniformUnit() - 0.5;
      model.parameters()[t.offset + i] = static_cast<float>(lnWeight ? 1.0 + 0.5 * u : 0.6 * u);
    }
  }
  const auto inputs = randomTokens(B * T, V, 7), targets = randomTokens(B * T, V, 8);
  model.zeroGrad();
  model.forward(inputs.data(), targets.data(), B, T);
  model.backward();
  std::vector<double> analytic(model.gradients().begin(), model.gradients().end());

  const double h = 1e-2;
  std::vector<double> numeric(model.parameterCount());
  for (size_t i = 0; i < numeric.size(); ++i) {
    float& p = model.parameters()[i];
    const float saved = p;
    p = static_cast<float>(saved + h);
    const double up = model.forward(inputs.data(), targets.data(), B, T);
    const double stepUp = double{p} - saved;
    p = static_cast<float>(saved - h);
    const double down = model.forward(inputs.data(), targets.data(), B, T);
    const double stepDown = saved - double{p};
    p = saved;
    numeric[i] = (up - down) / (stepUp + stepDown);
  }

  double worstNorm = 0, worstElement = 0;
  for (const GptTensorInfo& t : model.tensors()) {
    const std::vector<double> a(analytic.begin() + t.offset, analytic.begin() + t.offset + t.count);
    const std::vector<double> n(numeric.begin() + t.offset, numeric.begin() + t.offset + t.count);
    const GradientComparison c = compare(a, n);
    double norm = 0;
    for (double v : n) norm += v * v;
    EXPECT_GT(std::sqrt(norm), 1e-3) << t.name << ": gradient too small to check";
    EXPECT_LT(c.relativeNorm, 3e-3) << t.name;
    EXPECT_LT(c.worstRelative, 5e-2) << t.name;
    worstNorm = std::max(worstNorm, c.relativeNorm);
    worstElement = std::max(worstElement, c.worstRelative);
  }
  std::printf("worst per-tensor relative error %.2e, worst element %.2e\n", worstNorm, worstElement);
  // The comparison is sharp enough to see a small error in one tensor: 5%
  // too much gradient in one layer's fcw, or one wte row's gradient halved
  // (as when the tied head's or the embedding's contribution is lost).
  {
    const GptTensorInfo& fcw = model.tensors()[2 + 12 + 8];
    ASSERT_EQ(fcw.name, "h1.fcw");
    std::vector<double> a(analytic.begin() + fcw.offset, analytic.begin() + fcw.offset + fcw.count);
    const std::vector<double> n(numeric.begin() + fcw.offset, numeric.begin() + fcw.offset + fcw.count);
    for (double& v : a) v *= 1.05;
    EXPECT_GT(compare(a, n).relativeNorm, 3e-3);
  }
  {
    const int token = inputs[0];
    std::vector<double> a(analytic.begin(), analytic.begin() + V * 8);
    const std::vector<double> n(numeric.begin(), numeric.begin() + V * 8);
    for (int c = 0; c < 8; ++c) a[token * 8 + c] = 0.5 * a[token * 8 + c];
    EXPECT_GT(compare(a, n).worstRelative, 5e-2);
  }
}

// Training data: windows of T + 1 tokens from the default synthetic corpus.
struct Batches {
  std::vector<uint16_t> tokens;
  int B, T;
  size_t next = 0;
  void get(std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
    inputs.resize(static_cast<size_t>(B) * T);
    targets.resize(inputs.size());
    for (int b = 0; b < B; ++b) {
      if (next + T + 1 > tokens.size()) next = 0;
      for (int t = 0; t < T; ++t) {
        inputs[b * T + t] = tokens[next + t];
        targets[b * T + t] = tokens[next + t + 1];
      }
      next += T;
    }
  }
};

// Runs `steps` AdamW steps and returns the loss of each.
std::vector<float> train(GptModel& model, Batches& batches, int steps, float lr) {
  std::vector<float> m(model.parameterCount(), 0.0f), v(model.parameterCount(), 0.0f);
  std::vector<float> losses;
  std::vector<int32_t> inputs, targets;
  for (int step = 1; step <= steps; ++step) {
    batches.get(inputs, targets);
    model.zeroGrad();
    losses.push_back(model.forward(inputs.data(), targets.data(), batches.B, batches.T));
    model.backward();
    const double norm2 = gpt::globalNormSquared(model.gradients().data(), model.parameterCount());
    const float scale = gpt::gradClipScale(norm2, 1.0f);
    for (const GptTensorInfo& t : model.tensors()) {
      gpt::adamwUpdate(model.parameters().data() + t.offset, model.gradients().data() + t.offset,
                       m.data() + t.offset, v.data() + t.offset, t.count, lr, 0.9f, 0.95f, 1e-8f,
                       t.isMatrix ? 0.01f : 0.0f, step, scale);
    }
  }
  return losses;
}

TEST(GptModelTest, AdamWOnTheSyntheticCorpusDrivesTheLossDown) {
  auto corpus = SyntheticCorpus::create();
  ASSERT_TRUE(corpus.isOk());
  const int T = 16, B = 8;
  const GptConfig config{.vocabSize = 64, .maxSeqLen = T, .layers = 2, .heads = 2, .channels = 32};
  GptModel model = makeModel(config, 1);
  Batches batches{corpus->generate(CorpusSplit::kTrain, 200000), B, T};
  const std::vector<float> losses = train(model, batches, 300, 3e-3f);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i] / 10;
    last += losses[losses.size() - 1 - i] / 10;
  }
  std::printf("loss: first 10 steps %.3f, last 10 steps %.3f (unigram %.3f, bigram %.3f, best %.3f)\n", first,
              last, corpus->marginalEntropy(), corpus->oneTokenConditionalEntropy(),
              corpus->bestMeanCrossEntropy(T));
  EXPECT_NEAR(first, std::log(64.0), 0.1);
  EXPECT_LT(last, 0.8 * first);
  // Better than any unigram model: the model uses its context.
  EXPECT_LT(last, corpus->marginalEntropy() - 0.5);
  EXPECT_GT(last, corpus->bestMeanCrossEntropy(T) - 0.05);  // sanity: nothing beats the entropy rate
}

TEST(GptModelTest, SameSeedGivesBitwiseSameTraining) {
  auto corpus = SyntheticCorpus::create();
  ASSERT_TRUE(corpus.isOk());
  const GptConfig config{.vocabSize = 64, .maxSeqLen = 8, .layers = 2, .heads = 2, .channels = 16};
  const auto tokens = corpus->generate(CorpusSplit::kTrain, 20000);
  GptModel a = makeModel(config, 7), b = makeModel(config, 7);
  Batches batchesA{tokens, 4, 8}, batchesB{tokens, 4, 8};
  const auto lossesA = train(a, batchesA, 20, 1e-2f);
  gpt::setCpuThreads(3);  // and the thread count changes nothing
  const auto lossesB = train(b, batchesB, 20, 1e-2f);
  gpt::setCpuThreads(1);
  ASSERT_EQ(lossesA.size(), lossesB.size());
  EXPECT_EQ(std::memcmp(lossesA.data(), lossesB.data(), lossesA.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.parameters().data(), b.parameters().data(), a.parameterCount() * sizeof(float)), 0);
  EXPECT_NE(lossesA.front(), lossesA.back());
}

TEST(GptModelTest, GradientsReadyRangesCoverTheArrayOnceAndAreFinal) {
  const GptConfig config{.vocabSize = 13, .maxSeqLen = 6, .layers = 3, .heads = 2, .channels = 8};
  const int B = 3, T = 6;
  const auto inputs = randomTokens(B * T, 13, 1), targets = randomTokens(B * T, 13, 2);
  GptModel plain = makeModel(config, 4), hooked = makeModel(config, 4);
  plain.zeroGrad();
  plain.forward(inputs.data(), targets.data(), B, T);
  plain.backward(0.5f);

  hooked.zeroGrad();
  hooked.forward(inputs.data(), targets.data(), B, T);
  std::vector<int> covered(hooked.parameterCount(), 0);
  std::vector<std::pair<size_t, size_t>> ranges;
  std::vector<float> snapshot(hooked.parameterCount(), NAN);
  hooked.backward(0.5f, [&](size_t offset, size_t count) {
    ranges.emplace_back(offset, count);
    ASSERT_LE(offset + count, covered.size());
    for (size_t i = offset; i < offset + count; ++i) {
      ++covered[i];
      snapshot[i] = hooked.gradients()[i];
    }
  });
  for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << "element " << i;
  // The values seen by the hook are the final ones, and the hook changes nothing.
  EXPECT_EQ(std::memcmp(snapshot.data(), plain.gradients().data(), snapshot.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(hooked.gradients().data(), plain.gradients().data(), snapshot.size() * sizeof(float)), 0);
  // Order: lnf, layers last to first, wpe, wte.
  ASSERT_EQ(ranges.size(), 1u + 3u + 2u);
  EXPECT_EQ(ranges[1], hooked.layerRange(2));
  EXPECT_EQ(ranges[3], hooked.layerRange(0));
  EXPECT_EQ(ranges.back().first, 0u);
  EXPECT_EQ(ranges.back().second, 13u * 8u);
}

TEST(GptModelTest, BackwardAccumulatesAndScales) {
  const GptConfig config = tinyConfig();
  const auto inputs = randomTokens(10, 11, 3), targets = randomTokens(10, 11, 4);
  GptModel model = makeModel(config, 2);
  model.zeroGrad();
  model.forward(inputs.data(), targets.data(), 2, 5);
  model.backward();
  const std::vector<float> once(model.gradients().begin(), model.gradients().end());
  model.zeroGrad();
  for (int micro = 0; micro < 2; ++micro) {
    model.forward(inputs.data(), targets.data(), 2, 5);
    model.backward(0.5f);
  }
  for (size_t i = 0; i < once.size(); ++i) {
    ASSERT_NEAR(model.gradients()[i], once[i], 1e-6f + 1e-5f * std::abs(once[i])) << i;
  }
}

TEST(GptModelTest, SampleIsDeterministicAndGreedyFollowsArgmax) {
  const GptConfig config{.vocabSize = 16, .maxSeqLen = 4, .layers = 1, .heads = 2, .channels = 8};
  GptModel model = makeModel(config, 9);
  const std::vector<int32_t> prompt{1, 2, 3};
  const auto a = model.sample(prompt, 10, 1.0f, 5);
  const auto b = model.sample(prompt, 10, 1.0f, 5);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 10u);
  for (int32_t t : a) EXPECT_TRUE(t >= 0 && t < 16);
  const auto greedy = model.sample(prompt, 1, 0.0f, 0);
  model.forward(prompt.data(), nullptr, 1, 3);
  const float* row = model.logits().data() + 2 * 16;
  EXPECT_EQ(greedy[0], std::max_element(row, row + 16) - row);
}

}  // namespace
}  // namespace loom::trainer
