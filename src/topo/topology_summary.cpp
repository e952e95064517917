#include "topo/topology_summary.h"

#include <algorithm>
#include <cstdio>

namespace loom {

const char* pciPathTypeName(PciPathType type) {
  switch (type) {
    case PciPathType::kPix: return "PIX";
    case PciPathType::kPxb: return "PXB";
    case PciPathType::kPhb: return "PHB";
    case PciPathType::kSys: return "SYS";
    case PciPathType::kNone: return "none";
  }
  return "?";
}

namespace {

std::vector<int> ancestors(const TopologyGraph& g, int node) {
  std::vector<int> chain;
  // The tree is bounded by the node count; the guard keeps a corrupted parent loop finite.
  for (int n = node; n >= 0 && static_cast<int>(chain.size()) <= g.nodeCount(); n = g.node(n).parent) {
    chain.push_back(n);
  }
  return chain;
}

}  // namespace

PciPathType pciPathType(const TopologyGraph& g, int a, int b) {
  std::vector<int> up = ancestors(g, a);
  std::vector<int> down = ancestors(g, b);
  for (size_t i = 0; i < up.size(); ++i) {
    auto j = std::find(down.begin(), down.end(), up[i]);
    if (j == down.end()) continue;
    int common = up[i];
    if (g.node(common).kind == NodeKind::kCpu) return PciPathType::kPhb;
    // Switches on the path: those strictly above a and b up to and including the common one.
    size_t switches = 0;
    for (size_t k = 1; k <= i; ++k) switches += g.node(up[k]).kind == NodeKind::kPciSwitch;
    for (auto k = down.begin() + 1; k < j; ++k) switches += g.node(*k).kind == NodeKind::kPciSwitch;
    return switches <= 1 ? PciPathType::kPix : PciPathType::kPxb;
  }
  int cpuA = up.back();
  int cpuB = down.back();
  if (g.node(cpuA).kind == NodeKind::kCpu && g.node(cpuB).kind == NodeKind::kCpu &&
      g.node(cpuA).hostIndex == g.node(cpuB).hostIndex) {
    return PciPathType::kSys;
  }
  return PciPathType::kNone;
}

TopologySummary summarize(const TopologyGraph& g) {
  TopologySummary s;
  s.cpus = g.count(NodeKind::kCpu);
  s.gpus = g.count(NodeKind::kGpu);
  s.nics = g.count(NodeKind::kNic);
  s.netPorts = g.count(NodeKind::kNetPort);
  s.nvSwitches = g.count(NodeKind::kNvSwitch);
  s.pciSwitches = g.count(NodeKind::kPciSwitch);
  std::vector<int> nics = g.nodesOfKind(NodeKind::kNic);
  for (int gpu : g.nodesOfKind(NodeKind::kGpu)) {
    GpuSummary gs;
    gs.node = gpu;
    gs.name = g.node(gpu).name;
    gs.busId = g.node(gpu).busId;
    for (int l : g.linksOf(gpu)) {
      const TopoLink& link = g.links()[static_cast<size_t>(l)];
      if (link.kind != LinkKind::kNvLink) continue;
      int far = g.otherEnd(l, gpu);
      gs.nvlinkPeers.push_back({far, g.node(far).name, link.count, link.bandwidthGBs});
    }
    for (int nic : nics) {
      if (g.node(nic).hostIndex != g.node(gpu).hostIndex) continue;
      PciPathType t = pciPathType(g, gpu, nic);
      if (t < gs.nicPath) {
        gs.nicPath = t;
        gs.nearestNic = nic;
      }
    }
    s.perGpu.push_back(std::move(gs));
  }
  return s;
}

std::string TopologySummary::toString(const TopologyGraph& g) const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%d GPUs, %d NICs (%d ports), %d NVSwitches, %d CPUs, %d PCI switches\n", gpus,
                nics, netPorts, nvSwitches, cpus, pciSwitches);
  out += line;
  for (const GpuSummary& gs : perGpu) {
    out += "  " + gs.name + " [" + gs.busId + "]";
    if (gs.nvlinkPeers.empty()) out += " no NVLink;";
    for (const NvLinkPeer& p : gs.nvlinkPeers) {
      std::snprintf(line, sizeof(line), " NVL x%d -> %s;", p.count, p.name.c_str());
      out += line;
    }
    if (gs.nearestNic >= 0) {
      out += std::string(" nearest NIC ") + g.node(gs.nearestNic).name + " (" + pciPathTypeName(gs.nicPath) + ")";
    } else {
      out += " no NIC";
    }
    out += "\n";
  }
  return out;
}

}  // namespace loom
