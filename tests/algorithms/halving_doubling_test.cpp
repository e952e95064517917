// Proves the halving-doubling builder with the verifier: AllReduce on every
// rank count from 1 to 64 (and 96, 128, 257), AllGather and ReduceScatter on
// the powers of two, over sizes that are empty, smaller than the rank count
// and uneven, both in-place forms, several channel counts and pipeline sizes.
// Also checks that the verifier catches a broken fix-up, so a pass means
// something.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "algorithms/halving_doubling.h"
#include "schedule/verifier.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

size_t scratchLimit(const CollectiveShape& shape) {
  return shape.kind == CollectiveKind::kReduceScatter ? static_cast<size_t>(shape.nranks / 2) * shape.count : 0;
}

std::string buildAndVerify(const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildAndVerify(&buildHalvingDoubling, shape, options, scratchLimit(shape));
}

std::vector<size_t> countsFor(int n) {
  const size_t un = static_cast<size_t>(n);
  std::set<size_t> c = {0, 1, un - 1, un, 7 * un + 3, 1000};
  return {c.begin(), c.end()};
}

BuildOptions options(int channels, size_t pipelineElements) {
  BuildOptions o;
  o.channels = channels;
  o.pipelineElements = pipelineElements;
  return o;
}

int sweep(CollectiveKind kind, int n, const std::vector<size_t>& counts, const std::vector<size_t>& pipelines) {
  int configs = 0;
  for (size_t count : counts) {
    for (int channels : {1, 2, 3}) {
      for (size_t pipeline : pipelines) {
        const CollectiveShape shape{kind, n, count, 0};
        EXPECT_EQ(buildAndVerify(shape, options(channels, pipeline)), "");
        configs += 2;
      }
    }
  }
  return configs;
}

class HalvingDoublingAllReduce : public ::testing::TestWithParam<int> {};

TEST_P(HalvingDoublingAllReduce, VerifiesEveryConfiguration) {
  const int n = GetParam();
  ::testing::Test::RecordProperty("configurations", sweep(CollectiveKind::kAllReduce, n, countsFor(n), {0, 5}));
}

INSTANTIATE_TEST_SUITE_P(Ranks1To64, HalvingDoublingAllReduce, ::testing::Range(1, 65),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ranks";
                         });

// AllGather and ReduceScatter move n·count elements, so above 32 ranks the
// 1000-element count is left out and the pipeline size grows with n (it
// still cuts every large message into several pieces) to keep the sweep
// quick.
class HalvingDoublingGatherScatter : public ::testing::TestWithParam<int> {};

TEST_P(HalvingDoublingGatherScatter, VerifiesEveryConfiguration) {
  const int n = GetParam();
  std::vector<size_t> counts = countsFor(n);
  std::vector<size_t> pipelines = {0, 5};
  if (n > 32) {
    counts.pop_back();
    pipelines.back() = 2 * static_cast<size_t>(n) + 1;
  }
  int configs = sweep(CollectiveKind::kAllGather, n, counts, pipelines);
  configs += sweep(CollectiveKind::kReduceScatter, n, counts, pipelines);
  ::testing::Test::RecordProperty("configurations", configs);
}

INSTANTIATE_TEST_SUITE_P(PowersOfTwo, HalvingDoublingGatherScatter, ::testing::Values(1, 2, 4, 8, 16, 32, 64, 128),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ranks";
                         });

TEST(HalvingDoublingLarge, AllReduceOn96And128And257Ranks) {
  for (int n : {96, 128, 257}) {
    const size_t un = static_cast<size_t>(n);
    for (size_t count : {size_t{1}, un - 1, un, 3 * un + 1}) {
      for (int channels : {1, 3}) {
        for (size_t pipeline : {size_t{0}, size_t{5}}) {
          EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kAllReduce, n, count, 0},
                                   options(channels, pipeline)),
                    "");
        }
      }
    }
  }
}

// Non-power-of-two rank counts where the fix-up matters: 3 (one pair), 6, 7
// (all but one rank paired), 12.
const int kFoldedCounts[] = {3, 5, 6, 7, 12};

std::vector<Schedule> buildOrDie(const CollectiveShape& shape, const BuildOptions& options) {
  std::vector<Schedule> scheds;
  EXPECT_EQ(testing::buildAndCheck(&buildHalvingDoubling, shape, options, scratchLimit(shape), &scheds), "");
  return scheds;
}

TEST(HalvingDoublingBroken, DroppingTheFixUpsFinalSendIsCaught) {
  for (int n : kFoldedCounts) {
    const CollectiveShape shape{CollectiveKind::kAllReduce, n, 7 * static_cast<size_t>(n) + 3, 0};
    std::vector<Schedule> scheds = buildOrDie(shape, options(1, 0));
    // Rank 0 keeps rank 1's place; its last step hands the result back.
    std::vector<Step>& steps = scheds[0].channels[0].steps;
    ASSERT_EQ(steps.back().kind, StepKind::kSend);
    ASSERT_EQ(steps.back().peer, 1);
    steps.pop_back();
    for (bool inPlace : {false, true}) {
      Status st = verifySchedules(shape, scheds, inPlace);
      EXPECT_FALSE(st.isOk()) << n << " ranks";
      EXPECT_NE(st.message().find("deadlock"), std::string::npos) << st.toString();
    }
  }
}

TEST(HalvingDoublingBroken, SkippingTheFoldInIsCaught) {
  for (int n : kFoldedCounts) {
    const CollectiveShape shape{CollectiveKind::kAllReduce, n, 2 * static_cast<size_t>(n), 0};
    std::vector<Schedule> scheds = buildOrDie(shape, options(1, 0));
    // Receiving the partner's vector without adding one's own loses rank 0's
    // contribution everywhere.
    Step& first = scheds[0].channels[0].steps.front();
    ASSERT_EQ(first.kind, StepKind::kRecvReduce);
    ASSERT_EQ(first.peer, 1);
    first.kind = StepKind::kRecv;
    Status st = verifySchedules(shape, scheds, false);
    EXPECT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("should be all"), std::string::npos) << st.toString();
  }
}

TEST(HalvingDoublingBroken, SwappingAHalvingStepsHalvesIsCaught) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 8, 64, 0};
  std::vector<Schedule> scheds = buildOrDie(shape, options(1, 0));
  // Rank 0 keeps the wrong half in its first exchange: it reduces data that
  // its partner is also reducing and drops the half it should own.
  std::vector<Step>& steps = scheds[0].channels[0].steps;
  ASSERT_EQ(steps[0].kind, StepKind::kSend);
  ASSERT_EQ(steps[1].kind, StepKind::kRecvReduce);
  std::swap(steps[0].src, steps[1].src);
  steps[1].dst = steps[1].src;
  steps[1].dst.buffer = BufferId::kOutput;
  EXPECT_FALSE(verifySchedules(shape, scheds, false).isOk());
}

int countKind(const Schedule& s, StepKind kind) {
  int k = 0;
  for (const Channel& ch : s.channels)
    for (const Step& st : ch.steps) k += st.kind == kind;
  return k;
}

TEST(HalvingDoublingBuilder, PowerOfTwoTakesTwoLogNStepsWithHalvingMessages) {
  const size_t count = 1 << 12;
  const CollectiveShape shape{CollectiveKind::kAllReduce, 16, count, 0};
  for (int r = 0; r < 16; ++r) {
    Result<Schedule> s = buildHalvingDoubling(shape, r, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    EXPECT_EQ(s->scratchCount, 0u);
    EXPECT_EQ(countKind(*s, StepKind::kSend), 8);
    EXPECT_EQ(countKind(*s, StepKind::kRecvReduce), 4);
    EXPECT_EQ(countKind(*s, StepKind::kRecv), 4);
    // Reduce-scatter messages halve, all-gather ones double back: the ring's
    // 2(n-1)/n·count in total.
    std::vector<size_t> sizes;
    size_t total = 0;
    for (const Step& st : s->channels[0].steps) {
      if (st.kind != StepKind::kSend) continue;
      sizes.push_back(st.src.count);
      total += st.src.count;
    }
    EXPECT_EQ(sizes, (std::vector<size_t>{2048, 1024, 512, 256, 256, 512, 1024, 2048}));
    EXPECT_EQ(total, 2 * 15 * count / 16);
    // Partners at distance 8, 4, 2, 1, then back out.
    std::vector<int> peers;
    for (const Step& st : s->channels[0].steps)
      if (st.kind == StepKind::kSend) peers.push_back(st.peer);
    EXPECT_EQ(peers, (std::vector<int>{r ^ 8, r ^ 4, r ^ 2, r ^ 1, r ^ 1, r ^ 2, r ^ 4, r ^ 8}));
  }
}

TEST(HalvingDoublingBuilder, ExtraRanksOnlyTalkToTheirPartner) {
  // 6 ranks: 4 stay (0, 2, 4, 5); 1 and 3 hand their vectors to 0 and 2.
  const CollectiveShape shape{CollectiveKind::kAllReduce, 6, 600, 0};
  for (int r : {1, 3}) {
    Result<Schedule> s = buildHalvingDoubling(shape, r, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    ASSERT_EQ(s->stepCount(), 2u) << s->toString();
    EXPECT_EQ(s->channels[0].steps[0].kind, StepKind::kSend);
    EXPECT_EQ(s->channels[0].steps[1].kind, StepKind::kRecv);
    EXPECT_EQ(s->channels[0].steps[0].peer, r - 1);
    EXPECT_EQ(s->channels[0].steps[1].peer, r - 1);
    EXPECT_EQ(s->channels[0].steps[0].src.count, 600u);
  }
  for (int r : {0, 2, 4, 5}) {
    Result<Schedule> s = buildHalvingDoubling(shape, r, BuildOptions{});
    ASSERT_TRUE(s.isOk());
    const bool paired = r < 4;
    EXPECT_EQ(countKind(*s, StepKind::kSend), 4 + (paired ? 1 : 0)) << s->toString();
    std::set<int> allowed = {0, 2, 4, 5};
    allowed.erase(r);
    if (paired) allowed.insert(r + 1);
    for (const Channel& ch : s->channels)
      for (const Step& st : ch.steps)
        if (st.peer >= 0) {
          EXPECT_EQ(allowed.count(st.peer), 1u) << "rank " << r << " talks to " << st.peer;
        }
  }
}

TEST(HalvingDoublingBuilder, OneRankIsACopyAndEmptyCountIsEmpty) {
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter}) {
    Result<Schedule> s = buildHalvingDoubling(CollectiveShape{kind, 1, 10, 0}, 0, BuildOptions{});
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_EQ(s->stepCount(), 1u) << s->toString();
    EXPECT_EQ(s->channels[0].steps[0].kind, StepKind::kCopy);
    EXPECT_EQ(s->channels[0].steps[0].src.count, 10u);
  }
  Result<Schedule> s = buildHalvingDoubling(CollectiveShape{CollectiveKind::kAllReduce, 6, 0, 0}, 3, options(3, 5));
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->stepCount(), 0u);
  EXPECT_EQ(s->rank, 3);
  EXPECT_EQ(s->nranks, 6);
}

TEST(HalvingDoublingBuilder, RejectsWhatItDoesNotSupport) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildHalvingDoubling, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllReduce, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 4).find("rank 4"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, -1).find("rank -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, options(0, 0)).find("channels 0"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 6, 4, 0}, 0).find("nranks 6 is not a power of two"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduceScatter, 12, 4, 0}, 0).find("nranks 12 is not a power of two"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 4, SIZE_MAX / 2, 0}, 0).find("overflows"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kBroadcast, 4, 4, 0}, 0).find("Broadcast"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduce, 4, 4, 0}, 0).find("Reduce"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0).find("AllToAll"), std::string::npos);
}

}  // namespace
}  // namespace loom
