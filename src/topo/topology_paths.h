// Paths: how data gets from one device to another, and what kind of route it is.
//
// The cost model charges a message for every link of its path; the path type
// is the name users know from NCCL (`nvidia-smi topo -m`, NCCL_P2P_LEVEL) and
// what loom-topo prints. Types, nearest first:
//   LOC  same device
//   NVL  NVLink, directly or through NVSwitches
//   NVB  NVLink through one intermediate GPU
//   C2C  chip-to-chip link between a GPU and its CPU (Grace)
//   PIX  PCIe through at most one switch
//   PXB  PCIe through several switches, not the CPU
//   PXN  GPU to NIC through a peer GPU over NVLink, then PCIe from that peer
//   PHB  PCIe through the CPU's host bridge
//   SYS  across the inter-socket link
//   NET  across the network (different hosts)
#pragma once

#include <string>
#include <vector>

#include "topo/topology_graph.h"

namespace loom {

enum class PathType { kLoc, kNvl, kNvb, kC2c, kPix, kPxb, kPxn, kPhb, kSys, kNet, kNone };
const char* pathTypeName(PathType type);

// One link of a path, in the direction it is crossed.
struct PathHop {
  int link = -1;
  bool forward = true;  // crossed from TopoLink::a to TopoLink::b
};

struct TopoPath {
  PathType type = PathType::kNone;
  std::vector<PathHop> hops;  // empty for LOC and for kNone
  double bandwidthGBs = 0;    // narrowest hop, per direction; LOC: 0 (the caller's memory model applies)
  double latencyUs = 0;       // sum over hops
};

// Shortest-latency route among those of the best path type: NVLink first
// (direct, then through NVSwitches, then through one GPU), then C2C, then the
// PCIe tree, then the inter-socket link, then the network. The route between
// GPUs on different hosts goes GPU -> its rail NIC -> network -> peer's rail NIC.
//
// Details the cost model relies on:
// - NVLink routes are tried whatever the hosts, so GPUs of different compute
//   trays joined by NVSwitches (GB200 NVL72) are NVL, not NET.
// - Through NVSwitches the bandwidth is that of the one route found (one
//   switch); a GPU striping over all its switches gets the sum, which is the
//   planner's business.
// - On the PCIe tree, a device with a C2C link to its socket climbs by C2C
//   instead of PCIe (Grace: GPU -> C2C -> CPU -> NIC); the type stays PHB/SYS.
// - A route to a NIC port includes the NIC-to-port link, so the port speed
//   bounds it. PXN applies in both directions (GPU -> NIC and NIC -> GPU).
// - kNone: no route (different hosts with no network between their rail NICs,
//   a node outside the PCIe tree such as an NVSwitch known only from NVLinks).
TopoPath findPath(const TopologyGraph& graph, int from, int to);

// The NIC port (kNetPort, or kNic when a NIC has no ports) a device should use:
// the nearest by path type, ties broken by the lowest node index not yet taken
// by a nearer device, so that on rail-optimised hosts GPU i gets NIC i. -1 when
// the device's host has no NIC.
// Precisely: a host's GPUs, nearest-port type first then node order, each take
// the lowest-index port of their best type not yet taken, or when all are
// taken the least shared one (two GPUs per EFA NIC on p4d). Other devices take
// the nearest port, lowest index first. A port is its own rail; a NIC's rail is
// its first port.
int railNicOf(const TopologyGraph& graph, int device);

// Paths between every pair of a list of devices (ranks' GPUs or CPUs).
class PathMatrix {
 public:
  PathMatrix(const TopologyGraph& graph, std::vector<int> devices);
  int size() const { return static_cast<int>(devices_.size()); }
  int device(int i) const { return devices_[static_cast<size_t>(i)]; }
  const TopoPath& path(int i, int j) const { return paths_[static_cast<size_t>(i * size() + j)]; }
  // The matrix as loom-topo prints it, like `nvidia-smi topo -m`: a header row of
  // short device names (GPU<cuda index>, CPU<numa id>, NIC<n>, NET<net dev>;
  // prefixed "h<host>:" when the devices span hosts), then one row per device of
  // path type names, in left-aligned columns two spaces apart.
  std::string toString(const TopologyGraph& graph) const;

 private:
  std::vector<int> devices_;
  std::vector<TopoPath> paths_;
};

// Groups of devices that reach each other without the network (hosts) and
// without PCIe (NVLink domains). Each is a list of group ids, one per device
// of `devices`, numbered from 0 in order of first appearance.
std::vector<int> hostGroups(const TopologyGraph& graph, const std::vector<int>& devices);
std::vector<int> nvlinkDomains(const TopologyGraph& graph, const std::vector<int>& devices);

}  // namespace loom
