// Proves the ring and all-to-all builders with the verifier over every rank
// count from 1 to 64, a spread of sizes (empty, smaller than the rank count,
// uneven), both in-place forms, several channel counts and pipeline sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "schedule/verifier.h"

namespace loom {
namespace {

using Builder = Result<Schedule> (*)(const CollectiveShape&, int, const BuildOptions&);

std::string describe(const CollectiveShape& shape, const BuildOptions& options, bool inPlace) {
  std::ostringstream os;
  os << collectiveName(shape.kind) << " nranks=" << shape.nranks << " count=" << shape.count
     << " root=" << shape.root << " channels=" << options.channels << " pipelineElements=" << options.pipelineElements
     << (inPlace ? " in-place" : " out-of-place");
  return os.str();
}

// Builds every rank's schedule and checks what the verifier cannot see from
// the outside: no zero-length messages, pipeline slices within bounds and a
// modest scratch size. Returns "" or what went wrong.
std::string buildAll(Builder build, const CollectiveShape& shape, const BuildOptions& options,
                     std::vector<Schedule>* out) {
  out->clear();
  for (int r = 0; r < shape.nranks; ++r) {
    Result<Schedule> s = build(shape, r, options);
    if (!s.isOk()) return "rank " + std::to_string(r) + ": " + s.status().toString();
    out->push_back(std::move(s).value());
  }
  const size_t k = static_cast<size_t>(options.channels);
  const size_t n = static_cast<size_t>(shape.nranks);
  size_t scratchLimit = 0;
  switch (shape.kind) {
    case CollectiveKind::kReduceScatter: scratchLimit = 2 * (shape.count + k); break;
    case CollectiveKind::kReduce: scratchLimit = shape.count + 4 * k; break;
    case CollectiveKind::kAllToAll: scratchLimit = (n / 2) * shape.count; break;
    default: break;
  }
  for (const Schedule& s : *out) {
    if (s.scratchCount > scratchLimit)
      return "rank " + std::to_string(s.rank) + " asks for " + std::to_string(s.scratchCount) +
             " scratch elements, more than " + std::to_string(scratchLimit);
    if (shape.count == 0 && s.stepCount() != 0) return "count 0 must give an empty schedule";
    for (const Channel& ch : s.channels) {
      for (const Step& st : ch.steps) {
        if (st.kind != StepKind::kSend && st.kind != StepKind::kRecv && st.kind != StepKind::kRecvReduce) continue;
        const size_t len = st.kind == StepKind::kSend ? st.src.count : st.dst.count;
        if (len == 0) return "rank " + std::to_string(s.rank) + " has a zero-length " + stepKindName(st.kind);
        if (options.pipelineElements > 0 && len > options.pipelineElements)
          return "rank " + std::to_string(s.rank) + " moves " + std::to_string(len) +
                 " elements in one message, more than pipelineElements";
      }
    }
  }
  return "";
}

// Verifies one configuration; on failure returns a message with the schedules
// when they are short enough to read.
std::string buildAndVerify(Builder build, const CollectiveShape& shape, const BuildOptions& options) {
  std::vector<Schedule> scheds;
  std::string problem = buildAll(build, shape, options, &scheds);
  if (!problem.empty()) return describe(shape, options, false) + ": " + problem;
  for (bool inPlace : {false, true}) {
    Status st = verifySchedules(shape, scheds, inPlace);
    if (st.isOk()) continue;
    std::string msg = describe(shape, options, inPlace) + ": " + st.toString();
    size_t steps = 0;
    for (const Schedule& s : scheds) steps += s.stepCount();
    if (steps <= 200)
      for (const Schedule& s : scheds) msg += "\n" + s.toString();
    return msg;
  }
  return "";
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

void sweep(Builder build, const SweepParam& p) {
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
    Result<Schedule> s = buildRing(shape, rank, options);
    EXPECT_FALSE(s.isOk());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    return s.status().message();
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
    Result<Schedule> s = buildAllToAll(shape, rank, BuildOptions{});
    EXPECT_FALSE(s.isOk());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    return s.status().message();
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

}  // namespace
}  // namespace loom
