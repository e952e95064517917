#include "topo/topology_file.h"

#include "topo/hwloc_topology.h"
#include "topo/nccl_topology.h"
#include "topo/xml_reader.h"

namespace loom {
namespace {

Result<TopologyGraph> fromRoot(const XmlElement& root) {
  if (root.name == "system") return readNcclTopology(root);
  if (root.name == "topology") return readHwlocTopology(root);
  if (root.name == "graphs" || root.name == "graph") {
    return Status::invalidArgument(
        "line %d: <%s> is an NCCL graph file (the rings/trees NCCL chose, NCCL_GRAPH_FILE), not a topology; "
        "pass the matching topology file (NCCL_TOPO_FILE) instead",
        root.line, root.name.c_str());
  }
  return Status::invalidArgument(
      "line %d: root element <%s> is neither NCCL topology XML (<system>) nor hwloc XML (<topology>)", root.line,
      root.name.c_str());
}

}  // namespace

Result<TopologyGraph> parseTopologyXml(std::string_view text) {
  LOOM_ASSIGN_OR_RETURN(XmlElement root, parseXml(text));
  return fromRoot(root);
}

Result<TopologyGraph> loadTopologyFile(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(XmlElement root, readXmlFile(path));
  auto graph = fromRoot(root);
  if (!graph.isOk()) return graph.status().withContext(path);
  return graph;
}

}  // namespace loom
