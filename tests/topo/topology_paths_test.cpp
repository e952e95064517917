#include "topo/topology_paths.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "topo/topo_test_paths.h"
#include "topo/topology_file.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

// Builds graphs by hand with round link numbers, so expected sums are easy to check.
class GraphBuilder {
 public:
  int add(NodeKind kind, const std::string& name, int host = 0, int devIndex = -1, int numaId = -1) {
    TopoNode n;
    n.kind = kind;
    n.name = name;
    n.hostIndex = host;
    n.devIndex = devIndex;
    n.numaId = numaId;
    return g.addNode(std::move(n));
  }
  // A node below `parent` in the containment tree, joined to it by a PCIe link (1 us).
  int under(int parent, NodeKind kind, const std::string& name, double gbs = 32, int devIndex = -1) {
    int n = add(kind, name, g.node(parent).hostIndex, devIndex);
    g.mutableNode(n).parent = parent;
    link(n, parent, LinkKind::kPcie, gbs, 1.0);
    return n;
  }
  // A NIC port below its NIC, joined by a network link, as the NCCL reader does.
  int port(int nic, const std::string& name, double gbs, double latencyUs, int devIndex = -1) {
    int p = add(NodeKind::kNetPort, name, g.node(nic).hostIndex, devIndex);
    g.mutableNode(p).parent = nic;
    link(p, nic, LinkKind::kNet, gbs, latencyUs);
    return p;
  }
  int link(int a, int b, LinkKind kind, double gbs, double latencyUs) {
    TopoLink l;
    l.a = a;
    l.b = b;
    l.kind = kind;
    l.bandwidthGBs = gbs;
    l.latencyUs = latencyUs;
    return g.addLink(l);
  }
  TopologyGraph g;
};

// The nodes a path visits, starting with `from`.
std::vector<int> nodesAlong(const TopologyGraph& g, int from, const TopoPath& path) {
  std::vector<int> nodes{from};
  for (const PathHop& h : path.hops) {
    const TopoLink& l = g.links()[static_cast<size_t>(h.link)];
    EXPECT_EQ(h.forward ? l.a : l.b, nodes.back()) << "hop does not start where the last one ended";
    nodes.push_back(h.forward ? l.b : l.a);
  }
  return nodes;
}

void expectPath(const TopologyGraph& g, int from, int to, PathType type, size_t hops, double gbs, double us) {
  TopoPath p = findPath(g, from, to);
  std::string what = g.node(from).name + " -> " + g.node(to).name;
  EXPECT_EQ(pathTypeName(p.type), std::string(pathTypeName(type))) << what;
  EXPECT_EQ(p.hops.size(), hops) << what;
  EXPECT_DOUBLE_EQ(p.bandwidthGBs, gbs) << what;
  EXPECT_NEAR(p.latencyUs, us, 1e-9) << what;
  if (!p.hops.empty()) {
    EXPECT_EQ(nodesAlong(g, from, p).back(), to) << what;
  }
}

// One host, two sockets; every intra-host path type appears:
//
//   cpu0 ==SYS 20 GB/s== cpu1 (C2C 400 to gpu3)
//    |-- s0                |-- gpu3 ==NVL 100== gpu2
//    |    |-- s1           |-- gpu4 --NVL 150-- nvs0 --NVL 300-- nvs1 --NVL 150-- gpu5
//    |    |    |-- gpu0    |-- gpu5
//    |    |    `-- nic0 -- port0 (25 GB/s, 2 us)
//    |    `-- s2 (uplink 16 GB/s)
//    |         `-- gpu1
//    `-- gpu2 ==NVL 50== gpu0
struct TwoSocketHost {
  TwoSocketHost() {
    cpu0 = b.add(NodeKind::kCpu, "NUMA 0", 0, -1, 0);
    cpu1 = b.add(NodeKind::kCpu, "NUMA 1", 0, -1, 1);
    b.link(cpu0, cpu1, LinkKind::kSys, 20, 1.5);
    s0 = b.under(cpu0, NodeKind::kPciSwitch, "s0");
    s1 = b.under(s0, NodeKind::kPciSwitch, "s1");
    s2 = b.under(s0, NodeKind::kPciSwitch, "s2", 16);
    gpu0 = b.under(s1, NodeKind::kGpu, "GPU 0", 32, 0);
    nic0 = b.under(s1, NodeKind::kNic, "nic0");
    port0 = b.port(nic0, "port0", 25, 2.0, 0);
    gpu1 = b.under(s2, NodeKind::kGpu, "GPU 1", 32, 1);
    gpu2 = b.under(cpu0, NodeKind::kGpu, "GPU 2", 32, 2);
    gpu3 = b.under(cpu1, NodeKind::kGpu, "GPU 3", 32, 3);
    gpu4 = b.under(cpu1, NodeKind::kGpu, "GPU 4", 32, 4);
    gpu5 = b.under(cpu1, NodeKind::kGpu, "GPU 5", 32, 5);
    nvs0 = b.add(NodeKind::kNvSwitch, "nvs0");  // known only from its NVLinks: no tree parent
    nvs1 = b.add(NodeKind::kNvSwitch, "nvs1");
    b.link(gpu0, gpu2, LinkKind::kNvLink, 50, 0.6);
    b.link(gpu2, gpu3, LinkKind::kNvLink, 100, 0.6);
    b.link(gpu3, cpu1, LinkKind::kC2C, 400, 0.5);
    b.link(gpu4, nvs0, LinkKind::kNvLink, 150, 0.6);
    b.link(nvs0, nvs1, LinkKind::kNvLink, 300, 0.6);
    b.link(nvs1, gpu5, LinkKind::kNvLink, 150, 0.6);
  }
  GraphBuilder b;
  int cpu0, cpu1, s0, s1, s2, gpu0, nic0, port0, gpu1, gpu2, gpu3, gpu4, gpu5, nvs0, nvs1;
};

TEST(TopologyPaths, SameNodeIsLocalWithNoHops) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu0, h.gpu0, PathType::kLoc, 0, 0, 0);
}

TEST(TopologyPaths, DirectNvLinkIsNvl) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu0, h.gpu2, PathType::kNvl, 1, 50, 0.6);
  TopoPath back = findPath(h.b.g, h.gpu2, h.gpu0);
  ASSERT_EQ(back.hops.size(), 1u);
  EXPECT_FALSE(back.hops[0].forward) << "the link was added gpu0 -> gpu2; gpu2 -> gpu0 crosses it backwards";
}

TEST(TopologyPaths, NvLinkThroughTwoNvSwitchesIsNvlWithTheNarrowestHop) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu4, h.gpu5, PathType::kNvl, 3, 150, 1.8);
  EXPECT_EQ(nodesAlong(h.b.g, h.gpu4, findPath(h.b.g, h.gpu4, h.gpu5)),
            (std::vector<int>{h.gpu4, h.nvs0, h.nvs1, h.gpu5}));
}

TEST(TopologyPaths, NvLinkThroughOneGpuIsNvb) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu0, h.gpu3, PathType::kNvb, 2, 50, 1.2);
  EXPECT_EQ(nodesAlong(h.b.g, h.gpu0, findPath(h.b.g, h.gpu0, h.gpu3))[1], h.gpu2);
}

TEST(TopologyPaths, ChipToChipLinkIsC2c) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu3, h.cpu1, PathType::kC2c, 1, 400, 0.5);
  expectPath(h.b.g, h.cpu1, h.gpu3, PathType::kC2c, 1, 400, 0.5);
}

TEST(TopologyPaths, OneSwitchIsPix) {
  TwoSocketHost h;
  expectPath(h.b.g, h.gpu0, h.nic0, PathType::kPix, 2, 32, 2);
  // The port adds the NIC-to-port link: its speed and latency count.
  expectPath(h.b.g, h.gpu0, h.port0, PathType::kPix, 3, 25, 4);
}

TEST(TopologyPaths, SeveralSwitchesIsPxb) {
  TwoSocketHost h;
  // gpu1 -> s2 -> s0 -> s1 -> nic0; s2's 16 GB/s uplink is the bottleneck.
  expectPath(h.b.g, h.gpu1, h.nic0, PathType::kPxb, 4, 16, 4);
  EXPECT_EQ(nodesAlong(h.b.g, h.gpu1, findPath(h.b.g, h.gpu1, h.nic0)),
            (std::vector<int>{h.gpu1, h.s2, h.s0, h.s1, h.nic0}));
}

TEST(TopologyPaths, NvLinkPeerNearTheNicIsPxn) {
  TwoSocketHost h;
  // Direct, gpu2 would cross the CPU (PHB); over NVLink gpu0 is one switch from the NIC.
  expectPath(h.b.g, h.gpu2, h.nic0, PathType::kPxn, 3, 32, 2.6);
  EXPECT_EQ(nodesAlong(h.b.g, h.gpu2, findPath(h.b.g, h.gpu2, h.nic0)),
            (std::vector<int>{h.gpu2, h.gpu0, h.s1, h.nic0}));
  // And back, the same route reversed.
  expectPath(h.b.g, h.nic0, h.gpu2, PathType::kPxn, 3, 32, 2.6);
  EXPECT_EQ(nodesAlong(h.b.g, h.nic0, findPath(h.b.g, h.nic0, h.gpu2)),
            (std::vector<int>{h.nic0, h.s1, h.gpu0, h.gpu2}));
}

TEST(TopologyPaths, ThroughTheCpuIsPhb) {
  TwoSocketHost h;
  // gpu1 has no NVLink: gpu1 -> s2 -> s0 -> cpu0 -> gpu2.
  expectPath(h.b.g, h.gpu1, h.gpu2, PathType::kPhb, 4, 16, 4);
  expectPath(h.b.g, h.gpu2, h.cpu0, PathType::kPhb, 1, 32, 1);
}

TEST(TopologyPaths, AcrossSocketsIsSys) {
  TwoSocketHost h;
  // gpu1 -> s2 -> s0 -> cpu0 =SYS= cpu1 -> gpu4: 1+1+1+1.5+1 us.
  expectPath(h.b.g, h.gpu1, h.gpu4, PathType::kSys, 5, 16, 5.5);
  expectPath(h.b.g, h.cpu0, h.cpu1, PathType::kSys, 1, 20, 1.5);
}

TEST(TopologyPaths, C2cReplacesThePcieClimbToTheSocket) {
  TwoSocketHost h;
  // gpu3's NVLink peer gpu2 is PHB from the NIC, so no PXN; the SYS route leaves gpu3 by C2C.
  expectPath(h.b.g, h.gpu3, h.nic0, PathType::kSys, 5, 20, 0.5 + 1.5 + 3);
  TopoPath p = findPath(h.b.g, h.gpu3, h.nic0);
  EXPECT_EQ(h.b.g.links()[static_cast<size_t>(p.hops[0].link)].kind, LinkKind::kC2C);
}

TEST(TopologyPaths, NodeOutsideThePcieTreeHasNoPath) {
  TwoSocketHost h;
  expectPath(h.b.g, h.nvs0, h.cpu0, PathType::kNone, 0, 0, 0);
  expectPath(h.b.g, h.gpu4, h.nvs1, PathType::kNvl, 2, 150, 1.2);  // but NVLink reaches it
}

TEST(TopologyPaths, PxnIsNotUsedWhenTheDirectRouteIsAlreadyPxb) {
  GraphBuilder b;
  int cpu = b.add(NodeKind::kCpu, "NUMA 0", 0, -1, 0);
  int s0 = b.under(cpu, NodeKind::kPciSwitch, "s0");
  int s1 = b.under(s0, NodeKind::kPciSwitch, "s1");
  int s2 = b.under(s0, NodeKind::kPciSwitch, "s2");
  int near = b.under(s1, NodeKind::kGpu, "GPU 0", 32, 0);
  int nic = b.under(s1, NodeKind::kNic, "nic");
  int far = b.under(s2, NodeKind::kGpu, "GPU 1", 32, 1);
  b.link(near, far, LinkKind::kNvLink, 100, 0.6);
  // PXN through `near` would be shorter (3 hops) but PXB is the better type.
  expectPath(b.g, far, nic, PathType::kPxb, 4, 32, 4);
  expectPath(b.g, near, nic, PathType::kPix, 2, 32, 2);
}

TEST(TopologyPaths, GraceHopperFixtureGoesToItsCpuByC2c) {
  auto r = loadTopologyFile((topo_test::fixturesDir() / "grace-hopper-c2c-topo.xml").string());
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const TopologyGraph& g = r.value();
  int gpu = g.nodesOfKind(NodeKind::kGpu)[0];
  int cpu = g.nodesOfKind(NodeKind::kCpu)[0];
  int nvswitch = g.nodesOfKind(NodeKind::kNvSwitch)[0];
  expectPath(g, gpu, cpu, PathType::kC2c, 1, 400, 0.6);  // bw 40000 MB/s x 10 links
  int nvlink = g.findLink(gpu, nvswitch, LinkKind::kNvLink);
  ASSERT_GE(nvlink, 0);
  expectPath(g, gpu, nvswitch, PathType::kNvl, 1, g.links()[static_cast<size_t>(nvlink)].bandwidthGBs, 0.6);
}

// Three hosts of one GPU and one NIC each; hosts 0 and 1 share a fabric,
// host 2's port is not cabled. CPUs hang below kHost nodes, which are not PCIe.
struct ThreeHosts {
  ThreeHosts() {
    int fabric = b.add(NodeKind::kNetwork, "fabric");
    for (int h = 0; h < 3; ++h) {
      int host = b.add(NodeKind::kHost, "host " + std::to_string(h), h);
      int cpu = b.add(NodeKind::kCpu, "NUMA 0", h, -1, 0);
      b.g.mutableNode(cpu).parent = host;
      int sw = b.under(cpu, NodeKind::kPciSwitch, "sw");
      gpu[h] = b.under(sw, NodeKind::kGpu, "GPU 0", 32, 0);
      nic[h] = b.under(sw, NodeKind::kNic, "nic");
      port[h] = b.port(nic[h], "port", 25, 2.0, 0);
      if (h < 2) b.link(port[h], fabric, LinkKind::kNet, 50, 1.0);
      cpus[h] = cpu;
    }
  }
  GraphBuilder b;
  int gpu[3], nic[3], port[3], cpus[3];
};

TEST(TopologyPaths, DifferentHostsGoThroughRailNicsAndTheNetwork) {
  ThreeHosts t;
  EXPECT_EQ(railNicOf(t.b.g, t.gpu[0]), t.port[0]);
  // gpu -> sw -> nic -> port -> fabric -> port -> nic -> sw -> gpu:
  // 1 + 1 + 2 + 1 + 1 + 2 + 1 + 1 us, bounded by the 25 GB/s ports.
  expectPath(t.b.g, t.gpu[0], t.gpu[1], PathType::kNet, 8, 25, 10);
  // A CPU uses the same NIC: cpu -> sw -> nic -> port, then the same way down.
  expectPath(t.b.g, t.cpus[0], t.gpu[1], PathType::kNet, 8, 25, 10);
}

TEST(TopologyPaths, HostsWithNoNetworkBetweenThemHaveNoPath) {
  ThreeHosts t;
  expectPath(t.b.g, t.gpu[0], t.gpu[2], PathType::kNone, 0, 0, 0);
  GraphBuilder lonely;
  int cpu0 = lonely.add(NodeKind::kCpu, "NUMA 0", 0, -1, 0);
  int cpu1 = lonely.add(NodeKind::kCpu, "NUMA 0", 1, -1, 0);
  EXPECT_EQ(railNicOf(lonely.g, cpu0), -1);
  expectPath(lonely.g, cpu0, cpu1, PathType::kNone, 0, 0, 0);
}

TEST(TopologyPaths, RailNicsGoToTheNearestGpuFirstThenInNodeOrder) {
  GraphBuilder b;
  int cpu = b.add(NodeKind::kCpu, "NUMA 0", 0, -1, 0);
  int phbGpu = b.under(cpu, NodeKind::kGpu, "GPU 0", 32, 0);  // lowest index, but only PHB from any NIC
  int sw = b.under(cpu, NodeKind::kPciSwitch, "sw");
  int gpuA = b.under(sw, NodeKind::kGpu, "GPU 1", 32, 1);
  int nicA = b.under(sw, NodeKind::kNic, "nic A");
  int gpuB = b.under(sw, NodeKind::kGpu, "GPU 2", 32, 2);
  int nicB = b.under(sw, NodeKind::kNic, "nic B");
  int portB0 = b.port(nicB, "nic B port 0", 25, 2.0);
  b.port(nicB, "nic B port 1", 25, 2.0);
  int onCpu = b.under(cpu, NodeKind::kNic, "nic on cpu");
  // Two GPUs, two NICs under one switch: one each, in node order (ndv4 layout).
  EXPECT_EQ(railNicOf(b.g, gpuA), nicA);
  EXPECT_EQ(railNicOf(b.g, gpuB), portB0);
  // The PHB GPU comes last: every port is PHB from it, nicA and nicB's first port are taken.
  int phbRail = railNicOf(b.g, phbGpu);
  EXPECT_EQ(b.g.node(phbRail).name, "nic B port 1");
  // Not a GPU: the nearest port, lowest index first; a NIC's rail is its first port.
  EXPECT_EQ(railNicOf(b.g, cpu), nicA);
  EXPECT_EQ(railNicOf(b.g, nicB), portB0);
  EXPECT_EQ(railNicOf(b.g, portB0), portB0);
  EXPECT_EQ(railNicOf(b.g, onCpu), onCpu);
}

TEST(TopologyPaths, HostGroupsAndNvLinkDomainsNumberFromZeroInOrder) {
  TwoSocketHost h;
  std::vector<int> gpus{h.gpu5, h.gpu0, h.gpu1, h.gpu3, h.gpu4, h.gpu2};
  EXPECT_EQ(hostGroups(h.b.g, gpus), (std::vector<int>{0, 0, 0, 0, 0, 0}));
  // gpu4 and gpu5 share the NVSwitches; gpu0-gpu2-gpu3 a chain; gpu1 alone.
  EXPECT_EQ(nvlinkDomains(h.b.g, gpus), (std::vector<int>{0, 1, 2, 1, 0, 1}));
  ThreeHosts t;
  EXPECT_EQ(hostGroups(t.b.g, {t.gpu[2], t.gpu[0], t.port[2], t.gpu[1]}), (std::vector<int>{0, 1, 0, 2}));
}

TEST(TopologyPaths, MatrixPrintsLikeNvidiaSmiTopo) {
  GraphBuilder b;
  int cpu = b.add(NodeKind::kCpu, "NUMA 0", 0, -1, 0);
  int gpu0 = b.under(cpu, NodeKind::kGpu, "GPU 0", 32, 0);
  int gpu1 = b.under(cpu, NodeKind::kGpu, "GPU 1", 32, 1);
  int nic = b.under(cpu, NodeKind::kNic, "nic");
  b.port(nic, "mlx5_0", 25, 2.0, 0);
  b.link(gpu0, gpu1, LinkKind::kNvLink, 100, 0.6);
  int nvs = b.add(NodeKind::kNvSwitch, "nvs");
  PathMatrix m(b.g, {gpu0, gpu1, cpu, b.g.nodesOfKind(NodeKind::kNetPort)[0], nvs});
  ASSERT_EQ(m.size(), 5);
  EXPECT_EQ(m.device(2), cpu);
  EXPECT_EQ(m.path(0, 1).type, PathType::kNvl);
  EXPECT_EQ(m.toString(b.g),
            "      GPU0  GPU1  CPU0  NET0  NVS0\n"
            "GPU0  LOC   NVL   PHB   PHB   none\n"
            "GPU1  NVL   LOC   PHB   PHB   none\n"
            "CPU0  PHB   PHB   LOC   PHB   none\n"
            "NET0  PHB   PHB   PHB   LOC   none\n"
            "NVS0  none  none  none  none  LOC\n");
  // Devices on several hosts are told apart by a host prefix.
  ThreeHosts t;
  PathMatrix across(t.b.g, {t.gpu[0], t.gpu[1]});
  EXPECT_EQ(across.toString(t.b.g),
            "         h0:GPU0  h1:GPU0\n"
            "h0:GPU0  LOC      NET\n"
            "h1:GPU0  NET      LOC\n");
}

// ---------------------------------------------------------------------------
// The shared published topology files.

std::vector<int> gpusOf(const TopologyGraph& g) { return g.nodesOfKind(NodeKind::kGpu); }

// The pair types between GPUs i and j, as a function of (i, j) in node order.
void expectGpuPairs(const TopologyGraph& g, const std::string& file,
                    const std::function<PathType(size_t, size_t)>& expected) {
  std::vector<int> gpus = gpusOf(g);
  PathMatrix m(g, gpus);
  for (size_t i = 0; i < gpus.size(); ++i) {
    for (size_t j = 0; j < gpus.size(); ++j) {
      PathType want = i == j ? PathType::kLoc : expected(i, j);
      EXPECT_STREQ(pathTypeName(m.path(static_cast<int>(i), static_cast<int>(j)).type), pathTypeName(want))
          << file << ": GPU #" << i << " -> GPU #" << j;
    }
  }
}

// GPU k's rail NIC (by bus id, or by port name when the NIC has ports) and its path type.
void expectRails(const TopologyGraph& g, const std::string& file, const std::vector<std::string>& nics,
                 const std::vector<PathType>& types) {
  std::vector<int> gpus = gpusOf(g);
  ASSERT_EQ(gpus.size(), nics.size()) << file;
  for (size_t k = 0; k < gpus.size(); ++k) {
    int rail = railNicOf(g, gpus[k]);
    ASSERT_GE(rail, 0) << file << ": GPU #" << k;
    const TopoNode& n = g.node(rail);
    EXPECT_EQ(n.kind == NodeKind::kNetPort ? n.name : n.busId, nics[k]) << file << ": GPU #" << k;
    EXPECT_STREQ(pathTypeName(findPath(g, gpus[k], rail).type), pathTypeName(types[k])) << file << ": GPU #" << k;
  }
}

bool sameSwitch(const TopologyGraph& g, size_t i, size_t j) {
  return g.node(gpusOf(g)[i]).parent == g.node(gpusOf(g)[j]).parent;
}
bool sameSocket(size_t i, size_t j, size_t gpusPerSocket) { return i / gpusPerSocket == j / gpusPerSocket; }

using FileCheck = std::function<void(const TopologyGraph&, const std::string&)>;

const std::map<std::string, FileCheck>& sharedFileChecks() {
  static const std::map<std::string, FileCheck> kChecks = {
      // HGX A100: every GPU links to the 6 NVSwitches (2 NVLink3 lanes each, 50 GB/s), so any
      // pair is GPU -> NVSwitch -> GPU. Two GPUs share a top-level switch tree with one NIC
      // (PXB, 3 switch levels); GPU 2k and 2k+1 both get mlx5_bond_(k+1). mlx5_bond_0 hangs off
      // CPU 0 directly: PHB from socket 0's GPUs, SYS from socket 1's, the rail of no GPU.
      {"alibaba-hgx-a100-8gpu-5nic-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 8) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 5) << f;
         EXPECT_EQ(g.count(NodeKind::kNetPort), 5) << f;
         expectGpuPairs(g, f, [](size_t, size_t) { return PathType::kNvl; });
         std::vector<int> gpus = gpusOf(g);
         TopoPath p = findPath(g, gpus[0], gpus[7]);
         EXPECT_EQ(p.hops.size(), 2u) << f;
         EXPECT_EQ(g.node(nodesAlong(g, gpus[0], p)[1]).kind, NodeKind::kNvSwitch) << f;
         EXPECT_DOUBLE_EQ(p.bandwidthGBs, 50) << f;
         EXPECT_DOUBLE_EQ(p.latencyUs, 1.2) << f;
         expectRails(g, f,
                     {"mlx5_bond_1", "mlx5_bond_1", "mlx5_bond_2", "mlx5_bond_2", "mlx5_bond_3", "mlx5_bond_3",
                      "mlx5_bond_4", "mlx5_bond_4"},
                     std::vector<PathType>(8, PathType::kPxb));
         int bond0 = g.children(g.findByBusId("0000:06:00.0"))[0];
         EXPECT_EQ(findPath(g, gpus[0], bond0).type, PathType::kPhb) << f;
         EXPECT_EQ(findPath(g, gpus[4], bond0).type, PathType::kSys) << f;
         // GPU 0 to GPU 2's NIC: NVLink to GPU 3 (2 switches from that NIC, fewer hops
         // than GPU 2's 4), then PCIe: PXN instead of PHB.
         int bond2 = g.children(g.findByBusId("0000:4f:00.0"))[0];
         TopoPath pxn = findPath(g, gpus[0], bond2);
         EXPECT_EQ(pxn.type, PathType::kPxn) << f;
         EXPECT_EQ(nodesAlong(g, gpus[0], pxn)[2], gpus[3]) << f;
         EXPECT_EQ(pxn.hops.size(), 6u) << f;  // 2 NVLink, 3 PCIe, NIC to port
         EXPECT_EQ(nvlinkDomains(g, gpus), std::vector<int>(8, 0)) << f;
       }},
      // Nine bare bus ids under two sockets: no GPU, no NIC; only the sockets have paths.
      {"aws-g5-48xlarge-a10g-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 0) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 0) << f;
         std::vector<int> cpus = g.nodesOfKind(NodeKind::kCpu);
         ASSERT_EQ(cpus.size(), 2u) << f;
         EXPECT_EQ(findPath(g, cpus[0], cpus[1]).type, PathType::kSys) << f;
         EXPECT_EQ(railNicOf(g, cpus[0]), -1) << f;
       }},
      // p4d: no NVLink in the file; per switch 2 GPUs + 1 EFA NIC (no <net> ports), 2 switches
      // per socket. GPUs 2k and 2k+1 are PIX to each other and share EFA NIC k.
      {"aws-p4d-24xlarge-a100-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 8) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 4) << f;
         expectGpuPairs(g, f, [&](size_t i, size_t j) {
           return sameSwitch(g, i, j) ? PathType::kPix : sameSocket(i, j, 4) ? PathType::kPhb : PathType::kSys;
         });
         expectRails(g, f,
                     {"0000:10:1b.0", "0000:10:1b.0", "0000:20:1b.0", "0000:20:1b.0", "0000:90:1b.0",
                      "0000:90:1b.0", "0000:a0:1b.0", "0000:a0:1b.0"},
                     std::vector<PathType>(8, PathType::kPix));
       }},
      // ncv4: 4 A100 PCIe, one per NUMA node, each listing an NVLink only to itself (dropped):
      // no NVLink at all, every pair SYS. One virtual NIC (eth0) on NUMA 0 is everyone's rail.
      {"azure-ncv4-a100pcie-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 4) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 1) << f;
         expectGpuPairs(g, f, [](size_t, size_t) { return PathType::kSys; });
         expectRails(g, f, {"eth0", "eth0", "eth0", "eth0"},
                     {PathType::kPhb, PathType::kSys, PathType::kSys, PathType::kSys});
         EXPECT_EQ(nvlinkDomains(g, gpusOf(g)), (std::vector<int>{0, 1, 2, 3})) << f;
       }},
      // ndv4: the file leaves NVLink to live discovery, so only PCIe: 2 GPUs + 2 IB NICs per
      // switch, one switch per NUMA node. GPU pairs PIX in a switch, SYS otherwise; the
      // switch's two GPUs take its two NICs in file order.
      {"azure-ndv4-a100-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 8) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 8) << f;
         expectGpuPairs(g, f, [&](size_t i, size_t j) {
           return sameSwitch(g, i, j) ? PathType::kPix : PathType::kSys;
         });
         expectRails(g, f,
                     {"0103:00:00.0", "0104:00:00.0", "0101:00:00.0", "0102:00:00.0", "0107:00:00.0",
                      "0108:00:00.0", "0105:00:00.0", "0106:00:00.0"},
                     std::vector<PathType>(8, PathType::kPix));
       }},
      // ndv5: rail layout, one H100 and one 400G NIC per Gen5 switch, 4 switches per socket;
      // no NVLink in the file. GPU i's rail is the NIC under its own switch (PIX, 63 GB/s).
      {"azure-ndv5-h100-topo.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 8) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 8) << f;
         expectGpuPairs(g, f, [](size_t i, size_t j) { return sameSocket(i, j, 4) ? PathType::kPhb : PathType::kSys; });
         expectRails(g, f,
                     {"0101:00:00.0", "0102:00:00.0", "0103:00:00.0", "0104:00:00.0", "0105:00:00.0",
                      "0106:00:00.0", "0107:00:00.0", "0108:00:00.0"},
                     std::vector<PathType>(8, PathType::kPix));
         for (int gpu : gpusOf(g)) {
           int nic = railNicOf(g, gpu);
           EXPECT_EQ(g.node(nic).parent, g.node(gpu).parent) << f;
           EXPECT_NEAR(findPath(g, gpu, nic).bandwidthGBs, 63.0, 0.1) << f;
         }
       }},
      // hwloc DGX-2: 16 V100, each with one NVLink to each of 6 NVSwitches. The file's
      // NVLinkBandwidth matrix has no NVSwitch-to-NVSwitch entries, so GPUs 0-7 (one baseboard,
      // one set of 6 switches, socket 0) and GPUs 8-15 (the other) are two NVLink islands:
      // NVL within, SYS across. No NIC in the file.
      {"hwloc-nvidia-dgx2-16xv100-nvswitch.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 16) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 0) << f;
         std::vector<int> gpus = gpusOf(g);
         for (size_t k = 0; k < gpus.size(); ++k) EXPECT_EQ(g.node(gpus[k]).devIndex, static_cast<int>(k)) << f;
         expectGpuPairs(g, f, [](size_t i, size_t j) { return sameSocket(i, j, 8) ? PathType::kNvl : PathType::kSys; });
         TopoPath p = findPath(g, gpus[0], gpus[7]);
         EXPECT_EQ(p.hops.size(), 2u) << f;
         EXPECT_DOUBLE_EQ(p.bandwidthGBs, 25) << f;
         std::vector<int> domains = nvlinkDomains(g, gpus);
         EXPECT_EQ(domains, (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1})) << f;
         EXPECT_EQ(railNicOf(g, gpus[0]), -1) << f;
       }},
      // OCI BM.GPU.B4.8: 4 NUMA nodes (file order 3, 1, 7, 5), one switch each with 2 GPUs and
      // 2 NICs listed in mixed order; no NVLink in the file. Each GPU takes the switch's
      // lowest-index free NIC: the first NIC written under that switch for its first GPU.
      {"oci-bm-gpu-b4-8-a100-topo-flattened.xml",
       [](const TopologyGraph& g, const std::string& f) {
         EXPECT_EQ(g.count(NodeKind::kGpu), 8) << f;
         EXPECT_EQ(g.count(NodeKind::kNic), 8) << f;
         expectGpuPairs(g, f, [&](size_t i, size_t j) {
           return sameSwitch(g, i, j) ? PathType::kPix : PathType::kSys;
         });
         expectRails(g, f,
                     {"0000:0c:00.0", "0000:16:00.0", "0000:47:00.0", "0000:4b:00.0", "0000:89:00.0",
                      "0000:93:00.0", "0000:c3:00.0", "0000:d1:00.0"},
                     std::vector<PathType>(8, PathType::kPix));
       }},
  };
  return kChecks;
}

TEST(TopologyPaths, EverySharedFileHasTheExpectedPathsAndRails) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  int checked = 0;
  for (const fs::path& path : topo_test::xmlFilesIn(topo_test::sharedTopologiesDir())) {
    std::string name = path.filename().string();
    // Refused by the loader, as nccl_topology_test checks: not topologies to path.
    if (name.find("MALFORMED") != std::string::npos || name.find("-graph.xml") != std::string::npos) continue;
    auto r = loadTopologyFile(path.string());
    ASSERT_TRUE(r.isOk()) << name << ": " << r.status().message();
    auto check = sharedFileChecks().find(name);
    ASSERT_NE(check, sharedFileChecks().end()) << "no expectations written for " << name;
    check->second(r.value(), name);
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

}  // namespace
}  // namespace loom
