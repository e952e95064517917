// TopologyGraph: what a machine (or several) is made of and how the parts are wired.
//
// Nodes are the parts collectives care about (GPUs, CPUs/NUMA nodes, PCIe
// switches, NICs and their ports, NVSwitches, hosts, the network); links are
// full-duplex physical connections carrying a bandwidth per direction and a
// latency. Every node also remembers where it hangs in the PCIe/NUMA
// containment tree (`parent`), because that tree — not just the links — is
// how NCCL files describe a machine and how path types (PIX/PXB/PHB/SYS) are
// defined.
//
// The structure is plain on purpose: readers (NCCL XML, hwloc XML, synthetic
// builders) fill it, and the planner and simulator only walk it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom {

enum class NodeKind {
  kCpu,        // a NUMA node / socket with its host bridge
  kPciSwitch,  // a PCIe bridge or switch (also the fallback for a PCI device of unknown class)
  kGpu,
  kNic,        // a network adapter (a PCI function, or a virtual one with no bus id)
  kNetPort,    // one network device of a NIC (NCCL's <net>): a port, a bond, an EFA device
  kNvSwitch,
  kHost,       // one machine in a multi-host graph
  kNetwork,    // the fabric that joins hosts
};

enum class LinkKind {
  kNvLink,  // GPU-GPU, GPU-NVSwitch, NVSwitch-NVSwitch or GPU-CPU NVLink; `count` bonded links
  kC2C,     // chip-to-chip (Grace-Hopper/Blackwell) GPU-CPU link
  kPcie,    // an upstream PCIe link: child device to its switch or CPU
  kSys,     // between sockets of one host (UPI, Infinity Fabric, ...)
  kNet,     // NIC to its port, port to the network
};

const char* nodeKindName(NodeKind kind);
const char* linkKindName(LinkKind kind);

// Attributes kept as the file wrote them, so writing the graph back loses nothing;
// the numbers the model computes from them live on the links.
struct PciInfo {
  std::string classCode;  // "0x030200"; empty when the file did not say
  std::string vendor, device, subsystemVendor, subsystemDevice;
  std::string linkSpeed;  // "16 GT/s", "32.0 GT/s PCIe", ...
  std::string linkWidth;  // "16"; "0" or empty means unknown
  bool operator==(const PciInfo&) const = default;
};

struct CpuInfo {
  std::string affinity;  // hex cpu mask, comma-separated 32-bit words
  std::string arch, vendor, familyId, modelId;
  bool operator==(const CpuInfo&) const = default;
};

struct GpuInfo {
  int sm = -1;    // compute capability x10; -1 unknown
  int rank = -1;  // the rank NCCL's dump assigned; -1 unknown
  int gdr = -1;   // GPUDirect RDMA support; -1 unknown
  bool operator==(const GpuInfo&) const = default;
};

struct NetInfo {
  int speedMbps = -1;
  int port = -1;
  double latencyUs = -1;  // -1: not given
  std::string guid;
  int maxConn = -1;
  int gdr = -1;
  bool operator==(const NetInfo&) const = default;
};

struct TopoNode {
  NodeKind kind = NodeKind::kPciSwitch;
  std::string name;   // readable label: "GPU 3", "mlx5_0", "NUMA 1", bus id for switches
  std::string busId;  // lower-case "dddd:bb:dd.f"; empty when the node has none
  int numaId = -1;    // CPU: its NUMA id; devices: the NUMA node they hang off
  int devIndex = -1;  // GPU: CUDA device index; net port: NCCL net device index
  int hostIndex = 0;
  int parent = -1;    // containment tree: the switch/CPU this node hangs off, -1 at the top
  PciInfo pci;
  CpuInfo cpu;
  GpuInfo gpu;
  NetInfo net;
  // Attributes the model does not interpret, written back unchanged.
  std::vector<std::pair<std::string, std::string>> extraAttributes;
  bool operator==(const TopoNode&) const = default;
};

struct TopoLink {
  int a = -1;
  int b = -1;
  LinkKind kind = LinkKind::kPcie;
  double bandwidthGBs = 0;  // per direction
  double latencyUs = 0;
  int count = 1;            // NVLink/C2C: bonded links; 1 otherwise
  int pcieGen = 0;          // 0: unknown (bandwidth is a default)
  int pcieWidth = 0;        // lanes; 0: unknown
  bool operator==(const TopoLink&) const = default;
};

class TopologyGraph {
 public:
  int addNode(TopoNode node);
  int addLink(TopoLink link);

  const std::vector<TopoNode>& nodes() const { return nodes_; }
  const std::vector<TopoLink>& links() const { return links_; }
  const TopoNode& node(int index) const { return nodes_[static_cast<size_t>(index)]; }
  TopoNode& mutableNode(int index) { return nodes_[static_cast<size_t>(index)]; }
  TopoLink& mutableLink(int index) { return links_[static_cast<size_t>(index)]; }
  int nodeCount() const { return static_cast<int>(nodes_.size()); }

  // Indices of the links touching `node`, in the order they were added.
  const std::vector<int>& linksOf(int node) const { return adjacency_[static_cast<size_t>(node)]; }
  int otherEnd(int link, int node) const;
  // The first link of `kind` between a and b, or -1.
  int findLink(int a, int b, LinkKind kind) const;

  int findByBusId(std::string_view busId) const;  // -1 when absent; busId is normalised first
  std::vector<int> nodesOfKind(NodeKind kind) const;
  int count(NodeKind kind) const;
  std::vector<int> children(int node) const;  // containment-tree children, in node order

  // What a reader assumed or ignored ("GPU 0001:00:00.0 lists an NVLink to itself").
  std::vector<std::string> notes;

  // Same nodes in the same order and the same set of links (link order is not significant).
  bool sameAs(const TopologyGraph& other, std::string* firstDifference = nullptr) const;

 private:
  std::vector<TopoNode> nodes_;
  std::vector<TopoLink> links_;
  std::vector<std::vector<int>> adjacency_;
};

// Lower-cases a PCI bus id and pads a missing domain ("0f:00.0" -> "0000:0f:00.0").
// Returns an empty string when `text` is not a bus id.
std::string normalizeBusId(std::string_view text);

}  // namespace loom
