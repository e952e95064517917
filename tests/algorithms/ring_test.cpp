// Proves the ring and all-to-all builders with the verifier over every rank
// count from 1 to 64, a spread of sizes (empty, smaller than the rank count,
// uneven), both in-place forms, several channel counts and pipeline sizes;
// and the rings again around other rank orders (reversed, strided, random,
// different per channel) up to 32 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/ring_orders.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

// A modest scratch size: ReduceScatter's and Reduce's partial sums in a few
// slots per channel, and AllToAll's blocks received through scratch (from
// half the peers).
size_t scratchLimit(const CollectiveShape& shape, const BuildOptions& options) {
  const size_t k = static_cast<size_t>(options.channels);
  const size_t n = static_cast<size_t>(shape.nranks);
  switch (shape.kind) {
    case CollectiveKind::kReduceScatter: return 2 * (shape.count + k);
    case CollectiveKind::kReduce: return shape.count + 4 * k;
    case CollectiveKind::kAllToAll: return (n / 2) * shape.count;
    default: return 0;
  }
}

std::string buildAndVerify(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildAndVerify(build, shape, options, scratchLimit(shape, options));
}

std::vector<size_t> countsFor(int n) {
  const size_t un = static_cast<size_t>(n);
  std::set<size_t> c = {0, 1, un - 1, un, 7 * un + 3, 5 * un / 2 + 1, 97};
  return {c.begin(), c.end()};
}

// Small pipeline sizes multiply the step count, so the smallest are kept to
// the rank counts where a full sweep stays cheap. Above that, each collective
// keeps a size that still cuts its largest counts into several slices: the
// ring all-reduce bounds each of its n chunks, so it needs a tiny one; the
// all-to-all, with n blocks per rank, a larger one. None divides the sizes.
std::vector<size_t> pipelinesFor(CollectiveKind kind, int n) {
  const size_t un = static_cast<size_t>(n);
  if (n <= 16) return {0, 3, 2 * un + 1};
  switch (kind) {
    case CollectiveKind::kAllReduce: return {0, 3};
    case CollectiveKind::kAllToAll: return {0, 2 * un + 1};
    default: return {0, 31};
  }
}

// Every root gets the full sweep up to 16 ranks; above, a spread of roots does,
// and every other root gets a lighter one (these chains are cheap to verify).
std::vector<int> fullSweepRoots(CollectiveKind kind, int n) {
  if (kind != CollectiveKind::kBroadcast && kind != CollectiveKind::kReduce) return {0};
  std::vector<int> roots;
  if (n <= 16) {
    for (int r = 0; r < n; ++r) roots.push_back(r);
    return roots;
  }
  std::set<int> s = {0, 1, n / 3, n / 2, n - 2, n - 1};
  return {s.begin(), s.end()};
}

struct SweepParam {
  CollectiveKind kind;
  int nranks;
};

std::string paramName(const ::testing::TestParamInfo<SweepParam>& info) {
  return std::string(collectiveName(info.param.kind)) + "_" + std::to_string(info.param.nranks) + "ranks";
}

std::vector<SweepParam> sweepParams(std::initializer_list<CollectiveKind> kinds) {
  std::vector<SweepParam> params;
  for (CollectiveKind k : kinds)
    for (int n = 1; n <= 64; ++n) params.push_back({k, n});
  return params;
}

void sweep(ScheduleBuilder build, const SweepParam& p) {
  int configs = 0;
  const std::vector<int> full = fullSweepRoots(p.kind, p.nranks);
  for (int root : full) {
    for (size_t count : countsFor(p.nranks)) {
      for (int channels : {1, 2, 3}) {
        for (size_t pipeline : pipelinesFor(p.kind, p.nranks)) {
          const CollectiveShape shape{p.kind, p.nranks, count, root};
          ASSERT_EQ(buildAndVerify(build, shape, BuildOptions{channels, pipeline}), "");
          ++configs;
        }
      }
    }
  }
  if (p.kind == CollectiveKind::kBroadcast || p.kind == CollectiveKind::kReduce) {
    const size_t n = static_cast<size_t>(p.nranks);
    for (int root = 0; root < p.nranks; ++root) {
      if (std::find(full.begin(), full.end(), root) != full.end()) continue;
      for (const auto& [count, pipeline] : {std::pair{n - 1, size_t{0}}, std::pair{7 * n + 3, size_t{0}},
                                            std::pair{7 * n + 3, size_t{31}}}) {
        const CollectiveShape shape{p.kind, p.nranks, count, root};
        ASSERT_EQ(buildAndVerify(build, shape, BuildOptions{2, pipeline}), "");
        ++configs;
      }
    }
  }
  ::testing::Test::RecordProperty("configurations", configs);
}

class RingSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(RingSweep, VerifiesEveryConfiguration) { sweep(&buildRing, GetParam()); }

INSTANTIATE_TEST_SUITE_P(Ring, RingSweep,
                         ::testing::ValuesIn(sweepParams({CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                                          CollectiveKind::kReduceScatter, CollectiveKind::kBroadcast,
                                                          CollectiveKind::kReduce})),
                         paramName);

class AllToAllSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(AllToAllSweep, VerifiesEveryConfiguration) { sweep(&buildAllToAll, GetParam()); }

INSTANTIATE_TEST_SUITE_P(AllToAll, AllToAllSweep, ::testing::ValuesIn(sweepParams({CollectiveKind::kAllToAll})),
                         paramName);

// The verifier's contributor sets are not bounded by a machine word.
TEST(RingLarge, AllReduceOn257Ranks) {
  const CollectiveShape shape{CollectiveKind::kAllReduce, 257, 1000, 0};
  EXPECT_EQ(buildAndVerify(&buildRing, shape, BuildOptions{2, 0}), "");
}

TEST(RingLarge, ReduceScatterAndAllGatherOn257Ranks) {
  EXPECT_EQ(buildAndVerify(&buildRing, CollectiveShape{CollectiveKind::kReduceScatter, 257, 3, 0}, BuildOptions{1, 0}),
            "");
  EXPECT_EQ(buildAndVerify(&buildRing, CollectiveShape{CollectiveKind::kAllGather, 257, 5, 0}, BuildOptions{2, 0}), "");
}

TEST(RingLarge, BroadcastAndReduceOn257Ranks) {
  for (int root : {0, 128, 256}) {
    EXPECT_EQ(buildAndVerify(&buildRing, CollectiveShape{CollectiveKind::kBroadcast, 257, 1001, root},
                             BuildOptions{2, 64}),
              "");
    EXPECT_EQ(buildAndVerify(&buildRing, CollectiveShape{CollectiveKind::kReduce, 257, 1001, root},
                             BuildOptions{2, 64}),
              "");
  }
}

TEST(AllToAllLarge, On257Ranks) {
  EXPECT_EQ(buildAndVerify(&buildAllToAll, CollectiveShape{CollectiveKind::kAllToAll, 257, 2, 0}, BuildOptions{2, 0}),
            "");
}

TEST(RingBuilder, OneRankIsACopy) {
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                              CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
    Result<Schedule> s = buildRing(CollectiveShape{kind, 1, 10, 0}, 0, BuildOptions{});
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_EQ(s->stepCount(), 1u) << s->toString();
    const Step& step = s->channels[0].steps[0];
    EXPECT_EQ(step.kind, StepKind::kCopy);
    EXPECT_EQ(step.src.buffer, BufferId::kInput);
    EXPECT_EQ(step.dst.buffer, BufferId::kOutput);
    EXPECT_EQ(step.src.count, 10u);
  }
}

TEST(RingBuilder, EmptyCountIsEmptySchedule) {
  Result<Schedule> s = buildRing(CollectiveShape{CollectiveKind::kAllReduce, 4, 0, 0}, 2, BuildOptions{3, 5});
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->stepCount(), 0u);
  EXPECT_EQ(s->scratchCount, 0u);
  EXPECT_EQ(s->rank, 2);
  EXPECT_EQ(s->nranks, 4);
}

TEST(RingBuilder, AllReduceNeedsNoScratchAndUsesEveryChannel) {
  Result<Schedule> s = buildRing(CollectiveShape{CollectiveKind::kAllReduce, 8, 1 << 20, 0}, 3, BuildOptions{4, 4096});
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->scratchCount, 0u);
  ASSERT_EQ(s->channels.size(), 4u);
  for (const Channel& ch : s->channels) EXPECT_FALSE(ch.steps.empty());
  // Ring neighbours only.
  for (const Channel& ch : s->channels) {
    for (const Step& st : ch.steps) {
      if (st.kind == StepKind::kSend) {
        EXPECT_EQ(st.peer, 4);
      } else if (st.kind == StepKind::kRecv || st.kind == StepKind::kRecvReduce) {
        EXPECT_EQ(st.peer, 2);
      }
    }
  }
}

TEST(RingBuilder, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildRing, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllReduce, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, -3, 4, 0}, 0).find("nranks -3"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 4).find("rank 4"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, -1).find("rank -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kBroadcast, 4, 4, 7}, 0).find("root 7"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduce, 4, 4, -1}, 0).find("root -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0).find("AllToAll"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kSendRecv, 4, 4, 0}, 0).find("SendRecv"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, BuildOptions{0, 0}).find("channels 0"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 4, SIZE_MAX / 2, 0}, 0).find("overflows"), std::string::npos);
}

TEST(AllToAllBuilder, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank) {
    return testing::rejectionMessage(&buildAllToAll, shape, rank, BuildOptions{});
  };
  EXPECT_NE(message({CollectiveKind::kAllToAll, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 9).find("rank 9"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0).find("AllReduce"), std::string::npos);
}

TEST(AllToAllBuilder, PostsEverySendBeforeAnyReceive) {
  Result<Schedule> s = buildAllToAll(CollectiveShape{CollectiveKind::kAllToAll, 6, 10, 0}, 2, BuildOptions{});
  ASSERT_TRUE(s.isOk());
  const std::vector<Step>& steps = s->channels[0].steps;
  bool seenRecv = false;
  std::set<int> sentTo;
  for (const Step& st : steps) {
    if (st.kind == StepKind::kRecv) seenRecv = true;
    if (st.kind == StepKind::kSend) {
      EXPECT_FALSE(seenRecv) << s->toString();
      sentTo.insert(st.peer);
      EXPECT_EQ(st.src.offset, static_cast<size_t>(st.peer) * 10);
    }
  }
  EXPECT_EQ(sentTo, (std::set<int>{0, 1, 3, 4, 5}));
}

// ---------------------------------------------------------------------------
// Rings around other rank orders.

std::vector<int> naturalOrder(int n) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<int> reversedOrder(int n) {
  std::vector<int> order = naturalOrder(n);
  std::reverse(order.begin(), order.end());
  return order;
}

std::vector<int> stridedOrder(int n, int step) {
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i * step % n;
  return order;
}

// Fisher-Yates over mt19937, whose output the standard pins down, so the
// orders are the same with every standard library (std::shuffle's are not).
std::vector<int> randomOrder(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> order = naturalOrder(n);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  return order;
}

// Every order set a rank count is proved with: one order for all channels,
// or several taken in turn by the channels.
std::vector<std::vector<std::vector<int>>> orderSetsFor(int n) {
  std::vector<std::vector<std::vector<int>>> sets;
  sets.push_back({reversedOrder(n)});
  // The smallest and largest strides other than +-1 that visit every rank.
  std::set<int> steps;
  for (int k = 2; k < n - 1; ++k) {
    if (std::gcd(k, n) == 1) {
      steps.insert(k);
      break;
    }
  }
  for (int k = n - 2; k > 1; --k) {
    if (std::gcd(k, n) == 1) {
      steps.insert(k);
      break;
    }
  }
  for (int k : steps) sets.push_back({stridedOrder(n, k)});
  const uint32_t seed = static_cast<uint32_t>(n) * 1000;
  sets.push_back({randomOrder(n, seed + 1)});
  sets.push_back({randomOrder(n, seed + 2)});
  sets.push_back({randomOrder(n, seed + 3), reversedOrder(n)});
  sets.push_back({naturalOrder(n), randomOrder(n, seed + 4)});
  sets.push_back(complementaryRingOrders(n, 4));
  return sets;
}

BuildOptions withOrders(int channels, size_t pipeline, std::vector<std::vector<int>> orders) {
  BuildOptions options;
  options.channels = channels;
  options.pipelineElements = pipeline;
  options.ringOrders = std::move(orders);
  return options;
}

class RingOrderSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(RingOrderSweep, VerifiesEveryOrder) {
  const SweepParam& p = GetParam();
  const int n = p.nranks;
  const size_t un = static_cast<size_t>(n);
  const bool rooted = p.kind == CollectiveKind::kBroadcast || p.kind == CollectiveKind::kReduce;
  const std::set<int> fullRoots = rooted ? std::set<int>{0, n / 2, n - 1} : std::set<int>{0};
  const std::set<size_t> counts = {0, 1, un - 1, 7 * un + 3};
  // Cuts the largest count into a few slices per channel (and the all-reduce,
  // which bounds each of its n chunks, into several loops) without
  // multiplying the steps the way a tiny size would; the full sweep above
  // covers tiny sizes in the natural order.
  const size_t pipeline = 2 * un + 1;
  int configs = 0;
  for (const auto& orders : orderSetsFor(n)) {
    const int k = static_cast<int>(orders.size());
    // One more channel than orders sends the extra channel around order 0
    // again, which checks the wrap-around of c % ringOrders.size().
    const std::vector<int> channelCounts = k == 1 ? std::vector<int>{1, 2} : std::vector<int>{k, k + 1};
    for (int root = 0; root < (rooted ? n : 1); ++root) {
      if (!fullRoots.count(root)) {
        // Roots elsewhere in the orders: one configuration that still splits
        // into channels and pipeline slices.
        const CollectiveShape shape{p.kind, n, 7 * un + 3, root};
        ASSERT_EQ(buildAndVerify(&buildRing, shape, withOrders(channelCounts.back(), pipeline, orders)), "");
        ++configs;
        continue;
      }
      for (size_t count : counts) {
        for (int channels : channelCounts) {
          for (size_t P : {size_t{0}, pipeline}) {
            const CollectiveShape shape{p.kind, n, count, root};
            ASSERT_EQ(buildAndVerify(&buildRing, shape, withOrders(channels, P, orders)), "");
            ++configs;
          }
        }
      }
    }
  }
  ::testing::Test::RecordProperty("configurations", configs);
}

std::vector<SweepParam> orderSweepParams() {
  std::vector<SweepParam> params;
  for (CollectiveKind k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                           CollectiveKind::kBroadcast, CollectiveKind::kReduce})
    for (int n = 1; n <= 32; ++n) params.push_back({k, n});
  return params;
}

INSTANTIATE_TEST_SUITE_P(RingOrders, RingOrderSweep, ::testing::ValuesIn(orderSweepParams()), paramName);

TEST(RingOrders, ChannelsTalkOnlyToTheirOrdersNeighbours) {
  const std::vector<std::vector<int>> orders = {naturalOrder(6), {3, 0, 5, 1, 4, 2}};
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                              CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
    for (int rank = 0; rank < 6; ++rank) {
      Result<Schedule> s = buildRing(CollectiveShape{kind, 6, 600, 4}, rank, withOrders(3, 16, orders));
      ASSERT_TRUE(s.isOk()) << s.status().toString();
      ASSERT_EQ(s->channels.size(), 3u);
      for (size_t c = 0; c < 3; ++c) {
        const std::vector<int>& order = orders[c % 2];
        const long pos = std::find(order.begin(), order.end(), rank) - order.begin();
        const int next = order[static_cast<size_t>((pos + 1) % 6)];
        const int prev = order[static_cast<size_t>((pos + 5) % 6)];
        for (const Step& st : s->channels[c].steps) {
          if (st.kind == StepKind::kSend) {
            EXPECT_EQ(st.peer, next) << collectiveName(kind) << " channel " << c;
          }
          if (st.kind == StepKind::kRecv || st.kind == StepKind::kRecvReduce) {
            EXPECT_EQ(st.peer, prev) << collectiveName(kind) << " channel " << c;
          }
        }
      }
    }
  }
}

TEST(RingOrders, BroadcastStartsAtTheRootWhereverTheOrderPutsIt) {
  // Root 2 sits at position 3: it only sends, and the rank before it in the
  // order (the chain's end) only receives.
  const std::vector<std::vector<int>> orders = {{4, 0, 5, 2, 1, 3}};
  for (int rank = 0; rank < 6; ++rank) {
    Result<Schedule> s = buildRing(CollectiveShape{CollectiveKind::kBroadcast, 6, 60, 2}, rank, withOrders(1, 0, orders));
    ASSERT_TRUE(s.isOk());
    bool sends = false, recvs = false;
    for (const Step& st : s->channels[0].steps) {
      sends |= st.kind == StepKind::kSend;
      recvs |= st.kind == StepKind::kRecv;
    }
    EXPECT_EQ(sends, rank != 5) << "rank " << rank;
    EXPECT_EQ(recvs, rank != 2) << "rank " << rank;
  }
}

TEST(RingOrders, RejectsOrdersThatAreNotPermutations) {
  auto message = [](std::vector<std::vector<int>> orders) {
    return testing::rejectionMessage(&buildRing, CollectiveShape{CollectiveKind::kAllReduce, 4, 16, 0}, 0,
                                     withOrders(1, 0, std::move(orders)));
  };
  EXPECT_NE(message({{0, 1, 2, 3}, {0, 1, 2}}).find("ringOrders[1] has 3 entries"), std::string::npos);
  EXPECT_NE(message({{0, 1, 4, 3}}).find("ringOrders[0][2] is 4"), std::string::npos);
  EXPECT_NE(message({{0, 1, 2, 3}, {0, 1, 2, 3}, {3, -1, 2, 0}}).find("ringOrders[2][1] is -1"), std::string::npos);
  EXPECT_NE(message({{2, 1, 2, 0}}).find("ringOrders[0] lists rank 2 twice (at 0 and 2)"), std::string::npos);
  // Orders beyond the channels in use are checked too, and so are they at count 0.
  EXPECT_NE(message({{0, 1, 2, 3}, {}}).find("ringOrders[1] has 0 entries"), std::string::npos);
  Result<Schedule> empty =
      buildRing(CollectiveShape{CollectiveKind::kAllGather, 4, 0, 0}, 1, withOrders(1, 0, {{0, 0, 1, 2}}));
  EXPECT_FALSE(empty.isOk());
}

int eulerPhi(int n) {
  int phi = 0;
  for (int k = 1; k <= n; ++k) phi += std::gcd(k, n) == 1;
  return phi;
}

// The directed neighbour pairs (a, b), b following a, of a ring.
std::set<std::pair<int, int>> directedPairs(const std::vector<int>& order) {
  std::set<std::pair<int, int>> pairs;
  const size_t n = order.size();
  if (n < 2) return pairs;
  for (size_t i = 0; i < n; ++i) pairs.insert({order[i], order[(i + 1) % n]});
  return pairs;
}

std::set<std::pair<int, int>> undirectedPairs(const std::vector<int>& order) {
  std::set<std::pair<int, int>> pairs;
  for (auto [a, b] : directedPairs(order)) pairs.insert({std::min(a, b), std::max(a, b)});
  return pairs;
}

TEST(ComplementaryRingOrders, AreDisjointPermutations) {
  for (int n = 1; n <= 64; ++n) {
    const int available = n <= 2 ? 1 : eulerPhi(n);
    for (int rings = 1; rings <= 12; ++rings) {
      const auto orders = complementaryRingOrders(n, rings);
      SCOPED_TRACE("n=" + std::to_string(n) + " rings=" + std::to_string(rings));
      ASSERT_EQ(orders.size(), static_cast<size_t>(std::min(rings, available)));
      EXPECT_EQ(orders[0], naturalOrder(n));
      if (orders.size() > 1) {
        EXPECT_EQ(orders[1], reversedOrder(n));
      }
      for (const auto& order : orders) {
        std::vector<int> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        ASSERT_EQ(sorted, naturalOrder(n));
      }
      for (size_t a = 0; a < orders.size(); ++a) {
        for (size_t b = a + 1; b < orders.size(); ++b) {
          const auto pa = directedPairs(orders[a]);
          const auto pb = directedPairs(orders[b]);
          for (const auto& pair : pa) EXPECT_FALSE(pb.count(pair)) << "orders " << a << " and " << b;
          if (a / 2 == b / 2) {
            // The two walks of one ring: each pair of one is a pair of the
            // other turned around.
            for (auto [x, y] : pa) EXPECT_TRUE(pb.count({y, x})) << "orders " << a << " and " << b;
          } else {
            const auto ua = undirectedPairs(orders[a]);
            for (const auto& pair : undirectedPairs(orders[b]))
              EXPECT_FALSE(ua.count(pair)) << "orders " << a << " and " << b;
          }
        }
      }
    }
  }
}

TEST(ComplementaryRingOrders, EmptyForNothingToOrder) {
  EXPECT_TRUE(complementaryRingOrders(0, 2).empty());
  EXPECT_TRUE(complementaryRingOrders(-1, 2).empty());
  EXPECT_TRUE(complementaryRingOrders(8, 0).empty());
  EXPECT_EQ(complementaryRingOrders(1, 4), (std::vector<std::vector<int>>{{0}}));
  EXPECT_EQ(complementaryRingOrders(2, 4), (std::vector<std::vector<int>>{{0, 1}}));
  EXPECT_EQ(complementaryRingOrders(5, 8),
            (std::vector<std::vector<int>>{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {0, 2, 4, 1, 3}, {0, 3, 1, 4, 2}}));
}

TEST(ComplementaryRingOrders, DriveEveryRingCollective) {
  for (int n : {3, 7, 8, 12}) {
    const auto orders = complementaryRingOrders(n, 4);
    for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                                CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
      const CollectiveShape shape{kind, n, 40 * static_cast<size_t>(n) + 1, n - 1};
      EXPECT_EQ(buildAndVerify(&buildRing, shape, withOrders(4, 9, orders)), "");
    }
  }
}

}  // namespace
}  // namespace loom
