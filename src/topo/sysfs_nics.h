// NICs and their speeds from sysfs: <root>/class/net and <root>/class/infiniband.
//
// hwloc finds NICs but not how fast they are, and hwloc may be absent, so this
// both fills in speeds of the ports already in the graph and adds the NICs the
// graph lacks. Containers and VMs make sysfs patchy (speed -1 on virtio,
// veth pairs with no device): each gap is filled with a default and noted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topo/sysfs_pci.h"
#include "topo/topology_graph.h"

namespace loom {

// One network device as sysfs shows it: an interface, or one port of an InfiniBand device.
struct SysfsNetDevice {
  std::string name;        // "eth0"; "mlx5_0" for an InfiniBand device (its port in `port`)
  bool infiniband = false;
  int port = -1;           // InfiniBand port number; -1 for an interface
  int speedMbps = -1;      // -1: sysfs does not say (virtio, link down)
  bool isVirtual = false;  // no device behind it: veth, bridge, bond, ifb, tun, docker0
  std::string state;       // interface operstate ("up") or InfiniBand port state ("ACTIVE")
  std::optional<SysfsPciFunction> pci;  // the PCI function behind it, when there is one
};

// Every interface but loopback and every InfiniBand port, sorted by name then
// port. A missing directory gives an empty list.
std::vector<SysfsNetDevice> readSysfsNetDevices(const std::string& sysfsRoot);

// Parses an InfiniBand port rate ("400 Gb/sec (4X NDR)", "2.5 Gb/sec (1X SDR)") to Mb/s; -1 when unreadable.
int parseInfinibandRateMbps(const std::string& rate);

// Interface speed assumed when sysfs gives none: what a cloud VM's virtio NIC usually gets.
constexpr int kAssumedInterfaceMbps = 10000;
// InfiniBand rate assumed when the rate file is unreadable: EDR, the oldest still common.
constexpr int kAssumedInfinibandMbps = 100000;

// Merges the NICs of `sysfsRoot` into `graph` (which must have its CPUs):
// ports the graph already has (matched by name) get their speed; NICs the graph
// lacks (matched by bus id) are added as kNic + kNetPort under their PCI bridge,
// else under the CPU of their NUMA node, else the first CPU. Virtual
// interfaces are left out when a physical NIC exists. Assumptions go to graph.notes.
void addSysfsNics(TopologyGraph& graph, const std::string& sysfsRoot);

}  // namespace loom
