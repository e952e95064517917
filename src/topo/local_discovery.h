// Discovering the machine this process runs on.
//
// Sources, each optional: hwloc (CPUs, NUMA nodes, PCIe tree, NICs) when Loom
// was built with it, else sysfs NUMA nodes; sysfs (/sys/class/net,
// /sys/class/infiniband) for NIC speeds and the NICs hwloc missed
// (topo/sysfs_nics.h); NVML through dlopen when a GPU driver is present (GPUs,
// NVLinks and their remote ends, C2C; topo/nvml_gpus.h). Containers and VMs
// hide parts of sysfs: whatever is missing is filled with a default, recorded
// in TopologyGraph::notes and logged at INFO under GRAPH, and a source that
// fails never makes discovery fail — the result is at worst one CPU node.
#pragma once

#include <string>

#include "loom/status.h"
#include "topo/topology_graph.h"

namespace loom {

struct DiscoveryOptions {
  // Root of the sysfs tree to read ("/sys"); tests point it at a fake tree.
  // hwloc always reads the real /sys, so it is skipped for any other root.
  std::string sysfsRoot = "/sys";
  bool useHwloc = true;
  bool useNvml = true;
};

// The local host as a graph (hostIndex 0). Never fails: problems become notes.
TopologyGraph discoverLocalTopology(const DiscoveryOptions& options = {});

// What a communicator should use for its host: the file named by LOOM_TOPO_FILE
// (or NCCL_TOPO_FILE) when set, else discovery. When LOOM_TOPO_DUMP_FILE is
// set the result is also written there as NCCL topology XML (through a
// temporary file and a rename, so concurrent ranks never leave half a file).
// An unreadable or malformed topology file is an error naming the file, line
// and reason; so is a dump that cannot be written.
Result<TopologyGraph> localTopology();

}  // namespace loom
