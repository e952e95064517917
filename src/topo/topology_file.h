// Loading a topology description whatever its format.
#pragma once

#include <string>
#include <string_view>

#include "loom/status.h"
#include "topo/topology_graph.h"

namespace loom {

// Detects the format from the root element: <system> is NCCL topology XML,
// <topology> is hwloc XML. An NCCL *graph* file (<graphs>, the rings and trees
// NCCL chose) is not a topology and is refused with a message that says so.
Result<TopologyGraph> parseTopologyXml(std::string_view text);
Result<TopologyGraph> loadTopologyFile(const std::string& path);

}  // namespace loom
