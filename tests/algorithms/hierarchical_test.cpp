// Proves the hierarchical builders with the verifier: named group shapes
// (equal, unequal, interleaved in rank order), and every rank count from 1 to
// 64 cut into groups of 2, 3, 4 and 8 consecutive ranks (the last one short),
// over roots, sizes (empty, smaller than the rank count, uneven), both
// in-place forms, one or two channels and pipelining. Then what the verifier
// cannot see: that the hierarchy really keeps bytes off the links between
// groups.
#include "algorithms/hierarchical.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/schedule_checks.h"

namespace loom {
namespace {

constexpr CollectiveKind kAllKinds[] = {CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                        CollectiveKind::kReduceScatter, CollectiveKind::kBroadcast,
                                        CollectiveKind::kReduce};

std::string groupsText(const std::vector<int>& groupOf) {
  std::string s = "{";
  for (size_t i = 0; i < groupOf.size(); ++i) s += (i ? "," : "") + std::to_string(groupOf[i]);
  return s + "}";
}

// Groups of the given sizes, each of consecutive ranks.
std::vector<int> consecutive(std::initializer_list<int> sizes) {
  std::vector<int> g;
  int id = 0;
  for (int s : sizes) {
    g.insert(g.end(), static_cast<size_t>(s), id);
    ++id;
  }
  return g;
}

std::vector<int> equalGroups(int groups, int size) {
  std::vector<int> g;
  for (int i = 0; i < groups * size; ++i) g.push_back(i / size);
  return g;
}

BuildOptions opts(int channels, size_t pipelineElements, std::vector<int> groupOf = {}) {
  BuildOptions o;
  o.channels = channels;
  o.pipelineElements = pipelineElements;
  o.groupOf = std::move(groupOf);
  return o;
}

size_t countGroups(const std::vector<int>& groupOf) {
  return std::set<int>(groupOf.begin(), groupOf.end()).size();
}

bool equalSizes(const std::vector<int>& groupOf) {
  std::map<int, int> sizes;
  for (int g : groupOf) ++sizes[g];
  for (const auto& [g, s] : sizes)
    if (s != sizes.begin()->second) return false;
  return true;
}

// ReduceScatter keeps a result area and two partial slots of a rank's block
// set: G blocks with equal groups, at most every block otherwise. Reduce's
// chains keep their partial sums in a few slots per channel.
size_t scratchLimit(const CollectiveShape& shape, const BuildOptions& options) {
  const size_t k = static_cast<size_t>(options.channels);
  const size_t n = static_cast<size_t>(shape.nranks);
  const size_t groups = options.groupOf.empty() ? 1 : countGroups(options.groupOf);
  const size_t sets = options.groupOf.empty() || equalSizes(options.groupOf) ? groups : n;
  switch (shape.kind) {
    case CollectiveKind::kReduceScatter: return 3 * sets * (shape.count + k);
    case CollectiveKind::kReduce: return shape.count + 4 * k;
    default: return 0;
  }
}

std::string buildAndVerify(const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildAndVerify(&buildHierarchical, shape, options, scratchLimit(shape, options));
}

std::vector<size_t> countsFor(int n) {
  const size_t un = static_cast<size_t>(n);
  std::set<size_t> c = {0, 1, un - 1, un, 7 * un + 3, 1000};
  return {c.begin(), c.end()};
}

// Every root up to 16 ranks; above, a spread that includes ranks of a
// group's middle, whose rail other groups may lack.
std::vector<int> rootsFor(CollectiveKind kind, int n) {
  if (kind != CollectiveKind::kBroadcast && kind != CollectiveKind::kReduce) return {0};
  std::set<int> s;
  if (n <= 16) {
    for (int r = 0; r < n; ++r) s.insert(r);
  } else {
    s = {0, 5, n / 2 + 1, n - 1};
  }
  return {s.begin(), s.end()};
}

// Pipelining in slices of 7 everywhere, except that above 16 ranks AllGather
// and ReduceScatter (n(n-1) messages per slice) cut their two largest counts
// into about four slices instead: in slices of 7 they alone would take
// minutes, and counts n-1 and n already cut every block into several slices
// of 7 there.
std::vector<size_t> pipelinesFor(CollectiveKind kind, int n, size_t count) {
  const bool quadratic = kind == CollectiveKind::kAllGather || kind == CollectiveKind::kReduceScatter;
  if (quadratic && n > 16 && count > static_cast<size_t>(n)) return {0, count / 4 + 1};
  return {0, 7};
}

struct Config {
  CollectiveShape shape;
  BuildOptions options;
};

// Verifies configurations on two threads (the verifier is single-threaded and
// the machines have two cores); returns the first failure or "".
std::string verifyAll(const std::vector<Config>& configs) {
  std::vector<std::string> problems(configs.size());
  std::atomic<size_t> nextConfig{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i; !failed && (i = nextConfig++) < configs.size();) {
      problems[i] = buildAndVerify(configs[i].shape, configs[i].options);
      if (!problems[i].empty()) failed = true;
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  for (const std::string& p : problems)
    if (!p.empty()) return p;
  return "";
}

// The full sweep of one collective on one grouping; returns configurations run.
int sweep(CollectiveKind kind, const std::vector<int>& groupOf) {
  const int n = static_cast<int>(groupOf.size());
  std::vector<Config> configs;
  for (int root : rootsFor(kind, n))
    for (size_t count : countsFor(n))
      for (int channels : {1, 2})
        for (size_t pipeline : pipelinesFor(kind, n, count))
          configs.push_back({CollectiveShape{kind, n, count, root}, opts(channels, pipeline, groupOf)});
  EXPECT_EQ(verifyAll(configs), "");
  return static_cast<int>(configs.size());
}

// ---- named shapes ----

struct NamedShape {
  const char* name;
  std::vector<int> groupOf;
};

std::vector<NamedShape> namedShapes() {
  return {
      {"OneGroupOf5", std::vector<int>(5, 0)},
      {"OneGroupOf6WithId7", std::vector<int>(6, 7)},
      {"2x2", equalGroups(2, 2)},
      {"2x3", equalGroups(2, 3)},
      {"3x2", equalGroups(3, 2)},
      {"4x4", equalGroups(4, 4)},
      {"8x8", equalGroups(8, 8)},
      {"16x4", equalGroups(16, 4)},
      {"SixSingletons", {0, 1, 2, 3, 4, 5}},
      {"Sizes3_1", consecutive({3, 1})},
      {"Sizes2_3", consecutive({2, 3})},
      {"Sizes1_1_4", consecutive({1, 1, 4})},
      {"Sizes5_2_2", consecutive({5, 2, 2})},
      {"Sizes1_7", consecutive({1, 7})},
      {"Sizes4_1_2_1", consecutive({4, 1, 2, 1})},
      {"Alternating2x3", {0, 1, 0, 1, 0, 1}},
      {"InterleavedUnequal", {2, 0, 2, 1, 0, 2, 2}},
      {"ArbitraryIds", {9, -4, 9, 100, -4, 9, 100, 9}},
  };
}

void PrintTo(const NamedShape& s, std::ostream* os) { *os << s.name << " " << groupsText(s.groupOf); }

class NamedShapes : public ::testing::TestWithParam<NamedShape> {};

TEST_P(NamedShapes, VerifiesEveryCollective) {
  int configs = 0;
  for (CollectiveKind kind : kAllKinds) {
    configs += sweep(kind, GetParam().groupOf);
    if (HasFailure()) return;
  }
  RecordProperty("configurations", configs);
}

INSTANTIATE_TEST_SUITE_P(Hierarchical, NamedShapes, ::testing::ValuesIn(namedShapes()),
                         [](const ::testing::TestParamInfo<NamedShape>& info) { return info.param.name; });

// The same grouping spelled as no groups and as one group gives the same schedule.
TEST(HierarchicalBuilder, EmptyGroupOfIsOneGroup) {
  for (CollectiveKind kind : kAllKinds) {
    const CollectiveShape shape{kind, 6, 100, 4};
    BuildOptions none = opts(2, 7);
    BuildOptions one = opts(2, 7);
    one.groupOf.assign(6, 3);
    for (int r = 0; r < 6; ++r) {
      Result<Schedule> a = buildHierarchical(shape, r, none);
      Result<Schedule> b = buildHierarchical(shape, r, one);
      ASSERT_TRUE(a.isOk() && b.isOk());
      EXPECT_EQ(a->toString(), b->toString());
      EXPECT_EQ(a->scratchCount, b->scratchCount);
    }
  }
}

// ---- every rank count with consecutive groups ----

struct SweepParam {
  CollectiveKind kind;
  int nranks;
};

void PrintTo(const SweepParam& p, std::ostream* os) { *os << collectiveName(p.kind) << " on " << p.nranks << " ranks"; }

class ConsecutiveGroups : public ::testing::TestWithParam<SweepParam> {};

TEST_P(ConsecutiveGroups, VerifiesEveryGroupSize) {
  const SweepParam p = GetParam();
  int configs = 0;
  for (int size : {2, 3, 4, 8}) {
    std::vector<int> groupOf;
    for (int r = 0; r < p.nranks; ++r) groupOf.push_back(r / size);
    configs += sweep(p.kind, groupOf);
    if (HasFailure()) return;
  }
  RecordProperty("configurations", configs);
}

std::vector<SweepParam> sweepParams() {
  std::vector<SweepParam> params;
  for (CollectiveKind k : kAllKinds)
    for (int n = 1; n <= 64; ++n) params.push_back({k, n});
  return params;
}

INSTANTIATE_TEST_SUITE_P(Hierarchical, ConsecutiveGroups, ::testing::ValuesIn(sweepParams()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           return std::string(collectiveName(info.param.kind)) + "_" +
                                  std::to_string(info.param.nranks) + "ranks";
                         });

// ---- traffic between groups ----

// Elements all ranks send to a rank of another group.
size_t elementsBetweenGroups(const std::vector<Schedule>& scheds, const std::vector<int>& groupOf) {
  size_t total = 0;
  for (const Schedule& s : scheds)
    for (const Channel& ch : s.channels)
      for (const Step& st : ch.steps)
        if (st.kind == StepKind::kSend && groupOf[static_cast<size_t>(st.peer)] != groupOf[static_cast<size_t>(s.rank)])
          total += st.src.count;
  return total;
}

std::vector<Schedule> buildEvery(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options) {
  return testing::buildSchedulesOrFail(build, shape, options);
}

// With G groups of g ranks, each rank sends 2(G-1)/G·count/g elements to
// other groups, and only to the ranks of its own local index.
TEST(HierarchicalTraffic, AllReduceUsesRailsAndMovesOneGthBetweenGroups) {
  for (const auto& [G, g] : {std::pair{2, 2}, std::pair{4, 4}, std::pair{8, 8}, std::pair{16, 4}, std::pair{3, 5}}) {
    const size_t count = static_cast<size_t>(G * g) * 1000;
    BuildOptions options = opts(1, 0);
    options.groupOf = equalGroups(G, g);
    const std::vector<Schedule> scheds = buildEvery(&buildHierarchical, {CollectiveKind::kAllReduce, G * g, count, 0},
                                                    options);
    for (const Schedule& s : scheds) {
      size_t between = 0;
      for (const Step& st : s.channels[0].steps) {
        if (st.kind == StepKind::kCopy || st.kind == StepKind::kReduce) continue;
        if (st.peer / g == s.rank / g) continue;
        EXPECT_EQ(st.peer % g, s.rank % g) << "rank " << s.rank << " talks to rank " << st.peer << " off its rail";
        if (st.kind == StepKind::kSend) between += st.src.count;
      }
      EXPECT_EQ(between, 2 * static_cast<size_t>(G - 1) * count / static_cast<size_t>(G * g)) << "rank " << s.rank;
    }
  }
}

// For every named shape with more than one group, and more ranks than groups,
// fewer elements cross between groups than in the flat ring over rank order.
TEST(HierarchicalTraffic, FewerElementsBetweenGroupsThanTheFlatRing) {
  for (const NamedShape& ns : namedShapes()) {
    const int n = static_cast<int>(ns.groupOf.size());
    const int G = static_cast<int>(countGroups(ns.groupOf));
    if (G == 1 || G == n) continue;
    for (CollectiveKind kind : kAllKinds) {
      const CollectiveShape shape{kind, n, 840, 1};
      BuildOptions options = opts(1, 0);
      options.groupOf = ns.groupOf;
      const size_t hier = elementsBetweenGroups(buildEvery(&buildHierarchical, shape, options), ns.groupOf);
      const size_t ring = elementsBetweenGroups(buildEvery(&buildRing, shape, opts(1, 0)), ns.groupOf);
      const bool chain = kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce;
      // A chain crosses each group boundary once at best, as the ring's may.
      if (chain) {
        EXPECT_LE(hier, ring) << ns.name << " " << collectiveName(kind);
        EXPECT_EQ(hier, static_cast<size_t>(G - 1) * 840) << ns.name << " " << collectiveName(kind);
      } else {
        EXPECT_LT(hier, ring) << ns.name << " " << collectiveName(kind);
      }
    }
  }
}

// ---- small cases and errors ----

TEST(HierarchicalBuilder, OneRankIsACopy) {
  for (CollectiveKind kind : kAllKinds) {
    Result<Schedule> s = buildHierarchical(CollectiveShape{kind, 1, 10, 0}, 0, BuildOptions{});
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_EQ(s->stepCount(), 1u) << s->toString();
    EXPECT_EQ(s->channels[0].steps[0].kind, StepKind::kCopy);
  }
}

TEST(HierarchicalBuilder, AllReduceNeedsNoScratch) {
  BuildOptions options = opts(2, 64);
  options.groupOf = consecutive({5, 2, 2});
  for (int r = 0; r < 9; ++r) {
    Result<Schedule> s = buildHierarchical(CollectiveShape{CollectiveKind::kAllReduce, 9, 100000, 0}, r, options);
    ASSERT_TRUE(s.isOk());
    EXPECT_EQ(s->scratchCount, 0u);
  }
}

TEST(HierarchicalLarge, AllReduceAndAllGatherOn130RanksInUnequalGroups) {
  BuildOptions options = opts(2, 0);
  for (int r = 0; r < 130; ++r) options.groupOf.push_back(r < 128 ? r / 8 : 99);
  EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kAllReduce, 130, 5000, 0}, options), "");
  EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kAllGather, 130, 3, 0}, options), "");
  EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kReduceScatter, 130, 3, 0}, options), "");
  EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kBroadcast, 130, 1001, 13}, options), "");
  EXPECT_EQ(buildAndVerify(CollectiveShape{CollectiveKind::kReduce, 130, 1001, 129}, options), "");
}

TEST(HierarchicalBuilder, RejectsBadShapes) {
  auto message = [](const CollectiveShape& shape, int rank, BuildOptions options = {}) {
    return testing::rejectionMessage(&buildHierarchical, shape, rank, options);
  };
  EXPECT_NE(message({CollectiveKind::kAllReduce, 0, 4, 0}, 0).find("nranks 0"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 4).find("rank 4"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kBroadcast, 4, 4, 7}, 0).find("root 7"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kReduce, 4, 4, -1}, 0).find("root -1"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllToAll, 4, 4, 0}, 0).find("AllToAll"), std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, opts(0, 0)).find("channels 0"),
            std::string::npos);
  EXPECT_NE(message({CollectiveKind::kAllGather, 4, SIZE_MAX / 2, 0}, 0).find("overflows"), std::string::npos);
  BuildOptions shortGroups;
  shortGroups.groupOf = {0, 0, 1};
  EXPECT_NE(message({CollectiveKind::kAllReduce, 4, 4, 0}, 0, shortGroups).find("3 entries"), std::string::npos);
}

}  // namespace
}  // namespace loom
