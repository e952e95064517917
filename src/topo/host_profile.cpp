#include "topo/host_profile.h"

#include <algorithm>
#include <string>

#include "topo/link_bandwidth.h"

namespace loom {

// A host whose NICs discovery could not see still talks TCP to the others;
// assume a common Ethernet port rather than no network at all.
constexpr int32_t kAssumedNicSpeedMbps = 10000;

HostProfile profileOf(const TopologyGraph& local, int cores) {
  HostProfile p;
  p.sockets = std::max(1, local.count(NodeKind::kCpu));
  p.cores = std::max(1, cores);
  for (int port : local.nodesOfKind(NodeKind::kNetPort)) {
    ++p.nics;
    p.nicSpeedMbps = std::max(p.nicSpeedMbps, static_cast<int32_t>(local.node(port).net.speedMbps));
  }
  if (p.nics == 0) p.nics = 1;
  if (p.nicSpeedMbps <= 0) p.nicSpeedMbps = kAssumedNicSpeedMbps;
  return p;
}

TopologyGraph clusterGraph(const std::vector<HostProfile>& hosts) {
  TopologyGraph g;
  int fabric = -1;
  if (hosts.size() > 1) {
    TopoNode n;
    n.kind = NodeKind::kNetwork;
    n.name = "fabric";
    fabric = g.addNode(n);
  }
  for (size_t h = 0; h < hosts.size(); ++h) {
    const HostProfile& p = hosts[h];
    std::string prefix = "host " + std::to_string(h);
    TopoNode host;
    host.kind = NodeKind::kHost;
    host.name = prefix;
    host.hostIndex = static_cast<int>(h);
    g.addNode(host);
    std::vector<int> cpus;
    for (int s = 0; s < std::max(1, p.sockets); ++s) {
      TopoNode cpu;
      cpu.kind = NodeKind::kCpu;
      cpu.name = prefix + " CPU " + std::to_string(s);
      cpu.numaId = s;
      cpu.hostIndex = static_cast<int>(h);
      cpus.push_back(g.addNode(cpu));
    }
    for (size_t a = 0; a < cpus.size(); ++a) {
      for (size_t b = a + 1; b < cpus.size(); ++b) {
        g.addLink({cpus[a], cpus[b], LinkKind::kSys, interSocketGBs(""), kSysLatencyUs});
      }
    }
    for (int i = 0; i < p.nics; ++i) {
      TopoNode nic;
      nic.kind = NodeKind::kNic;
      nic.name = prefix + " NIC " + std::to_string(i);
      nic.numaId = 0;
      nic.hostIndex = static_cast<int>(h);
      nic.parent = cpus[0];
      int nicNode = g.addNode(nic);
      g.addLink({nicNode, cpus[0], LinkKind::kPcie, pcieBandwidthGBs(0, 0), kPcieLatencyUs});
      TopoNode port = nic;
      port.kind = NodeKind::kNetPort;
      port.name = prefix + " net " + std::to_string(i);
      port.devIndex = i;
      port.parent = nicNode;
      port.net.speedMbps = p.nicSpeedMbps;
      int portNode = g.addNode(port);
      double bw = netBandwidthGBs(p.nicSpeedMbps);
      g.addLink({portNode, nicNode, LinkKind::kNet, bw, 0});
      if (fabric >= 0) g.addLink({portNode, fabric, LinkKind::kNet, bw, kDefaultNetLatencyUs / 2});
    }
  }
  return g;
}

int cpuOfHost(const TopologyGraph& cluster, int host) {
  for (int n : cluster.nodesOfKind(NodeKind::kCpu)) {
    if (cluster.node(n).hostIndex == host) return n;
  }
  return -1;
}

}  // namespace loom
