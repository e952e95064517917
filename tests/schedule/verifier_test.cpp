// The verifier must accept correct schedules in both in-place forms and reject
// each way a schedule can be wrong with a message that says where and why.
#include "schedule/verifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "schedule/schedule.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

Slice in(size_t offset, size_t count) { return {BufferId::kInput, offset, count}; }
Slice out(size_t offset, size_t count) { return {BufferId::kOutput, offset, count}; }
Slice scratch(size_t offset, size_t count) { return {BufferId::kScratch, offset, count}; }

Schedule make(int rank, int nranks, std::vector<std::vector<Step>> channels, size_t scratchCount = 0) {
  Schedule s;
  s.rank = rank;
  s.nranks = nranks;
  s.scratchCount = scratchCount;
  for (auto& steps : channels) s.channels.push_back(Channel{std::move(steps)});
  return s;
}

std::vector<Schedule> ring(const CollectiveShape& shape, BuildOptions options = {}) {
  return testing::buildSchedulesOrFail(&buildRing, shape, options);
}

// Asserts that verification fails and the message contains `needle`.
#define EXPECT_REJECTED(status, needle)                                                  \
  do {                                                                                   \
    const ::loom::Status st_ = (status);                                                 \
    EXPECT_FALSE(st_.isOk()) << "expected a failure mentioning \"" << (needle) << "\""; \
    EXPECT_NE(st_.message().find(needle), std::string::npos) << st_.message();           \
  } while (0)

// Two ranks exchange inputs and reduce: the simplest all-reduce.
std::vector<Schedule> exchangeAllReduce(size_t count) {
  std::vector<Schedule> s;
  for (int r = 0; r < 2; ++r) {
    s.push_back(make(r, 2, {{Step::send(1 - r, in(0, count)), Step::recvReduce(1 - r, in(0, count), out(0, count))}}));
  }
  return s;
}

TEST(ScheduleShape, CountsPerCollective) {
  auto shape = [](CollectiveKind k) { return CollectiveShape{k, 4, 10, 0}; };
  EXPECT_EQ(shape(CollectiveKind::kAllReduce).inputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kAllReduce).outputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kBroadcast).inputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kBroadcast).outputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kReduce).inputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kReduce).outputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kAllGather).inputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kAllGather).outputCount(), 40u);
  EXPECT_EQ(shape(CollectiveKind::kReduceScatter).inputCount(), 40u);
  EXPECT_EQ(shape(CollectiveKind::kReduceScatter).outputCount(), 10u);
  EXPECT_EQ(shape(CollectiveKind::kAllToAll).inputCount(), 40u);
  EXPECT_EQ(shape(CollectiveKind::kAllToAll).outputCount(), 40u);
  EXPECT_EQ(shape(CollectiveKind::kSendRecv).inputCount(), 0u);
  EXPECT_EQ(shape(CollectiveKind::kSendRecv).outputCount(), 0u);
  EXPECT_TRUE(shape(CollectiveKind::kAllReduce).reduces());
  EXPECT_TRUE(shape(CollectiveKind::kReduce).reduces());
  EXPECT_TRUE(shape(CollectiveKind::kReduceScatter).reduces());
  EXPECT_FALSE(shape(CollectiveKind::kAllGather).reduces());
  EXPECT_FALSE(shape(CollectiveKind::kBroadcast).reduces());
  EXPECT_FALSE(shape(CollectiveKind::kAllToAll).reduces());
}

TEST(ScheduleShape, InPlaceOffsets) {
  const CollectiveShape ag{CollectiveKind::kAllGather, 4, 10, 0};
  const CollectiveShape rs{CollectiveKind::kReduceScatter, 4, 10, 0};
  const CollectiveShape ar{CollectiveKind::kAllReduce, 4, 10, 0};
  EXPECT_EQ(inPlaceInputOffset(ag, 3), 30u);
  EXPECT_EQ(inPlaceOutputOffset(ag, 3), 0u);
  EXPECT_EQ(inPlaceInputOffset(rs, 2), 0u);
  EXPECT_EQ(inPlaceOutputOffset(rs, 2), 20u);
  EXPECT_EQ(inPlaceInputOffset(ar, 2), 0u);
  EXPECT_EQ(inPlaceOutputOffset(ar, 2), 0u);
}

TEST(ScheduleText, NamesEveryStep) {
  EXPECT_STREQ(stepKindName(StepKind::kRecvReduce), "recvReduce");
  const Schedule s = make(1, 2, {{Step::send(0, in(0, 4)), Step::recvReduce(0, in(0, 4), out(0, 4))},
                                 {Step::copy(in(4, 2), scratch(0, 2))}},
                          2);
  EXPECT_EQ(s.stepCount(), 3u);
  const std::string text = s.toString();
  EXPECT_NE(text.find("rank 1 of 2"), std::string::npos) << text;
  EXPECT_NE(text.find("ch0 #0 send input[0..4) -> rank 0"), std::string::npos) << text;
  EXPECT_NE(text.find("ch0 #1 recvReduce rank 0 + input[0..4) -> output[0..4)"), std::string::npos) << text;
  EXPECT_NE(text.find("ch1 #0 copy input[4..6) -> scratch[0..2)"), std::string::npos) << text;
}

TEST(Verifier, AcceptsHandWrittenAllReduce) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  EXPECT_TRUE(verifySchedules(shape, exchangeAllReduce(5), /*inPlace=*/false).isOk());
}

// In-place, each rank's reduce writes the memory its posted send still reads,
// so it must wait for the peer to receive, and the peer waits the same way.
TEST(Verifier, WriteAfterSendWaitsAndCanDeadlockInPlace) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  const Status st = verifySchedules(shape, exchangeAllReduce(5), /*inPlace=*/true);
  EXPECT_REJECTED(st, "deadlock");
  EXPECT_REJECTED(st, "rank 0 channel 0 step 1 (recvReduce from rank 1) waits for its step 0 to be received by rank 1");
  EXPECT_REJECTED(st, "rank 1 channel 0 step 1 (recvReduce from rank 0) waits for its step 0 to be received");
}

// Overwriting a posted send's source waits for the receive, then proceeds.
TEST(Verifier, WriteAfterSendProceedsOnceReceived) {
  const CollectiveShape shape{CollectiveKind::kBroadcast, 2, 4, 0};
  std::vector<Schedule> s;
  s.push_back(make(0, 2,
                   {{Step::copy(in(0, 4), scratch(0, 4)), Step::send(1, scratch(0, 4)),
                     Step::copy(in(0, 4), out(0, 4)), Step::recv(1, scratch(0, 4))}},
                   4));
  // Rank 1 echoes its output back into the root's scratch after receiving.
  s.push_back(make(1, 2, {{Step::recv(0, out(0, 4)), Step::send(0, out(0, 4))}}));
  EXPECT_TRUE(verifySchedules(shape, s, false).isOk());
  EXPECT_TRUE(verifySchedules(shape, s, true).isOk());
}

TEST(Verifier, RejectsDroppedSendAsDeadlock) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 4, 12, 0};
  std::vector<Schedule> s = ring(shape);
  std::vector<Step>& steps = s[1].channels[0].steps;
  // The last send of rank 1 feeds rank 2's last receive.
  for (size_t i = steps.size(); i-- > 0;) {
    if (steps[i].kind == StepKind::kSend) {
      steps.erase(steps.begin() + static_cast<long>(i));
      break;
    }
  }
  const Status st = verifySchedules(shape, s, false);
  EXPECT_REJECTED(st, "deadlock");
  EXPECT_REJECTED(st, "rank 2 channel 0 step 11 (recv from rank 1) waits for a message");
}

TEST(Verifier, RejectsDroppedReceiveAsUnreceivedMessage) {
  const CollectiveShape shape{CollectiveKind::kAllGather, 3, 4, 0};
  std::vector<Schedule> s = ring(shape);
  std::vector<Step>& steps = s[0].channels[0].steps;
  ASSERT_EQ(steps[steps.size() - 2].kind, StepKind::kRecv);
  steps.erase(steps.end() - 2);
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 2 channel 0 sent 1 message(s) to rank 0 that were never");
}

TEST(Verifier, RejectsOutOfRangeAndSelfPeers) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[1].channels[0].steps[0].peer = 9;
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 1 channel 0 step 0 (send to rank 9): peer 9 is outside [0, 2)");
  s[1].channels[0].steps[0].peer = 1;
  EXPECT_REJECTED(verifySchedules(shape, s, false), "peer 1 is the rank itself");
}

TEST(Verifier, RejectsWrongButValidPeer) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 4, 8, 0};
  std::vector<Schedule> s = ring(shape);
  s[1].channels[0].steps[0].peer = 3;  // should be 2
  // Rank 2 now matches rank 1's next message, which holds another chunk.
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 2 channel 0 step 1 (recvReduce from rank 1) reduces output element 2 but mixes indices 2 and 0");
}

TEST(Verifier, RejectsSizeMismatch) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[0].channels[0].steps[1].src.count = 3;
  s[0].channels[0].steps[1].dst.count = 3;
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 0 channel 0 step 1 (recvReduce from rank 1) expects 3 elements but the matching message "
                  "(rank 1 channel 0 step 0) has 5");
}

TEST(Verifier, RejectsReceiveCycleAsDeadlockNamingEveryRank) {
  const CollectiveShape shape{CollectiveKind::kBroadcast, 3, 2, 0};
  std::vector<Schedule> s;
  for (int r = 0; r < 3; ++r) {
    const int prev = (r + 2) % 3, next = (r + 1) % 3;
    std::vector<Step> steps;
    if (r != 0) steps.push_back(Step::recv(prev, out(0, 2)));
    if (r == 0) steps.push_back(Step::recv(prev, scratch(0, 2)));
    steps.push_back(Step::send(next, r == 0 ? in(0, 2) : out(0, 2)));
    s.push_back(make(r, 3, {steps}, 2));
  }
  const Status st = verifySchedules(shape, s, false);
  EXPECT_REJECTED(st, "deadlock: 3 channel(s) cannot progress");
  EXPECT_REJECTED(st, "rank 0 channel 0 step 0 (recv from rank 2)");
  EXPECT_REJECTED(st, "rank 1 channel 0 step 0 (recv from rank 0)");
  EXPECT_REJECTED(st, "rank 2 channel 0 step 0 (recv from rank 1)");
}

TEST(Verifier, RejectsDoubleCountedReduction) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[0].channels[0].steps.push_back(Step::reduce(in(0, 5), out(0, 5)));
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 0 channel 0 step 2 (reduce) reduces output element 0 (index 0) twice from rank 0");
}

TEST(Verifier, RejectsDoubleCountFromAReceivedMessage) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 4, 0};
  std::vector<Schedule> s;
  s.push_back(make(0, 2,
                   {{Step::send(1, in(0, 4)), Step::send(1, in(0, 4)), Step::recvReduce(1, in(0, 4), out(0, 4))}}));
  s.push_back(make(1, 2,
                   {{Step::send(0, in(0, 4)), Step::recvReduce(0, in(0, 4), out(0, 4)),
                     Step::recvReduce(0, out(0, 4), out(0, 4))}}));
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 1 channel 0 step 2 (recvReduce from rank 0) reduces output element 0 (index 0) twice from "
                  "rank 0");
}

TEST(Verifier, RejectsMixedIndices) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 4, 0};
  std::vector<Schedule> s = exchangeAllReduce(4);
  // Rank 1 sends its elements 1..3 where rank 0 expects 0..2.
  s[1].channels[0].steps[0].src = in(1, 3);
  s[0].channels[0].steps[1] = Step::recvReduce(1, in(0, 3), out(0, 3));
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 0 channel 0 step 1 (recvReduce from rank 1) reduces output element 0 but mixes indices 0 and "
                  "1");
}

TEST(Verifier, RejectsOutOfBoundsSlices) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[1].channels[0].steps[0].src = in(3, 4);
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "rank 1 channel 0 step 0 (send to rank 0): source slice input[3, 7) is out of bounds of the input "
                  "buffer of 5 elements");
  s = exchangeAllReduce(5);
  s[0].channels[0].steps.push_back(Step::copy(out(0, 2), scratch(1, 2)));
  s[0].scratchCount = 2;
  EXPECT_REJECTED(verifySchedules(shape, s, false), "destination slice scratch[1, 3) is out of bounds of the scratch buffer of 2 elements");
  // An offset so large that offset + count wraps around.
  s = exchangeAllReduce(5);
  s[0].channels[0].steps[0].src = in(SIZE_MAX - 1, 5);
  EXPECT_REJECTED(verifySchedules(shape, s, false), "out of bounds");
}

TEST(Verifier, RejectsReadOfUninitialisedMemory) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[0].channels[0].steps.insert(s[0].channels[0].steps.begin(), Step::copy(scratch(0, 5), out(0, 5)));
  s[0].scratchCount = 5;
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 0 channel 0 step 0 (copy) reads uninitialised scratch element 0");
}

TEST(Verifier, RejectsIncompleteResult) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s[1].channels[0].steps[1] = Step::recvReduce(0, in(0, 3), out(0, 3));
  s[0].channels[0].steps[0] = Step::send(1, in(0, 3));
  EXPECT_REJECTED(verifySchedules(shape, s, false),
                  "AllReduce: rank 1 output element 3 should be all 2 ranks of index 3 but is uninitialised");
}

TEST(Verifier, RejectsUnwrittenOutput) {
  const CollectiveShape shape{CollectiveKind::kAllGather, 2, 3, 0};
  std::vector<Schedule> s;
  for (int r = 0; r < 2; ++r)
    s.push_back(make(r, 2, {{Step::send(1 - r, in(0, 3)), Step::recv(1 - r, out(static_cast<size_t>(1 - r) * 3, 3))}}));
  // Out-of-place nobody copies its own block; in-place it is already there.
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 0 output element 0 should be ranks {0} of index 0 but is uninitialised");
  EXPECT_TRUE(verifySchedules(shape, s, true).isOk());
}

TEST(Verifier, RejectsOverlappingChannels) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 1, 8, 0};
  std::vector<Schedule> s = {make(0, 1, {{Step::copy(in(0, 5), out(0, 5))}, {Step::copy(in(4, 4), out(4, 4))}})};
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 0: channels 0 and 1 both touch memory element 4 of input");
  // Disjoint as separate buffers (and then simply wrong), but in-place input
  // and output are one buffer and both channels touch all of it.
  s = {make(0, 1, {{Step::copy(in(4, 4), out(0, 4))}, {Step::copy(in(0, 4), out(4, 4))}})};
  EXPECT_REJECTED(verifySchedules(shape, s, false), "rank 0 output element 0 should be ranks {0} of index 0 but is "
                                                    "ranks {0} of index 4");
  EXPECT_REJECTED(verifySchedules(shape, s, true),
                  "rank 0: channels 0 and 1 both touch memory element 0 of the in-place buffer");
}

TEST(Verifier, RejectsNullableBuffersOfNonRoots) {
  const CollectiveShape reduce{CollectiveKind::kReduce, 2, 4, 0};
  std::vector<Schedule> s;
  s.push_back(make(0, 2, {{Step::recvReduce(1, in(0, 4), out(0, 4))}}));
  s.push_back(make(1, 2, {{Step::copy(in(0, 4), out(0, 4)), Step::send(0, out(0, 4))}}));
  EXPECT_REJECTED(verifySchedules(reduce, s, false), "non-root rank of Reduce (root 0) uses its output buffer");
  const CollectiveShape bcast{CollectiveKind::kBroadcast, 2, 4, 1};
  s.clear();
  s.push_back(make(0, 2, {{Step::recv(1, in(0, 4)), Step::copy(in(0, 4), out(0, 4))}}));
  s.push_back(make(1, 2, {{Step::send(0, in(0, 4)), Step::copy(in(0, 4), out(0, 4))}}));
  EXPECT_REJECTED(verifySchedules(bcast, s, false), "non-root rank of Broadcast (root 1) uses its input buffer");
}

TEST(Verifier, RejectsMalformedSets) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 2, 5, 0};
  std::vector<Schedule> s = exchangeAllReduce(5);
  s.pop_back();
  EXPECT_REJECTED(verifySchedules(shape, s, false), "got 1 schedules for 2 ranks");
  s = exchangeAllReduce(5);
  std::swap(s[0], s[1]);
  EXPECT_REJECTED(verifySchedules(shape, s, false), "schedule 0 says it is rank 1 of 2");
  EXPECT_REJECTED(verifySchedules(CollectiveShape{CollectiveKind::kBroadcast, 2, 5, 2}, exchangeAllReduce(5), false),
                  "root 2");
  EXPECT_REJECTED(verifySchedules(CollectiveShape{CollectiveKind::kSendRecv, 2, 5, 0}, exchangeAllReduce(5), false),
                  "SendRecv");
}

TEST(Verifier, EmptyCollectiveNeedsNoSteps) {
  const CollectiveShape shape{CollectiveKind::kAllGather, 3, 0, 0};
  std::vector<Schedule> s = {make(0, 3, {}), make(1, 3, {}), make(2, 3, {})};
  EXPECT_TRUE(verifySchedules(shape, s, false).isOk());
  EXPECT_TRUE(verifySchedules(shape, s, true).isOk());
}

// Contributor sets are dynamic bitsets: a reduction over 257 ranks, with a
// double count from a rank beyond the first machine word.
TEST(Verifier, HandlesMoreRanksThanAMachineWord) {
  constexpr int n = 257;
  const CollectiveShape shape{CollectiveKind::kReduce, n, 3, 0};
  auto build = [&](bool doubleCount) {
    std::vector<Schedule> s;
    std::vector<Step> root = {Step::copy(in(0, 3), scratch(0, 3))};
    for (int p = 1; p < n; ++p) root.push_back(Step::recvReduce(p, scratch(0, 3), scratch(0, 3)));
    if (doubleCount) root.push_back(Step::recvReduce(200, scratch(0, 3), scratch(0, 3)));
    root.push_back(Step::copy(scratch(0, 3), out(0, 3)));
    s.push_back(make(0, n, {root}, 3));
    for (int p = 1; p < n; ++p) {
      std::vector<Step> steps = {Step::send(0, in(0, 3))};
      if (doubleCount && p == 200) steps.push_back(Step::send(0, in(0, 3)));
      s.push_back(make(p, n, {steps}));
    }
    return s;
  };
  EXPECT_TRUE(verifySchedules(shape, build(false), false).isOk());
  EXPECT_TRUE(verifySchedules(shape, build(false), true).isOk());
  EXPECT_REJECTED(verifySchedules(shape, build(true), false), "twice from rank 200");
}

// All-to-all that receives straight into the output: fine out-of-place, but
// in-place every pair waits for the other to receive first.
TEST(Verifier, NaiveInPlaceAllToAllDeadlocks) {
  constexpr int n = 3;
  constexpr size_t c = 2;
  const CollectiveShape shape{CollectiveKind::kAllToAll, n, c, 0};
  std::vector<Schedule> s;
  for (int r = 0; r < n; ++r) {
    std::vector<Step> steps;
    for (int p = 0; p < n; ++p)
      if (p != r) steps.push_back(Step::send(p, in(static_cast<size_t>(p) * c, c)));
    steps.push_back(Step::copy(in(static_cast<size_t>(r) * c, c), out(static_cast<size_t>(r) * c, c)));
    for (int p = 0; p < n; ++p)
      if (p != r) steps.push_back(Step::recv(p, out(static_cast<size_t>(p) * c, c)));
    s.push_back(make(r, n, {steps}));
  }
  EXPECT_TRUE(verifySchedules(shape, s, false).isOk());
  EXPECT_REJECTED(verifySchedules(shape, s, true), "deadlock");
}

TEST(Verifier, ChecksEveryCollectiveResult) {
  // A correct schedule for one collective is wrong for another of the same
  // buffer sizes: the verifier must tell them apart.
  const CollectiveShape bcast{CollectiveKind::kBroadcast, 4, 9, 1};
  std::vector<Schedule> s = ring(bcast, BuildOptions{2, 2});
  EXPECT_TRUE(verifySchedules(bcast, s, false).isOk());
  const CollectiveShape otherRoot{CollectiveKind::kBroadcast, 4, 9, 2};
  EXPECT_REJECTED(verifySchedules(otherRoot, s, false), "uses its input buffer");
  const CollectiveShape ar{CollectiveKind::kAllReduce, 4, 9, 0};
  EXPECT_REJECTED(verifySchedules(ar, s, false), "AllReduce: rank 0 output element 0 should be all 4 ranks");
}

}  // namespace
}  // namespace loom
