#include "plan/placement.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "topo/topology_paths.h"

namespace loom {

Placement placeRanks(const TopologyGraph& graph, int ranksPerHost) {
  Placement p;
  p.graph = &graph;
  std::vector<int> gpus = graph.nodesOfKind(NodeKind::kGpu);
  if (!gpus.empty()) {
    std::stable_sort(gpus.begin(), gpus.end(), [&](int a, int b) {
      return std::make_tuple(graph.node(a).hostIndex, graph.node(a).devIndex) <
             std::make_tuple(graph.node(b).hostIndex, graph.node(b).devIndex);
    });
    p.deviceOfRank = gpus;
    return p;
  }
  std::set<int> hostsSeen;
  for (int cpu : graph.nodesOfKind(NodeKind::kCpu)) {
    if (!hostsSeen.insert(graph.node(cpu).hostIndex).second) continue;
    for (int i = 0; i < ranksPerHost; ++i) p.deviceOfRank.push_back(cpu);
  }
  return p;
}

PlannerSetup plannerSetupFor(const Placement& placement, int maxChannels) {
  const TopologyGraph& g = *placement.graph;
  bool everyRankHasNvLink = !placement.deviceOfRank.empty();
  for (int d : placement.deviceOfRank) {
    const std::vector<int>& links = g.linksOf(d);
    everyRankHasNvLink = everyRankHasNvLink && std::any_of(links.begin(), links.end(), [&](int l) {
      return g.links()[static_cast<size_t>(l)].kind == LinkKind::kNvLink;
    });
  }
  PlannerSetup setup;
  setup.placement = placement;
  setup.groupOf = everyRankHasNvLink ? nvlinkDomains(g, placement.deviceOfRank) : hostGroups(g, placement.deviceOfRank);
  int groups = setup.groupOf.empty() ? 0 : *std::max_element(setup.groupOf.begin(), setup.groupOf.end()) + 1;
  setup.context.directReach = groups == 1;
  setup.context.multipleGroups = groups > 1;
  setup.maxChannels = maxChannels;
  // NCCL's default slice and a large one: on fast links the large one hides
  // each pipeline step's latency.
  setup.chunkBytesChoices = {size_t{512} << 10, size_t{4} << 20};
  return setup;
}

}  // namespace loom
