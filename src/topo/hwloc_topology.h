// hwloc XML (lstopo --of xml, hwloc 2.x) -> TopologyGraph.
//
// Takes what collectives need: packages/NUMA nodes as CPUs, PCIe bridges as
// switches, GPUs (PCI class 0x03 with an nvml/cuda OS device), NICs (class
// 0x02 with their network/OpenFabrics OS devices as ports), NVSwitches
// (subtype="NVSwitch"), and NVLinks from the "NVLinkBandwidth" distance
// matrix. Caches, cores and other PCI devices are skipped.
#pragma once

#include "loom/status.h"
#include "topo/topology_graph.h"
#include "topo/xml_reader.h"

namespace loom {

// `root` must be a <topology> element.
Result<TopologyGraph> readHwlocTopology(const XmlElement& root);

}  // namespace loom
