#include "topo/sysfs_pci.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "topo/link_bandwidth.h"

namespace loom {
namespace fs = std::filesystem;

namespace {

// A path component is a PCI function when it is a full bus id ("0000:3b:00.0");
// "pci0000:00", the root complex, is not.
std::string busIdOfComponent(const std::string& name) {
  size_t colons = 0;
  for (char c : name) colons += c == ':';
  return colons == 2 ? normalizeBusId(name) : "";
}

SysfsPciFunction readFunction(const fs::path& dir, const std::string& busId) {
  SysfsPciFunction f;
  f.dir = dir;
  f.busId = busId;
  f.pci.classCode = readSysfsAttribute(dir / "class");
  f.pci.vendor = readSysfsAttribute(dir / "vendor");
  f.pci.device = readSysfsAttribute(dir / "device");
  f.pci.subsystemVendor = readSysfsAttribute(dir / "subsystem_vendor");
  f.pci.subsystemDevice = readSysfsAttribute(dir / "subsystem_device");
  f.pci.linkSpeed = readSysfsAttribute(dir / "current_link_speed");
  f.pci.linkWidth = readSysfsAttribute(dir / "current_link_width");
  // Links that never trained report "Unknown" / 0: keep them out rather than write nonsense back.
  if (pcieGenFromLinkSpeed(f.pci.linkSpeed) == 0) f.pci.linkSpeed.clear();
  if (std::atoi(f.pci.linkWidth.c_str()) <= 0) f.pci.linkWidth.clear();
  std::string numa = readSysfsAttribute(dir / "numa_node");
  if (!numa.empty()) f.numaId = std::atoi(numa.c_str());
  if (f.numaId < 0) f.numaId = -1;
  return f;
}

}  // namespace

std::string readSysfsAttribute(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}

fs::path resolveSysfsLink(const fs::path& link) {
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return {};
  if (target.is_relative()) {
    // Relative to the link's real directory: /sys/class/net/eth0 is itself a
    // symlink into /sys/devices, and "../../../virtio2" only makes sense from there.
    fs::path base = fs::canonical(link.parent_path(), ec);
    if (ec) base = link.parent_path();
    target = base / target;
  }
  target = target.lexically_normal();
  fs::path resolved = fs::weakly_canonical(target, ec);
  return ec ? target : resolved;
}

std::optional<SysfsPciFunction> readSysfsPciFunction(const fs::path& deviceDir) {
  std::vector<std::pair<fs::path, std::string>> chain;  // PCI components, top first
  fs::path prefix;
  for (const fs::path& part : deviceDir) {
    prefix /= part;
    std::string busId = busIdOfComponent(part.string());
    if (!busId.empty()) chain.emplace_back(prefix, busId);
  }
  if (chain.empty()) return std::nullopt;
  SysfsPciFunction f = readFunction(chain.back().first, chain.back().second);
  for (size_t i = 0; i + 1 < chain.size(); ++i) f.bridges.push_back(readFunction(chain[i].first, chain[i].second));
  return f;
}

int cpuForNuma(const TopologyGraph& graph, int numaId) {
  std::vector<int> cpus = graph.nodesOfKind(NodeKind::kCpu);
  for (int c : cpus) {
    if (numaId >= 0 && graph.node(c).numaId == numaId) return c;
  }
  return cpus.empty() ? -1 : cpus.front();
}

void addPcieLink(TopologyGraph& graph, int child, int parent, const PciInfo& pci, int* assumedLinks) {
  if (parent < 0) return;
  TopoLink link;
  link.a = child;
  link.b = parent;
  link.kind = LinkKind::kPcie;
  link.pcieGen = pcieGenFromLinkSpeed(pci.linkSpeed);
  link.pcieWidth = std::atoi(pci.linkWidth.c_str());
  if (link.pcieGen == 0 || link.pcieWidth <= 0) {
    if (assumedLinks != nullptr) ++*assumedLinks;
    link.pcieWidth = std::max(link.pcieWidth, 0);
  }
  link.bandwidthGBs = pcieBandwidthGBs(link.pcieGen, link.pcieWidth);
  link.latencyUs = kPcieLatencyUs;
  graph.addLink(link);
}

int addSysfsPciNode(TopologyGraph& graph, const SysfsPciFunction& function, TopoNode node, int* assumedLinks) {
  int cpu = cpuForNuma(graph, function.numaId);
  int parent = cpu;
  for (const SysfsPciFunction& bridge : function.bridges) {
    int existing = graph.findByBusId(bridge.busId);
    if (existing >= 0) {
      parent = existing;
      continue;
    }
    TopoNode sw;
    sw.kind = NodeKind::kPciSwitch;
    sw.busId = bridge.busId;
    sw.name = "PCI " + bridge.busId;
    sw.pci = bridge.pci;
    sw.parent = parent;
    sw.numaId = cpu >= 0 ? graph.node(cpu).numaId : -1;
    int index = graph.addNode(std::move(sw));
    addPcieLink(graph, index, parent, bridge.pci, assumedLinks);
    parent = index;
  }
  if (node.busId.empty()) node.busId = function.busId;
  if (node.pci == PciInfo{}) node.pci = function.pci;
  node.parent = parent;
  if (node.numaId < 0 && cpu >= 0) node.numaId = graph.node(cpu).numaId;
  PciInfo pci = node.pci;
  int index = graph.addNode(std::move(node));
  addPcieLink(graph, index, parent, pci, assumedLinks);
  return index;
}

}  // namespace loom
