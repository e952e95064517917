// The planner's choices on synthetic systems, each justified by the
// predicted times the test prints (run the binary to see them).
#include "plan/planner.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "plan/placement.h"
#include "topo/synthetic_systems.h"
#include "topo/topology_paths.h"

namespace loom {
namespace {

constexpr size_t kFloat = 4;
constexpr size_t kSmall[] = {8, 1024, 64 << 10};
constexpr size_t kLarge = size_t{256} << 20;

TopologyGraph system(const std::string& name, int hosts = 1) {
  auto g = buildSyntheticSystem({name, hosts, NetworkShape::kRailOptimized});
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  return std::move(g.value());
}

// The ranked candidates, printed so that the comments below can be checked.
std::vector<PlanChoice> ranked(const Planner& planner, CollectiveKind kind, size_t bytes, const char* what) {
  auto r = planner.rankCandidates(kind, bytes, kFloat);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  std::printf("%s, %zu bytes:", what, bytes);
  std::vector<const Algorithm*> shown;
  for (const PlanChoice& c : r.value()) {
    if (std::find(shown.begin(), shown.end(), c.algorithm) != shown.end()) continue;
    shown.push_back(c.algorithm);
    std::printf("  %s %.1f us (%.1f GB/s, %d ch)", c.algorithm->name, c.predictedUs, c.busBwGBs, c.channels);
  }
  std::printf("\n");
  return r.value();
}

TEST(Planner, DgxH100HostUsesDirectOrTreeForSmallAndRingForLarge) {
  TopologyGraph g = system("dgx-h100");
  Planner planner(plannerSetupFor(placeRanks(g), 8));
  // Small: oneshot reads every peer's input in one NVSwitch hop (about 5.6 us)
  // where a ring pays 14 dependent steps of about 2 us.
  for (size_t bytes : kSmall) {
    std::string name = ranked(planner, CollectiveKind::kAllReduce, bytes, "dgx-h100 small").front().algorithm->name;
    EXPECT_TRUE(name == "oneshot" || name == "tree") << bytes << " bytes: " << name;
  }
  // Large: ring, rhd and twoshot all move 2(n-1)/n of the data through each
  // GPU's NVSwitch port and are predicted within 1% of each other; the
  // planner keeps the simplest of equals, the ring.
  std::vector<PlanChoice> large = ranked(planner, CollectiveKind::kAllReduce, kLarge, "dgx-h100 large");
  EXPECT_STREQ(large.front().algorithm->name, "ring");
}

TEST(Planner, DgxH100RingBusBandwidthMatchesPublishedNccl) {
  // NCCL's all_reduce_perf on one 8xH100 NVSwitch host: about 370 GB/s busbw
  // at 1 GiB and up (NVIDIA's DGX H100 figures). Within 20%.
  TopologyGraph g = system("dgx-h100");
  Planner planner(plannerSetupFor(placeRanks(g), 8));
  PlanChoice best = ranked(planner, CollectiveKind::kAllReduce, size_t{1} << 30, "dgx-h100 1 GiB").front();
  EXPECT_STREQ(best.algorithm->name, "ring");
  EXPECT_NEAR(best.busBwGBs, 370.0, 0.2 * 370.0);
}

TEST(Planner, NetworkBusBandwidthPerNicMatchesPublishedNccl) {
  // One GPU per host across 16 hosts: the ring's bottleneck is each host's
  // 400 Gb/s NIC, and NCCL measures 46-48 GB/s busbw over such a port.
  TopologyGraph g = system("dgx-h100", 16);
  Placement all = placeRanks(g);
  Placement onePerHost{&g, {}};
  for (int r = 0; r < static_cast<int>(all.deviceOfRank.size()); r += 8) onePerHost.deviceOfRank.push_back(all.deviceOfRank[r]);
  Planner planner(plannerSetupFor(onePerHost, 1));
  PlanChoice ring{};
  for (const PlanChoice& c : ranked(planner, CollectiveKind::kAllReduce, kLarge, "16 hosts x 1 GPU")) {
    if (std::string(c.algorithm->name) == "ring") {
      ring = c;
      break;
    }
  }
  ASSERT_NE(ring.algorithm, nullptr);
  EXPECT_NEAR(ring.busBwGBs, 47.0, 0.2 * 47.0);
}

TEST(Planner, SixteenDgxH100HostsUseHierarchicalWithRailAlignedRings) {
  TopologyGraph g = system("dgx-h100", 16);
  Placement placement = placeRanks(g);
  Planner planner(plannerSetupFor(placement, 8));
  // hier reduces inside each host over NVLink and crosses hosts with eight
  // rings, one per rail; a flat ring or rhd of 128 ranks crosses the network
  // with every step and is predicted several times slower.
  std::vector<PlanChoice> large = ranked(planner, CollectiveKind::kAllReduce, kLarge, "16 x dgx-h100 large");
  const PlanChoice& best = large.front();
  ASSERT_STREQ(best.algorithm->name, "hier");
  ASSERT_GT(large.size(), 1u);
  // Rail-aligned: every message between hosts goes from GPU i of one host to
  // GPU i of another, so each uses the NIC beside its GPU on both ends.
  BuildOptions options = planner.buildOptions(best, kFloat);
  size_t crossings = 0;
  for (int r = 0; r < planner.nranks(); ++r) {
    auto s = best.algorithm->build({CollectiveKind::kAllReduce, planner.nranks(), kLarge / kFloat, 0}, r, options);
    ASSERT_TRUE(s.isOk());
    for (const Channel& ch : s.value().channels) {
      for (const Step& step : ch.steps) {
        if (step.kind != StepKind::kSend || step.peer / 8 == r / 8) continue;
        ++crossings;
        ASSERT_EQ(step.peer % 8, r % 8) << "rank " << r << " sends across hosts to rank " << step.peer;
        int gpu = placement.deviceOfRank[static_cast<size_t>(r)];
        TopoPath nic = findPath(g, gpu, railNicOf(g, gpu));
        EXPECT_EQ(nic.type, PathType::kPix) << "rank " << r << "'s rail NIC is not beside it";
      }
    }
  }
  EXPECT_GT(crossings, 0u);
}

// Bytes the schedules of `choice` move over paths of `type`.
double bytesOver(const Planner& planner, const Placement& placement, const PlanChoice& choice, PathType type) {
  double bytes = 0;
  BuildOptions options = planner.buildOptions(choice, kFloat);
  for (int r = 0; r < planner.nranks(); ++r) {
    auto s = choice.algorithm->build({CollectiveKind::kAllReduce, planner.nranks(), kLarge / kFloat, 0}, r, options);
    EXPECT_TRUE(s.isOk());
    for (const Channel& ch : s.value().channels) {
      for (const Step& step : ch.steps) {
        if (step.kind != StepKind::kSend) continue;
        TopoPath p = findPath(*placement.graph, placement.deviceOfRank[static_cast<size_t>(r)],
                              placement.deviceOfRank[static_cast<size_t>(step.peer)]);
        if (p.type == type) bytes += static_cast<double>(step.src.count * kFloat);
      }
    }
  }
  return bytes;
}

TEST(Planner, PcieOnlyAvoidsTheInterSocketLink) {
  // Four GPUs per socket, no NVLink: the slowest link is between the sockets.
  // The ring in rank order crosses it twice per step (once each way), the
  // least any algorithm can; oneshot, twoshot and rhd send a quarter to half
  // of all bytes across it and are predicted 2-10x slower.
  TopologyGraph g = system("pcie-only");
  Placement placement = placeRanks(g);
  Planner planner(plannerSetupFor(placement, 8));
  std::vector<PlanChoice> large = ranked(planner, CollectiveKind::kAllReduce, kLarge, "pcie-only large");
  const PlanChoice& best = large.front();
  double bestSys = bytesOver(planner, placement, best, PathType::kSys);
  for (const PlanChoice& other : large) {
    if (other.algorithm == best.algorithm) continue;
    EXPECT_LE(bestSys, bytesOver(planner, placement, other, PathType::kSys)) << other.algorithm->name;
  }
}

TEST(Planner, DecisionsAreRememberedPerSizeClass) {
  TopologyGraph g = system("dgx-h100");
  Planner planner(plannerSetupFor(placeRanks(g), 8));
  auto first = planner.choose(CollectiveKind::kAllReduce, 3, kFloat);
  auto again = planner.choose(CollectiveKind::kAllReduce, 4, kFloat);  // same class: 16 bytes
  ASSERT_TRUE(first.isOk() && again.isOk());
  EXPECT_EQ(first.value().algorithm, again.value().algorithm);
  EXPECT_EQ(first.value().bytes, 16u);
  auto large = planner.choose(CollectiveKind::kAllReduce, kLarge / kFloat, kFloat);
  ASSERT_TRUE(large.isOk());
  EXPECT_NE(large.value().algorithm, first.value().algorithm);
}

TEST(Planner, LoomAlgoLimitsTheChoice) {
  TopologyGraph g = system("dgx-h100");
  PlannerSetup setup = plannerSetupFor(placeRanks(g), 8);
  auto allowed = AlgorithmOverride::parse("tree");
  ASSERT_TRUE(allowed.isOk());
  setup.allowed = allowed.value();
  Planner forced(std::move(setup));
  auto r = forced.rankCandidates(CollectiveKind::kAllReduce, kLarge, kFloat);
  ASSERT_TRUE(r.isOk());
  for (const PlanChoice& c : r.value()) EXPECT_STREQ(c.algorithm->name, "tree");

  setup = plannerSetupFor(placeRanks(g), 8);
  setup.allowed = AlgorithmOverride::parse("allreduce:^ring").value();
  Planner excluding(std::move(setup));
  auto e = excluding.rankCandidates(CollectiveKind::kAllReduce, kLarge, kFloat);
  ASSERT_TRUE(e.isOk());
  for (const PlanChoice& c : e.value()) EXPECT_STRNE(c.algorithm->name, "ring");
}

TEST(Planner, DecisionTableNamesEveryCollectiveAndSize) {
  TopologyGraph g = system("cpu-host");
  Planner planner(plannerSetupFor(placeRanks(g, 4), 1));
  std::string table = planner.decisionTable({CollectiveKind::kAllReduce, CollectiveKind::kAllToAll}, {8, 1 << 20}, kFloat);
  EXPECT_NE(table.find("AllReduce"), std::string::npos) << table;
  EXPECT_NE(table.find("AllToAll"), std::string::npos) << table;
  EXPECT_NE(table.find("1 MiB"), std::string::npos) << table;
  EXPECT_NE(table.find("runner-up"), std::string::npos) << table;
}

}  // namespace
}  // namespace loom
