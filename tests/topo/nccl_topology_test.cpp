#include "topo/nccl_topology.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>

#include "topo/link_bandwidth.h"
#include "topo/topo_test_paths.h"
#include "topo/topology_file.h"
#include "topo/topology_summary.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

TopologyGraph loadShared(const std::string& name) {
  auto r = loadTopologyFile((topo_test::sharedTopologiesDir() / name).string());
  EXPECT_TRUE(r.isOk()) << name << ": " << r.status().message();
  return r.isOk() ? std::move(r).value() : TopologyGraph();
}

TopologyGraph loadFixture(const std::string& name) {
  auto r = loadTopologyFile((topo_test::fixturesDir() / name).string());
  EXPECT_TRUE(r.isOk()) << name << ": " << r.status().message();
  return r.isOk() ? std::move(r).value() : TopologyGraph();
}

int countLinks(const TopologyGraph& g, LinkKind kind) {
  int n = 0;
  for (const TopoLink& l : g.links()) n += l.kind == kind;
  return n;
}

bool anyNoteContains(const TopologyGraph& g, const std::string& text) {
  for (const std::string& n : g.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

struct Expected {
  int cpus, gpus, nics, netPorts, nvSwitches, pciSwitches, nvlinks;
};

// Truth per shared file, counted from the files themselves (see SOURCES.md for what each is).
const std::map<std::string, Expected>& expectedCounts() {
  static const std::map<std::string, Expected> kExpected = {
      // 2 sockets; 8 A100 (class 0x0302, each with a <gpu> listing 6 NVSwitches x2 links);
      // 5 ConnectX NICs each with one bonded <net>; 20 bridges (0x0604) in 3 levels.
      {"alibaba-hgx-a100-8gpu-5nic-topo.xml", {2, 8, 5, 5, 6, 20, 48}},
      // Nine bare <pci busid> with no class: NCCL (and we) take them as bridges; no GPU, no NIC.
      {"aws-g5-48xlarge-a10g-topo.xml", {2, 0, 0, 0, 0, 9, 0}},
      // 4 switches, each with 2 GPUs (0x0302) and 1 EFA NIC (0x0200, no <nic> child so no ports).
      {"aws-p4d-24xlarge-a100-topo.xml", {2, 8, 4, 0, 0, 4, 0}},
      // 4 A100 PCIe, one per NUMA node, NVLinks only to themselves (dropped); one virtual NIC (eth0).
      {"azure-ncv4-a100pcie-topo.xml", {4, 4, 1, 1, 0, 0, 0}},
      // 4 NUMA nodes x 1 switch x (2 GPUs + 2 InfiniBand NICs, class 0x0207).
      {"azure-ndv4-a100-topo.xml", {4, 8, 8, 0, 0, 4, 0}},
      // 2 sockets x 4 switches x (1 H100 + 1 NIC).
      {"azure-ndv5-h100-topo.xml", {2, 8, 8, 0, 0, 8, 0}},
      // hwloc: 2 packages, 16 V100 (nvml0..15), 12 NVSwitch PCIDevs, 56 bridges with bus ids
      // (60 bridges minus 4 host bridges), NVLinkBandwidth matrix: each GPU to 6 switches.
      {"hwloc-nvidia-dgx2-16xv100-nvswitch.xml", {2, 16, 0, 0, 12, 56, 96}},
      // 4 NUMA nodes (ids 3, 1, 7, 5) x 1 switch x (2 GPUs + 2 NICs, class 0x0200).
      {"oci-bm-gpu-b4-8-a100-topo-flattened.xml", {4, 8, 8, 0, 0, 4, 0}},
  };
  return kExpected;
}

void expectCounts(const TopologyGraph& g, const Expected& e, const std::string& what) {
  TopologySummary s = summarize(g);
  EXPECT_EQ(s.cpus, e.cpus) << what;
  EXPECT_EQ(s.gpus, e.gpus) << what;
  EXPECT_EQ(s.nics, e.nics) << what;
  EXPECT_EQ(s.netPorts, e.netPorts) << what;
  EXPECT_EQ(s.nvSwitches, e.nvSwitches) << what;
  EXPECT_EQ(s.pciSwitches, e.pciSwitches) << what;
  EXPECT_EQ(countLinks(g, LinkKind::kNvLink), e.nvlinks) << what;
}

TEST(NcclTopology, EverySharedFileLoadsWithTheRightCountsOrIsRefused) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  auto files = topo_test::xmlFilesIn(topo_test::sharedTopologiesDir());
  ASSERT_EQ(files.size(), 10u) << "SOURCES.md lists 10 files";
  int loaded = 0;
  for (const fs::path& path : files) {
    std::string name = path.filename().string();
    auto r = loadTopologyFile(path.string());
    if (name.find("MALFORMED") != std::string::npos) {
      ASSERT_FALSE(r.isOk()) << name;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find("line 7: closing tag </cpu> does not match <pci> opened at line 6"),
                std::string::npos)
          << r.status().message();
      continue;
    }
    if (name.find("-graph.xml") != std::string::npos) {
      // A graph file is a different kind of file: say so rather than guess.
      ASSERT_FALSE(r.isOk()) << name;
      EXPECT_NE(r.status().message().find("NCCL graph file"), std::string::npos) << r.status().message();
      EXPECT_NE(r.status().message().find("line 1"), std::string::npos) << r.status().message();
      continue;
    }
    ASSERT_TRUE(r.isOk()) << name << ": " << r.status().message();
    auto it = expectedCounts().find(name);
    ASSERT_NE(it, expectedCounts().end()) << "no expected counts written for " << name;
    expectCounts(r.value(), it->second, name);
    ++loaded;
  }
  EXPECT_EQ(loaded, 8);
}

TEST(NcclTopology, RailLayoutPutsEachGpuNextToItsOwnNic) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("azure-ndv5-h100-topo.xml");
  TopologySummary s = summarize(g);
  ASSERT_EQ(s.perGpu.size(), 8u);
  for (const GpuSummary& gpu : s.perGpu) {
    ASSERT_GE(gpu.nearestNic, 0) << gpu.name;
    EXPECT_EQ(gpu.nicPath, PciPathType::kPix) << gpu.name;
    EXPECT_EQ(g.node(gpu.nearestNic).parent, g.node(gpu.node).parent) << gpu.name << " and its NIC share a switch";
  }
  // 32 GT/s x16 is PCIe Gen5: 63 GB/s per direction after 128b/130b encoding.
  int gpu = s.perGpu[0].node;
  const TopoLink& up = g.links()[static_cast<size_t>(g.linksOf(gpu)[0])];
  EXPECT_EQ(up.kind, LinkKind::kPcie);
  EXPECT_EQ(up.pcieGen, 5);
  EXPECT_EQ(up.pcieWidth, 16);
  EXPECT_NEAR(up.bandwidthGBs, 63.0, 0.1);
}

TEST(NcclTopology, TwoGpusShareOneEfaNicAndCommentsAreSkipped) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("aws-p4d-24xlarge-a100-topo.xml");
  TopologySummary s = summarize(g);
  ASSERT_EQ(s.perGpu.size(), 8u);
  EXPECT_EQ(g.node(s.perGpu[0].nearestNic).busId, "0000:10:1b.0");
  EXPECT_EQ(g.node(s.perGpu[1].nearestNic).busId, "0000:10:1b.0");
  EXPECT_EQ(s.perGpu[0].nicPath, PciPathType::kPix);
  EXPECT_EQ(g.node(s.perGpu[7].nearestNic).busId, "0000:a0:1b.0");
  // 8 GT/s is Gen3: 15.75 GB/s over 16 lanes.
  const TopoLink& up = g.links()[static_cast<size_t>(g.linksOf(s.perGpu[0].node)[0])];
  EXPECT_EQ(up.pcieGen, 3);
  EXPECT_NEAR(up.bandwidthGBs, 15.75, 0.01);
}

TEST(NcclTopology, NvSwitchSystemGivesEachGpuTwelveLinksAndAPxbNic) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("alibaba-hgx-a100-8gpu-5nic-topo.xml");
  TopologySummary s = summarize(g);
  ASSERT_EQ(s.perGpu.size(), 8u);
  for (const GpuSummary& gpu : s.perGpu) {
    ASSERT_EQ(gpu.nvlinkPeers.size(), 6u) << gpu.name;
    int lanes = 0;
    for (const NvLinkPeer& p : gpu.nvlinkPeers) {
      EXPECT_EQ(g.node(p.node).kind, NodeKind::kNvSwitch);
      EXPECT_EQ(p.count, 2);
      EXPECT_DOUBLE_EQ(p.bandwidthGBs, 50.0);  // sm80: 25 GB/s per NVLink 3 lane
      lanes += p.count;
    }
    EXPECT_EQ(lanes, 12);
  }
  // GPU 0 sits 3 switches deep; the NIC behind the same top switch beats the one on the CPU.
  EXPECT_EQ(s.perGpu[0].name, "GPU 0");
  EXPECT_EQ(g.node(s.perGpu[0].nearestNic).busId, "0000:1a:00.0");
  EXPECT_EQ(s.perGpu[0].nicPath, PciPathType::kPxb);
  // The NIC attached straight to the CPU has its port as a child.
  int nic0 = g.findByBusId("0000:06:00.0");
  ASSERT_GE(nic0, 0);
  EXPECT_EQ(g.node(nic0).kind, NodeKind::kNic);
  EXPECT_EQ(g.node(g.node(nic0).parent).kind, NodeKind::kCpu);
  auto ports = g.children(nic0);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(g.node(ports[0]).name, "mlx5_bond_0");
  EXPECT_EQ(g.node(ports[0]).net.speedMbps, 200000);
  EXPECT_EQ(g.links()[static_cast<size_t>(g.findLink(ports[0], nic0, LinkKind::kNet))].bandwidthGBs, 25.0);
  std::string text = s.toString(g);
  EXPECT_NE(text.find("8 GPUs, 5 NICs (5 ports), 6 NVSwitches"), std::string::npos) << text;
}

TEST(NcclTopology, SelfNvLinksAreDroppedWithANote) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("azure-ncv4-a100pcie-topo.xml");
  EXPECT_EQ(countLinks(g, LinkKind::kNvLink), 0);
  EXPECT_TRUE(anyNoteContains(g, "line 5: GPU 0 lists an NVLink to itself (count 12); ignored"));
  TopologySummary s = summarize(g);
  // The only NIC is virtual, on NUMA 0: PHB from GPU 0, across sockets from the others.
  EXPECT_EQ(s.perGpu[0].nicPath, PciPathType::kPhb);
  EXPECT_EQ(s.perGpu[1].nicPath, PciPathType::kSys);
  EXPECT_EQ(g.node(s.perGpu[0].nearestNic).busId, "");
  // link_speed="" and link_width="0": the default Gen4 x16.
  const TopoLink& up = g.links()[static_cast<size_t>(g.linksOf(s.perGpu[0].node)[0])];
  EXPECT_EQ(up.pcieGen, 0);
  EXPECT_NEAR(up.bandwidthGBs, pcieBandwidthGBs(kDefaultPcieGen, kDefaultPcieWidth), 1e-9);
}

TEST(NcclTopology, BareBusIdsGetDefaultsAndNotes) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("aws-g5-48xlarge-a10g-topo.xml");
  EXPECT_TRUE(anyNoteContains(g, "<pci busid=\"0000:00:16.0\"> has no class; taken as a PCI bridge"));
  EXPECT_EQ(countLinks(g, LinkKind::kSys), 1);
}

TEST(NcclTopology, NumaIdsKeepTheirFileOrder) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("oci-bm-gpu-b4-8-a100-topo-flattened.xml");
  std::vector<int> numa;
  for (int cpu : g.nodesOfKind(NodeKind::kCpu)) numa.push_back(g.node(cpu).numaId);
  EXPECT_EQ(numa, (std::vector<int>{3, 1, 7, 5}));
  EXPECT_EQ(countLinks(g, LinkKind::kSys), 6);  // every pair of the four sockets
  int cpu7 = g.nodesOfKind(NodeKind::kCpu)[2];
  EXPECT_EQ(g.node(cpu7).cpu.affinity, "fff0000,00000000,00000000,00000000,ffff0000,00000000,00000000,00000000");
}

TEST(NcclTopology, HwlocDgx2GivesSixteenGpusOnTwelveNvSwitches) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  TopologyGraph g = loadShared("hwloc-nvidia-dgx2-16xv100-nvswitch.xml");
  TopologySummary s = summarize(g);
  ASSERT_EQ(s.perGpu.size(), 16u);
  std::vector<int> devs;
  for (const GpuSummary& gpu : s.perGpu) {
    devs.push_back(g.node(gpu.node).devIndex);
    EXPECT_EQ(g.node(gpu.node).gpu.sm, 70) << gpu.name;
    ASSERT_EQ(gpu.nvlinkPeers.size(), 6u) << gpu.name;
    for (const NvLinkPeer& p : gpu.nvlinkPeers) {
      EXPECT_EQ(g.node(p.node).kind, NodeKind::kNvSwitch);
      EXPECT_EQ(p.count, 1);
      EXPECT_DOUBLE_EQ(p.bandwidthGBs, 25.0);
    }
    EXPECT_EQ(gpu.nearestNic, -1);
  }
  std::sort(devs.begin(), devs.end());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(devs[static_cast<size_t>(i)], i);
  // Written as NCCL XML, the same GPUs, switches and NVLinks come back.
  auto back = parseTopologyXml(writeNcclTopology(g));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  expectCounts(back.value(), {2, 16, 0, 0, 12, 56, 96}, "hwloc written as NCCL");
}

TEST(NcclTopology, FixtureMeshResolvesBothEndsOfEachNvLink) {
  TopologyGraph g = loadFixture("four-gpu-nvlink-mesh-topo.xml");
  expectCounts(g, {2, 4, 2, 3, 0, 2, 6}, "mesh fixture");
  TopologySummary s = summarize(g);
  for (const GpuSummary& gpu : s.perGpu) {
    ASSERT_EQ(gpu.nvlinkPeers.size(), 3u) << gpu.name;
    for (const NvLinkPeer& p : gpu.nvlinkPeers) {
      EXPECT_EQ(p.count, 6);
      EXPECT_DOUBLE_EQ(p.bandwidthGBs, 150.0);  // 6 x 25 GB/s
    }
  }
  EXPECT_TRUE(anyNoteContains(g, "has count 5 here and 6 from the other end; using the larger"));
  EXPECT_EQ(s.perGpu[0].nicPath, PciPathType::kPix);
  EXPECT_EQ(g.node(s.perGpu[0].nearestNic).busId, "0000:13:00.0");
  // GPUs 2 and 3 have the virtual NIC on their own socket.
  EXPECT_EQ(s.perGpu[2].nicPath, PciPathType::kPhb);
  int gpu0 = s.perGpu[0].node;
  EXPECT_EQ(g.node(gpu0).extraAttributes,
            (std::vector<std::pair<std::string, std::string>>{{"gpu:note", "A & B <first>"}}));
}

TEST(NcclTopology, FixtureC2CAndTargetOnlyNvSwitch) {
  TopologyGraph g = loadFixture("grace-hopper-c2c-topo.xml");
  expectCounts(g, {1, 1, 0, 0, 1, 0, 1}, "c2c fixture");
  ASSERT_EQ(countLinks(g, LinkKind::kC2C), 1);
  for (const TopoLink& l : g.links()) {
    if (l.kind == LinkKind::kC2C) {
      EXPECT_EQ(l.count, 10);
      EXPECT_DOUBLE_EQ(l.bandwidthGBs, 400.0);
    }
    if (l.kind == LinkKind::kNvLink) {
      EXPECT_DOUBLE_EQ(l.bandwidthGBs, 18 * 25.0);
    }
  }
}

void expectRoundTrip(const TopologyGraph& g, const std::string& what) {
  std::string written = writeNcclTopology(g);
  auto back = parseTopologyXml(written);
  ASSERT_TRUE(back.isOk()) << what << ": " << back.status().message() << "\n" << written;
  std::string difference;
  EXPECT_TRUE(g.sameAs(back.value(), &difference)) << what << ": " << difference << "\n" << written;
  // Writing is a fixed point after one pass.
  EXPECT_EQ(writeNcclTopology(back.value()), written) << what;
}

TEST(NcclTopology, ReadWriteReadGivesAnEqualGraph) {
  for (const char* f : {"four-gpu-nvlink-mesh-topo.xml", "grace-hopper-c2c-topo.xml"}) {
    expectRoundTrip(loadFixture(f), f);
  }
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  for (const auto& [name, counts] : expectedCounts()) {
    if (name.rfind("hwloc", 0) == 0) continue;  // hwloc is read, not written
    expectRoundTrip(loadShared(name), name);
  }
}

TEST(NcclTopology, SemanticErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"<system>\n<cpu numaid=\"zero\"/>\n</system>", "line 2: <cpu numaid=\"zero\">: expected an integer"},
      {"<system>\n<cpu>\n<pci busid=\"nonsense\"/>\n</cpu>\n</system>",
       "line 3: <pci busid=\"nonsense\">: expected a PCI bus id like 0000:0f:00.0"},
      {"<system>\n<cpu>\n<pci busid=\"0000:01:00.0\"/>\n<pci busid=\"0000:01:00.0\"/>\n</cpu>\n</system>",
       "line 4: PCI bus id 0000:01:00.0 appears twice (first at line 3)"},
      {"<system>\n<cpu>\n<pci/>\n</cpu>\n</system>", "line 3: <pci> has no busid attribute"},
      {"<system><cpu>\n<pci busid=\"0000:01:00.0\" class=\"0x030200\"><gpu>\n<nvlink target=\"0000:02:00.0\" "
       "count=\"-3\"/></gpu></pci></cpu></system>",
       "line 3: <nvlink count=\"-3\">: expected a link count from 1 to 1024"},
      {"<system><cpu>\n<pci busid=\"0000:01:00.0\" class=\"0x030200\"><gpu/>\n<nic/></pci></cpu></system>",
       "line 3: <nic> inside <pci busid=\"0000:01:00.0\">, which is a GPU"},
      {"<topo/>", "line 1: root element <topo> is neither NCCL topology XML (<system>) nor hwloc XML (<topology>)"},
  };
  for (const Case& c : cases) {
    auto r = parseTopologyXml(c.text);
    ASSERT_FALSE(r.isOk()) << c.text;
    EXPECT_EQ(r.status().message(), c.expected);
  }
}

// Mutates real and fixture files and checks the reader either accepts the result
// or refuses it with a line number — and that whatever it accepts writes back cleanly.
TEST(NcclTopology, FuzzedFilesNeverCrashAndFailWithALineNumber) {
  std::vector<fs::path> files = topo_test::xmlFilesIn(topo_test::fixturesDir());
  if (fs::is_directory(topo_test::sharedTopologiesDir())) {
    for (const fs::path& p : topo_test::xmlFilesIn(topo_test::sharedTopologiesDir())) files.push_back(p);
  }
  ASSERT_GE(files.size(), 2u);
  constexpr int kIterationsPerFile = 1000;
  // Characters that steer a mutation into the parser's interesting states.
  const std::string kAlphabet = "<>/=\"'&;!-?[] \n\t#x0123456789abcdefgpuinvlk:.";
  int accepted = 0, refused = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string original = topo_test::readFile(files[f]);
    ASSERT_FALSE(original.empty()) << files[f];
    std::mt19937_64 rng(0x10015eedULL + f);  // fixed seeds: a failure reproduces
    auto below = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
    for (int it = 0; it < kIterationsPerFile; ++it) {
      std::string text = original;
      int mutations = 1 + static_cast<int>(below(3));
      for (int m = 0; m < mutations; ++m) {
        switch (below(6)) {
          case 0:  // flip one bit
            if (!text.empty()) text[below(text.size())] ^= static_cast<char>(1u << below(8));
            break;
          case 1:  // overwrite a byte with anything
            if (!text.empty()) text[below(text.size())] = static_cast<char>(below(256));
            break;
          case 2:  // truncate
            text.resize(below(text.size() + 1));
            break;
          case 3: {  // duplicate a slice somewhere else
            size_t from = below(text.size() + 1);
            size_t len = below(std::min<size_t>(200, text.size() - from + 1));
            std::string slice = text.substr(from, len);
            text.insert(below(text.size() + 1), slice);
            break;
          }
          case 4: {  // insert a few syntax characters
            std::string junk;
            for (size_t k = 0, n = 1 + below(4); k < n; ++k) junk += kAlphabet[below(kAlphabet.size())];
            text.insert(below(text.size() + 1), junk);
            break;
          }
          case 5:  // delete a slice
            if (!text.empty()) {
              size_t from = below(text.size());
              text.erase(from, below(std::min<size_t>(64, text.size() - from) + 1));
            }
            break;
        }
      }
      auto r = parseTopologyXml(text);
      if (!r.isOk()) {
        ++refused;
        ASSERT_TRUE(topo_test::hasLineNumber(r.status().message()))
            << files[f].filename() << " iteration " << it << ": " << r.status().message();
        continue;
      }
      ++accepted;
      (void)summarize(r.value()).toString(r.value());
      std::string written = writeNcclTopology(r.value());
      auto back = parseTopologyXml(written);
      ASSERT_TRUE(back.isOk()) << files[f].filename() << " iteration " << it << ": " << back.status().message()
                               << "\n--- input ---\n" << text << "\n--- written ---\n" << written;
      // Only NCCL input must come back equal; hwloc input loses what NCCL XML cannot say.
      if (parseXml(text).value().name == "system") {
        std::string difference;
        ASSERT_TRUE(r.value().sameAs(back.value(), &difference))
            << files[f].filename() << " iteration " << it << ": " << difference << "\n--- input ---\n" << text;
      }
    }
  }
  // Both outcomes must actually occur, or the test is not exercising anything.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
  std::printf("fuzz: %zu files x %d mutations: %d accepted, %d refused\n", files.size(), kIterationsPerFile,
              accepted, refused);
}

}  // namespace
}  // namespace loom
