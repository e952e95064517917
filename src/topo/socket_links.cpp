#include "topo/socket_links.h"

#include <vector>

#include "topo/link_bandwidth.h"

namespace loom {

void connectSocketsPairwise(TopologyGraph& graph) {
  std::vector<int> cpus = graph.nodesOfKind(NodeKind::kCpu);
  for (size_t i = 0; i < cpus.size(); ++i) {
    for (size_t j = i + 1; j < cpus.size(); ++j) {
      TopoLink link;
      link.a = cpus[i];
      link.b = cpus[j];
      link.kind = LinkKind::kSys;
      link.bandwidthGBs = interSocketGBs(graph.node(cpus[i]).cpu.vendor);
      link.latencyUs = kSysLatencyUs;
      graph.addLink(link);
    }
  }
}

}  // namespace loom
