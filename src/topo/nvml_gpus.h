// GPUs, their NVLinks and C2C links from NVML, loaded with dlopen.
//
// NVML (libnvidia-ml.so.1, installed with the GPU driver) is the one source
// that knows where each NVLink goes; hwloc only sees the PCI side. It is
// loaded at run time so Loom builds and runs on machines without a driver,
// and its few types are declared in the .cpp so the build needs no nvml.h.
#pragma once

#include <string>

#include "topo/topology_graph.h"

namespace loom {

// Adds the GPUs NVML reports to `graph` (which must have its CPUs), or fills in
// the ones hwloc already found (matched by bus id); then their NVLinks (to GPUs
// or to NVSwitches, which are created when unknown) and C2C links to their CPU.
// `sysfsRoot` places GPUs hwloc did not report in the PCIe tree. Without NVML,
// or with no GPU, the graph is unchanged but for a note saying why.
void addNvmlGpus(TopologyGraph& graph, const std::string& sysfsRoot);

}  // namespace loom
