// What a topology amounts to, for people (loom-topo, logs) and for tests.
#pragma once

#include <string>
#include <vector>

#include "topo/topology_graph.h"

namespace loom {

// NCCL's names for how far apart two devices are through PCIe, nearest first.
enum class PciPathType {
  kPix,  // through at most one PCIe switch
  kPxb,  // through several PCIe switches, not the CPU
  kPhb,  // through the CPU's host bridge
  kSys,  // across sockets
  kNone, // not connected (different hosts, or a node outside the PCIe tree)
};
const char* pciPathTypeName(PciPathType type);

// Path type between two nodes through the containment tree (ignores NVLink).
PciPathType pciPathType(const TopologyGraph& graph, int a, int b);

struct NvLinkPeer {
  int node = -1;
  std::string name;
  int count = 0;
  double bandwidthGBs = 0;
};

struct GpuSummary {
  int node = -1;
  std::string name;
  std::string busId;
  std::vector<NvLinkPeer> nvlinkPeers;  // in link order
  int nearestNic = -1;                  // -1 when the host has no NIC
  PciPathType nicPath = PciPathType::kNone;
};

struct TopologySummary {
  int cpus = 0;
  int gpus = 0;
  int nics = 0;
  int netPorts = 0;
  int nvSwitches = 0;
  int pciSwitches = 0;
  std::vector<GpuSummary> perGpu;
  std::string toString(const TopologyGraph& graph) const;
};

TopologySummary summarize(const TopologyGraph& graph);

}  // namespace loom
