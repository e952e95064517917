#include "topo/sysfs_nics.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>
#include <utility>

#include "topo/link_bandwidth.h"

namespace loom {
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> subdirectories(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

// What is behind a class device: its `device` link, resolved. Virtual devices have none.
void readBacking(const fs::path& classDir, SysfsNetDevice& d) {
  fs::path device = resolveSysfsLink(classDir / "device");
  d.isVirtual = device.empty();
  if (!d.isVirtual) d.pci = readSysfsPciFunction(device);
}

SysfsNetDevice readInterface(const fs::path& dir) {
  SysfsNetDevice d;
  d.name = dir.filename().string();
  readBacking(dir, d);
  d.state = readSysfsAttribute(dir / "operstate");
  // speed is in Mb/s; virtio reports -1 and a down link refuses the read.
  std::string speed = readSysfsAttribute(dir / "speed");
  if (!speed.empty()) d.speedMbps = std::max(-1, std::atoi(speed.c_str()));
  if (d.speedMbps == 0) d.speedMbps = -1;
  return d;
}

void readInfinibandDevice(const fs::path& dir, std::vector<SysfsNetDevice>& out) {
  SysfsNetDevice base;
  base.name = dir.filename().string();
  base.infiniband = true;
  readBacking(dir, base);
  for (const fs::path& portDir : subdirectories(dir / "ports")) {
    SysfsNetDevice d = base;
    d.port = std::atoi(portDir.filename().string().c_str());
    if (d.port <= 0) continue;
    d.speedMbps = parseInfinibandRateMbps(readSysfsAttribute(portDir / "rate"));
    // "4: ACTIVE" -> "ACTIVE"
    std::string state = readSysfsAttribute(portDir / "state");
    size_t colon = state.find(':');
    size_t start = colon == std::string::npos ? 0 : state.find_first_not_of(' ', colon + 1);
    d.state = start == std::string::npos ? "" : state.substr(start);
    out.push_back(std::move(d));
  }
}

std::string joinNames(const std::vector<const SysfsNetDevice*>& devices) {
  std::string out;
  for (const SysfsNetDevice* d : devices) out += (out.empty() ? "" : ", ") + d->name;
  return out;
}

std::string portLabel(const SysfsNetDevice& d) {
  return d.infiniband ? d.name + " port " + std::to_string(d.port) : d.name;
}

class NicMerger {
 public:
  explicit NicMerger(TopologyGraph& graph) : g_(graph) {}

  void merge(const SysfsNetDevice& d) {
    int speed = d.speedMbps;
    if (speed <= 0) {
      speed = d.infiniband ? kAssumedInfinibandMbps : kAssumedInterfaceMbps;
      g_.notes.push_back(portLabel(d) + ": sysfs gives no link speed (virtual machine, or link down); assumed " +
                         std::to_string(speed) + " Mb/s");
    }
    int port = existingPort(d);
    if (port >= 0) {
      updatePort(port, d, speed);
      return;
    }
    int nic = -1;
    if (d.pci) {
      nic = g_.findByBusId(d.pci->busId);
      if (nic >= 0 && g_.node(nic).kind != NodeKind::kNic) {
        g_.notes.push_back(portLabel(d) + ": its PCI function " + d.pci->busId + " is already a " +
                           nodeKindName(g_.node(nic).kind) + " in the graph; left out");
        return;
      }
      if (nic < 0) {
        TopoNode node;
        node.kind = NodeKind::kNic;
        node.name = "NIC " + d.pci->busId;
        nic = addSysfsPciNode(g_, *d.pci, std::move(node), &assumedPcieLinks_);
      }
    } else {
      // A virtual or platform device: no bus to describe, so it hangs off a CPU as NCCL's bare <nic> does.
      TopoNode node;
      node.kind = NodeKind::kNic;
      node.name = "NIC " + d.name;
      node.parent = cpuForNuma(g_, -1);
      node.numaId = node.parent >= 0 ? g_.node(node.parent).numaId : -1;
      int parent = node.parent;
      nic = g_.addNode(std::move(node));
      addPcieLink(g_, nic, parent, PciInfo{}, nullptr);
    }
    TopoNode p;
    p.kind = NodeKind::kNetPort;
    p.name = d.name;
    p.parent = nic;
    p.numaId = g_.node(nic).numaId;
    int index = g_.addNode(std::move(p));
    TopoLink link;
    link.a = index;
    link.b = nic;
    link.kind = LinkKind::kNet;
    link.latencyUs = kDefaultNetLatencyUs;
    g_.addLink(link);
    updatePort(index, d, speed);
  }

  int assumedPcieLinks() const { return assumedPcieLinks_; }

 private:
  // A port hwloc already reported: same OS device name, not yet claimed by an
  // earlier port of the same InfiniBand device (hwloc lists the device once).
  int existingPort(const SysfsNetDevice& d) {
    for (int n : g_.nodesOfKind(NodeKind::kNetPort)) {
      const TopoNode& node = g_.node(n);
      if (node.name != d.name || claimed_.count(n) != 0) continue;
      if (node.net.port >= 0 && node.net.port != d.port) continue;
      return n;
    }
    return -1;
  }

  void updatePort(int port, const SysfsNetDevice& d, int speed) {
    claimed_.insert(port);
    TopoNode& node = g_.mutableNode(port);
    if (d.port > 0) node.net.port = d.port;
    node.net.speedMbps = speed;
    for (int l : g_.linksOf(port)) {
      TopoLink& link = g_.mutableLink(l);
      if (link.kind == LinkKind::kNet) link.bandwidthGBs = netBandwidthGBs(speed);
    }
  }

  TopologyGraph& g_;
  std::set<int> claimed_;
  int assumedPcieLinks_ = 0;
};

}  // namespace

int parseInfinibandRateMbps(const std::string& rate) {
  const char* begin = rate.c_str();
  char* end = nullptr;
  double gbs = std::strtod(begin, &end);
  if (end == begin || gbs <= 0) return -1;
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  if (unit.rfind("Gb/sec", 0) != 0 && unit.rfind("Gb/s", 0) != 0) return -1;
  return static_cast<int>(gbs * 1000.0 + 0.5);
}

std::vector<SysfsNetDevice> readSysfsNetDevices(const std::string& sysfsRoot) {
  std::vector<SysfsNetDevice> out;
  fs::path root(sysfsRoot);
  for (const fs::path& dir : subdirectories(root / "class" / "net")) {
    if (dir.filename() == "lo") continue;
    out.push_back(readInterface(dir));
  }
  for (const fs::path& dir : subdirectories(root / "class" / "infiniband")) readInfinibandDevice(dir, out);
  std::sort(out.begin(), out.end(), [](const SysfsNetDevice& a, const SysfsNetDevice& b) {
    return std::tie(a.name, a.port) < std::tie(b.name, b.port);
  });
  return out;
}

void addSysfsNics(TopologyGraph& graph, const std::string& sysfsRoot) {
  std::vector<SysfsNetDevice> devices = readSysfsNetDevices(sysfsRoot);
  std::vector<const SysfsNetDevice*> physical, virtuals, inactive;
  for (const SysfsNetDevice& d : devices) {
    // An InfiniBand port that is not ACTIVE cannot carry traffic; NCCL skips it too.
    if (d.infiniband && !d.state.empty() && d.state != "ACTIVE") {
      inactive.push_back(&d);
      continue;
    }
    (d.isVirtual ? virtuals : physical).push_back(&d);
  }
  if (!inactive.empty()) {
    std::string names;
    for (const SysfsNetDevice* d : inactive) names += (names.empty() ? "" : ", ") + portLabel(*d) + " (" + d->state + ")";
    graph.notes.push_back("InfiniBand ports that are not ACTIVE left out: " + names);
  }

  std::vector<const SysfsNetDevice*> chosen = physical;
  if (physical.empty() && !virtuals.empty()) {
    // A container's only interface is often a veth: then it is the NIC traffic
    // really leaves through. Prefer the ones that are up; with none up, keep all
    // rather than leave the host with no network device.
    for (const SysfsNetDevice* d : virtuals) {
      if (d->state == "up" || d->state == "unknown") chosen.push_back(d);
    }
    if (chosen.empty()) chosen = virtuals;
    graph.notes.push_back("no NIC with a device behind it; using the virtual interface(s) " + joinNames(chosen) +
                          " (PCIe placement and bandwidth unknown)");
  } else if (!virtuals.empty()) {
    graph.notes.push_back("virtual interfaces left out (no device behind them, e.g. veth, bridge, bond): " +
                          joinNames(virtuals));
  }
  if (devices.empty()) graph.notes.push_back("no network interface besides loopback in " + sysfsRoot + "/class/net");

  NicMerger merger(graph);
  for (const SysfsNetDevice* d : chosen) merger.merge(*d);
  if (merger.assumedPcieLinks() > 0) {
    graph.notes.push_back(std::to_string(merger.assumedPcieLinks()) +
                          " PCIe link(s) of NICs have no speed or width in sysfs; assumed Gen" +
                          std::to_string(kDefaultPcieGen) + " x" + std::to_string(kDefaultPcieWidth));
  }
}

}  // namespace loom
