#include "topo/synthetic_systems.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <utility>

#include "topo/link_bandwidth.h"
#include "topo/nccl_topology.h"
#include "topo/topology_file.h"

namespace loom {
namespace {

TopologyGraph build(const std::string& system, int hosts = 1,
                    NetworkShape network = NetworkShape::kRailOptimized) {
  auto r = buildSyntheticSystem({system, hosts, network});
  EXPECT_TRUE(r.isOk()) << system << " x" << hosts << ": " << r.status().message();
  return r.isOk() ? std::move(r).value() : TopologyGraph();
}

// What one unit of SyntheticSpec::hosts holds (a rack for gb200-nvl72).
struct Expected {
  std::string system;
  int hostsPerUnit;
  int gpusPerHost;
  int nvSwitchesPerUnit;
  int nicsPerHost;
  int cpusPerHost;
  int pciSwitchesPerHost;
  double nvlinkGBsPerGpu;
  int nvlinksPerGpu;
};

const std::vector<Expected>& expectations() {
  static const std::vector<Expected> all = {
      {"dgx-h100", 1, 8, 4, 8, 2, 8, 450, 18},
      {"dgx-a100", 1, 8, 6, 8, 2, 4, 300, 12},
      {"gb200-nvl72", 18, 4, 18, 4, 2, 4, 900, 18},
      {"pcie-only", 1, 8, 0, 4, 2, 4, 0, 0},
      {"cpu-host", 1, 0, 0, 1, 1, 0, 0, 0},
  };
  return all;
}

int countLinks(const TopologyGraph& g, LinkKind kind) {
  int n = 0;
  for (const TopoLink& l : g.links()) n += l.kind == kind;
  return n;
}

int cpuAbove(const TopologyGraph& g, int node) {
  for (int hops = 0; node >= 0 && hops < 64; ++hops) {
    if (g.node(node).kind == NodeKind::kCpu) return node;
    node = g.node(node).parent;
  }
  return -1;
}

TEST(SyntheticSystems, NamesListEverySystem) {
  std::vector<std::string> names = syntheticSystemNames();
  ASSERT_EQ(names.size(), expectations().size());
  for (const Expected& e : expectations()) {
    EXPECT_NE(std::find(names.begin(), names.end(), e.system), names.end()) << e.system;
  }
}

TEST(SyntheticSystems, CountsScaleWithHostsForBothNetworkShapes) {
  for (const Expected& e : expectations()) {
    for (int units : {1, 3}) {
      for (NetworkShape shape : {NetworkShape::kFatTree, NetworkShape::kRailOptimized}) {
        SCOPED_TRACE(e.system + " x" + std::to_string(units) +
                     (shape == NetworkShape::kFatTree ? " fat-tree" : " rail-optimised"));
        TopologyGraph g = build(e.system, units, shape);
        int hosts = units * e.hostsPerUnit;
        EXPECT_EQ(g.count(NodeKind::kHost), hosts);
        EXPECT_EQ(g.count(NodeKind::kGpu), hosts * e.gpusPerHost);
        EXPECT_EQ(g.count(NodeKind::kNvSwitch), units * e.nvSwitchesPerUnit);
        EXPECT_EQ(g.count(NodeKind::kNic), hosts * e.nicsPerHost);
        EXPECT_EQ(g.count(NodeKind::kNetPort), hosts * e.nicsPerHost);
        EXPECT_EQ(g.count(NodeKind::kCpu), hosts * e.cpusPerHost);
        EXPECT_EQ(g.count(NodeKind::kPciSwitch), hosts * e.pciSwitchesPerHost);
        int networks = hosts == 1 ? 0 : shape == NetworkShape::kFatTree ? 1 : e.nicsPerHost + 1;
        EXPECT_EQ(g.count(NodeKind::kNetwork), networks);
        // One inter-socket link per pair of sockets of each host, none between hosts.
        EXPECT_EQ(countLinks(g, LinkKind::kSys), hosts * e.cpusPerHost * (e.cpusPerHost - 1) / 2);
      }
    }
  }
}

TEST(SyntheticSystems, EachGpuHasItsGenerationsNvLinkBandwidth) {
  for (const Expected& e : expectations()) {
    SCOPED_TRACE(e.system);
    TopologyGraph g = build(e.system, 2);
    for (int gpu : g.nodesOfKind(NodeKind::kGpu)) {
      double total = 0;
      int links = 0;
      for (int l : g.linksOf(gpu)) {
        const TopoLink& link = g.links()[static_cast<size_t>(l)];
        if (link.kind != LinkKind::kNvLink) continue;
        const TopoNode& sw = g.node(g.otherEnd(l, gpu));
        EXPECT_EQ(sw.kind, NodeKind::kNvSwitch);
        EXPECT_DOUBLE_EQ(link.bandwidthGBs, link.count * nvlinkPerLinkGBs(g.node(gpu).gpu.sm));
        // DGX: the host's own switches; NVL72: the rack's, which carry its first tray's index.
        EXPECT_EQ(sw.hostIndex, g.node(gpu).hostIndex / e.hostsPerUnit * e.hostsPerUnit);
        total += link.bandwidthGBs;
        links += link.count;
      }
      EXPECT_DOUBLE_EQ(total, e.nvlinkGBsPerGpu) << g.node(gpu).name;
      EXPECT_EQ(links, e.nvlinksPerGpu) << g.node(gpu).name;
    }
  }
}

TEST(SyntheticSystems, DgxH100SpreadsEighteenLinksFiveFourFourFive) {
  TopologyGraph g = build("dgx-h100");
  int gpu = g.nodesOfKind(NodeKind::kGpu).front();
  std::vector<int> counts;
  for (int l : g.linksOf(gpu)) {
    const TopoLink& link = g.links()[static_cast<size_t>(l)];
    if (link.kind == LinkKind::kNvLink) counts.push_back(link.count);
  }
  EXPECT_EQ(counts, (std::vector<int>{5, 4, 4, 5}));
}

TEST(SyntheticSystems, Gb200GpusReachTheirGraceOverC2C) {
  TopologyGraph g = build("gb200-nvl72");
  EXPECT_EQ(countLinks(g, LinkKind::kC2C), 72);
  for (int gpu : g.nodesOfKind(NodeKind::kGpu)) {
    int c2c = 0;
    for (int l : g.linksOf(gpu)) {
      const TopoLink& link = g.links()[static_cast<size_t>(l)];
      if (link.kind != LinkKind::kC2C) continue;
      ++c2c;
      EXPECT_EQ(g.otherEnd(l, gpu), cpuAbove(g, gpu)) << g.node(gpu).name;
      EXPECT_EQ(link.count, 1);
      EXPECT_DOUBLE_EQ(link.bandwidthGBs, 450);
    }
    EXPECT_EQ(c2c, 1) << g.node(gpu).name;
  }
  // Two B200 per Grace.
  for (int cpu : g.nodesOfKind(NodeKind::kCpu)) {
    int gpus = 0;
    for (int l : g.linksOf(cpu)) gpus += g.links()[static_cast<size_t>(l)].kind == LinkKind::kC2C;
    EXPECT_EQ(gpus, 2) << g.node(cpu).name;
  }
}

TEST(SyntheticSystems, ParentChainsEndAtACpuOfTheSameHost) {
  for (const Expected& e : expectations()) {
    SCOPED_TRACE(e.system);
    TopologyGraph g = build(e.system, 2);
    for (int i = 0; i < g.nodeCount(); ++i) {
      const TopoNode& n = g.node(i);
      EXPECT_FALSE(n.name.empty()) << i;
      if (n.kind == NodeKind::kHost || n.kind == NodeKind::kNetwork || n.kind == NodeKind::kNvSwitch) {
        EXPECT_EQ(n.parent, -1) << n.name;
        continue;
      }
      int cpu = cpuAbove(g, i);
      ASSERT_GE(cpu, 0) << n.name;
      EXPECT_EQ(g.node(cpu).hostIndex, n.hostIndex) << n.name;
      EXPECT_EQ(g.node(cpu).numaId, n.numaId) << n.name;
      for (int p = n.parent; p >= 0; p = g.node(p).parent) EXPECT_EQ(g.node(p).hostIndex, n.hostIndex) << n.name;
    }
  }
}

TEST(SyntheticSystems, BusIdsAreUniqueWithinAHost) {
  for (const Expected& e : expectations()) {
    SCOPED_TRACE(e.system);
    TopologyGraph g = build(e.system, 2);
    std::set<std::pair<int, std::string>> seen;
    for (const TopoNode& n : g.nodes()) {
      if (n.busId.empty()) continue;
      EXPECT_EQ(normalizeBusId(n.busId), n.busId);
      EXPECT_TRUE(seen.insert({n.hostIndex, n.busId}).second) << n.name << " " << n.busId;
    }
  }
}

TEST(SyntheticSystems, GpuRanksAreGlobalAndDeviceIndicesLocal) {
  for (const Expected& e : expectations()) {
    SCOPED_TRACE(e.system);
    TopologyGraph g = build(e.system, 2);
    std::set<int> ranks;
    for (int gpu : g.nodesOfKind(NodeKind::kGpu)) {
      const TopoNode& n = g.node(gpu);
      EXPECT_GE(n.devIndex, 0);
      EXPECT_LT(n.devIndex, e.gpusPerHost);
      EXPECT_EQ(n.gpu.rank, n.hostIndex * e.gpusPerHost + n.devIndex);
      EXPECT_EQ(n.gpu.gdr, 1);
      ranks.insert(n.gpu.rank);
    }
    EXPECT_EQ(static_cast<int>(ranks.size()), g.count(NodeKind::kGpu));
  }
}

TEST(SyntheticSystems, NicSpeedsAndPciGenerationsArePublishedOnes) {
  struct Case { const char* system; int speedMbps; int nicGen; int gpuGen; };
  for (const Case& c : {Case{"dgx-h100", 400000, 5, 5}, Case{"dgx-a100", 200000, 4, 4},
                        Case{"gb200-nvl72", 800000, 5, 5}, Case{"pcie-only", 100000, 4, 4},
                        Case{"cpu-host", 25000, 3, 0}}) {
    SCOPED_TRACE(c.system);
    TopologyGraph g = build(c.system);
    for (int port : g.nodesOfKind(NodeKind::kNetPort)) {
      EXPECT_EQ(g.node(port).net.speedMbps, c.speedMbps);
      int nicLink = g.findLink(port, g.node(port).parent, LinkKind::kNet);
      ASSERT_GE(nicLink, 0);
      EXPECT_DOUBLE_EQ(g.links()[static_cast<size_t>(nicLink)].bandwidthGBs, netBandwidthGBs(c.speedMbps));
    }
    for (const TopoLink& l : g.links()) {
      if (l.kind != LinkKind::kPcie) continue;
      NodeKind child = g.node(l.a).kind;
      if (child == NodeKind::kNic) {
        EXPECT_EQ(l.pcieGen, c.nicGen);
      }
      if (child == NodeKind::kGpu) {
        EXPECT_EQ(l.pcieGen, c.gpuGen);
      }
      EXPECT_EQ(l.b, g.node(l.a).parent);
      EXPECT_DOUBLE_EQ(l.bandwidthGBs, pcieBandwidthGBs(l.pcieGen, l.pcieWidth));
    }
  }
}

TEST(SyntheticSystems, CpuHostIsOneSocketWithOneEthernetPort) {
  TopologyGraph g = build("cpu-host");
  ASSERT_EQ(g.count(NodeKind::kCpu), 1);
  const TopoNode& cpu = g.node(g.nodesOfKind(NodeKind::kCpu).front());
  EXPECT_EQ(cpu.numaId, 0);
  EXPECT_EQ(cpu.cpu.affinity, "0000ffff");
  ASSERT_EQ(g.count(NodeKind::kNic), 1);
  EXPECT_EQ(g.node(g.nodesOfKind(NodeKind::kNic).front()).parent, g.nodesOfKind(NodeKind::kCpu).front());
  EXPECT_EQ(g.count(NodeKind::kGpu), 0);
}

TEST(SyntheticSystems, NetPortsLinkOnlyToTheirNicAndTheNetwork) {
  for (const Expected& e : expectations()) {
    for (NetworkShape shape : {NetworkShape::kFatTree, NetworkShape::kRailOptimized}) {
      SCOPED_TRACE(e.system + (shape == NetworkShape::kFatTree ? " fat-tree" : " rail-optimised"));
      TopologyGraph g = build(e.system, 3, shape);
      for (int port : g.nodesOfKind(NodeKind::kNetPort)) {
        const TopoNode& p = g.node(port);
        int networkLinks = 0;
        for (int l : g.linksOf(port)) {
          const TopoLink& link = g.links()[static_cast<size_t>(l)];
          EXPECT_EQ(link.kind, LinkKind::kNet);
          int far = g.otherEnd(l, port);
          if (far == p.parent) continue;
          ASSERT_EQ(g.node(far).kind, NodeKind::kNetwork) << p.name << " -> " << g.node(far).name;
          EXPECT_DOUBLE_EQ(link.bandwidthGBs, netBandwidthGBs(p.net.speedMbps));
          EXPECT_DOUBLE_EQ(link.latencyUs, kDefaultNetLatencyUs / 2);
          std::string expected = shape == NetworkShape::kFatTree ? "fabric" : "rail " + std::to_string(p.devIndex);
          EXPECT_EQ(g.node(far).name, expected) << p.name;
          ++networkLinks;
        }
        EXPECT_EQ(networkLinks, 1) << p.name;
      }
    }
  }
}

TEST(SyntheticSystems, RailSpineIsNonBlocking) {
  TopologyGraph g = build("dgx-h100", 16, NetworkShape::kRailOptimized);
  int spine = -1;
  for (int n : g.nodesOfKind(NodeKind::kNetwork)) {
    if (g.node(n).name == "spine") spine = n;
  }
  ASSERT_GE(spine, 0);
  ASSERT_EQ(g.linksOf(spine).size(), 8u);
  for (int l : g.linksOf(spine)) {
    EXPECT_EQ(g.node(g.otherEnd(l, spine)).kind, NodeKind::kNetwork);
    EXPECT_DOUBLE_EQ(g.links()[static_cast<size_t>(l)].bandwidthGBs, 16 * netBandwidthGBs(400000));
  }
}

TEST(SyntheticSystems, OneHostHasNoNetworkButGb200RackDoes) {
  EXPECT_EQ(build("dgx-h100", 1).count(NodeKind::kNetwork), 0);
  EXPECT_EQ(build("cpu-host", 1, NetworkShape::kFatTree).count(NodeKind::kNetwork), 0);
  // A rack is 18 trays whose NICs still meet on the network.
  EXPECT_EQ(build("gb200-nvl72", 1, NetworkShape::kFatTree).count(NodeKind::kNetwork), 1);
}

TEST(SyntheticSystems, NoLinksBetweenCpusOfDifferentHosts) {
  for (const Expected& e : expectations()) {
    SCOPED_TRACE(e.system);
    TopologyGraph g = build(e.system, 3);
    for (const TopoLink& l : g.links()) {
      if (l.kind == LinkKind::kSys) {
        EXPECT_EQ(g.node(l.a).kind, NodeKind::kCpu);
        EXPECT_EQ(g.node(l.b).kind, NodeKind::kCpu);
      }
      if (l.kind == LinkKind::kNet || l.kind == LinkKind::kNvLink) continue;  // these may join hosts
      EXPECT_EQ(g.node(l.a).hostIndex, g.node(l.b).hostIndex) << g.node(l.a).name << " - " << g.node(l.b).name;
    }
  }
}

TEST(SyntheticSystems, UnknownSystemIsAnErrorNamingItAndTheValidOnes) {
  auto r = buildSyntheticSystem({"dgx-z900", 1, NetworkShape::kFatTree});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("dgx-z900"), std::string::npos) << r.status().message();
  for (const std::string& name : syntheticSystemNames()) {
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
  }
}

TEST(SyntheticSystems, HostCountOutOfRangeIsAnErrorNamingIt) {
  for (int hosts : {0, -3, 4097}) {
    auto r = buildSyntheticSystem({"dgx-h100", hosts, NetworkShape::kRailOptimized});
    ASSERT_FALSE(r.isOk()) << hosts;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("hosts " + std::to_string(hosts)), std::string::npos)
        << r.status().message();
  }
}

TEST(SyntheticSystems, SingleHostSystemsSurviveNcclXml) {
  for (const char* system : {"dgx-h100", "dgx-a100", "pcie-only", "cpu-host"}) {
    SCOPED_TRACE(system);
    TopologyGraph g = build(system);
    auto back = parseTopologyXml(writeNcclTopology(g));
    ASSERT_TRUE(back.isOk()) << back.status().message();
    const TopologyGraph& r = back.value();
    for (NodeKind kind : {NodeKind::kGpu, NodeKind::kNic, NodeKind::kNetPort, NodeKind::kCpu,
                          NodeKind::kPciSwitch, NodeKind::kNvSwitch}) {
      EXPECT_EQ(r.count(kind), g.count(kind)) << nodeKindName(kind);
    }
    for (LinkKind kind : {LinkKind::kNvLink, LinkKind::kPcie, LinkKind::kSys}) {
      EXPECT_EQ(countLinks(r, kind), countLinks(g, kind)) << linkKindName(kind);
    }
    EXPECT_TRUE(r.notes.empty()) << r.notes.front();
    for (int gpu : r.nodesOfKind(NodeKind::kGpu)) {
      double nvlink = 0;
      for (int l : r.linksOf(gpu)) {
        const TopoLink& link = r.links()[static_cast<size_t>(l)];
        if (link.kind == LinkKind::kNvLink) nvlink += link.bandwidthGBs;
      }
      double expected = std::string(system) == "dgx-h100" ? 450 : std::string(system) == "dgx-a100" ? 300 : 0;
      EXPECT_DOUBLE_EQ(nvlink, expected);
    }
  }
}

TEST(SyntheticSystems, FourThousandDgxH100HostsBuildQuickly) {
  auto start = std::chrono::steady_clock::now();
  auto r = buildSyntheticSystem({"dgx-h100", 4096, NetworkShape::kRailOptimized});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->count(NodeKind::kGpu), 4096 * 8);
  EXPECT_EQ(r->count(NodeKind::kNetwork), 9);
  // Generous for sanitizer and debug builds; linear work takes well under a second optimised.
  EXPECT_LT(seconds, 5.0);
  std::printf("4096-host dgx-h100: %d nodes, %zu links in %.3f s\n", r->nodeCount(), r->links().size(), seconds);
}

}  // namespace
}  // namespace loom
