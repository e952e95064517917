#include "plan/cost_model.h"

#include <gtest/gtest.h>

#include "algorithms/registry.h"
#include "topo/link_bandwidth.h"

namespace loom {
namespace {

// Parameters that make hand computation easy: no step overhead, links at their rate.
CostParameters exact() {
  CostParameters p;
  p.stepOverheadUs = 0;
  p.nvlinkEfficiency = p.pcieEfficiency = p.networkEfficiency = 1.0;
  p.gpuLocalGBs = 1e9;  // local work free
  return p;
}

TopoNode node(NodeKind kind, std::string name, int parent = -1) {
  TopoNode n;
  n.kind = kind;
  n.name = std::move(name);
  n.parent = parent;
  return n;
}

// CPU <- switch <- GPUs 0..gpus-1, PCIe links of `gbs` and 1 us each.
struct PcieBox {
  TopologyGraph graph;
  int cpu, sw;
  std::vector<int> gpus;
  explicit PcieBox(int count, double gbs = 10) {
    cpu = graph.addNode(node(NodeKind::kCpu, "CPU"));
    sw = graph.addNode(node(NodeKind::kPciSwitch, "switch", cpu));
    graph.addLink({sw, cpu, LinkKind::kPcie, gbs, 1.0});
    for (int i = 0; i < count; ++i) {
      gpus.push_back(graph.addNode(node(NodeKind::kGpu, "GPU " + std::to_string(i), sw)));
      graph.addLink({gpus.back(), sw, LinkKind::kPcie, gbs, 1.0});
    }
  }
  Placement placement() const { return {&graph, gpus}; }
};

Schedule single(int rank, int nranks, std::vector<Step> steps) {
  Schedule s;
  s.rank = rank;
  s.nranks = nranks;
  s.channels.push_back({std::move(steps)});
  return s;
}

Slice in(size_t count) { return {BufferId::kInput, 0, count}; }
Slice out(size_t count) { return {BufferId::kOutput, 0, count}; }

TEST(CostModel, OneMessageCostsLatencyPlusBytesOverTheNarrowestLink) {
  PcieBox box(2);
  // 1 MB over two 10 GB/s hops of 1 us each: 100 us + 2 us.
  std::vector<Schedule> s = {single(0, 2, {Step::send(1, in(1000000))}), single(1, 2, {Step::recv(0, out(1000000))})};
  auto cost = predictCost(s, 1, box.placement(), exact());
  ASSERT_TRUE(cost.isOk()) << cost.status().toString();
  EXPECT_NEAR(cost.value().timeUs, 102.0, 1e-6);
  EXPECT_EQ(cost.value().messages, 1u);
}

TEST(CostModel, TransfersIntoOneLinkQueueButOppositeDirectionsDoNot) {
  PcieBox box(3);
  const size_t mb = 1000000;
  // GPUs 0 and 1 both send to GPU 2: they share the switch -> GPU 2 link.
  std::vector<Schedule> shared = {single(0, 3, {Step::send(2, in(mb))}), single(1, 3, {Step::send(2, in(mb))}),
                                  single(2, 3, {Step::recv(0, out(mb)), Step::recv(1, out(mb))})};
  auto twoIn = predictCost(shared, 1, box.placement(), exact());
  ASSERT_TRUE(twoIn.isOk()) << twoIn.status().toString();
  EXPECT_NEAR(twoIn.value().timeUs, 202.0, 1e-6);
  // GPU 0 and GPU 1 swap: each link is crossed once in each direction.
  std::vector<Schedule> swap = {single(0, 3, {Step::send(1, in(mb)), Step::recv(1, out(mb))}),
                                single(1, 3, {Step::send(0, in(mb)), Step::recv(0, out(mb))}), single(2, 3, {})};
  auto duplex = predictCost(swap, 1, box.placement(), exact());
  ASSERT_TRUE(duplex.isOk());
  EXPECT_NEAR(duplex.value().timeUs, 102.0, 1e-6);
}

TEST(CostModel, ChannelsShareTheLinkTheyCross) {
  PcieBox box(2);
  const size_t mb = 1000000;
  Schedule sender = single(0, 2, {Step::send(1, in(mb))});
  sender.channels.push_back({{Step::send(1, {BufferId::kInput, mb, mb})}});
  Schedule receiver = single(1, 2, {Step::recv(0, out(mb))});
  receiver.channels.push_back({{Step::recv(0, {BufferId::kOutput, mb, mb})}});
  auto cost = predictCost({sender, receiver}, 1, box.placement(), exact());
  ASSERT_TRUE(cost.isOk());
  EXPECT_NEAR(cost.value().timeUs, 202.0, 1e-6);
}

TEST(CostModel, PipelinedRingApproachesTheLinkRate) {
  // Four GPUs on one switch: a ring all-reduce crosses each GPU's uplink and
  // downlink once per step, so busbw tends to the 10 GB/s link rate.
  PcieBox box(4);
  const size_t count = size_t{64} << 20;  // 64 MiB of bytes
  std::vector<Schedule> schedules;
  BuildOptions options(1, 1 << 18);
  for (int r = 0; r < 4; ++r) {
    auto s = findAlgorithm("ring")->build({CollectiveKind::kAllReduce, 4, count, 0}, r, options);
    ASSERT_TRUE(s.isOk());
    schedules.push_back(s.value());
  }
  auto cost = predictCost(schedules, 1, box.placement(), exact());
  ASSERT_TRUE(cost.isOk()) << cost.status().toString();
  double busBwGBs = count / (cost.value().timeUs * 1e3) * 2 * 3 / 4;
  EXPECT_GT(busBwGBs, 9.0);
  EXPECT_LE(busBwGBs, 10.0);
}

TEST(CostModel, HostRanksSlowDownWhenTheyOutnumberTheCores) {
  TopologyGraph g;
  int cpu = g.addNode(node(NodeKind::kCpu, "CPU"));
  std::vector<Schedule> schedules;
  for (int r = 0; r < 4; ++r) {
    auto s = findAlgorithm("ring")->build({CollectiveKind::kAllReduce, 4, 1 << 20, 0}, r, BuildOptions(1, 0));
    ASSERT_TRUE(s.isOk());
    schedules.push_back(s.value());
  }
  CostParameters p;
  p.hostCores = 4;
  auto enough = predictCost(schedules, 4, {&g, {cpu, cpu, cpu, cpu}}, p);
  p.hostCores = 2;
  auto fewer = predictCost(schedules, 4, {&g, {cpu, cpu, cpu, cpu}}, p);
  ASSERT_TRUE(enough.isOk() && fewer.isOk());
  EXPECT_GT(fewer.value().timeUs, enough.value().timeUs * 1.3);
}

TEST(CostModel, AReceiveWithNoSendIsAnErrorNotAHang) {
  PcieBox box(2);
  std::vector<Schedule> s = {single(0, 2, {}), single(1, 2, {Step::recv(0, out(8))})};
  auto cost = predictCost(s, 1, box.placement(), exact());
  ASSERT_FALSE(cost.isOk());
  EXPECT_NE(cost.status().message().find("rank 1 channel 0"), std::string::npos) << cost.status().message();
}

TEST(CostModel, APlacementThatDoesNotFitIsRefused) {
  PcieBox box(2);
  std::vector<Schedule> s = {single(0, 2, {}), single(1, 2, {})};
  auto wrongSize = predictCost(s, 1, {&box.graph, {box.gpus[0]}}, exact());
  ASSERT_FALSE(wrongSize.isOk());
  EXPECT_NE(wrongSize.status().message().find("1 devices for 2 ranks"), std::string::npos);
  auto outside = predictCost(s, 1, {&box.graph, {box.gpus[0], 99}}, exact());
  ASSERT_FALSE(outside.isOk());
  EXPECT_NE(outside.status().message().find("node 99"), std::string::npos);
}

}  // namespace
}  // namespace loom
