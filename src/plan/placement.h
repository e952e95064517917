// Ranks placed on a topology the way a launcher places them, and the planner
// set up for that placement: what loom-topo and the tests use to ask "what
// would Loom choose on this machine?" for machines it does not run on.
#pragma once

#include "plan/planner.h"
#include "topo/topology_graph.h"

namespace loom {

// One rank per GPU, hosts in order and GPUs by device index within a host;
// on a graph without GPUs, `ranksPerHost` ranks on the first CPU of each host.
Placement placeRanks(const TopologyGraph& graph, int ranksPerHost = 1);

// Groups for hierarchical algorithms are NVLink domains when every rank's
// GPU has NVLink (a GB200 rack is one group), else hosts. Ranks in one group
// reach each other directly; `maxChannels` bounds the channel counts tried.
PlannerSetup plannerSetupFor(const Placement& placement, int maxChannels);

}  // namespace loom
