// What one host contributes to a communicator's picture of the machine.
//
// Every rank must plan on the same graph, or ranks would pick different
// algorithms for one call and their messages would not match. So each rank
// reduces its own discovered topology to a fixed-size profile, the profiles
// are all-gathered through the bootstrap, and every rank builds the same
// cluster graph from the same profiles. The profile keeps what host-buffer
// collectives depend on: sockets, cores, and the NICs between hosts.
#pragma once

#include <cstdint>
#include <vector>

#include "topo/topology_graph.h"

namespace loom {

struct HostProfile {
  int32_t sockets = 1;       // CPU (NUMA) nodes
  int32_t cores = 1;         // logical CPUs this process may run on
  int32_t nics = 0;          // network ports
  int32_t nicSpeedMbps = 0;  // the fastest port; 0 when there is none
};
static_assert(sizeof(HostProfile) == 16, "HostProfile travels as raw bytes between ranks");

// `cores` is passed in so tests need not depend on the machine they run on.
HostProfile profileOf(const TopologyGraph& local, int cores);

// Hosts in order, each its CPU nodes joined pairwise, its NIC ports (one
// NIC per port) under socket 0, and with more than one host every port on
// one fabric node. Rank devices are the CPU nodes: cpuOfHost(graph, h).
TopologyGraph clusterGraph(const std::vector<HostProfile>& hosts);
int cpuOfHost(const TopologyGraph& cluster, int host);

}  // namespace loom
