// NCCL topology XML <-> TopologyGraph.
//
// The format is what NCCL_TOPO_FILE reads and NCCL_TOPO_DUMP_FILE writes:
//   <system version="1">
//     <cpu numaid affinity arch vendor familyid modelid>
//       <pci busid class vendor device subsystem_vendor subsystem_device link_speed link_width>
//         <pci ...> (switches nest)
//         <gpu dev sm rank gdr> <nvlink target count tclass/> <c2c bw count/> </gpu>
//         <nic> <net name dev speed port latency guid maxconn gdr/> </nic>
//       </pci>
//       <nic> ... </nic>  (a NIC with no PCI function, e.g. a VM's virtual NIC)
//     </cpu>
//   </system>
// Files in the wild are often partial (bare bus ids, GPUs given only as a PCI
// class, NVLinks left to live discovery); the reader fills what is missing with
// defaults and records each assumption in TopologyGraph::notes.
#pragma once

#include <string>

#include "loom/status.h"
#include "topo/topology_graph.h"
#include "topo/xml_reader.h"

namespace loom {

// `root` must be a <system> element. Errors name the line of the offending element.
Result<TopologyGraph> readNcclTopology(const XmlElement& root);

// Writes the graph as NCCL topology XML. Reading the result gives a graph that
// sameAs() the one written, for graphs read from NCCL XML. Nodes the format cannot
// express (hosts, the network, NVSwitch-to-NVSwitch links) are left out.
std::string writeNcclTopology(const TopologyGraph& graph);

}  // namespace loom
