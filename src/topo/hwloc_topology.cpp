#include "topo/hwloc_topology.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "topo/link_bandwidth.h"
#include "topo/socket_links.h"

namespace loom {
namespace {

std::string attr(const XmlElement& el, const char* name) {
  const std::string* v = el.attribute(name);
  return v == nullptr ? std::string() : *v;
}

std::string info(const XmlElement& object, std::string_view name) {
  for (const XmlElement& c : object.children) {
    if (c.name == "info" && c.attribute("name") != nullptr && *c.attribute("name") == name) {
      return attr(c, "value");
    }
  }
  return "";
}

// hwloc does not record the compute capability; the marketing name is enough to
// pick the NVLink generation, which is all the model needs it for.
int smFromGpuModel(const std::string& model) {
  struct Entry { const char* marker; int sm; };
  constexpr Entry kModels[] = {{"GB200", 100}, {"B200", 100}, {"B100", 100}, {"H100", 90}, {"H200", 90},
                               {"H800", 90},   {"GH200", 90}, {"A100", 80},  {"A800", 80}, {"V100", 70},
                               {"P100", 60}};
  for (const Entry& e : kModels) {
    if (model.find(e.marker) != std::string::npos) return e.sm;
  }
  return -1;
}

class HwlocReader {
 public:
  Result<TopologyGraph> read(const XmlElement& root) {
    if (root.name != "topology") {
      return Status::invalidArgument("line %d: root element is <%s>, expected <topology> (hwloc XML)", root.line,
                                     root.name.c_str());
    }
    for (const XmlElement& child : root.children) {
      if (child.name == "object") LOOM_RETURN_IF_ERROR(walk(child, -1, -1));
    }
    connectSocketsPairwise(g_);
    for (const XmlElement& child : root.children) {
      if (child.name == "distances2hetero" || child.name == "distances2") {
        LOOM_RETURN_IF_ERROR(readDistances(child));
      }
    }
    if (skippedPciDevices_ > 0) {
      g_.notes.push_back(std::to_string(skippedPciDevices_) +
                         " PCI devices that are neither GPU, NIC nor NVSwitch were left out");
    }
    return std::move(g_);
  }

 private:
  Status walk(const XmlElement& object, int parent, int cpu) {
    std::string type = attr(object, "type");
    int next = parent;
    int nextCpu = cpu;
    if (type == "Package" || (type == "NUMANode" && cpu < 0)) {
      nextCpu = next = addCpu(object);
    } else if (type == "Bridge") {
      std::string busId = normalizeBusId(attr(object, "pci_busid"));
      if (!busId.empty()) {
        // A host bridge (no bus id) is the CPU itself in NCCL's model; a PCI-to-PCI bridge is a switch level.
        if (cpu < 0) nextCpu = cpu = anyCpu(object);
        next = addPciNode(object, NodeKind::kPciSwitch, busId, parent < 0 ? cpu : parent, cpu);
      } else if (cpu < 0) {
        nextCpu = next = anyCpu(object);
      }
    } else if (type == "PCIDev") {
      if (cpu < 0) cpu = anyCpu(object);
      return addPciDevice(object, parent < 0 ? cpu : parent, cpu);
    }
    for (const XmlElement& child : object.children) {
      if (child.name == "object") LOOM_RETURN_IF_ERROR(walk(child, next, nextCpu));
    }
    return Status::ok();
  }

  int addCpu(const XmlElement& object) {
    TopoNode node;
    node.kind = NodeKind::kCpu;
    node.numaId = std::atoi(attr(object, "os_index").c_str());
    for (const XmlElement& c : object.children) {
      if (c.name == "object" && attr(c, "type") == "NUMANode") {
        node.numaId = std::atoi(attr(c, "os_index").c_str());
        break;
      }
    }
    std::string cpuset = attr(object, "cpuset");
    for (size_t p; (p = cpuset.find("0x")) != std::string::npos;) cpuset.erase(p, 2);
    node.cpu.affinity = cpuset;
    node.cpu.vendor = info(object, "CPUVendor");
    node.cpu.familyId = info(object, "CPUFamilyNumber");
    node.cpu.modelId = info(object, "CPUModelNumber");
    node.name = "NUMA " + std::to_string(node.numaId);
    int index = g_.addNode(std::move(node));
    gpIndex_["Package:" + attr(object, "gp_index")] = index;
    return index;
  }

  // I/O attached above any package (to the Machine) hangs off the first CPU.
  int anyCpu(const XmlElement& object) {
    std::vector<int> cpus = g_.nodesOfKind(NodeKind::kCpu);
    if (!cpus.empty()) return cpus.front();
    return addCpu(object);
  }

  int addPciNode(const XmlElement& object, NodeKind kind, const std::string& busId, int parent, int cpu) {
    TopoNode node;
    node.kind = kind;
    node.busId = busId;
    node.parent = parent;
    node.numaId = g_.node(cpu).numaId;
    // pci_type is "CCSS [vendor:device] [subvendor:subdevice] rev progif".
    std::istringstream type(attr(object, "pci_type"));
    std::string cls, ids, subIds;
    type >> cls >> ids >> subIds;
    if (cls.size() == 4) node.pci.classCode = "0x" + cls + "00";
    if (ids.size() == 11) {
      node.pci.vendor = "0x" + ids.substr(1, 4);
      node.pci.device = "0x" + ids.substr(6, 4);
    }
    if (subIds.size() == 11) {
      node.pci.subsystemVendor = "0x" + subIds.substr(1, 4);
      node.pci.subsystemDevice = "0x" + subIds.substr(6, 4);
    }
    const char* prefix = kind == NodeKind::kGpu ? "GPU " : kind == NodeKind::kNic ? "NIC " :
                         kind == NodeKind::kNvSwitch ? "NVSwitch " : "PCI ";
    node.name = prefix + busId;
    int index = g_.addNode(std::move(node));
    gpIndex_["PCIDev:" + attr(object, "gp_index")] = index;
    gpIndex_["Bridge:" + attr(object, "gp_index")] = index;
    TopoLink link;
    link.a = index;
    link.b = parent;
    link.kind = LinkKind::kPcie;
    // hwloc gives the upstream link's bandwidth in GB/s directly.
    double gbs = std::atof(attr(object, "pci_link_speed").c_str());
    link.bandwidthGBs = gbs > 0 ? gbs : pcieBandwidthGBs(0, 0);
    link.latencyUs = kPcieLatencyUs;
    g_.addLink(link);
    return index;
  }

  Status addPciDevice(const XmlElement& object, int parent, int cpu) {
    std::string busId = normalizeBusId(attr(object, "pci_busid"));
    std::string cls = attr(object, "pci_type").substr(0, 4);
    NodeKind kind;
    if (attr(object, "subtype") == "NVSwitch" || cls == "0680") {
      kind = NodeKind::kNvSwitch;
    } else if (cls.rfind("03", 0) == 0) {
      kind = NodeKind::kGpu;
    } else if (cls.rfind("02", 0) == 0) {
      kind = NodeKind::kNic;
    } else {
      ++skippedPciDevices_;
      return Status::ok();
    }
    if (busId.empty()) {
      return Status::invalidArgument("line %d: hwloc PCIDev has no valid pci_busid ('%s')", object.line,
                                     attr(object, "pci_busid").substr(0, 64).c_str());
    }
    if (g_.findByBusId(busId) >= 0) {
      return Status::invalidArgument("line %d: PCI bus id %s appears twice", object.line, busId.c_str());
    }
    int index = addPciNode(object, kind, busId, parent, cpu);
    // Some NVSwitches report a blank PCI class ("0000 [0000:0000]"); the subtype is what identifies them.
    if (kind == NodeKind::kNvSwitch) g_.mutableNode(index).pci.classCode = "0x068000";
    for (const XmlElement& os : object.children) {
      if (os.name != "object" || attr(os, "type") != "OSDev") continue;
      std::string name = attr(os, "name");
      gpIndex_["OSDev:" + attr(os, "gp_index")] = index;
      if (kind == NodeKind::kGpu && (name.rfind("nvml", 0) == 0 || name.rfind("cuda", 0) == 0)) {
        TopoNode& gpu = g_.mutableNode(index);
        gpu.devIndex = std::atoi(name.c_str() + 4);
        gpu.name = "GPU " + std::to_string(gpu.devIndex);
        int sm = smFromGpuModel(info(os, "GPUModel"));
        if (sm > 0) gpu.gpu.sm = sm;
      } else if (kind == NodeKind::kNic) {
        // Each network or OpenFabrics OS device is one port NCCL could use.
        TopoNode port;
        port.kind = NodeKind::kNetPort;
        port.name = name;
        port.parent = index;
        port.numaId = g_.node(index).numaId;
        int portIndex = g_.addNode(std::move(port));
        TopoLink link;
        link.a = portIndex;
        link.b = index;
        link.kind = LinkKind::kNet;
        link.bandwidthGBs = netBandwidthGBs(100000);  // hwloc does not record the port speed
        link.latencyUs = kDefaultNetLatencyUs;
        g_.addLink(link);
      }
    }
    return Status::ok();
  }

  // The NVLink matrix: objects named "Type:gp_index", values in MB/s, row = from.
  Status readDistances(const XmlElement& el) {
    if (attr(el, "name") != "NVLinkBandwidth") return Status::ok();
    if (el.name != "distances2hetero") {
      g_.notes.push_back("line " + std::to_string(el.line) +
                         ": homogeneous NVLinkBandwidth matrix is not read yet; NVLinks left out");
      return Status::ok();
    }
    long n = std::atol(attr(el, "nbobjs").c_str());
    if (n <= 0 || n > 4096) {
      return Status::invalidArgument("line %d: <%s nbobjs=\"%s\">: expected 1 to 4096", el.line, el.name.c_str(),
                                     attr(el, "nbobjs").substr(0, 32).c_str());
    }
    std::vector<std::string> names;
    std::vector<unsigned long long> values;
    for (const XmlElement& c : el.children) {
      std::istringstream words(c.text);
      if (c.name == "indexes") {
        for (std::string w; words >> w;) names.push_back(w);
      } else if (c.name == "u64values") {
        for (std::string w; words >> w;) {
          char* end = nullptr;
          unsigned long long v = std::strtoull(w.c_str(), &end, 10);
          if (*end != '\0') {
            return Status::invalidArgument("line %d: '%s' in <u64values> is not a number", c.line,
                                           w.substr(0, 32).c_str());
          }
          values.push_back(v);
        }
      }
    }
    size_t count = static_cast<size_t>(n);
    if (names.size() != count || values.size() != count * count) {
      return Status::invalidArgument("line %d: NVLinkBandwidth matrix declares %ld objects but lists %zu names and %zu values",
                                     el.line, n, names.size(), values.size());
    }
    std::vector<int> nodeOf(count, -1);
    for (size_t i = 0; i < count; ++i) {
      auto it = gpIndex_.find(names[i]);
      if (it != gpIndex_.end()) nodeOf[i] = it->second;
    }
    for (size_t i = 0; i < count; ++i) {
      for (size_t j = i + 1; j < count; ++j) {
        unsigned long long mbs = std::max(values[i * count + j], values[j * count + i]);
        if (mbs == 0) continue;
        if (nodeOf[i] < 0 || nodeOf[j] < 0 || nodeOf[i] == nodeOf[j]) {
          g_.notes.push_back("NVLink between " + names[i] + " and " + names[j] + " names an unknown object; ignored");
          continue;
        }
        int gpuEnd = g_.node(nodeOf[i]).kind == NodeKind::kGpu ? nodeOf[i] : nodeOf[j];
        double perLink = nvlinkPerLinkGBs(g_.node(gpuEnd).gpu.sm);
        TopoLink link;
        link.a = nodeOf[i];
        link.b = nodeOf[j];
        link.kind = LinkKind::kNvLink;
        link.bandwidthGBs = static_cast<double>(mbs) / 1000.0;
        link.count = std::max(1, static_cast<int>(std::lround(link.bandwidthGBs / perLink)));
        link.latencyUs = kNvLinkLatencyUs;
        g_.addLink(link);
      }
    }
    return Status::ok();
  }

  TopologyGraph g_;
  std::map<std::string, int> gpIndex_;  // "PCIDev:581" -> node
  int skippedPciDevices_ = 0;
};

}  // namespace

Result<TopologyGraph> readHwlocTopology(const XmlElement& root) { return HwlocReader().read(root); }

}  // namespace loom
