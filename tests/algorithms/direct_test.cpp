// Proves the one-shot and two-shot AllReduce builders with the verifier over
// every rank count from 1 to 64 (and a few larger), sizes that are empty,
// smaller than the rank count and uneven, both in-place forms, several
// channel counts and pipeline sizes; and checks that the verifier rejects the
// tempting broken variants, so a pass means something.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "algorithms/direct.h"
#include "schedule/verifier.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

BuildOptions options(int channels, size_t pipelineElements) {
  BuildOptions o;
  o.channels = channels;
  o.pipelineElements = pipelineElements;
  return o;
}

// One-shot sums in one scratch slot per channel, two-shot needs none.
size_t scratchLimitOf(ScheduleBuilder build, const CollectiveShape& shape) {
  return build == &buildOneShot ? shape.count : 0;
}

std::string buildAndVerify(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildAndVerify(build, shape, options, scratchLimitOf(build, shape));
}

std::vector<size_t> countsFor(int n) {
  const size_t un = static_cast<size_t>(n);
  std::set<size_t> c = {0, 1, un - 1, un, 7 * un + 3, 1000};
  return {c.begin(), c.end()};
}

int sweep(ScheduleBuilder build, int n, const std::vector<size_t>& pipelines) {
  int configs = 0;
  for (size_t count : countsFor(n)) {
    for (int channels : {1, 2, 3}) {
      for (size_t pipeline : pipelines) {
        // A pipeline size as large as the count changes nothing here.
        if (pipeline >= count && pipeline != 0) continue;
        EXPECT_EQ(buildAndVerify(build, CollectiveShape{CollectiveKind::kAllReduce, n, count, 0},
                                 options(channels, pipeline)),
                  "");
        configs += 2;
      }
    }
  }
  return configs;
}

std::string rankName(const ::testing::TestParamInfo<int>& info) { return std::to_string(info.param) + "ranks"; }

// One-shot sends (n-1)·count per rank, so above 16 ranks the pipeline size
// grows with n (still cutting the two larger counts into several slices) to
// keep the n² messages few.
class OneShotSweep : public ::testing::TestWithParam<int> {};

TEST_P(OneShotSweep, VerifiesEveryConfiguration) {
  const int n = GetParam();
  const size_t pipeline = n <= 16 ? 5 : 3 * static_cast<size_t>(n) + 1;
  ::testing::Test::RecordProperty("configurations", sweep(&buildOneShot, n, {0, pipeline}));
}

INSTANTIATE_TEST_SUITE_P(Ranks1To64, OneShotSweep, ::testing::Range(1, 65), rankName);

// Above 16 ranks a slightly larger pipeline size still splits the
// 1000-element count into several regions, with fewer steps to verify.
class TwoShotSweep : public ::testing::TestWithParam<int> {};

TEST_P(TwoShotSweep, VerifiesEveryConfiguration) {
  const int n = GetParam();
  ::testing::Test::RecordProperty("configurations", sweep(&buildTwoShot, n, {0, n <= 16 ? size_t{5} : size_t{11}}));
}

INSTANTIATE_TEST_SUITE_P(Ranks1To64, TwoShotSweep, ::testing::Range(1, 65), rankName);

TEST(DirectLarge, On96And128And257Ranks) {
  for (int n : {96, 128, 257}) {
    const size_t un = static_cast<size_t>(n);
    // One-shot's n² messages make these the costliest cases: one uneven
    // size over two channels at 96 ranks, one element beyond.
    for (size_t count : n <= 96 ? std::vector<size_t>{1, un + 1} : std::vector<size_t>{1}) {
      EXPECT_EQ(buildAndVerify(&buildOneShot, CollectiveShape{CollectiveKind::kAllReduce, n, count, 0}, options(2, 0)),
                "");
    }
    for (size_t count : n <= 128 ? std::vector<size_t>{1, un - 1, 3 * un + 1} : std::vector<size_t>{1, un - 1}) {
      EXPECT_EQ(buildAndVerify(&buildTwoShot, CollectiveShape{CollectiveKind::kAllReduce, n, count, 0}, options(3, 0)),
                "");
      EXPECT_EQ(buildAndVerify(&buildTwoShot, CollectiveShape{CollectiveKind::kAllReduce, n, count, 0}, options(1, 2)),
                "");
    }
  }
}

std::vector<Schedule> buildOrFail(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& opts) {
  std::vector<Schedule> scheds;
  EXPECT_EQ(testing::buildAndCheck(build, shape, opts, shape.count, &scheds), "");
  return scheds;
}

// The obvious one-shot, summing straight into the output, is right
// out-of-place but deadlocks in-place: every rank's output is the input its
// peers have not all received yet.
TEST(DirectBroken, OneShotSummingIntoTheOutputDeadlocksInPlace) {
  for (int n : {2, 3, 8}) {
    const CollectiveShape shape{CollectiveKind::kAllReduce, n, 10, 0};
    std::vector<Schedule> scheds = buildOrFail(&buildOneShot, shape, options(1, 0));
    for (Schedule& s : scheds) {
      std::vector<Step>& steps = s.channels[0].steps;
      ASSERT_EQ(steps.back().kind, StepKind::kCopy);
      steps.pop_back();
      for (Step& st : steps) {
        if (st.kind != StepKind::kRecvReduce) continue;
        if (st.src.buffer == BufferId::kScratch) st.src.buffer = BufferId::kOutput;
        st.dst.buffer = BufferId::kOutput;
      }
      s.scratchCount = 0;
    }
    EXPECT_TRUE(verifySchedules(shape, scheds, false).isOk());
    Status st = verifySchedules(shape, scheds, true);
    EXPECT_FALSE(st.isOk()) << n << " ranks";
    EXPECT_NE(st.message().find("deadlock"), std::string::npos) << st.toString();
  }
}

TEST(DirectBroken, OneShotMissingAContributionIsCaught) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 5, 12, 0};
  std::vector<Schedule> scheds = buildOrFail(&buildOneShot, shape, options(1, 0));
  // Rank 2 skips one peer: that peer's message is never received.
  std::vector<Step>& steps = scheds[2].channels[0].steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kRecvReduce && steps[i].src.buffer == BufferId::kScratch) {
      steps.erase(steps.begin() + static_cast<long>(i));
      break;
    }
  }
  EXPECT_FALSE(verifySchedules(shape, scheds, false).isOk());
}

TEST(DirectBroken, TwoShotDroppingAnAllGatherSendIsCaught) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 6, 60, 0};
  std::vector<Schedule> scheds = buildOrFail(&buildTwoShot, shape, options(1, 0));
  std::vector<Step>& steps = scheds[3].channels[0].steps;
  // The reduced chunk leaves from the output; drop its last copy.
  for (size_t i = steps.size(); i-- > 0;) {
    if (steps[i].kind == StepKind::kSend && steps[i].src.buffer == BufferId::kOutput) {
      steps.erase(steps.begin() + static_cast<long>(i));
      break;
    }
  }
  for (bool inPlace : {false, true}) {
    Status st = verifySchedules(shape, scheds, inPlace);
    EXPECT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("deadlock"), std::string::npos) << st.toString();
  }
}

TEST(DirectBroken, TwoShotReducingTheWrongChunkIsCaught) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 4, 40, 0};
  std::vector<Schedule> scheds = buildOrFail(&buildTwoShot, shape, options(1, 0));
  // Rank 1 starts its sum from its own chunk 0 instead of chunk 1.
  for (Step& st : scheds[1].channels[0].steps) {
    if (st.kind == StepKind::kRecvReduce && st.src.buffer == BufferId::kInput) {
      st.src.offset = 0;
      break;
    }
  }
  Status st = verifySchedules(shape, scheds, false);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("mixes indices"), std::string::npos) << st.toString();
}

TEST(OneShotBuilder, PostsEverySendBeforeAnyReceiveAndCopiesOutLast) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 6, 100, 0};
  for (int r = 0; r < 6; ++r) {
    Result<Schedule> s = buildOneShot(shape, r, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    EXPECT_EQ(s->scratchCount, 100u);
    const std::vector<Step>& steps = s->channels[0].steps;
    ASSERT_EQ(steps.size(), 11u) << s->toString();
    std::set<int> sentTo, heardFrom;
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(steps[i].kind, StepKind::kSend);
      EXPECT_EQ(steps[i].src.count, 100u);
      sentTo.insert(steps[i].peer);
    }
    for (size_t i = 5; i < 10; ++i) {
      EXPECT_EQ(steps[i].kind, StepKind::kRecvReduce);
      EXPECT_EQ(steps[i].dst.buffer, BufferId::kScratch);
      heardFrom.insert(steps[i].peer);
    }
    EXPECT_EQ(steps[10].kind, StepKind::kCopy);
    std::set<int> others;
    for (int p = 0; p < 6; ++p)
      if (p != r) others.insert(p);
    EXPECT_EQ(sentTo, others);
    EXPECT_EQ(heardFrom, others);
  }
}

TEST(OneShotBuilder, ScratchIsOneSlicePerChannel) {
  Result<Schedule> s = buildOneShot(CollectiveShape{CollectiveKind::kAllReduce, 4, 1000, 0}, 1, options(2, 64));
  ASSERT_TRUE(s.isOk());
  // Each channel's 500 elements go in 8 slices of at most 63.
  EXPECT_EQ(s->scratchCount, 2 * 63u);
}

TEST(TwoShotBuilder, MovesTheRingsVolumeInTwoRounds) {
  const size_t count = 600;
  const CollectiveShape shape{CollectiveKind::kAllReduce, 6, count, 0};
  for (int r = 0; r < 6; ++r) {
    Result<Schedule> s = buildTwoShot(shape, r, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    EXPECT_EQ(s->scratchCount, 0u);
    size_t sent = 0, sends = 0;
    for (const Step& st : s->channels[0].steps) {
      if (st.kind != StepKind::kSend) continue;
      ++sends;
      sent += st.src.count;
      EXPECT_EQ(st.src.count, count / 6);
    }
    EXPECT_EQ(sends, 10u);
    EXPECT_EQ(sent, 2 * 5 * count / 6);
  }
}

TEST(DirectBuilder, OneRankIsACopyAndEmptyCountIsEmpty) {
  for (ScheduleBuilder build : {&buildOneShot, &buildTwoShot}) {
    Result<Schedule> s = build(CollectiveShape{CollectiveKind::kAllReduce, 1, 10, 0}, 0, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    ASSERT_EQ(s->stepCount(), 1u);
    EXPECT_EQ(s->channels[0].steps[0].kind, StepKind::kCopy);
    EXPECT_EQ(s->scratchCount, 0u);
    Result<Schedule> e = build(CollectiveShape{CollectiveKind::kAllReduce, 5, 0, 0}, 4, options(3, 5));
    ASSERT_TRUE(e.isOk());
    EXPECT_EQ(e->stepCount(), 0u);
    EXPECT_EQ(e->scratchCount, 0u);
    EXPECT_EQ(e->rank, 4);
    EXPECT_EQ(e->nranks, 5);
  }
}

TEST(DirectBuilder, RejectsBadShapes) {
  for (ScheduleBuilder build : {&buildOneShot, &buildTwoShot}) {
    auto message = [build](const CollectiveShape& shape, int rank, const BuildOptions& opts) {
      return testing::rejectionMessage(build, shape, rank, opts);
    };
    EXPECT_NE(message({CollectiveKind::kAllReduce, 0, 4, 0}, 0, {}).find("nranks 0"), std::string::npos);
    EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 4, {}).find("rank 4"), std::string::npos);
    EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, options(0, 0)).find("channels 0"), std::string::npos);
    EXPECT_NE(message({CollectiveKind::kAllGather, 4, 4, 0}, 0, {}).find("AllGather"), std::string::npos);
    EXPECT_NE(message({CollectiveKind::kBroadcast, 4, 4, 0}, 0, {}).find("Broadcast"), std::string::npos);
  }
}

}  // namespace
}  // namespace loom
