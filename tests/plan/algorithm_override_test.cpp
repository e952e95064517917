#include "plan/algorithm_override.h"

#include <gtest/gtest.h>

namespace loom {
namespace {

const AlgorithmContext kOneHost{true, false};

std::string chosen(const std::string& text, CollectiveKind kind, AlgorithmContext context = kOneHost) {
  auto o = AlgorithmOverride::parse(text);
  if (!o.isOk()) return "parse error: " + o.status().message();
  auto a = o.value().candidates(kind, context);
  return a.isOk() ? a.value().front()->name : "error: " + a.status().message();
}

TEST(AlgorithmOverride, EmptyMeansTheDefault) {
  EXPECT_EQ(chosen("", CollectiveKind::kAllReduce), "ring");
  EXPECT_EQ(chosen("", CollectiveKind::kAllToAll), "direct");
}

TEST(AlgorithmOverride, NamesAreCaseInsensitiveAsInNccl) {
  EXPECT_EQ(chosen("Ring", CollectiveKind::kBroadcast), "ring");
  EXPECT_EQ(chosen("allreduce:RING", CollectiveKind::kAllReduce), "ring");
}

TEST(AlgorithmOverride, AGlobalRuleLeavesCollectivesItCannotServe) {
  // NCCL_ALGO=Ring still lets all-to-all run with its own algorithm.
  EXPECT_EQ(chosen("ring", CollectiveKind::kAllToAll), "direct");
}

TEST(AlgorithmOverride, PerCollectiveRuleThatCannotRunIsAClearError) {
  std::string r = chosen("alltoall:ring", CollectiveKind::kAllToAll);
  EXPECT_NE(r.find("error"), std::string::npos) << r;
  EXPECT_NE(r.find("AllToAll"), std::string::npos) << r;
  EXPECT_NE(r.find("ring does not implement AllToAll"), std::string::npos) << r;
  // Other collectives are not affected by that rule.
  EXPECT_EQ(chosen("alltoall:ring;allreduce:ring", CollectiveKind::kAllReduce), "ring");
}

TEST(AlgorithmOverride, ExcludingEverythingIsAnError) {
  std::string r = chosen("allreduce:^ring", CollectiveKind::kAllReduce);
  // Other algorithms may exist that can run all-reduce; only when none is left is it an error.
  if (r.rfind("error", 0) == 0) {
    EXPECT_NE(r.find("excludes every algorithm"), std::string::npos) << r;
  } else {
    EXPECT_NE(r, "ring");
  }
}

TEST(AlgorithmOverride, MalformedTextIsRejectedWithTheBadPart) {
  std::string r = chosen("allreduce:warp", CollectiveKind::kAllReduce);
  EXPECT_NE(r.find("unknown algorithm 'warp'"), std::string::npos) << r;
  EXPECT_NE(r.find("ring"), std::string::npos) << "lists the known names: " << r;
  r = chosen("allreduse:ring", CollectiveKind::kAllReduce);
  EXPECT_NE(r.find("unknown collective 'allreduse'"), std::string::npos) << r;
  r = chosen("allreduce:", CollectiveKind::kAllReduce);
  EXPECT_NE(r.find("names no algorithm"), std::string::npos) << r;
}

TEST(Registry, EveryAlgorithmHasABuilderAndCollectives) {
  for (const Algorithm& a : algorithms()) {
    EXPECT_NE(a.build, nullptr) << a.name;
    EXPECT_FALSE(a.collectives.empty()) << a.name;
    EXPECT_EQ(findAlgorithm(a.name), &a);
  }
  EXPECT_EQ(findAlgorithm("nope"), nullptr);
}

}  // namespace
}  // namespace loom
