// Printing a topology for people: an indented tree (loom-topo's default view) and Graphviz.
//
// The summary (topology_summary.h) answers "what is there"; these show where
// each part hangs and how it is wired, the way `lstopo` and `nvidia-smi topo`
// do, so a reader can check a topology file or a discovery result by eye.
// Output is plain ASCII and depends only on the graph (node and link order),
// so it can be diffed and asserted on.
#pragma once

#include <string>

#include "topo/topology_graph.h"

namespace loom {

// Per host (by hostIndex; a "host N" header when the graph has several hosts
// or kHost nodes): each CPU with its PCIe containment tree below it (switches,
// GPUs with their NVLink/C2C links, NICs with their ports), devices outside
// any CPU's tree, the host's NVSwitches and its inter-socket links. Hosts past
// the first `maxHosts` are counted, not printed (maxHosts <= 0: print all).
// Then the network nodes with the ports joined to each, and the graph's notes.
std::string formatTopologyTree(const TopologyGraph& graph, int maxHosts = 4);

// An undirected Graphviz document: one `cluster_hostN` subgraph per host with
// that host's nodes (ids n<index>), network nodes outside the clusters, and
// one edge per link labelled with its kind and bandwidth ("NVL x5 125 GB/s").
std::string formatGraphviz(const TopologyGraph& graph);

}  // namespace loom
