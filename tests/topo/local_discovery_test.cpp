#include "topo/local_discovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "common/config.h"
#include "topo/link_bandwidth.h"
#include "topo/nccl_topology.h"
#include "topo/sysfs_nics.h"
#include "topo/topo_test_paths.h"
#include "topo/topology_file.h"
#include "topo/topology_summary.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

bool anyNoteContains(const TopologyGraph& g, const std::string& text) {
  for (const std::string& n : g.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string allNotes(const TopologyGraph& g) {
  std::string out;
  for (const std::string& n : g.notes) out += "  " + n + "\n";
  return out;
}

// The port node called `name`, or -1.
int portNamed(const TopologyGraph& g, const std::string& name) {
  for (int n : g.nodesOfKind(NodeKind::kNetPort)) {
    if (g.node(n).name == name) return n;
  }
  return -1;
}

double netLinkGBs(const TopologyGraph& g, int port) {
  for (int l : g.linksOf(port)) {
    if (g.links()[static_cast<size_t>(l)].kind == LinkKind::kNet) return g.links()[static_cast<size_t>(l)].bandwidthGBs;
  }
  return -1;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("loom-discovery-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void writeFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A fake sysfs tree under a temporary directory, shaped like the kernel's.
class FakeSysfs {
 public:
  const std::string root() const { return dir_.path().string(); }

  // A PCI function directory under devices/ (`chain` from the root port down,
  // e.g. {"0000:00:01.0", "0000:17:00.0"}); returns its path.
  fs::path pciDevice(const std::vector<std::string>& chain, const std::string& numaNode = "-1") {
    fs::path dir = dir_.path() / "devices" / "pci0000:00";
    for (const std::string& c : chain) dir /= c;
    fs::create_directories(dir);
    writeFile(dir / "class", "0x020000\n");
    writeFile(dir / "vendor", "0x15b3\n");
    writeFile(dir / "device", "0x1021\n");
    writeFile(dir / "numa_node", numaNode + "\n");
    writeFile(dir / "current_link_speed", "16.0 GT/s PCIe\n");
    writeFile(dir / "current_link_width", "8\n");
    return dir;
  }

  // class/net/<name>; `device` is where its device link points (empty: a virtual interface).
  void interface(const std::string& name, const std::string& speed, const std::optional<fs::path>& device,
                 const std::string& operstate = "up") {
    fs::path dir = dir_.path() / "class" / "net" / name;
    fs::create_directories(dir);
    if (!speed.empty()) writeFile(dir / "speed", speed + "\n");
    writeFile(dir / "operstate", operstate + "\n");
    // Relative, as the kernel makes them.
    if (device) fs::create_directory_symlink(fs::relative(*device, dir), dir / "device");
  }

  void infiniband(const std::string& name, const fs::path& device, const std::string& rate,
                  const std::string& state = "4: ACTIVE") {
    fs::path dir = dir_.path() / "class" / "infiniband" / name;
    fs::create_directories(dir / "ports" / "1");
    writeFile(dir / "ports" / "1" / "rate", rate + "\n");
    writeFile(dir / "ports" / "1" / "state", state + "\n");
    fs::create_directory_symlink(fs::relative(device, dir), dir / "device");
  }

  void numaNode(int id, const std::string& cpulist) {
    writeFile(dir_.path() / "devices" / "system" / "node" / ("node" + std::to_string(id)) / "cpulist", cpulist + "\n");
  }

 private:
  TempDir dir_;
};

DiscoveryOptions sysfsOnly(const std::string& root) {
  DiscoveryOptions o;
  o.sysfsRoot = root;
  o.useHwloc = false;
  o.useNvml = false;
  return o;
}

// Sets topology variables for one test and puts the environment (and config) back after.
class TopoEnv {
 public:
  TopoEnv() {
    for (const char* name : kNames) {
      const char* v = std::getenv(name);
      if (v != nullptr) saved_[name] = v;
      unsetenv(name);
    }
  }
  ~TopoEnv() {
    for (const char* name : kNames) {
      auto it = saved_.find(name);
      if (it != saved_.end()) {
        setenv(name, it->second.c_str(), 1);
      } else {
        unsetenv(name);
      }
    }
    reloadConfigForTesting();
  }
  void set(const char* name, const std::string& value) {
    setenv(name, value.c_str(), 1);
    reloadConfigForTesting();
  }

 private:
  static constexpr const char* kNames[] = {"LOOM_TOPO_FILE", "NCCL_TOPO_FILE", "LOOM_TOPO_DUMP_FILE",
                                           "NCCL_TOPO_DUMP_FILE"};
  std::map<std::string, std::string> saved_;
};

std::string fixture(const std::string& name) { return (topo_test::fixturesDir() / name).string(); }

// --- this machine ---

TEST(LocalDiscovery, ThisMachineHasCpusAndNoGpu) {
  TopologyGraph g = discoverLocalTopology();
  std::cout << summarize(g).toString(g) << "notes:\n" << allNotes(g);
  EXPECT_GE(g.count(NodeKind::kCpu), 1);
  // The test machine has no GPU (and no NVML); a GPU here would be a discovery bug.
  EXPECT_EQ(g.count(NodeKind::kGpu), 0);
  for (const TopoNode& n : g.nodes()) EXPECT_EQ(n.hostIndex, 0);
  for (const TopoLink& l : g.links()) EXPECT_GT(l.bandwidthGBs, 0) << linkKindName(l.kind);
  // hwloc does not know port speeds: sysfs (or the stated default) must have filled every one.
  for (int p : g.nodesOfKind(NodeKind::kNetPort)) EXPECT_GT(g.node(p).net.speedMbps, 0) << g.node(p).name;
  for (int c : g.nodesOfKind(NodeKind::kCpu)) EXPECT_FALSE(g.node(c).cpu.arch.empty());
}

TEST(LocalDiscovery, ThisMachineFromSysfsAlone) {
  TopologyGraph g = discoverLocalTopology(sysfsOnly("/sys"));
  std::cout << summarize(g).toString(g) << "notes:\n" << allNotes(g);
  EXPECT_GE(g.count(NodeKind::kCpu), 1);
  EXPECT_EQ(g.count(NodeKind::kGpu), 0);
  EXPECT_TRUE(anyNoteContains(g, "hwloc not used"));
  for (int n : g.nodesOfKind(NodeKind::kCpu)) EXPECT_FALSE(g.node(n).cpu.affinity.empty());
}

TEST(LocalDiscovery, WithoutNvmlLibrarySaysSo) {
  DiscoveryOptions o;
  o.useHwloc = false;
  TopologyGraph g = discoverLocalTopology(o);
  if (anyNoteContains(g, "NVML reports") || g.count(NodeKind::kGpu) > 0) GTEST_SKIP() << "NVML is installed here";
  EXPECT_TRUE(anyNoteContains(g, "NVML not available (libnvidia-ml.so.1 not found): no GPUs discovered"))
      << allNotes(g);
}

TEST(LocalDiscovery, NonexistentSysfsStillGivesOneCpu) {
  TopologyGraph g = discoverLocalTopology(sysfsOnly("/nonexistent/loom-sysfs"));
  EXPECT_EQ(g.count(NodeKind::kCpu), 1);
  EXPECT_EQ(g.count(NodeKind::kNic), 0);
  EXPECT_TRUE(anyNoteContains(g, "assumed one CPU node")) << allNotes(g);
  EXPECT_TRUE(anyNoteContains(g, "no network interface besides loopback")) << allNotes(g);
}

// --- a fake sysfs ---

TEST(LocalDiscovery, FakeSysfsNicsAndSpeeds) {
  FakeSysfs sys;
  sys.interface("eth0", "25000", sys.pciDevice({"0000:00:05.0"}));
  sys.interface("lo", "", std::nullopt, "unknown");
  // A virtio NIC: the device link points at virtioN under the PCI function, and speed is -1.
  fs::path virtio = sys.pciDevice({"0000:00:06.0"}) / "virtio3";
  fs::create_directories(virtio);
  sys.interface("eth1", "-1", virtio);
  sys.interface("veth1234", "10000", std::nullopt);
  sys.infiniband("mlx5_0", sys.pciDevice({"0000:00:01.0", "0000:17:00.0"}), "400 Gb/sec (4X NDR)");

  TopologyGraph g = discoverLocalTopology(sysfsOnly(sys.root()));
  SCOPED_TRACE(allNotes(g));
  EXPECT_EQ(g.count(NodeKind::kCpu), 1);
  EXPECT_EQ(g.count(NodeKind::kGpu), 0);
  EXPECT_EQ(g.count(NodeKind::kNic), 3);
  EXPECT_EQ(g.count(NodeKind::kNetPort), 3);
  EXPECT_EQ(portNamed(g, "lo"), -1);
  EXPECT_EQ(portNamed(g, "veth1234"), -1);

  int eth0 = portNamed(g, "eth0");
  ASSERT_GE(eth0, 0);
  EXPECT_EQ(g.node(eth0).net.speedMbps, 25000);
  EXPECT_DOUBLE_EQ(netLinkGBs(g, eth0), netBandwidthGBs(25000));
  int eth0Nic = g.node(eth0).parent;
  EXPECT_EQ(g.node(eth0Nic).kind, NodeKind::kNic);
  EXPECT_EQ(g.node(eth0Nic).busId, "0000:00:05.0");
  EXPECT_EQ(g.node(eth0Nic).pci.classCode, "0x020000");
  EXPECT_EQ(g.node(g.node(eth0Nic).parent).kind, NodeKind::kCpu);
  int pcie = g.findLink(eth0Nic, g.node(eth0Nic).parent, LinkKind::kPcie);
  ASSERT_GE(pcie, 0);
  EXPECT_EQ(g.links()[static_cast<size_t>(pcie)].pcieGen, 4);
  EXPECT_EQ(g.links()[static_cast<size_t>(pcie)].pcieWidth, 8);

  int eth1 = portNamed(g, "eth1");
  ASSERT_GE(eth1, 0);
  EXPECT_EQ(g.node(eth1).net.speedMbps, kAssumedInterfaceMbps);
  EXPECT_EQ(g.node(g.node(eth1).parent).busId, "0000:00:06.0");
  EXPECT_TRUE(anyNoteContains(g, "eth1: sysfs gives no link speed"));

  int ib = portNamed(g, "mlx5_0");
  ASSERT_GE(ib, 0);
  EXPECT_EQ(g.node(ib).net.speedMbps, 400000);
  EXPECT_EQ(g.node(ib).net.port, 1);
  int ibNic = g.node(ib).parent;
  EXPECT_EQ(g.node(ibNic).busId, "0000:17:00.0");
  // The bridge above it becomes a PCI switch, so path types (PIX/PXB) come out right without hwloc.
  int bridge = g.node(ibNic).parent;
  EXPECT_EQ(g.node(bridge).kind, NodeKind::kPciSwitch);
  EXPECT_EQ(g.node(bridge).busId, "0000:00:01.0");
  EXPECT_EQ(g.count(NodeKind::kPciSwitch), 1);

  EXPECT_TRUE(anyNoteContains(g, "virtual interfaces left out"));
  EXPECT_TRUE(anyNoteContains(g, "veth1234"));
  EXPECT_TRUE(anyNoteContains(g, "assumed one CPU node"));
  EXPECT_TRUE(anyNoteContains(g, "NVML not used"));
  EXPECT_FALSE(anyNoteContains(g, "eth0: sysfs gives no link speed"));
}

TEST(LocalDiscovery, FakeSysfsOnlyVirtualInterfacesAreKept) {
  FakeSysfs sys;
  sys.interface("eth0", "10000", std::nullopt, "up");  // a container's veth
  sys.interface("docker0", "", std::nullopt, "down");
  TopologyGraph g = discoverLocalTopology(sysfsOnly(sys.root()));
  SCOPED_TRACE(allNotes(g));
  ASSERT_EQ(g.count(NodeKind::kNic), 1);
  int port = portNamed(g, "eth0");
  ASSERT_GE(port, 0);
  EXPECT_EQ(g.node(port).net.speedMbps, 10000);
  EXPECT_TRUE(g.node(g.node(port).parent).busId.empty());
  EXPECT_TRUE(anyNoteContains(g, "no NIC with a device behind it"));
}

TEST(LocalDiscovery, FakeSysfsNumaNodes) {
  FakeSysfs sys;
  sys.numaNode(0, "0-3");
  sys.numaNode(1, "4-7,40");
  sys.numaNode(2, "");  // memory only
  sys.interface("eth0", "100000", sys.pciDevice({"0000:80:02.0"}, "1"));
  TopologyGraph g = discoverLocalTopology(sysfsOnly(sys.root()));
  SCOPED_TRACE(allNotes(g));
  std::vector<int> cpus = g.nodesOfKind(NodeKind::kCpu);
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(g.node(cpus[0]).numaId, 0);
  EXPECT_EQ(g.node(cpus[0]).cpu.affinity, "0000000f");
  EXPECT_EQ(g.node(cpus[1]).numaId, 1);
  EXPECT_EQ(g.node(cpus[1]).cpu.affinity, "00000100,000000f0");
  EXPECT_GE(g.findLink(cpus[0], cpus[1], LinkKind::kSys), 0);
  EXPECT_TRUE(anyNoteContains(g, "node2"));
  // The NIC's numa_node puts it under socket 1.
  int port = portNamed(g, "eth0");
  ASSERT_GE(port, 0);
  EXPECT_EQ(g.node(g.node(port).parent).parent, cpus[1]);
  EXPECT_EQ(g.node(port).numaId, 1);
}

TEST(LocalDiscovery, FakeSysfsInactiveInfinibandPortLeftOut) {
  FakeSysfs sys;
  sys.infiniband("mlx5_0", sys.pciDevice({"0000:17:00.0"}), "400 Gb/sec (4X NDR)", "1: DOWN");
  TopologyGraph g = discoverLocalTopology(sysfsOnly(sys.root()));
  EXPECT_EQ(g.count(NodeKind::kNic), 0);
  EXPECT_TRUE(anyNoteContains(g, "mlx5_0 port 1 (DOWN)")) << allNotes(g);
}

TEST(LocalDiscovery, InfinibandRates) {
  EXPECT_EQ(parseInfinibandRateMbps("400 Gb/sec (4X NDR)"), 400000);
  EXPECT_EQ(parseInfinibandRateMbps("2.5 Gb/sec (1X SDR)"), 2500);
  EXPECT_EQ(parseInfinibandRateMbps("56 Gb/sec (4X FDR)"), 56000);
  EXPECT_EQ(parseInfinibandRateMbps(""), -1);
  EXPECT_EQ(parseInfinibandRateMbps("fast"), -1);
  EXPECT_EQ(parseInfinibandRateMbps("100 Mb/sec"), -1);
}

// --- LOOM_TOPO_FILE / LOOM_TOPO_DUMP_FILE ---

TEST(LocalTopology, LoomTopoFileIsLoaded) {
  TopoEnv env;
  env.set("LOOM_TOPO_FILE", fixture("four-gpu-nvlink-mesh-topo.xml"));
  auto r = localTopology();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  auto direct = loadTopologyFile(fixture("four-gpu-nvlink-mesh-topo.xml"));
  ASSERT_TRUE(direct.isOk());
  std::string difference;
  EXPECT_TRUE(r->sameAs(*direct, &difference)) << difference;
  EXPECT_EQ(r->count(NodeKind::kGpu), 4);
}

TEST(LocalTopology, NcclTopoFileIsAccepted) {
  TopoEnv env;
  env.set("NCCL_TOPO_FILE", fixture("four-gpu-nvlink-mesh-topo.xml"));
  auto r = localTopology();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->count(NodeKind::kGpu), 4);
}

TEST(LocalTopology, LoomTopoFileWinsOverNccl) {
  TopoEnv env;
  env.set("NCCL_TOPO_FILE", "/nonexistent/nccl-topo.xml");
  env.set("LOOM_TOPO_FILE", fixture("four-gpu-nvlink-mesh-topo.xml"));
  auto r = localTopology();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->count(NodeKind::kGpu), 4);
}

TEST(LocalTopology, MalformedFileNamesFileAndLine) {
  TempDir dir;
  fs::path file = dir.path() / "broken-topo.xml";
  writeFile(file, "<system version=\"1\">\n  <cpu numaid=\"0\">\n    <pci busid=\"0000:01:00.0\">\n</system>\n");
  TopoEnv env;
  env.set("LOOM_TOPO_FILE", file.string());
  auto r = localTopology();
  ASSERT_FALSE(r.isOk());
  const std::string message = r.status().message();
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_TRUE(topo_test::hasLineNumber(message)) << message;
}

TEST(LocalTopology, MissingFileIsAnErrorNamingIt) {
  TopoEnv env;
  env.set("LOOM_TOPO_FILE", "/nonexistent/loom-topo.xml");
  auto r = localTopology();
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("/nonexistent/loom-topo.xml"), std::string::npos) << r.status().message();
}

TEST(LocalTopology, DumpOfFileLoadsBackTheSame) {
  TempDir dir;
  fs::path dump = dir.path() / "dump.xml";
  TopoEnv env;
  env.set("LOOM_TOPO_FILE", fixture("four-gpu-nvlink-mesh-topo.xml"));
  env.set("LOOM_TOPO_DUMP_FILE", dump.string());
  auto r = localTopology();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  auto back = loadTopologyFile(dump.string());
  ASSERT_TRUE(back.isOk()) << back.status().message();
  std::string difference;
  EXPECT_TRUE(back->sameAs(*r, &difference)) << difference;
}

TEST(LocalTopology, DumpOfDiscoveryLoadsBack) {
  TempDir dir;
  fs::path dump = dir.path() / "dump.xml";
  TopoEnv env;
  env.set("NCCL_TOPO_DUMP_FILE", dump.string());
  auto r = localTopology();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  auto back = loadTopologyFile(dump.string());
  ASSERT_TRUE(back.isOk()) << back.status().message() << "\n" << topo_test::readFile(dump);
  EXPECT_EQ(back->count(NodeKind::kCpu), r->count(NodeKind::kCpu));
  EXPECT_EQ(back->count(NodeKind::kNic), r->count(NodeKind::kNic));
  EXPECT_EQ(back->count(NodeKind::kNetPort), r->count(NodeKind::kNetPort));
  EXPECT_EQ(back->count(NodeKind::kGpu), 0);
}

TEST(LocalTopology, FakeSysfsDiscoveryDumpLoadsBack) {
  // Discovery output with every kind of NIC placement, through the NCCL writer and reader.
  FakeSysfs sys;
  sys.numaNode(0, "0-3");
  sys.numaNode(1, "4-7");
  sys.interface("eth0", "25000", sys.pciDevice({"0000:00:05.0"}, "0"));
  sys.infiniband("mlx5_0", sys.pciDevice({"0000:80:01.0", "0000:81:00.0"}, "1"), "200 Gb/sec (4X HDR)");
  TopologyGraph g = discoverLocalTopology(sysfsOnly(sys.root()));
  auto back = parseTopologyXml(writeNcclTopology(g));
  ASSERT_TRUE(back.isOk()) << back.status().message() << "\n" << writeNcclTopology(g);
  EXPECT_EQ(back->count(NodeKind::kCpu), 2);
  EXPECT_EQ(back->count(NodeKind::kNic), 2);
  EXPECT_EQ(back->count(NodeKind::kPciSwitch), 1);
  int ib = portNamed(*back, "mlx5_0");
  ASSERT_GE(ib, 0);
  EXPECT_EQ(back->node(ib).net.speedMbps, 200000);
}

TEST(LocalTopology, UnwritableDumpPathIsAnErrorNamingIt) {
  TopoEnv env;
  env.set("LOOM_TOPO_FILE", fixture("four-gpu-nvlink-mesh-topo.xml"));
  env.set("LOOM_TOPO_DUMP_FILE", "/nonexistent/dir/dump.xml");
  auto r = localTopology();
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("/nonexistent/dir/dump.xml"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace loom
