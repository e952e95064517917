#include "topo/topology_print.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "topo/synthetic_systems.h"
#include "topo/topo_test_paths.h"
#include "topo/topology_file.h"

namespace loom {
namespace {

TopologyGraph build(const std::string& system, int hosts = 1) {
  auto r = buildSyntheticSystem({system, hosts, NetworkShape::kRailOptimized});
  EXPECT_TRUE(r.isOk()) << r.status().message();
  return r.isOk() ? std::move(r).value() : TopologyGraph();
}

int countLines(const std::string& text, const std::regex& pattern) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += std::regex_search(line, pattern);
  return n;
}

int occurrences(const std::string& text, const std::string& word) {
  int n = 0;
  for (size_t p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) ++n;
  return n;
}

TEST(TopologyTree, DgxH100ShowsGpusNvSwitchesNicsAndCpus) {
  std::string tree = formatTopologyTree(build("dgx-h100"));
  EXPECT_EQ(countLines(tree, std::regex(R"(- GPU \d \[0000:[0-9a-f]{2}:00\.0\] sm 90, .*450 GB/s to NVSwitch 0\.\.3)")),
            8)
      << tree;
  EXPECT_NE(tree.find("4 NVSwitches: NVSwitch 0..3"), std::string::npos) << tree;
  EXPECT_EQ(countLines(tree, std::regex(R"(- NIC \d .*PCIe Gen5 x16, 63\.0 GB/s)")), 8) << tree;
  EXPECT_EQ(countLines(tree, std::regex(R"(- mlx5_\d 400 Gb/s)")), 8) << tree;
  EXPECT_EQ(countLines(tree, std::regex(R"(^  CPU \d: NUMA \d, GenuineIntel x86_64)")), 2) << tree;
  EXPECT_NE(tree.find("CPU 0 <-> CPU 1: SYS"), std::string::npos) << tree;
  EXPECT_EQ(tree.rfind("host 0\n", 0), 0u) << tree;  // a kHost node gives a header even for one host
  // Deterministic: the same graph prints the same text.
  EXPECT_EQ(tree, formatTopologyTree(build("dgx-h100")));
}

TEST(TopologyTree, PrintsOnlyMaxHostsThenCountsTheRest) {
  std::string tree = formatTopologyTree(build("dgx-h100", 16), 4);
  EXPECT_EQ(countLines(tree, std::regex(R"(^host \d+$)")), 4) << tree;
  EXPECT_NE(tree.find("... and 12 more hosts"), std::string::npos) << tree;
  EXPECT_EQ(tree.find("h4 GPU"), std::string::npos) << tree;
  // Rails: each joined to one port per host, and to the spine.
  EXPECT_NE(tree.find("  rail 0: 16 ports, linked to spine"), std::string::npos) << tree;
  EXPECT_NE(tree.find("  spine: linked to rail 0..7\n"), std::string::npos) << tree;
  EXPECT_EQ(countLines(formatTopologyTree(build("dgx-h100", 16), 0), std::regex(R"(^host \d+$)")), 16);
}

TEST(TopologyTree, CpuHostShowsCpuAndNic) {
  std::string tree = formatTopologyTree(build("cpu-host"));
  EXPECT_NE(tree.find("CPU 0: NUMA 0, GenuineIntel x86_64 family 6 model 85, cpus 0-15"), std::string::npos) << tree;
  EXPECT_NE(tree.find("NIC 0 [0000:11:00.0] PCIe Gen3 x8, 7.9 GB/s"), std::string::npos) << tree;
  EXPECT_NE(tree.find("eth0 25 Gb/s"), std::string::npos) << tree;
  EXPECT_EQ(tree.find("GPU"), std::string::npos) << tree;
}

TEST(TopologyTree, Gb200ShowsC2CAndRackWideNvSwitches) {
  std::string tree = formatTopologyTree(build("gb200-nvl72"), 1);
  EXPECT_NE(tree.find("18 NVSwitches: rack 0 NVSwitch 0..17, 1296 NVLinks to 72 GPUs"), std::string::npos) << tree;
  EXPECT_NE(tree.find("C2C 450 GB/s to h0 CPU 0"), std::string::npos) << tree;
  EXPECT_NE(tree.find("... and 17 more hosts"), std::string::npos) << tree;
}

TEST(TopologyTree, DevicesOutsideTheTreeAndNotesArePrinted) {
  TopologyGraph g;
  TopoNode cpu;
  cpu.kind = NodeKind::kCpu;
  cpu.name = "NUMA 0";
  g.addNode(cpu);
  TopoNode nic;
  nic.kind = NodeKind::kNic;
  nic.name = "NIC (no PCI id)";
  g.addNode(nic);
  // Two switches that name each other as parent: reachable from no root.
  TopoNode a;
  a.name = "PCI a";
  a.parent = 3;
  g.addNode(a);
  TopoNode b;
  b.name = "PCI b";
  b.parent = 2;
  g.addNode(b);
  g.notes.push_back("assumed PCIe Gen4");
  std::string tree = formatTopologyTree(g);
  EXPECT_NE(tree.find("NUMA 0\noutside the CPUs' PCIe trees:\n|- NIC (no PCI id)\n"), std::string::npos) << tree;
  EXPECT_NE(tree.find("`- PCI a\n   `- PCI b\n"), std::string::npos) << tree;
  EXPECT_EQ(occurrences(tree, "PCI b"), 1) << tree;
  EXPECT_NE(tree.find("note: assumed PCIe Gen4\n"), std::string::npos) << tree;
}

TEST(TopologyGraphviz, OneStatementPerNodeAndLink) {
  for (const char* system : {"dgx-h100", "gb200-nvl72", "cpu-host"}) {
    TopologyGraph g = build(system, 2);
    std::string dot = formatGraphviz(g);
    EXPECT_EQ(dot.rfind("graph topology {", 0), 0u) << system;
    EXPECT_EQ(occurrences(dot, "{"), occurrences(dot, "}")) << system;
    EXPECT_EQ(countLines(dot, std::regex(R"(^\s*n\d+ \[label=)")), g.nodeCount()) << system;
    EXPECT_EQ(countLines(dot, std::regex(R"(^\s*n\d+ -- n\d+ \[)")), static_cast<int>(g.links().size())) << system;
    EXPECT_NE(dot.find("subgraph cluster_host1 {"), std::string::npos) << system;
  }
  std::string dot = formatGraphviz(build("dgx-h100"));
  EXPECT_NE(dot.find("[label=\"NVL x5 125 GB/s\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("[label=\"PCIe 63 GB/s\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("[label=\"NET 50 GB/s\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("[label=\"GPU 0\\n0000:11:00.0\", shape=box]"), std::string::npos) << dot;
}

TEST(TopologyGraphviz, EscapesQuotesAndBackslashes) {
  TopologyGraph g;
  TopoNode gpu;
  gpu.kind = NodeKind::kGpu;
  gpu.name = "GPU \"fast\" C:\\x";
  g.addNode(gpu);
  TopoNode cpu;
  cpu.kind = NodeKind::kCpu;
  cpu.name = "CPU 0";
  g.addNode(cpu);
  g.mutableNode(0).parent = 1;
  TopoLink link;
  link.a = 0;
  link.b = 1;
  link.bandwidthGBs = 31.5;
  g.addLink(link);
  std::string dot = formatGraphviz(g);
  EXPECT_NE(dot.find(R"(n0 [label="GPU \"fast\" C:\\x", shape=box];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n0 -- n1 [label="PCIe 31.5 GB/s"];)"), std::string::npos) << dot;
  // With escapes removed every line holds whole quoted strings: an even number of quotes.
  std::string bare = std::regex_replace(dot, std::regex(R"(\\.)"), "");
  std::istringstream in(bare);
  for (std::string line; std::getline(in, line);) EXPECT_EQ(occurrences(line, "\"") % 2, 0) << line;
}

TEST(TopologyTree, SharedTopologyFilesListEveryGpu) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  int loaded = 0;
  for (const auto& path : topo_test::xmlFilesIn(topo_test::sharedTopologiesDir())) {
    auto r = loadTopologyFile(path.string());
    if (!r.isOk()) continue;  // graph files and malformed files are the readers' tests' business
    ++loaded;
    const TopologyGraph& g = r.value();
    std::string tree = formatTopologyTree(g, 0);
    EXPECT_FALSE(tree.empty()) << path;
    for (int gpu : g.nodesOfKind(NodeKind::kGpu)) {
      EXPECT_NE(tree.find(g.node(gpu).busId), std::string::npos) << path << ": " << g.node(gpu).name << "\n" << tree;
    }
    std::string dot = formatGraphviz(g);
    EXPECT_EQ(countLines(dot, std::regex(R"(^\s*n\d+ \[label=)")), g.nodeCount()) << path;
  }
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace loom
