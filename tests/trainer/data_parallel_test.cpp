// Data-parallel training on Loom: N ranks (forked processes) with the same
// global batch follow the 1-rank loss curve, with and without ZeRO-1; a run
// stopped after a checkpoint and resumed ends bit for bit where an
// uninterrupted run ends, and resumes at another rank count.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gpt/cpu_threads.h"
#include "support/multi_rank.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"
#include "trainer_test_files.h"

namespace loom::trainer {
namespace {

using testing::ScopedTempDir;

constexpr int kSteps = 20;

TrainConfig smallConfig() {
  TrainConfig c;
  c.model.layers = 2;
  c.model.channels = 32;
  c.model.heads = 4;
  c.model.maxSeqLen = 16;
  c.steps = kSteps;
  c.batchSequences = 12;  // divisible by 1, 2, 3 and 4 ranks
  c.warmupSteps = 5;
  c.valBatches = 1;
  c.bucketBytes = 8 << 10;  // several buckets, so overlap really happens
  return c;
}

// Losses of every step (and the final validation loss last), shared by the
// forked ranks with the test through an anonymous shared mapping.
class SharedLosses {
 public:
  SharedLosses() {
    void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    values_ = p == MAP_FAILED ? nullptr : static_cast<double*>(p);
  }
  ~SharedLosses() {
    if (values_ != nullptr) munmap(values_, kBytes);
  }
  double* data() { return values_; }
  std::vector<double> values(size_t n) const { return std::vector<double>(values_, values_ + n); }

 private:
  static constexpr size_t kBytes = 4096;
  double* values_;
};

// Runs `steps` steps of `config` on `nranks` forked ranks; rank 0 records the
// losses. With saveAtEnd, saves a checkpoint after the last step.
std::vector<double> train(const TrainConfig& config, int nranks, int steps, bool saveAtEnd = false) {
  SharedLosses shared;
  double* out = shared.data();
  auto outcomes = loom::testing::runRanks(nranks, [&](int rank, const UniqueId& id) {
    gpt::setCpuThreads(1);
    auto comm = Communicator::create(nranks, id, rank);
    if (!comm.isOk()) {
      ADD_FAILURE() << "rank " << rank << ": " << comm.status().message();
      return 1;
    }
    std::vector<std::string> log;
    auto made = Trainer::create(config, comm.value().get(), &log);
    if (!made.isOk()) {
      ADD_FAILURE() << "rank " << rank << ": " << made.status().message();
      return 1;
    }
    Trainer& t = *made.value();
    const uint64_t first = t.stepsDone();
    for (int s = 0; s < steps; ++s) {
      auto r = t.step();
      if (!r.isOk()) {
        ADD_FAILURE() << "rank " << rank << " step " << s << ": " << r.status().message();
        return 1;
      }
      if (rank == 0) out[first + s] = r->loss;
    }
    if (saveAtEnd) {
      auto saved = t.saveCheckpoint();
      if (!saved.isOk()) {
        ADD_FAILURE() << "rank " << rank << ": " << saved.status().message();
        return 1;
      }
    }
    return 0;
  });
  EXPECT_RANKS_OK(outcomes);
  return shared.values(kSteps);
}

void expectSameCurve(const std::vector<double>& expected, const std::vector<double>& actual, double tolerance,
                     const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::fabs(expected[i])) << what << ", step " << i + 1;
  }
}

class DataParallelEquivalence : public ::testing::TestWithParam<bool> {};

TEST_P(DataParallelEquivalence, RanksFollowTheOneRankLossCurve) {
  const bool zero = GetParam();
  const std::vector<double> reference = train(smallConfig(), 1, kSteps);
  // The loss must actually fall, or matching curves would prove little.
  EXPECT_LT(reference.back(), reference.front() - 0.5);
  TrainConfig config = smallConfig();
  config.zero = zero;
  for (int n = 1; n <= 4; ++n) {
    expectSameCurve(reference, train(config, n, kSteps),  1e-5,
                    std::to_string(n) + " ranks, ZeRO-1 " + (zero ? "on" : "off"));
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroOneOffAndOn, DataParallelEquivalence, ::testing::Bool(),
                         [](const auto& info) { return info.param ? std::string("Zero1") : std::string("Plain"); });

class ResumeEquivalence : public ::testing::TestWithParam<bool> {};

TEST_P(ResumeEquivalence, StoppedAndResumedRunEndsBitForBitWhereTheWholeRunEnds) {
  ScopedTempDir whole, stopped;
  TrainConfig config = smallConfig();
  config.zero = GetParam();
  config.checkpointDir = whole.path();
  const std::vector<double> wholeCurve = train(config, 2, kSteps, /*saveAtEnd=*/true);

  config.checkpointDir = stopped.path();
  train(config, 2, kSteps / 2, /*saveAtEnd=*/true);  // then the process is gone
  config.resume = true;
  const std::vector<double> resumedCurve = train(config, 2, kSteps - kSteps / 2, /*saveAtEnd=*/true);
  for (int s = kSteps / 2; s < kSteps; ++s) EXPECT_EQ(resumedCurve[s], wholeCurve[s]) << "step " << s + 1;

  auto a = loadCheckpoint(whole.file(checkpointFileName(kSteps)));
  auto b = loadCheckpoint(stopped.file(checkpointFileName(kSteps)));
  ASSERT_TRUE(a.isOk()) << a.status().message();
  ASSERT_TRUE(b.isOk()) << b.status().message();
  EXPECT_EQ(a->dataPosition, b->dataPosition);
  ASSERT_EQ(a->parameters.size(), b->parameters.size());
  size_t differing = 0;
  for (size_t i = 0; i < a->parameters.size(); ++i) {
    differing += std::memcmp(&a->parameters[i], &b->parameters[i], sizeof(float)) != 0;
    differing += std::memcmp(&a->adamFirstMoment[i], &b->adamFirstMoment[i], sizeof(float)) != 0;
    differing += std::memcmp(&a->adamSecondMoment[i], &b->adamSecondMoment[i], sizeof(float)) != 0;
  }
  EXPECT_EQ(differing, 0u) << "parameters or moments differ after resuming";
}

TEST_P(ResumeEquivalence, ResumesAtAnotherRankCount) {
  ScopedTempDir directory;
  TrainConfig config = smallConfig();
  config.zero = GetParam();
  const std::vector<double> wholeCurve = train(config, 2, kSteps);
  config.checkpointDir = directory.path();
  train(config, 2, kSteps / 2, /*saveAtEnd=*/true);
  config.resume = true;
  for (int n : {1, 3}) {
    const std::vector<double> resumed = train(config, n, kSteps - kSteps / 2);
    for (int s = kSteps / 2; s < kSteps; ++s) {
      EXPECT_NEAR(resumed[s], wholeCurve[s], 1e-5 * wholeCurve[s]) << n << " ranks, step " << s + 1;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroOneOffAndOn, ResumeEquivalence, ::testing::Bool(),
                         [](const auto& info) { return info.param ? std::string("Zero1") : std::string("Plain"); });

}  // namespace
}  // namespace loom::trainer
