// Synthetic systems: well-known machines built in code, for tests, docs and the simulator.
//
// Each is one host's shape multiplied over `hosts` hosts joined by a network.
// Numbers are the vendors' published ones (link counts, NIC speeds); they are
// chosen so the cost model's predictions can be checked against published
// NCCL measurements.
//
//   dgx-h100     8 H100 (sm 90), 4 NVSwitches (18 NVLink4 links per GPU: 5,4,4,5),
//                8 x 400G NICs (one per GPU, behind the GPU's PCIe Gen5 switch), 2 sockets
//   dgx-a100     8 A100 (sm 80), 6 NVSwitches (12 NVLink3 links per GPU, 2 per switch),
//                8 x 200G NICs (two GPUs and two NICs per Gen4 switch), 2 sockets
//   gb200-nvl72  a rack: 18 compute trays (each a kHost with 2 Grace CPUs, each
//                CPU with 2 B200 (sm 100) over C2C, one 800G NIC per GPU), all 72
//                GPUs in one NVLink domain over 18 NVSwitch chips (18 NVLink5
//                links per GPU, one per chip); here `hosts` counts racks
//   pcie-only    8 GPUs (sm 80), no NVLink; 4 per socket behind two Gen4 switches,
//                one 100G NIC per switch, 2 sockets
//   cpu-host     one socket, no GPU, one Ethernet NIC: the shape of a CI machine
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"
#include "topo/topology_graph.h"

namespace loom {

enum class NetworkShape {
  kFatTree,        // every NIC port on one non-blocking fabric
  kRailOptimized,  // NIC k of every host on rail switch k; rail switches joined by a spine
};

struct SyntheticSpec {
  std::string system = "dgx-h100";
  int hosts = 1;
  NetworkShape network = NetworkShape::kRailOptimized;
};

// Names accepted by buildSyntheticSystem, for help texts and errors.
std::vector<std::string> syntheticSystemNames();

// Hosts get kHost nodes (no links) and hostIndex 0..n-1, where n is `hosts`, or
// 18 x `hosts` trays for gb200-nvl72. Each host's CPUs are roots of its
// containment tree (parent -1) and are joined only to each other. With more
// than one host the NIC ports link to kNetwork nodes ("fabric", or "rail k"
// plus a non-blocking "spine"); each network hop costs half of
// kDefaultNetLatencyUs. GPU ranks are host * GPUs-per-host + CUDA index.
// An unknown name, or hosts outside 1..4096, is an error naming the bad value
// and the valid ones.
Result<TopologyGraph> buildSyntheticSystem(const SyntheticSpec& spec);

}  // namespace loom
