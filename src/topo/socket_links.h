// Links between the sockets (CPU nodes) of one host.
#pragma once

#include "topo/topology_graph.h"

namespace loom {

// Joins every pair of CPU nodes of `graph` with a kSys link, as NCCL does,
// with the inter-socket bandwidth for the first CPU's vendor.
void connectSocketsPairwise(TopologyGraph& graph);

}  // namespace loom
