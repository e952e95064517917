#include "topo/synthetic_systems.h"

#include <cstdint>
#include <cstdio>

#include "topo/link_bandwidth.h"

namespace loom {
namespace {

constexpr int kMaxHosts = 4096;

// PCI class codes as NCCL topology files write them.
constexpr const char* kClassBridge = "0x060400";
constexpr const char* kClassGpu = "0x030200";
constexpr const char* kClassInfiniBand = "0x020700";
constexpr const char* kClassEthernet = "0x020000";
constexpr const char* kClassNvSwitch = "0x068000";

// Bus numbers are laid out so that devices and NVSwitches of one host never collide:
// PCIe group g uses buses 0x10*(g+1) .. 0x10*(g+1)+0xf, NVSwitch k uses 0xc0+k.
constexpr int kGroupBusStride = 0x10;
constexpr int kNvSwitchFirstBus = 0xc0;

struct CpuModel {
  const char* arch;
  const char* vendor;
  const char* familyId;
  const char* modelId;
  int threads;  // hardware threads per socket, for the affinity mask
};

struct PciModel {
  const char* classCode;
  const char* vendor;
  const char* device;
  int gen;
  int width;
};

// What one host of a system holds. Devices come in "groups": the GPUs and NICs
// sharing one PCIe switch (or one CPU root port when there is no switch), which
// is the unit that decides PIX/PXB/PHB distances between GPUs and NICs.
struct SystemShape {
  const char* name;
  int sockets;
  int groupsPerSocket;
  bool groupBehindSwitch;
  int gpusPerGroup;
  int nicsPerGroup;
  CpuModel cpu;
  int gpuSm;
  PciModel gpu;
  PciModel nic;
  int nicSpeedMbps;
  const char* portPrefix;  // NCCL's net device names: "mlx5_0", "eth0"
  // NVLinks from each GPU to each NVSwitch of its domain; empty: no NVLink.
  std::vector<int> nvlinksPerSwitch;
  // kHost nodes per unit of SyntheticSpec::hosts; one NVLink domain spans one unit.
  int hostsPerUnit;
  double c2cGBs;  // GPU-to-own-CPU chip-to-chip bandwidth per direction; 0: none
};

const std::vector<SystemShape>& systemShapes() {
  static const std::vector<SystemShape> shapes = {
      // DGX H100: 2x Xeon 8480C (56 cores), each GPU and its ConnectX-7 behind one Gen5 switch;
      // the GPU's 18 NVLink4 links go 5,4,4,5 to the four NVSwitch chips.
      {"dgx-h100", 2, 4, true, 1, 1, {"x86_64", "GenuineIntel", "6", "143", 112}, 90,
       {kClassGpu, "0x10de", "0x2330", 5, 16}, {kClassInfiniBand, "0x15b3", "0x1021", 5, 16}, 400000, "mlx5_",
       {5, 4, 4, 5}, 1, 0},
      // DGX A100: 2x EPYC 7742 (64 cores), two GPUs and two ConnectX-6 per Gen4 switch;
      // 12 NVLink3 links per GPU, two to each of six NVSwitches.
      {"dgx-a100", 2, 2, true, 2, 2, {"x86_64", "AuthenticAMD", "23", "49", 128}, 80,
       {kClassGpu, "0x10de", "0x20b0", 4, 16}, {kClassInfiniBand, "0x15b3", "0x101b", 4, 16}, 200000, "mlx5_",
       {2, 2, 2, 2, 2, 2}, 1, 0},
      // GB200 NVL72 compute tray: 2 Grace (72 cores), each with 2 B200 over NVLink-C2C; each
      // GPU shares a Gen5 switch with its 800G NIC. 18 trays form one rack-wide NVLink domain:
      // 18 NVLink5 links per GPU, one to each of the rack's 18 NVSwitch chips.
      {"gb200-nvl72", 2, 2, true, 1, 1, {"arm64", "ARM", "", "", 72}, 100,
       {kClassGpu, "0x10de", "0x2901", 5, 16}, {kClassInfiniBand, "0x15b3", "0x1023", 5, 16}, 800000, "mlx5_",
       std::vector<int>(18, 1), 18, 450.0},
      // A PCIe server: 8 A100 PCIe, two Gen4 switches per socket with 2 GPUs and a 100G
      // ConnectX-5 each; GPUs talk only through PCIe and the CPUs.
      {"pcie-only", 2, 2, true, 2, 1, {"x86_64", "GenuineIntel", "6", "106", 80}, 80,
       {kClassGpu, "0x10de", "0x20f1", 4, 16}, {kClassInfiniBand, "0x15b3", "0x1017", 4, 16}, 100000, "mlx5_",
       {}, 1, 0},
      // A CI machine: one socket, one 25G Ethernet adapter (E810) on a root port.
      {"cpu-host", 1, 1, false, 0, 1, {"x86_64", "GenuineIntel", "6", "85", 16}, -1, {},
       {kClassEthernet, "0x8086", "0x159b", 3, 8}, 25000, "eth", {}, 1, 0},
  };
  return shapes;
}

std::string joinedNames() {
  std::string out;
  for (const SystemShape& s : systemShapes()) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

std::string busId(int bus) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0000:%02x:00.0", bus);
  return buf;
}

std::string pcieLinkSpeed(int gen) {
  switch (gen) {
    case 3: return "8.0 GT/s PCIe";
    case 4: return "16.0 GT/s PCIe";
    case 5: return "32.0 GT/s PCIe";
    default: return "";
  }
}

// NCCL's affinity format: 32-CPU hex words, most significant first, comma-separated.
std::string affinityMask(int firstCpu, int cpuCount, int totalCpus) {
  std::string out;
  for (int word = (totalCpus + 31) / 32 - 1; word >= 0; --word) {
    uint32_t bits = 0;
    for (int bit = 0; bit < 32; ++bit) {
      int cpu = word * 32 + bit;
      if (cpu >= firstCpu && cpu < firstCpu + cpuCount) bits |= 1u << bit;
    }
    char buf[12];
    std::snprintf(buf, sizeof(buf), "%08x", bits);
    if (!out.empty()) out += ',';
    out += buf;
  }
  return out;
}

class SystemBuilder {
 public:
  SystemBuilder(const SystemShape& shape, const SyntheticSpec& spec)
      : shape_(shape), network_(spec.network), hostCount_(spec.hosts * shape.hostsPerUnit) {
    int totalThreads = shape.cpu.threads * shape.sockets;
    for (int s = 0; s < shape.sockets; ++s) {
      affinities_.push_back(affinityMask(s * shape.cpu.threads, shape.cpu.threads, totalThreads));
    }
  }

  TopologyGraph build() {
    for (int host = 0; host < hostCount_; ++host) addHost(host);
    if (hostCount_ > 1) addNetwork();
    return std::move(g_);
  }

 private:
  int gpusPerHost() const { return shape_.sockets * shape_.groupsPerSocket * shape_.gpusPerGroup; }
  int nicsPerHost() const { return shape_.sockets * shape_.groupsPerSocket * shape_.nicsPerGroup; }

  // Names carry the host only when there is more than one, so one-host graphs read like NCCL's.
  std::string hostPrefix(int host) const { return hostCount_ > 1 ? "h" + std::to_string(host) + " " : ""; }

  static TopoNode node(NodeKind kind, std::string name, int host, int parent, int numaId) {
    TopoNode n;
    n.kind = kind;
    n.name = std::move(name);
    n.hostIndex = host;
    n.parent = parent;
    n.numaId = numaId;
    return n;
  }

  void addLink(int a, int b, LinkKind kind, double bandwidthGBs, double latencyUs, int count = 1) {
    TopoLink link;
    link.a = a;
    link.b = b;
    link.kind = kind;
    link.bandwidthGBs = bandwidthGBs;
    link.latencyUs = latencyUs;
    link.count = count;
    g_.addLink(link);
  }

  // A PCIe function at `bus` under `parent`, with its upstream link.
  int addPciDevice(TopoNode n, int bus, const PciModel& model) {
    n.busId = busId(bus);
    n.pci.classCode = model.classCode;
    n.pci.vendor = model.vendor == nullptr ? "" : model.vendor;
    n.pci.device = model.device == nullptr ? "" : model.device;
    n.pci.linkSpeed = pcieLinkSpeed(model.gen);
    n.pci.linkWidth = std::to_string(model.width);
    int parent = n.parent;
    int index = g_.addNode(std::move(n));
    TopoLink link;
    link.a = index;
    link.b = parent;
    link.kind = LinkKind::kPcie;
    link.pcieGen = model.gen;
    link.pcieWidth = model.width;
    link.bandwidthGBs = pcieBandwidthGBs(model.gen, model.width);
    link.latencyUs = kPcieLatencyUs;
    g_.addLink(link);
    return index;
  }

  void addHost(int host) {
    const std::string prefix = hostPrefix(host);
    g_.addNode(node(NodeKind::kHost, "host " + std::to_string(host), host, -1, -1));
    if (host % shape_.hostsPerUnit == 0) addNvSwitches(host);

    std::vector<int> cpus;
    for (int s = 0; s < shape_.sockets; ++s) {
      TopoNode cpu = node(NodeKind::kCpu, prefix + "CPU " + std::to_string(s), host, -1, s);
      cpu.cpu = {affinities_[static_cast<size_t>(s)], shape_.cpu.arch, shape_.cpu.vendor, shape_.cpu.familyId,
                 shape_.cpu.modelId};
      cpus.push_back(g_.addNode(std::move(cpu)));
    }
    // connectSocketsPairwise() joins every CPU of a graph, which would join hosts; join this host's only.
    for (size_t i = 0; i < cpus.size(); ++i) {
      for (size_t j = i + 1; j < cpus.size(); ++j) {
        addLink(cpus[i], cpus[j], LinkKind::kSys, interSocketGBs(shape_.cpu.vendor), kSysLatencyUs);
      }
    }

    int gpuIndex = 0;
    int nicIndex = 0;
    int group = 0;
    for (int s = 0; s < shape_.sockets; ++s) {
      for (int g = 0; g < shape_.groupsPerSocket; ++g, ++group) {
        int bus = kGroupBusStride * (group + 1);
        int parent = cpus[static_cast<size_t>(s)];  // devices on a root port hang off the CPU
        if (shape_.groupBehindSwitch) {
          // The switch's uplink runs at the GPUs' generation (the NIC's when there are none).
          PciModel bridge{kClassBridge, "0x1000", nullptr, shape_.gpusPerGroup > 0 ? shape_.gpu.gen : shape_.nic.gen,
                          16};
          parent = addPciDevice(node(NodeKind::kPciSwitch, prefix + "PCI switch " + std::to_string(group), host,
                                     parent, s),
                                bus, bridge);
        }
        int slot = 1;
        for (int k = 0; k < shape_.gpusPerGroup; ++k) {
          addGpu(host, s, cpus[static_cast<size_t>(s)], parent, bus + slot++, gpuIndex++);
        }
        for (int k = 0; k < shape_.nicsPerGroup; ++k) addNic(host, s, parent, bus + slot++, nicIndex++);
      }
    }
  }

  void addNvSwitches(int firstHost) {
    nvSwitches_.clear();
    // A domain spanning several hosts (an NVL72 rack) is named after its rack; its switches
    // carry the hostIndex of the rack's first tray, since hostIndex must name some host.
    std::string prefix = shape_.hostsPerUnit > 1 ? "rack " + std::to_string(firstHost / shape_.hostsPerUnit) + " "
                                                 : hostPrefix(firstHost);
    for (size_t k = 0; k < shape_.nvlinksPerSwitch.size(); ++k) {
      TopoNode sw = node(NodeKind::kNvSwitch, prefix + "NVSwitch " + std::to_string(k), firstHost, -1, -1);
      sw.busId = busId(kNvSwitchFirstBus + static_cast<int>(k));  // NVLink targets are named by bus id
      sw.pci.classCode = kClassNvSwitch;
      nvSwitches_.push_back(g_.addNode(std::move(sw)));
    }
  }

  void addGpu(int host, int socket, int cpu, int parent, int bus, int index) {
    TopoNode n = node(NodeKind::kGpu, hostPrefix(host) + "GPU " + std::to_string(index), host, parent, socket);
    n.devIndex = index;
    n.gpu.sm = shape_.gpuSm;
    n.gpu.rank = host * gpusPerHost() + index;
    n.gpu.gdr = 1;
    int gpu = addPciDevice(std::move(n), bus, shape_.gpu);
    double perLink = nvlinkPerLinkGBs(shape_.gpuSm);
    for (size_t k = 0; k < nvSwitches_.size(); ++k) {
      int count = shape_.nvlinksPerSwitch[k];
      addLink(gpu, nvSwitches_[k], LinkKind::kNvLink, count * perLink, kNvLinkLatencyUs, count);
    }
    if (shape_.c2cGBs > 0) addLink(gpu, cpu, LinkKind::kC2C, shape_.c2cGBs, kC2CLatencyUs);
  }

  void addNic(int host, int socket, int parent, int bus, int index) {
    const std::string prefix = hostPrefix(host);
    int nic = addPciDevice(node(NodeKind::kNic, prefix + "NIC " + std::to_string(index), host, parent, socket), bus,
                           shape_.nic);
    TopoNode port = node(NodeKind::kNetPort, prefix + shape_.portPrefix + std::to_string(index), host, nic, socket);
    port.devIndex = index;
    port.net.speedMbps = shape_.nicSpeedMbps;
    port.net.port = 1;
    port.net.gdr = gpusPerHost() > 0 ? 1 : 0;
    int portNode = g_.addNode(std::move(port));
    // The port is a function of the NIC, not a hop: the network links carry the latency.
    addLink(portNode, nic, LinkKind::kNet, netBandwidthGBs(shape_.nicSpeedMbps), 0);
  }

  // Every network hop costs half the default so that port -> switch -> port is one default hop.
  void addNetwork() {
    const double hopUs = kDefaultNetLatencyUs / 2;
    const double portGBs = netBandwidthGBs(shape_.nicSpeedMbps);
    std::vector<int> ports = g_.nodesOfKind(NodeKind::kNetPort);
    if (network_ == NetworkShape::kFatTree) {
      int fabric = g_.addNode(node(NodeKind::kNetwork, "fabric", 0, -1, -1));
      for (int p : ports) addLink(p, fabric, LinkKind::kNet, portGBs, hopUs);
      return;
    }
    std::vector<int> rails;
    for (int k = 0; k < nicsPerHost(); ++k) {
      rails.push_back(g_.addNode(node(NodeKind::kNetwork, "rail " + std::to_string(k), 0, -1, -1)));
    }
    for (int p : ports) addLink(p, rails[static_cast<size_t>(g_.node(p).devIndex)], LinkKind::kNet, portGBs, hopUs);
    // Traffic between rails crosses the spine; sized so a rail's whole load fits (non-blocking).
    int spine = g_.addNode(node(NodeKind::kNetwork, "spine", 0, -1, -1));
    for (int rail : rails) addLink(rail, spine, LinkKind::kNet, hostCount_ * portGBs, hopUs);
  }

  const SystemShape& shape_;
  NetworkShape network_;
  int hostCount_;
  std::vector<std::string> affinities_;  // per socket, the same on every host
  std::vector<int> nvSwitches_;          // the current NVLink domain's switches
  TopologyGraph g_;
};

}  // namespace

std::vector<std::string> syntheticSystemNames() {
  std::vector<std::string> names;
  for (const SystemShape& s : systemShapes()) names.emplace_back(s.name);
  return names;
}

Result<TopologyGraph> buildSyntheticSystem(const SyntheticSpec& spec) {
  const SystemShape* shape = nullptr;
  for (const SystemShape& s : systemShapes()) {
    if (spec.system == s.name) shape = &s;
  }
  if (shape == nullptr) {
    return Status::invalidArgument("unknown synthetic system \"%s\"; valid systems: %s",
                                   spec.system.substr(0, 64).c_str(), joinedNames().c_str());
  }
  if (spec.hosts < 1 || spec.hosts > kMaxHosts) {
    return Status::invalidArgument("hosts %d for system %s is out of range: expected 1 to %d", spec.hosts,
                                   shape->name, kMaxHosts);
  }
  return SystemBuilder(*shape, spec).build();
}

}  // namespace loom
