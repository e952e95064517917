#include "topo/topology_paths.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <limits>
#include <map>
#include <queue>
#include <tuple>

namespace loom {

const char* pathTypeName(PathType type) {
  switch (type) {
    case PathType::kLoc: return "LOC";
    case PathType::kNvl: return "NVL";
    case PathType::kNvb: return "NVB";
    case PathType::kC2c: return "C2C";
    case PathType::kPix: return "PIX";
    case PathType::kPxb: return "PXB";
    case PathType::kPxn: return "PXN";
    case PathType::kPhb: return "PHB";
    case PathType::kSys: return "SYS";
    case PathType::kNet: return "NET";
    case PathType::kNone: return "none";
  }
  return "?";
}

namespace {

// Latencies are sums of a few model constants; sums taken in different orders
// may differ in the last bits, which must not decide between equal routes.
constexpr double kLatencyTolerance = 1e-9;

bool isNicEnd(const TopologyGraph& g, int node) {
  NodeKind k = g.node(node).kind;
  return k == NodeKind::kNic || k == NodeKind::kNetPort;
}

bool isGpu(const TopologyGraph& g, int node) { return g.node(node).kind == NodeKind::kGpu; }

PathHop hopFrom(const TopologyGraph& g, int link, int from) {
  return PathHop{link, g.links()[static_cast<size_t>(link)].a == from};
}

std::vector<PathHop> reversed(std::vector<PathHop> hops) {
  std::reverse(hops.begin(), hops.end());
  for (PathHop& h : hops) h.forward = !h.forward;
  return hops;
}

// A path's numbers follow from its hops; computing them in one place keeps every route consistent.
TopoPath makePath(const TopologyGraph& g, PathType type, std::vector<PathHop> hops) {
  TopoPath p;
  p.type = type;
  p.hops = std::move(hops);
  p.bandwidthGBs = p.hops.empty() ? 0 : std::numeric_limits<double>::infinity();
  for (const PathHop& h : p.hops) {
    const TopoLink& link = g.links()[static_cast<size_t>(h.link)];
    p.bandwidthGBs = std::min(p.bandwidthGBs, link.bandwidthGBs);
    p.latencyUs += link.latencyUs;
  }
  return p;
}

TopoPath noPath() { return TopoPath{}; }

TopoPath reversedPath(const TopologyGraph& g, const TopoPath& p) {
  return makePath(g, p.type, reversed(p.hops));
}

TopoPath joined(const TopologyGraph& g, PathType type, std::initializer_list<const TopoPath*> legs) {
  std::vector<PathHop> hops;
  for (const TopoPath* leg : legs) hops.insert(hops.end(), leg->hops.begin(), leg->hops.end());
  return makePath(g, type, std::move(hops));
}

// Lower latency first, then fewer hops, then a wider bottleneck.
bool betterRoute(double latency, size_t hops, double bandwidth, double otherLatency, size_t otherHops,
                 double otherBandwidth) {
  if (latency < otherLatency - kLatencyTolerance) return true;
  if (latency > otherLatency + kLatencyTolerance) return false;
  if (hops != otherHops) return hops < otherHops;
  return bandwidth > otherBandwidth;
}

// Shortest-latency route from `from` to `to` over links of `linkKind` whose
// intermediate nodes are all of `through` (NVSwitches for NVLink, sockets for
// the inter-socket links, network nodes for the fabric); nullopt when none.
std::optional<std::vector<PathHop>> shortestRoute(const TopologyGraph& g, int from, int to, LinkKind linkKind,
                                                  NodeKind through) {
  struct Label {
    double latency = std::numeric_limits<double>::infinity();
    size_t hops = 0;
    double bandwidth = 0;
    int viaLink = -1;
    bool done = false;
  };
  std::vector<Label> label(static_cast<size_t>(g.nodeCount()));
  auto at = [&](int n) -> Label& { return label[static_cast<size_t>(n)]; };
  // Min-heap on (latency, hops, -bandwidth): the order betterRoute uses.
  using Entry = std::tuple<double, size_t, double, int>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  at(from).latency = 0;
  at(from).bandwidth = std::numeric_limits<double>::infinity();
  queue.push({0.0, 0, -at(from).bandwidth, from});
  while (!queue.empty()) {
    int u = std::get<3>(queue.top());
    queue.pop();
    if (at(u).done) continue;
    at(u).done = true;
    if (u == to) break;
    if (u != from && g.node(u).kind != through) continue;  // an endpoint-only node: do not pass through it
    for (int l : g.linksOf(u)) {
      const TopoLink& link = g.links()[static_cast<size_t>(l)];
      if (link.kind != linkKind) continue;
      int v = g.otherEnd(l, u);
      if (at(v).done) continue;
      Label candidate;
      candidate.latency = at(u).latency + link.latencyUs;
      candidate.hops = at(u).hops + 1;
      candidate.bandwidth = std::min(at(u).bandwidth, link.bandwidthGBs);
      candidate.viaLink = l;
      if (betterRoute(candidate.latency, candidate.hops, candidate.bandwidth, at(v).latency, at(v).hops,
                      at(v).bandwidth)) {
        at(v) = candidate;
        queue.push({candidate.latency, candidate.hops, -candidate.bandwidth, v});
      }
    }
  }
  if (from == to || !at(to).done) return std::nullopt;
  std::vector<PathHop> hops;
  for (int n = to; n != from;) {
    int l = at(n).viaLink;
    int prev = g.otherEnd(l, n);
    hops.push_back(hopFrom(g, l, prev));
    n = prev;
  }
  std::reverse(hops.begin(), hops.end());
  return hops;
}

// A node's ancestors in the containment tree up to and including its socket.
// The walk stops at the socket because hosts and the network are above the
// PCIe tree, not part of it.
std::vector<int> chainToSocket(const TopologyGraph& g, int node) {
  std::vector<int> chain{node};
  while (g.node(chain.back()).kind != NodeKind::kCpu && static_cast<int>(chain.size()) <= g.nodeCount()) {
    int parent = g.node(chain.back()).parent;
    if (parent < 0) break;
    NodeKind k = g.node(parent).kind;
    if (k == NodeKind::kHost || k == NodeKind::kNetwork) break;
    chain.push_back(parent);
  }
  return chain;
}

// The link joining a tree node to its parent: PCIe, or the NIC-to-port link
// the readers use for a port below its NIC.
int uplink(const TopologyGraph& g, int child, int parent) {
  int l = g.findLink(child, parent, LinkKind::kPcie);
  return l >= 0 ? l : g.findLink(child, parent, LinkKind::kNet);
}

// Hops from chain[0] up to chain[top]; false when a tree edge has no link.
bool climb(const TopologyGraph& g, const std::vector<int>& chain, size_t top, std::vector<PathHop>& hops) {
  for (size_t k = 0; k < top; ++k) {
    int l = uplink(g, chain[k], chain[k + 1]);
    if (l < 0) return false;
    hops.push_back(hopFrom(g, l, chain[k]));
  }
  return true;
}

// Climbing to the socket: a device with a C2C link to the socket at the top of
// its chain takes that link instead of its PCIe uplinks (Grace superchips).
bool climbToSocket(const TopologyGraph& g, const std::vector<int>& chain, std::vector<PathHop>& hops) {
  if (chain.size() > 1) {
    int c2c = g.findLink(chain.front(), chain.back(), LinkKind::kC2C);
    if (c2c >= 0) {
      hops.push_back(hopFrom(g, c2c, chain.front()));
      return true;
    }
  }
  return climb(g, chain, chain.size() - 1, hops);
}

// The PCIe route through the containment tree: up from `from` to the nearest
// common ancestor and down to `to`, or up to both sockets joined by the
// inter-socket links. Typed by NCCL's rules, as pciPathType does.
TopoPath treeRoute(const TopologyGraph& g, int from, int to) {
  if (g.node(from).hostIndex != g.node(to).hostIndex) return noPath();
  std::vector<int> up = chainToSocket(g, from);
  std::vector<int> down = chainToSocket(g, to);
  std::vector<PathHop> hops, back;
  for (size_t i = 0; i < up.size(); ++i) {
    auto j = std::find(down.begin(), down.end(), up[i]);
    if (j == down.end()) continue;
    size_t jd = static_cast<size_t>(j - down.begin());
    if (g.node(up[i]).kind == NodeKind::kCpu) {
      if (!climbToSocket(g, up, hops) || !climbToSocket(g, down, back)) return noPath();
      std::vector<PathHop> tail = reversed(back);
      hops.insert(hops.end(), tail.begin(), tail.end());
      return makePath(g, PathType::kPhb, std::move(hops));
    }
    // Switches crossed: those above `from` up to the common one, and those above `to` below it.
    int switches = 0;
    for (size_t k = 1; k <= i; ++k) switches += g.node(up[k]).kind == NodeKind::kPciSwitch;
    for (size_t k = 1; k < jd; ++k) switches += g.node(down[k]).kind == NodeKind::kPciSwitch;
    if (!climb(g, up, i, hops) || !climb(g, down, jd, back)) return noPath();
    std::vector<PathHop> tail = reversed(back);
    hops.insert(hops.end(), tail.begin(), tail.end());
    return makePath(g, switches <= 1 ? PathType::kPix : PathType::kPxb, std::move(hops));
  }
  int socketA = up.back();
  int socketB = down.back();
  if (g.node(socketA).kind != NodeKind::kCpu || g.node(socketB).kind != NodeKind::kCpu) return noPath();
  auto across = shortestRoute(g, socketA, socketB, LinkKind::kSys, NodeKind::kCpu);
  if (!across || !climbToSocket(g, up, hops) || !climbToSocket(g, down, back)) return noPath();
  hops.insert(hops.end(), across->begin(), across->end());
  std::vector<PathHop> tail = reversed(back);
  hops.insert(hops.end(), tail.begin(), tail.end());
  return makePath(g, PathType::kSys, std::move(hops));
}

// NVLink directly or through NVSwitches only.
TopoPath nvlinkRoute(const TopologyGraph& g, int from, int to) {
  auto hops = shortestRoute(g, from, to, LinkKind::kNvLink, NodeKind::kNvSwitch);
  return hops ? makePath(g, PathType::kNvl, std::move(*hops)) : noPath();
}

bool better(const TopoPath& a, const TopoPath& b) {
  if (a.type != b.type) return a.type < b.type;
  return betterRoute(a.latencyUs, a.hops.size(), a.bandwidthGBs, b.latencyUs, b.hops.size(), b.bandwidthGBs);
}

// For each node, a representative of its NVLink-connected component (NVSwitches join their GPUs).
std::vector<int> nvlinkComponents(const TopologyGraph& g) {
  std::vector<int> root(static_cast<size_t>(g.nodeCount()));
  for (int i = 0; i < g.nodeCount(); ++i) root[static_cast<size_t>(i)] = i;
  auto findRoot = [&](int n) {
    while (root[static_cast<size_t>(n)] != n) {
      root[static_cast<size_t>(n)] = root[static_cast<size_t>(root[static_cast<size_t>(n)])];
      n = root[static_cast<size_t>(n)];
    }
    return n;
  };
  for (const TopoLink& link : g.links()) {
    if (link.kind == LinkKind::kNvLink) root[static_cast<size_t>(findRoot(link.a))] = findRoot(link.b);
  }
  for (int i = 0; i < g.nodeCount(); ++i) root[static_cast<size_t>(i)] = findRoot(i);
  return root;
}

// Finds paths for one graph, remembering each host's rail assignment so a
// matrix of many cross-host pairs does not recompute it per pair.
class PathFinder {
 public:
  explicit PathFinder(const TopologyGraph& g) : g_(g), component_(nvlinkComponents(g)) {}

  TopoPath find(int from, int to) {
    if (from == to) return makePath(g_, PathType::kLoc, {});
    // Components first: the searches below are only worth running inside one.
    bool nvlinked = component_[static_cast<size_t>(from)] == component_[static_cast<size_t>(to)];
    TopoPath nvl = nvlinked ? nvlinkRoute(g_, from, to) : noPath();
    if (nvl.type != PathType::kNone) return nvl;
    if (nvlinked && isGpu(g_, from) && isGpu(g_, to)) {
      TopoPath nvb = nvlinkBridge(from, to);
      if (nvb.type != PathType::kNone) return nvb;
    }
    int c2c = g_.findLink(from, to, LinkKind::kC2C);
    if (c2c >= 0) return makePath(g_, PathType::kC2c, {hopFrom(g_, c2c, from)});
    if (g_.node(from).hostIndex == g_.node(to).hostIndex) return withinHost(from, to);
    return acrossNetwork(from, to);
  }

  int railNic(int device) {
    const TopoNode& n = g_.node(device);
    if (n.kind == NodeKind::kNetPort) return device;
    if (n.kind == NodeKind::kNic) {
      for (int child : g_.children(device)) {
        if (g_.node(child).kind == NodeKind::kNetPort) return child;
      }
      return device;
    }
    if (n.kind == NodeKind::kGpu) {
      const std::map<int, int>& rails = railsOfHost(n.hostIndex);
      auto it = rails.find(device);
      return it == rails.end() ? -1 : it->second;
    }
    int best = -1;
    PathType bestType = PathType::kNone;
    for (int port : portsOfHost(n.hostIndex)) {
      PathType t = find(device, port).type;
      if (t < bestType) {
        bestType = t;
        best = port;
      }
    }
    return best;
  }

 private:
  // GPU -> GPU over NVLink through exactly one other GPU, when no NVLink route avoids GPUs.
  TopoPath nvlinkBridge(int from, int to) {
    TopoPath best;
    for (int mid : g_.nodesOfKind(NodeKind::kGpu)) {
      if (mid == from || mid == to || component_[static_cast<size_t>(mid)] != component_[static_cast<size_t>(from)]) {
        continue;
      }
      TopoPath first = nvlinkRoute(g_, from, mid);
      if (first.type == PathType::kNone) continue;
      TopoPath second = nvlinkRoute(g_, mid, to);
      if (second.type == PathType::kNone) continue;
      TopoPath candidate = joined(g_, PathType::kNvb, {&first, &second});
      if (best.type == PathType::kNone || better(candidate, best)) best = std::move(candidate);
    }
    return best;
  }

  TopoPath withinHost(int from, int to) {
    TopoPath direct = treeRoute(g_, from, to);
    // PXN only pays off when the direct route crosses the CPU; never replace a PIX/PXB route.
    if (direct.type != PathType::kPhb && direct.type != PathType::kSys) return direct;
    TopoPath relay;
    if (isGpu(g_, from) && isNicEnd(g_, to)) relay = throughNvlinkPeer(from, to);
    if (isNicEnd(g_, from) && isGpu(g_, to)) relay = reversedPath(g_, throughNvlinkPeer(to, from));
    return relay.type == PathType::kPxn ? relay : direct;
  }

  // PXN: NVLink to a peer GPU that sits near the NIC, then the peer's PCIe route.
  // The nearest peer by PCIe type wins, then the lowest total latency.
  TopoPath throughNvlinkPeer(int gpu, int nic) {
    TopoPath best;
    PathType bestPeerType = PathType::kNone;
    for (int peer : g_.nodesOfKind(NodeKind::kGpu)) {
      if (peer == gpu || g_.node(peer).hostIndex != g_.node(nic).hostIndex ||
          component_[static_cast<size_t>(peer)] != component_[static_cast<size_t>(gpu)]) {
        continue;
      }
      TopoPath pcie = treeRoute(g_, peer, nic);
      if (pcie.type != PathType::kPix && pcie.type != PathType::kPxb) continue;
      TopoPath nvl = nvlinkRoute(g_, gpu, peer);
      if (nvl.type != PathType::kNvl) continue;
      TopoPath candidate = joined(g_, PathType::kPxn, {&nvl, &pcie});
      bool wins = best.type == PathType::kNone || pcie.type < bestPeerType ||
                  (pcie.type == bestPeerType && better(candidate, best));
      if (wins) {
        best = std::move(candidate);
        bestPeerType = pcie.type;
      }
    }
    return best;
  }

  // Device -> its rail NIC -> the fabric -> the peer's rail NIC -> peer.
  TopoPath acrossNetwork(int from, int to) {
    int nicFrom = railNic(from);
    int nicTo = railNic(to);
    if (nicFrom < 0 || nicTo < 0) return noPath();
    TopoPath first = find(from, nicFrom);
    TopoPath last = find(nicTo, to);
    if (first.type == PathType::kNone || last.type == PathType::kNone) return noPath();
    auto fabric = shortestRoute(g_, nicFrom, nicTo, LinkKind::kNet, NodeKind::kNetwork);
    if (!fabric) return noPath();
    TopoPath middle = makePath(g_, PathType::kNet, std::move(*fabric));
    return joined(g_, PathType::kNet, {&first, &middle, &last});
  }

  // What a device can send through: each NIC port, or a NIC that has no ports.
  const std::vector<int>& portsOfHost(int host) {
    if (!portsByHost_.has_value()) {
      std::vector<bool> hasPort(static_cast<size_t>(g_.nodeCount()), false);
      for (int i = 0; i < g_.nodeCount(); ++i) {
        int parent = g_.node(i).parent;
        if (g_.node(i).kind == NodeKind::kNetPort && parent >= 0) hasPort[static_cast<size_t>(parent)] = true;
      }
      portsByHost_.emplace();
      for (int i = 0; i < g_.nodeCount(); ++i) {
        const TopoNode& n = g_.node(i);
        if (n.kind == NodeKind::kNetPort || (n.kind == NodeKind::kNic && !hasPort[static_cast<size_t>(i)])) {
          (*portsByHost_)[n.hostIndex].push_back(i);
        }
      }
    }
    return (*portsByHost_)[host];
  }

  // Rail assignment of one host: GPUs in order of how near their nearest port
  // is (then node order) each take the lowest-index port of their best type
  // that no GPU took before; when all are taken, the least shared one. So a
  // GPU never loses its own switch's NIC to a GPU that is only PHB from it,
  // and GPUs that outnumber their NICs share them evenly.
  const std::map<int, int>& railsOfHost(int host) {
    auto cached = rails_.find(host);
    if (cached != rails_.end()) return cached->second;
    std::map<int, int>& rails = rails_[host];
    const std::vector<int>& ports = portsOfHost(host);
    struct Choice {
      int gpu;
      PathType best;
      std::vector<int> candidates;  // ports of the best type, in node order
    };
    std::vector<Choice> choices;
    for (int gpu : g_.nodesOfKind(NodeKind::kGpu)) {
      if (g_.node(gpu).hostIndex != host) continue;
      Choice c{gpu, PathType::kNone, {}};
      for (int port : ports) {
        PathType t = find(gpu, port).type;
        if (t == PathType::kNone || t > c.best) continue;
        if (t < c.best) c.candidates.clear();
        c.best = t;
        c.candidates.push_back(port);
      }
      if (!c.candidates.empty()) choices.push_back(std::move(c));
    }
    std::stable_sort(choices.begin(), choices.end(),
                     [](const Choice& a, const Choice& b) { return a.best < b.best; });
    std::map<int, int> users;  // port -> GPUs given it so far
    for (const Choice& c : choices) {
      int pick = c.candidates.front();
      for (int port : c.candidates) {
        if (users[port] < users[pick]) pick = port;
      }
      ++users[pick];
      rails[c.gpu] = pick;
    }
    return rails;
  }

  const TopologyGraph& g_;
  std::vector<int> component_;  // NVLink component of each node
  std::optional<std::map<int, std::vector<int>>> portsByHost_;
  std::map<int, std::map<int, int>> rails_;  // host -> GPU -> port
};

// nvidia-smi style: GPU0, NIC1, CPU0. Ordinals come from the file where it
// gives them (CUDA index, net device index, NUMA id), else count nodes of the
// same kind on the same host, so names stay short whatever the bus ids.
std::string shortName(const TopologyGraph& g, int node, bool withHost) {
  const TopoNode& n = g.node(node);
  int ordinal = 0;
  for (int i = 0; i < node; ++i) ordinal += g.node(i).kind == n.kind && g.node(i).hostIndex == n.hostIndex;
  const char* prefix = "DEV";
  int given = -1;  // the file's own number for the device, when it has one
  switch (n.kind) {
    case NodeKind::kGpu: prefix = "GPU", given = n.devIndex; break;
    case NodeKind::kCpu: prefix = "CPU", given = n.numaId; break;
    case NodeKind::kNic: prefix = "NIC"; break;
    case NodeKind::kNetPort: prefix = "NET", given = n.devIndex; break;
    case NodeKind::kNvSwitch: prefix = "NVS"; break;
    case NodeKind::kPciSwitch: prefix = "PCI"; break;
    case NodeKind::kHost: prefix = "HOST"; break;
    case NodeKind::kNetwork: prefix = "FABRIC"; break;
  }
  if (given >= 0) ordinal = given;
  std::string name = prefix + std::to_string(ordinal);
  return withHost ? "h" + std::to_string(n.hostIndex) + ":" + name : name;
}

}  // namespace

TopoPath findPath(const TopologyGraph& graph, int from, int to) { return PathFinder(graph).find(from, to); }

int railNicOf(const TopologyGraph& graph, int device) { return PathFinder(graph).railNic(device); }

PathMatrix::PathMatrix(const TopologyGraph& graph, std::vector<int> devices) : devices_(std::move(devices)) {
  PathFinder finder(graph);
  paths_.reserve(devices_.size() * devices_.size());
  for (int from : devices_) {
    for (int to : devices_) paths_.push_back(finder.find(from, to));
  }
}

std::string PathMatrix::toString(const TopologyGraph& graph) const {
  bool severalHosts = false;
  for (int d : devices_) severalHosts = severalHosts || graph.node(d).hostIndex != graph.node(devices_[0]).hostIndex;
  std::vector<std::string> names;
  size_t width = 0;
  for (int d : devices_) {
    names.push_back(shortName(graph, d, severalHosts));
    width = std::max(width, names.back().size());
  }
  width = std::max(width, std::string(pathTypeName(PathType::kNone)).size());
  auto cell = [&](const std::string& text, bool last) {
    return last ? text : text + std::string(width + 2 - text.size(), ' ');
  };
  std::string out = std::string(width + 2, ' ');
  for (int j = 0; j < size(); ++j) out += cell(names[static_cast<size_t>(j)], j + 1 == size());
  out += "\n";
  for (int i = 0; i < size(); ++i) {
    out += cell(names[static_cast<size_t>(i)], size() == 0);
    for (int j = 0; j < size(); ++j) out += cell(pathTypeName(path(i, j).type), j + 1 == size());
    out += "\n";
  }
  return out;
}

std::vector<int> hostGroups(const TopologyGraph& graph, const std::vector<int>& devices) {
  std::map<int, int> groupOfHost;
  std::vector<int> groups;
  for (int d : devices) {
    auto [it, inserted] = groupOfHost.emplace(graph.node(d).hostIndex, static_cast<int>(groupOfHost.size()));
    groups.push_back(it->second);
  }
  return groups;
}

std::vector<int> nvlinkDomains(const TopologyGraph& graph, const std::vector<int>& devices) {
  std::vector<int> component = nvlinkComponents(graph);
  std::map<int, int> groupOfRoot;
  std::vector<int> groups;
  for (int d : devices) {
    auto [it, inserted] = groupOfRoot.emplace(component[static_cast<size_t>(d)], static_cast<int>(groupOfRoot.size()));
    groups.push_back(it->second);
  }
  return groups;
}

}  // namespace loom
