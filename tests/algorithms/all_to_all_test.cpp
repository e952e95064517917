// Proves the pairwise and hierarchical all-to-all builders with the verifier:
// pairwise for every rank count from 1 to 48, hierarchical over a set of
// group shapes (equal, unequal, interleaved, arbitrary ids) and groups of 2, 3
// and 4 consecutive ranks for every rank count from 1 to 32; each for counts
// 0, 1, 7 and 33, in-place and not, one and two channels, with and without
// pipelining. Then the traffic shapes each builder promises.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/all_to_all.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

BuildOptions makeOptions(int channels, size_t pipeline, std::vector<int> groupOf = {}) {
  BuildOptions options;
  options.channels = channels;
  options.pipelineElements = pipeline;
  options.groupOf = std::move(groupOf);
  return options;
}

CollectiveShape allToAll(int n, size_t count) { return CollectiveShape{CollectiveKind::kAllToAll, n, count, 0}; }

std::vector<Schedule> buildAll(ScheduleBuilder build, int n, size_t count, const BuildOptions& options) {
  return testing::buildSchedulesOrFail(build, allToAll(n, count), options);
}

// Each sweep states its own scratch bound per rank.
std::string buildAndVerify(ScheduleBuilder build, int n, size_t count, const BuildOptions& options,
                           size_t scratchLimitPerRank) {
  return testing::buildAndVerify(build, allToAll(n, count), options, scratchLimitPerRank);
}

const size_t kCounts[] = {0, 1, 7, 33};

// ---------------------------------------------------------------------------
// Pairwise.

class PairwiseSweep : public ::testing::TestWithParam<int> {};

TEST_P(PairwiseSweep, VerifiesEveryConfiguration) {
  const int n = GetParam();
  for (size_t count : kCounts) {
    for (int channels : {1, 2}) {
      for (size_t pipeline : {size_t{0}, size_t{5}}) {
        // Rounds 1..n/2 receive through scratch.
        const size_t scratch = static_cast<size_t>(n / 2) * count;
        ASSERT_EQ(buildAndVerify(&buildPairwiseAllToAll, n, count, makeOptions(channels, pipeline), scratch), "");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Pairwise, PairwiseSweep, ::testing::Range(1, 49),
                         [](const ::testing::TestParamInfo<int>& info) { return std::to_string(info.param) + "ranks"; });

TEST(PairwiseAllToAll, EachRoundIsOneExchangeWithAPermutationOfPeers) {
  for (int n : {2, 5, 8}) {
    for (int rank = 0; rank < n; ++rank) {
      Result<Schedule> s = buildPairwiseAllToAll(CollectiveShape{CollectiveKind::kAllToAll, n, 10, 0}, rank,
                                                 makeOptions(1, 0));
      ASSERT_TRUE(s.isOk());
      std::vector<std::pair<int, int>> exchanges;  // (sent to, received from), in order
      for (const Step& st : s->channels[0].steps) {
        if (st.kind == StepKind::kSend) exchanges.push_back({st.peer, -1});
        if (st.kind == StepKind::kRecv) {
          ASSERT_FALSE(exchanges.empty());
          ASSERT_EQ(exchanges.back().second, -1) << "two receives in one round\n" << s->toString();
          exchanges.back().second = st.peer;
        }
      }
      ASSERT_EQ(exchanges.size(), static_cast<size_t>(n - 1)) << s->toString();
      for (int k = 1; k < n; ++k) {
        EXPECT_EQ(exchanges[static_cast<size_t>(k - 1)].first, (rank + k) % n);
        EXPECT_EQ(exchanges[static_cast<size_t>(k - 1)].second, (rank - k + n) % n);
      }
    }
  }
}

TEST(PairwiseAllToAll, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildPairwiseAllToAll, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllToAll, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 4).find("rank 4"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 4, 4, 0}, 0).find("AllGather"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0, makeOptions(0, 0)).find("channels 0"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, SIZE_MAX / 2, 0}, 0).find("overflows"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Hierarchical.

std::vector<int> consecutiveGroups(int n, int size) {
  std::vector<int> groupOf(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) groupOf[static_cast<size_t>(r)] = r / size;
  return groupOf;
}

// Groups of the given sizes over consecutive ranks.
std::vector<int> groupsOfSizes(std::initializer_list<int> sizes) {
  std::vector<int> groupOf;
  int id = 0;
  for (int s : sizes) {
    for (int i = 0; i < s; ++i) groupOf.push_back(id);
    ++id;
  }
  return groupOf;
}

// Exactly what the layout promises summed over all ranks: an outgoing and an
// incoming copy of every cross-group block, and one staged block per pair of
// ranks within a group. Per rank, everything could land on one aggregator.
size_t totalScratchBlocks(const std::vector<int>& groupOf, int n) {
  std::map<int, size_t> sizes;
  for (int r = 0; r < n; ++r) ++sizes[groupOf.empty() ? 0 : groupOf[static_cast<size_t>(r)]];
  const size_t un = static_cast<size_t>(n);
  size_t sameGroupPairs = 0, squares = 0;
  for (auto [id, s] : sizes) {
    squares += s * s;
    sameGroupPairs += s * (s - 1) / 2;
  }
  return 2 * (un * un - squares) + sameGroupPairs;
}

std::string verifyHierarchical(int n, const std::vector<int>& groupOf) {
  const size_t blocks = totalScratchBlocks(groupOf, n);
  for (size_t count : kCounts) {
    for (int channels : {1, 2}) {
      for (size_t pipeline : {size_t{0}, size_t{5}}) {
        const BuildOptions options = makeOptions(channels, pipeline, groupOf);
        std::string problem = buildAndVerify(&buildHierarchicalAllToAll, n, count, options, blocks * count);
        if (!problem.empty()) return problem;
        size_t total = 0;
        for (const Schedule& s : buildAll(&buildHierarchicalAllToAll, n, count, options)) total += s.scratchCount;
        if (total != blocks * count)
          return testing::describeConfig(allToAll(n, count), options) + ": scratch over all ranks is " +
                 std::to_string(total) + ", expected " + std::to_string(blocks * count);
      }
    }
  }
  return "";
}

struct GroupShape {
  const char* name;
  std::vector<int> groupOf;
  int nranks;  // only needed when groupOf is empty
};

std::vector<GroupShape> groupShapes() {
  return {
      {"OneGroupEmpty", {}, 6},
      {"OneGroupNamed", {7, 7, 7, 7, 7}, 0},
      {"TwoByTwo", groupsOfSizes({2, 2}), 0},
      {"TwoByThree", groupsOfSizes({3, 3}), 0},
      {"ThreeByFour", groupsOfSizes({4, 4, 4}), 0},
      {"FourByFour", groupsOfSizes({4, 4, 4, 4}), 0},
      {"ThreeAndOne", groupsOfSizes({3, 1}), 0},
      {"TwoAndThree", groupsOfSizes({2, 3}), 0},
      {"OneOneFour", groupsOfSizes({1, 1, 4}), 0},
      {"Interleaved", {0, 1, 0, 1, 0, 1}, 0},
      {"EveryRankAlone", {0, 1, 2, 3, 4}, 0},
      {"ScatteredArbitraryIds", {5, -3, 5, 9, -3, 9, 9, 42, 5}, 0},
      {"ManyUneven", {2, 0, 1, 1, 2, 2, 0, 3, 1, 2, 2, 1, 0}, 0},
  };
}

void PrintTo(const GroupShape& shape, std::ostream* os) { *os << shape.name; }

class HierarchicalShapes : public ::testing::TestWithParam<GroupShape> {};

TEST_P(HierarchicalShapes, VerifiesEveryConfiguration) {
  const GroupShape& shape = GetParam();
  const int n = shape.groupOf.empty() ? shape.nranks : static_cast<int>(shape.groupOf.size());
  EXPECT_EQ(verifyHierarchical(n, shape.groupOf), "");
}

INSTANTIATE_TEST_SUITE_P(Hierarchical, HierarchicalShapes, ::testing::ValuesIn(groupShapes()),
                         [](const ::testing::TestParamInfo<GroupShape>& info) { return info.param.name; });

struct ConsecutiveParam {
  int groupSize;
  int nranks;
};

void PrintTo(const ConsecutiveParam& p, std::ostream* os) {
  *os << p.nranks << " ranks in groups of " << p.groupSize;
}

class HierarchicalConsecutive : public ::testing::TestWithParam<ConsecutiveParam> {};

TEST_P(HierarchicalConsecutive, VerifiesEveryConfiguration) {
  const ConsecutiveParam& p = GetParam();
  EXPECT_EQ(verifyHierarchical(p.nranks, consecutiveGroups(p.nranks, p.groupSize)), "");
}

std::vector<ConsecutiveParam> consecutiveParams() {
  std::vector<ConsecutiveParam> params;
  for (int size : {2, 3, 4})
    for (int n = 1; n <= 32; ++n) params.push_back({size, n});
  return params;
}

INSTANTIATE_TEST_SUITE_P(Hierarchical, HierarchicalConsecutive, ::testing::ValuesIn(consecutiveParams()),
                         [](const ::testing::TestParamInfo<ConsecutiveParam>& info) {
                           return "groupsOf" + std::to_string(info.param.groupSize) + "_" +
                                  std::to_string(info.param.nranks) + "ranks";
                         });

// Every message that crosses groups, over all ranks: (sender, receiver, size).
std::vector<std::tuple<int, int, size_t>> crossGroupMessages(const std::vector<Schedule>& scheds,
                                                             const std::vector<int>& groupOf) {
  std::vector<std::tuple<int, int, size_t>> messages;
  for (const Schedule& s : scheds)
    for (const Channel& ch : s.channels)
      for (const Step& st : ch.steps)
        if (st.kind == StepKind::kSend &&
            groupOf[static_cast<size_t>(st.peer)] != groupOf[static_cast<size_t>(s.rank)])
          messages.push_back({s.rank, st.peer, st.src.count});
  return messages;
}

TEST(HierarchicalAllToAll, OneMessagePerOrderedPairOfGroups) {
  for (const std::vector<int>& groupOf :
       {groupsOfSizes({4, 4, 4}), groupsOfSizes({2, 3, 1}), std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1}}) {
    const int n = static_cast<int>(groupOf.size());
    const size_t count = 10;
    const std::vector<Schedule> scheds = buildAll(&buildHierarchicalAllToAll, n, count, makeOptions(1, 0, groupOf));
    std::map<int, size_t> sizes;
    for (int g : groupOf) ++sizes[g];
    std::map<std::pair<int, int>, int> perGroupPair;
    for (auto [from, to, len] : crossGroupMessages(scheds, groupOf)) {
      const int g = groupOf[static_cast<size_t>(from)];
      const int h = groupOf[static_cast<size_t>(to)];
      ++perGroupPair[{g, h}];
      EXPECT_EQ(len, sizes[g] * sizes[h] * count) << "from rank " << from << " to rank " << to;
    }
    EXPECT_EQ(perGroupPair.size(), sizes.size() * (sizes.size() - 1));
    for (auto [pair, messages] : perGroupPair) EXPECT_EQ(messages, 1);
  }
}

TEST(HierarchicalAllToAll, SpreadsGroupPairsOverTheGroupsRanks) {
  // Four groups of four: each rank serves at most one remote group.
  const std::vector<int> groupOf = groupsOfSizes({4, 4, 4, 4});
  const std::vector<Schedule> scheds = buildAll(&buildHierarchicalAllToAll, 16, 8, makeOptions(1, 0, groupOf));
  std::map<int, std::set<int>> remotePeers;
  for (auto [from, to, len] : crossGroupMessages(scheds, groupOf)) remotePeers[from].insert(to);
  EXPECT_EQ(remotePeers.size(), 12u);
  for (auto& [rank, peers] : remotePeers) EXPECT_EQ(peers.size(), 1u) << "rank " << rank;
}

TEST(HierarchicalAllToAll, GroupIdsOnlyNameGroups) {
  const std::vector<int> a = {0, 0, 1, 1, 0, 2};
  const std::vector<int> b = {-7, -7, 12, 12, -7, 3};
  for (int r = 0; r < 6; ++r) {
    Result<Schedule> x = buildHierarchicalAllToAll(CollectiveShape{CollectiveKind::kAllToAll, 6, 9, 0}, r,
                                                   makeOptions(2, 4, a));
    Result<Schedule> y = buildHierarchicalAllToAll(CollectiveShape{CollectiveKind::kAllToAll, 6, 9, 0}, r,
                                                   makeOptions(2, 4, b));
    ASSERT_TRUE(x.isOk() && y.isOk());
    EXPECT_EQ(x->toString(), y->toString());
  }
}

TEST(HierarchicalAllToAll, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildHierarchicalAllToAll, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllToAll, -1, 4, 0}, 0).find("nranks -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, -2).find("rank -2"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduce, 4, 4, 0}, 0).find("Reduce"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0, makeOptions(0, 0)).find("channels 0"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0, makeOptions(1, 0, {0, 0, 1})).find("groupOf has 3"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 0, 0}, 0, makeOptions(1, 0, {0, 0, 1, 1, 1})).find("groupOf has 5"),
            std::string::npos);
}

}  // namespace
}  // namespace loom
