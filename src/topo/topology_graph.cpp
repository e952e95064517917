#include "topo/topology_graph.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <tuple>

namespace loom {

const char* nodeKindName(NodeKind kind) {
  switch (kind) {
    case NodeKind::kCpu: return "CPU";
    case NodeKind::kPciSwitch: return "PCI";
    case NodeKind::kGpu: return "GPU";
    case NodeKind::kNic: return "NIC";
    case NodeKind::kNetPort: return "NET";
    case NodeKind::kNvSwitch: return "NVS";
    case NodeKind::kHost: return "HOST";
    case NodeKind::kNetwork: return "NETWORK";
  }
  return "?";
}

const char* linkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kNvLink: return "NVL";
    case LinkKind::kC2C: return "C2C";
    case LinkKind::kPcie: return "PCI";
    case LinkKind::kSys: return "SYS";
    case LinkKind::kNet: return "NET";
  }
  return "?";
}

int TopologyGraph::addNode(TopoNode node) {
  nodes_.push_back(std::move(node));
  adjacency_.emplace_back();
  return nodeCount() - 1;
}

int TopologyGraph::addLink(TopoLink link) {
  int index = static_cast<int>(links_.size());
  adjacency_[static_cast<size_t>(link.a)].push_back(index);
  if (link.b != link.a) adjacency_[static_cast<size_t>(link.b)].push_back(index);
  links_.push_back(link);
  return index;
}

int TopologyGraph::otherEnd(int link, int node) const {
  const TopoLink& l = links_[static_cast<size_t>(link)];
  return l.a == node ? l.b : l.a;
}

int TopologyGraph::findLink(int a, int b, LinkKind kind) const {
  for (int l : linksOf(a)) {
    const TopoLink& link = links_[static_cast<size_t>(l)];
    if (link.kind == kind && otherEnd(l, a) == b) return l;
  }
  return -1;
}

int TopologyGraph::findByBusId(std::string_view busId) const {
  std::string wanted = normalizeBusId(busId);
  if (wanted.empty()) return -1;
  for (int i = 0; i < nodeCount(); ++i) {
    if (nodes_[static_cast<size_t>(i)].busId == wanted) return i;
  }
  return -1;
}

std::vector<int> TopologyGraph::nodesOfKind(NodeKind kind) const {
  std::vector<int> out;
  for (int i = 0; i < nodeCount(); ++i) {
    if (nodes_[static_cast<size_t>(i)].kind == kind) out.push_back(i);
  }
  return out;
}

int TopologyGraph::count(NodeKind kind) const { return static_cast<int>(nodesOfKind(kind).size()); }

std::vector<int> TopologyGraph::children(int node) const {
  std::vector<int> out;
  for (int i = 0; i < nodeCount(); ++i) {
    if (nodes_[static_cast<size_t>(i)].parent == node) out.push_back(i);
  }
  return out;
}

namespace {

// A link with its ends in a fixed order, so that link lists compare as sets.
std::tuple<int, int, int, double, double, int, int, int> linkKey(const TopoLink& l) {
  return {std::min(l.a, l.b), std::max(l.a, l.b), static_cast<int>(l.kind), l.bandwidthGBs, l.latencyUs,
          l.count, l.pcieGen, l.pcieWidth};
}

}  // namespace

bool TopologyGraph::sameAs(const TopologyGraph& other, std::string* firstDifference) const {
  auto differ = [&](const std::string& why) {
    if (firstDifference != nullptr) *firstDifference = why;
    return false;
  };
  if (nodeCount() != other.nodeCount()) {
    return differ("node count " + std::to_string(nodeCount()) + " vs " + std::to_string(other.nodeCount()));
  }
  for (int i = 0; i < nodeCount(); ++i) {
    if (!(node(i) == other.node(i))) {
      return differ("node " + std::to_string(i) + " (" + node(i).name + " vs " + other.node(i).name + ")");
    }
  }
  if (links_.size() != other.links_.size()) {
    return differ("link count " + std::to_string(links_.size()) + " vs " + std::to_string(other.links_.size()));
  }
  std::vector<decltype(linkKey(TopoLink{}))> mine, theirs;
  for (const TopoLink& l : links_) mine.push_back(linkKey(l));
  for (const TopoLink& l : other.links_) theirs.push_back(linkKey(l));
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i] != theirs[i]) {
      return differ("links differ between nodes " + std::to_string(std::get<0>(mine[i])) + " and " +
                    std::to_string(std::get<1>(mine[i])));
    }
  }
  return true;
}

std::string normalizeBusId(std::string_view text) {
  // Accepts "dddd:bb:dd.f" (domain of 4 to 8 hex digits, as NCCL writes it) or "bb:dd.f".
  std::string s;
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto isHex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  size_t firstColon = s.find(':');
  if (firstColon == std::string::npos) return "";
  size_t secondColon = s.find(':', firstColon + 1);
  std::string domain = "0000";
  std::string rest = s;
  if (secondColon != std::string::npos) {
    domain = s.substr(0, firstColon);
    rest = s.substr(firstColon + 1);
    if (domain.size() < 1 || domain.size() > 8) return "";
    for (char c : domain) {
      if (!isHex(c)) return "";
    }
    while (domain.size() < 4) domain = "0" + domain;
  }
  // rest must be bb:dd.f
  if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return "";
  for (size_t i : {0, 1, 3, 4, 6}) {
    if (!isHex(rest[i])) return "";
  }
  return domain + ":" + rest;
}

}  // namespace loom
