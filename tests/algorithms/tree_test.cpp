// Proves the double binary tree with the verifier over every rank count from 1
// to 64 (and a few larger), every root where the count of ranks allows, sizes
// from empty to larger than the rank count, both in-place forms, several
// channel counts and pipeline sizes; then checks from the schedules alone that
// the two trees are complementary and what that buys in traffic per rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "algorithms/tree.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

BuildOptions treeOptions(int channels, size_t pipelineElements) {
  BuildOptions o;
  o.channels = channels;
  o.pipelineElements = pipelineElements;
  return o;
}

std::vector<Schedule> buildEvery(const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildSchedulesOrFail(&buildDoubleBinaryTree, shape, options);
}

// Scratch only for Reduce, at most half the data plus a few rounding elements
// per channel (a rank is interior, and so holds partial sums, in one tree).
std::string buildAndVerify(const CollectiveShape& shape, const BuildOptions& options) {
  const size_t k = static_cast<size_t>(options.channels);
  const size_t scratchLimit = shape.kind == CollectiveKind::kReduce ? (shape.count + 7 * k) / 2 : 0;
  return testing::buildAndVerify(&buildDoubleBinaryTree, shape, options, scratchLimit);
}

std::vector<size_t> countsFor(int n) {
  const size_t un = static_cast<size_t>(n);
  std::set<size_t> c = {0, 1, un - 1, un, 7 * un + 3, 1000};
  return {c.begin(), c.end()};
}

std::vector<int> rootsFor(CollectiveKind kind, int n) {
  if (kind == CollectiveKind::kAllReduce) return {0};
  std::set<int> s;
  if (n <= 16) {
    for (int r = 0; r < n; ++r) s.insert(r);
  } else {
    // The rooted trees are the same trees rotated to the root, so a few roots
    // (the wrap-around ends and the middle) cover what the others would.
    s = {0, n / 2, n - 1};
  }
  return {s.begin(), s.end()};
}

struct SweepParam {
  CollectiveKind kind;
  int nranks;
};

std::string paramName(const ::testing::TestParamInfo<SweepParam>& info) {
  return std::string(collectiveName(info.param.kind)) + "_" + std::to_string(info.param.nranks) + "ranks";
}

std::vector<SweepParam> sweepParams() {
  std::vector<SweepParam> params;
  for (CollectiveKind k : {CollectiveKind::kAllReduce, CollectiveKind::kBroadcast, CollectiveKind::kReduce})
    for (int n = 1; n <= 64; ++n) params.push_back({k, n});
  return params;
}

class TreeSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(TreeSweep, VerifiesEveryConfiguration) {
  const SweepParam p = GetParam();
  int configs = 0;
  for (int root : rootsFor(p.kind, p.nranks)) {
    for (size_t count : countsFor(p.nranks)) {
      for (int channels : {1, 2, 3}) {
        for (size_t pipeline : {size_t{0}, size_t{3}, size_t{64}}) {
          const CollectiveShape shape{p.kind, p.nranks, count, root};
          ASSERT_EQ(buildAndVerify(shape, treeOptions(channels, pipeline)), "");
          ++configs;
        }
      }
    }
  }
  ::testing::Test::RecordProperty("configurations", configs);
}

INSTANTIATE_TEST_SUITE_P(DoubleBinaryTree, TreeSweep, ::testing::ValuesIn(sweepParams()), paramName);

// Above 64 ranks the trees get another level; the verifier's contributor sets
// outgrow a machine word.
TEST(TreeLarge, AllReduceOnManyRanks) {
  for (int n : {96, 128, 257}) {
    const size_t un = static_cast<size_t>(n);
    for (size_t count : {un - 1, 3 * un + 1}) {
      for (size_t pipeline : {size_t{0}, size_t{64}}) {
        EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kAllReduce, n, count, 0}, treeOptions(2, pipeline)),
                  "");
      }
    }
  }
}

TEST(TreeLarge, BroadcastAndReduceOn257Ranks) {
  for (int root : {0, 128, 256}) {
    for (CollectiveKind kind : {CollectiveKind::kBroadcast, CollectiveKind::kReduce})
      EXPECT_EQ(buildAndVerify(CollectiveShape{kind, 257, 1001, root}, treeOptions(2, 64)), "");
  }
}

// The AllReduce's reduce phase names each rank's children in both trees; no
// rank has children in both, every rank but the trees' roots has exactly one
// parent per tree, and the trees' roots differ.
TEST(TreeShape, AllReduceTreesAreComplementary) {
  for (int n = 2; n <= 64; ++n) {
    const size_t count = 2;  // one element per tree
    const std::vector<Schedule> scheds = buildEvery({CollectiveKind::kAllReduce, n, count, 0}, treeOptions(1, 0));
    ASSERT_EQ(scheds.size(), static_cast<size_t>(n));
    std::vector<std::vector<std::set<int>>> children(2, std::vector<std::set<int>>(static_cast<size_t>(n)));
    std::vector<std::vector<std::set<int>>> parents(2, std::vector<std::set<int>>(static_cast<size_t>(n)));
    for (const Schedule& s : scheds) {
      const size_t r = static_cast<size_t>(s.rank);
      for (const Step& st : s.channels.at(0).steps) {
        // Element 0 travels on tree 0, element 1 on tree 1. In the reduce
        // phase a rank receives partial sums (recvReduce) and sends them on
        // from its input (leaf) or after reducing (interior).
        if (st.kind == StepKind::kRecvReduce) children[st.dst.offset][r].insert(st.peer);
      }
    }
    for (size_t t = 0; t < 2; ++t)
      for (int r = 0; r < n; ++r)
        for (int c : children[t][static_cast<size_t>(r)]) parents[t][static_cast<size_t>(c)].insert(r);
    int interiorInBoth = 0;
    for (int r = 0; r < n; ++r) {
      const size_t ur = static_cast<size_t>(r);
      if (!children[0][ur].empty() && !children[1][ur].empty()) ++interiorInBoth;
    }
    EXPECT_EQ(interiorInBoth, 0) << "nranks " << n;
    std::vector<int> roots;
    for (size_t t = 0; t < 2; ++t) {
      int rootsInTree = 0, edges = 0;
      for (int r = 0; r < n; ++r) {
        const size_t ur = static_cast<size_t>(r);
        EXPECT_LE(children[t][ur].size(), 2u) << "nranks " << n << " tree " << t << " rank " << r;
        EXPECT_LE(parents[t][ur].size(), 1u) << "nranks " << n << " tree " << t << " rank " << r;
        edges += static_cast<int>(children[t][ur].size());
        if (parents[t][ur].empty()) {
          ++rootsInTree;
          roots.push_back(r);
        }
      }
      EXPECT_EQ(rootsInTree, 1) << "nranks " << n << " tree " << t;
      EXPECT_EQ(edges, n - 1) << "nranks " << n << " tree " << t;
    }
    ASSERT_EQ(roots.size(), 2u);
    EXPECT_NE(roots[0], roots[1]) << "nranks " << n;
  }
}

// What complementarity buys: no rank moves more than twice the data each way
// (a rank interior in both trees would send three halves down and one up).
TEST(TreeShape, AllReduceMovesAtMostTwiceTheDataPerRank) {
  for (int n = 2; n <= 64; ++n) {
    const size_t count = 1001;
    const std::vector<Schedule> scheds = buildEvery({CollectiveKind::kAllReduce, n, count, 0}, treeOptions(1, 64));
    std::vector<size_t> received(static_cast<size_t>(n), 0);
    for (const Schedule& s : scheds) {
      size_t sent = 0;
      for (const Step& st : s.channels.at(0).steps) {
        if (st.kind == StepKind::kSend) sent += st.src.count;
        if (st.kind == StepKind::kRecv || st.kind == StepKind::kRecvReduce)
          received[static_cast<size_t>(s.rank)] += st.dst.count;
      }
      EXPECT_LE(sent, 2 * count + 1) << "nranks " << n << " rank " << s.rank;
    }
    for (int r = 0; r < n; ++r) EXPECT_LE(received[static_cast<size_t>(r)], 2 * count + 1) << "nranks " << n;
  }
}

// Rooted trees: the root feeds (or drains) each tree through one child and
// every other rank forwards data in at most one tree, read from Broadcast's
// sends: a rank that sends a half on is interior in that half's tree.
TEST(TreeShape, RootedTreesAreComplementaryBelowTheRoot) {
  for (int n = 2; n <= 40; ++n) {
    for (int root : {0, n / 2, n - 1}) {
      const size_t count = 2;
      const std::vector<Schedule> scheds = buildEvery({CollectiveKind::kBroadcast, n, count, root}, treeOptions(1, 0));
      ASSERT_EQ(scheds.size(), static_cast<size_t>(n));
      int interiorInBoth = 0;
      for (const Schedule& s : scheds) {
        std::map<size_t, std::set<int>> sendsTo;  // element -> peers
        for (const Step& st : s.channels.at(0).steps)
          if (st.kind == StepKind::kSend) sendsTo[st.src.offset].insert(st.peer);
        if (s.rank == root) {
          EXPECT_EQ(sendsTo[0].size(), 1u) << "nranks " << n << " root " << root;
          EXPECT_EQ(sendsTo[1].size(), 1u) << "nranks " << n << " root " << root;
        } else if (!sendsTo[0].empty() && !sendsTo[1].empty()) {
          ++interiorInBoth;
        }
      }
      EXPECT_EQ(interiorInBoth, 0) << "nranks " << n << " root " << root;
    }
  }
}

// Reduce holds partial sums only on interior ranks, so a rank's scratch is at
// most the half of the data its one interior tree carries.
TEST(TreeShape, ReduceScratchIsAtMostOneHalf) {
  for (int n = 2; n <= 33; ++n) {
    const size_t count = 1000;
    for (size_t pipeline : {size_t{0}, size_t{64}}) {
      const std::vector<Schedule> scheds =
          buildEvery({CollectiveKind::kReduce, n, count, n / 2}, treeOptions(1, pipeline));
      for (const Schedule& s : scheds) {
        EXPECT_LE(s.scratchCount, count / 2) << "nranks " << n << " rank " << s.rank;
        if (s.rank == n / 2) {
          EXPECT_EQ(s.scratchCount, 0u);
        }
      }
    }
  }
}

TEST(TreeBuilder, OneRankIsACopy) {
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
    Result<Schedule> s = buildDoubleBinaryTree(CollectiveShape{kind, 1, 10, 0}, 0, BuildOptions{});
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_EQ(s->stepCount(), 1u) << s->toString();
    const Step& step = s->channels[0].steps[0];
    EXPECT_EQ(step.kind, StepKind::kCopy);
    EXPECT_EQ(step.src.buffer, BufferId::kInput);
    EXPECT_EQ(step.dst.buffer, BufferId::kOutput);
    EXPECT_EQ(step.src.count, 10u);
  }
}

TEST(TreeBuilder, EmptyCountIsEmptySchedule) {
  Result<Schedule> s = buildDoubleBinaryTree(CollectiveShape{CollectiveKind::kAllReduce, 4, 0, 0}, 2, treeOptions(3, 5));
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->stepCount(), 0u);
  EXPECT_EQ(s->scratchCount, 0u);
  EXPECT_EQ(s->rank, 2);
  EXPECT_EQ(s->nranks, 4);
}

// Pipelining: with many slices, the up phase of later slices is interleaved
// with the down phase of earlier ones instead of waiting for it.
TEST(TreeBuilder, AllReduceOverlapsUpAndDownPhases) {
  const int n = 16;
  bool interleaved = false;
  for (int r = 0; r < n; ++r) {
    Result<Schedule> s = buildDoubleBinaryTree(CollectiveShape{CollectiveKind::kAllReduce, n, 640, 0}, r,
                                               treeOptions(1, 10));
    ASSERT_TRUE(s.isOk());
    EXPECT_EQ(s->scratchCount, 0u);
    bool seenDownRecv = false;
    for (const Step& st : s->channels[0].steps) {
      if (st.kind == StepKind::kRecv) seenDownRecv = true;
      if (st.kind == StepKind::kRecvReduce && seenDownRecv) interleaved = true;
    }
  }
  EXPECT_TRUE(interleaved);
}

TEST(TreeBuilder, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildDoubleBinaryTree, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllReduce, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 4).find("rank 4"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, -1).find("rank -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kBroadcast, 4, 4, 7}, 0).find("root 7"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduce, 4, 4, -1}, 0).find("root -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 4, 4, 0}, 0).find("AllGather"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduceScatter, 4, 4, 0}, 0).find("ReduceScatter"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0).find("AllToAll"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kSendRecv, 4, 4, 0}, 0).find("SendRecv"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, treeOptions(0, 0)).find("channels 0"),
            std::string::npos);
}

}  // namespace
}  // namespace loom
