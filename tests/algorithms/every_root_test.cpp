// Every registered algorithm that has a root, at every rank count 1..64 and
// every root, proved by the verifier. The per-algorithm sweeps try many
// configurations on a spread of roots above 16 ranks; this pass covers the
// remaining roots with one uneven, pipelined configuration each.
#include <gtest/gtest.h>

#include <numeric>

#include "algorithms/registry.h"
#include "support/schedule_checks.h"

namespace loom {
namespace {

struct RootedCase {
  const Algorithm* algorithm;
  CollectiveKind kind;
};

class EveryRoot : public ::testing::TestWithParam<RootedCase> {};

TEST_P(EveryRoot, VerifiesForAllRankCounts) {
  const RootedCase c = GetParam();
  for (int n = 1; n <= 64; ++n) {
    BuildOptions options(1, static_cast<size_t>(n) + 1);
    if (c.algorithm->needsGroups) {
      options.groupOf.resize(static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) options.groupOf[static_cast<size_t>(r)] = r / 3;  // hosts of 3, the last short
    }
    const size_t count = 3 * static_cast<size_t>(n) + 1;
    for (int root = 0; root < n; ++root) {
      CollectiveShape shape{c.kind, n, count, root};
      // No scratch bound here: the sweeps bound it per algorithm.
      ASSERT_EQ(testing::buildAndVerify(c.algorithm->build, shape, options, SIZE_MAX), "")
          << c.algorithm->name << " " << collectiveName(c.kind) << " nranks=" << n << " root=" << root;
    }
  }
}

std::vector<RootedCase> rootedCases() {
  std::vector<RootedCase> cases;
  for (const Algorithm& a : algorithms()) {
    for (CollectiveKind k : {CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
      if (a.implements(k)) cases.push_back({&a, k});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryRoot, ::testing::ValuesIn(rootedCases()),
                         [](const ::testing::TestParamInfo<RootedCase>& info) {
                           return std::string(info.param.algorithm->name) + "_" + collectiveName(info.param.kind);
                         });

}  // namespace
}  // namespace loom
