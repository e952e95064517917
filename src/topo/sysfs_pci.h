// Placing a PCI function in the graph from what sysfs says about it.
//
// Shared by the NIC (sysfs) and GPU (NVML) parts of local discovery: both know
// a device by a sysfs path or a bus id and need it under the right bridge or
// CPU, with its upstream PCIe link. sysfs is the only source for this when
// hwloc is absent, and it is what hwloc itself reads on Linux.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "topo/topology_graph.h"

namespace loom {

struct SysfsPciFunction {
  std::filesystem::path dir;  // the function's own sysfs directory
  std::string busId;          // normalised
  PciInfo pci;                // from the class/vendor/device/... and current_link_* files
  int numaId = -1;            // numa_node; -1 when the kernel does not know
  // The bridges above it, root port first (each with its directory and upstream link).
  std::vector<SysfsPciFunction> bridges;
};

// The first line of a sysfs attribute, trailing whitespace removed; "" when it
// cannot be read (many refuse reads on some devices, e.g. speed on a down link).
std::string readSysfsAttribute(const std::filesystem::path& file);

// The target of a sysfs symlink (class/net/eth0/device), resolved even when the
// target does not exist, as in the fake trees tests build. Empty when `link` is
// not a symlink.
std::filesystem::path resolveSysfsLink(const std::filesystem::path& link);

// The PCI function a sysfs device directory belongs to: the directory itself
// when its name is a bus id, else its nearest PCI ancestor (a virtio NIC lives
// at .../0000:00:03.0/virtio2). nullopt when there is none (virtual or platform device).
std::optional<SysfsPciFunction> readSysfsPciFunction(const std::filesystem::path& deviceDir);

// The CPU node for a NUMA id: the one with that id, else the first; -1 when the graph has none.
int cpuForNuma(const TopologyGraph& graph, int numaId);

// Adds `node` (busId and pci filled from `function` when empty) under its
// bridges, creating the bridges the graph lacks as PCI switches, each joined
// to its parent by a PCIe link. PCIe links whose speed or width sysfs does not
// give get the default and are counted in `*assumedLinks`. Returns the node index.
int addSysfsPciNode(TopologyGraph& graph, const SysfsPciFunction& function, TopoNode node, int* assumedLinks);

// A PCIe link from `child` up to `parent`, sized by the child's link speed and width.
void addPcieLink(TopologyGraph& graph, int child, int parent, const PciInfo& pci, int* assumedLinks);

}  // namespace loom
