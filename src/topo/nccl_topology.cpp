#include "topo/nccl_topology.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

#include "topo/link_bandwidth.h"
#include "topo/socket_links.h"

namespace loom {
namespace {

// PCI class codes NCCL uses to type a device (see the PCI-SIG class code list).
constexpr const char* kClassGpu = "0x030200";
constexpr const char* kClassNvSwitch = "0x068000";
constexpr const char* kClassCpuNvLink = "0x068001";

bool startsWith(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string formatDouble(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest form that reads back exactly
  return std::string(buf, r.ptr);
}

Status badAttribute(const XmlElement& el, const char* attr, const std::string& value, const char* expected) {
  return Status::invalidArgument("line %d: <%s %s=\"%s\">: expected %s", el.line, el.name.c_str(), attr,
                                 value.substr(0, 64).c_str(), expected);
}

// Reads an optional integer attribute; absent or empty leaves `out` unchanged.
Status intAttribute(const XmlElement& el, const char* attr, int& out) {
  const std::string* v = el.attribute(attr);
  if (v == nullptr || v->empty()) return Status::ok();
  const char* begin = v->c_str();
  char* end = nullptr;
  errno = 0;
  long long parsed = std::strtoll(begin, &end, 0);
  if (end == begin || *end != '\0' || errno != 0 || parsed < -2147483647LL || parsed > 2147483647LL) {
    return badAttribute(el, attr, *v, "an integer");
  }
  out = static_cast<int>(parsed);
  return Status::ok();
}

Status doubleAttribute(const XmlElement& el, const char* attr, double& out) {
  const std::string* v = el.attribute(attr);
  if (v == nullptr || v->empty()) return Status::ok();
  const char* begin = v->c_str();
  char* end = nullptr;
  double parsed = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || !(parsed >= 0 && parsed < 1e12)) {
    return badAttribute(el, attr, *v, "a non-negative number");
  }
  out = parsed;
  return Status::ok();
}

std::string stringAttribute(const XmlElement& el, const char* attr) {
  const std::string* v = el.attribute(attr);
  return v == nullptr ? std::string() : *v;
}

std::vector<std::pair<std::string, std::string>> extras(const XmlElement& el,
                                                        std::initializer_list<std::string_view> known) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const XmlAttribute& a : el.attributes) {
    bool isKnown = false;
    for (std::string_view k : known) isKnown = isKnown || a.name == k;
    if (!isKnown) out.emplace_back(a.name, a.value);
  }
  return out;
}

class NcclReader {
 public:
  Result<TopologyGraph> read(const XmlElement& root) {
    if (root.name != "system") {
      return Status::invalidArgument("line %d: root element is <%s>, expected <system> (NCCL topology XML)",
                                     root.line, root.name.c_str());
    }
    for (const XmlElement& child : root.children) {
      if (child.name == "cpu") {
        LOOM_RETURN_IF_ERROR(readCpu(child));
      } else {
        ignored(child, root);
      }
    }
    connectSocketsPairwise(g_);  // NCCL joins every pair of sockets directly; so do we
    LOOM_RETURN_IF_ERROR(resolveNvLinks());
    return std::move(g_);
  }

 private:
  struct PendingNvLink {
    int gpu;
    std::string target;  // as written
    std::string tclass;
    int count;
    int line;
  };

  void ignored(const XmlElement& el, const XmlElement& parent) {
    g_.notes.push_back("line " + std::to_string(el.line) + ": <" + el.name + "> inside <" + parent.name +
                       "> is not part of NCCL topology XML; ignored");
  }

  Status readCpu(const XmlElement& el) {
    TopoNode cpu;
    cpu.kind = NodeKind::kCpu;
    LOOM_RETURN_IF_ERROR(intAttribute(el, "numaid", cpu.numaId));
    cpu.cpu.affinity = stringAttribute(el, "affinity");
    cpu.cpu.arch = stringAttribute(el, "arch");
    cpu.cpu.vendor = stringAttribute(el, "vendor");
    cpu.cpu.familyId = stringAttribute(el, "familyid");
    cpu.cpu.modelId = stringAttribute(el, "modelid");
    cpu.extraAttributes = extras(el, {"numaid", "affinity", "arch", "vendor", "familyid", "modelid"});
    cpu.name = "NUMA " + (cpu.numaId >= 0 ? std::to_string(cpu.numaId) : "?");
    int index = g_.addNode(std::move(cpu));
    for (const XmlElement& child : el.children) {
      if (child.name == "pci") {
        LOOM_RETURN_IF_ERROR(readPci(child, index, index));
      } else if (child.name == "nic") {
        LOOM_RETURN_IF_ERROR(readNic(child, index, /*nicNode=*/-1, index));
      } else {
        ignored(child, el);
      }
    }
    return Status::ok();
  }

  static bool hasChild(const XmlElement& el, std::string_view name) {
    for (const XmlElement& c : el.children) {
      if (c.name == name) return true;
    }
    return false;
  }

  Status readPci(const XmlElement& el, int parent, int cpu) {
    const std::string* rawBusId = el.attribute("busid");
    if (rawBusId == nullptr) return Status::invalidArgument("line %d: <pci> has no busid attribute", el.line);
    std::string busId = normalizeBusId(*rawBusId);
    if (busId.empty()) return badAttribute(el, "busid", *rawBusId, "a PCI bus id like 0000:0f:00.0");
    auto [it, inserted] = busIdLines_.emplace(busId, el.line);
    if (!inserted) {
      return Status::invalidArgument("line %d: PCI bus id %s appears twice (first at line %d)", el.line,
                                     busId.c_str(), it->second);
    }
    TopoNode node;
    node.busId = busId;
    node.parent = parent;
    node.numaId = g_.node(cpu).numaId;
    node.pci.classCode = lower(stringAttribute(el, "class"));
    node.pci.vendor = stringAttribute(el, "vendor");
    node.pci.device = stringAttribute(el, "device");
    node.pci.subsystemVendor = stringAttribute(el, "subsystem_vendor");
    node.pci.subsystemDevice = stringAttribute(el, "subsystem_device");
    node.pci.linkSpeed = stringAttribute(el, "link_speed");
    node.pci.linkWidth = stringAttribute(el, "link_width");
    node.extraAttributes = extras(el, {"busid", "class", "vendor", "device", "subsystem_vendor",
                                       "subsystem_device", "link_speed", "link_width"});
    const std::string& cls = node.pci.classCode;
    if (hasChild(el, "gpu") || startsWith(cls, "0x03")) {
      node.kind = NodeKind::kGpu;
      node.name = "GPU " + busId;
    } else if (hasChild(el, "nic") || startsWith(cls, "0x02")) {
      node.kind = NodeKind::kNic;
      node.name = "NIC " + busId;
    } else if (cls == kClassNvSwitch) {
      node.kind = NodeKind::kNvSwitch;
      node.name = "NVSwitch " + busId;
    } else {
      // NCCL treats any other class, or none, as a PCI bridge; so do we.
      node.kind = NodeKind::kPciSwitch;
      node.name = "PCI " + busId;
      if (cls.empty()) {
        g_.notes.push_back("line " + std::to_string(el.line) + ": <pci busid=\"" + busId +
                           "\"> has no class; taken as a PCI bridge");
      }
    }
    int width = 0;
    LOOM_RETURN_IF_ERROR(intAttribute(el, "link_width", width));
    if (width < 0 || width > 64) return badAttribute(el, "link_width", node.pci.linkWidth, "0 to 64 lanes");
    int gen = pcieGenFromLinkSpeed(node.pci.linkSpeed);
    int index = g_.addNode(std::move(node));
    addPcieLink(index, parent, gen, width);

    for (const XmlElement& child : el.children) {
      if (child.name == "pci") {
        LOOM_RETURN_IF_ERROR(readPci(child, index, cpu));
      } else if (child.name == "gpu") {
        LOOM_RETURN_IF_ERROR(readGpu(child, index));
      } else if (child.name == "nic") {
        LOOM_RETURN_IF_ERROR(readNic(child, index, index, cpu));
      } else {
        ignored(child, el);
      }
    }
    return Status::ok();
  }

  void addPcieLink(int child, int parent, int gen, int width) {
    TopoLink link;
    link.a = child;
    link.b = parent;
    link.kind = LinkKind::kPcie;
    link.pcieGen = gen;
    link.pcieWidth = width;
    link.bandwidthGBs = pcieBandwidthGBs(gen, width);
    link.latencyUs = kPcieLatencyUs;
    g_.addLink(link);
  }

  Status readGpu(const XmlElement& el, int index) {
    TopoNode& gpu = g_.mutableNode(index);
    if (sawGpu_.count(index) != 0) {
      return Status::invalidArgument("line %d: second <gpu> inside <pci busid=\"%s\">", el.line,
                                     gpu.busId.c_str());
    }
    sawGpu_.insert(index);
    LOOM_RETURN_IF_ERROR(intAttribute(el, "dev", gpu.devIndex));
    LOOM_RETURN_IF_ERROR(intAttribute(el, "sm", gpu.gpu.sm));
    LOOM_RETURN_IF_ERROR(intAttribute(el, "rank", gpu.gpu.rank));
    LOOM_RETURN_IF_ERROR(intAttribute(el, "gdr", gpu.gpu.gdr));
    for (auto& [name, value] : extras(el, {"dev", "sm", "rank", "gdr"})) {
      // Kept apart from the <pci> element's own attributes so each goes back where it came from.
      gpu.extraAttributes.emplace_back("gpu:" + name, value);
    }
    if (gpu.devIndex >= 0) gpu.name = "GPU " + std::to_string(gpu.devIndex);
    for (const XmlElement& child : el.children) {
      if (child.name == "nvlink") {
        PendingNvLink p{index, stringAttribute(child, "target"), lower(stringAttribute(child, "tclass")), 1,
                        child.line};
        LOOM_RETURN_IF_ERROR(intAttribute(child, "count", p.count));
        if (p.count < 1 || p.count > 1024) {
          return badAttribute(child, "count", stringAttribute(child, "count"), "a link count from 1 to 1024");
        }
        pending_.push_back(std::move(p));
      } else if (child.name == "c2c") {
        LOOM_RETURN_IF_ERROR(readC2C(child, index));
      } else {
        ignored(child, el);
      }
    }
    return Status::ok();
  }

  Status readC2C(const XmlElement& el, int gpu) {
    int count = 1;
    double perLinkMBs = 0;
    LOOM_RETURN_IF_ERROR(intAttribute(el, "count", count));
    LOOM_RETURN_IF_ERROR(doubleAttribute(el, "bw", perLinkMBs));
    if (count < 1 || count > 1024) return badAttribute(el, "count", stringAttribute(el, "count"), "1 to 1024");
    int cpu = g_.node(gpu).parent;
    while (cpu >= 0 && g_.node(cpu).kind != NodeKind::kCpu) cpu = g_.node(cpu).parent;
    if (cpu < 0) return Status::invalidArgument("line %d: <c2c> on a GPU with no CPU above it", el.line);
    TopoLink link;
    link.a = gpu;
    link.b = cpu;
    link.kind = LinkKind::kC2C;
    link.count = count;
    // NCCL's dump gives C2C bandwidth per link in MB/s (as NVML reports it).
    link.bandwidthGBs = perLinkMBs * count / 1000.0;
    link.latencyUs = kC2CLatencyUs;
    g_.addLink(link);
    return Status::ok();
  }

  Status readNic(const XmlElement& el, int parent, int nicNode, int cpu) {
    if (nicNode < 0) {
      TopoNode nic;
      nic.kind = NodeKind::kNic;
      nic.parent = parent;
      nic.numaId = g_.node(cpu).numaId;
      nic.name = "NIC (no PCI id) on NUMA " + std::to_string(nic.numaId);
      nic.extraAttributes = extras(el, {});
      nicNode = g_.addNode(std::move(nic));
      // A NIC with no PCI function is a VM's virtual device: nothing says how fast its bus is.
      addPcieLink(nicNode, parent, 0, 0);
    } else if (g_.node(nicNode).kind != NodeKind::kNic) {
      return Status::invalidArgument("line %d: <nic> inside <pci busid=\"%s\">, which is a %s", el.line,
                                     g_.node(nicNode).busId.c_str(), nodeKindName(g_.node(nicNode).kind));
    }
    for (const XmlElement& child : el.children) {
      if (child.name != "net") {
        ignored(child, el);
        continue;
      }
      TopoNode port;
      port.kind = NodeKind::kNetPort;
      port.parent = nicNode;
      port.numaId = g_.node(cpu).numaId;
      port.name = stringAttribute(child, "name");
      LOOM_RETURN_IF_ERROR(intAttribute(child, "dev", port.devIndex));
      LOOM_RETURN_IF_ERROR(intAttribute(child, "speed", port.net.speedMbps));
      LOOM_RETURN_IF_ERROR(intAttribute(child, "port", port.net.port));
      LOOM_RETURN_IF_ERROR(doubleAttribute(child, "latency", port.net.latencyUs));
      port.net.guid = stringAttribute(child, "guid");
      LOOM_RETURN_IF_ERROR(intAttribute(child, "maxconn", port.net.maxConn));
      LOOM_RETURN_IF_ERROR(intAttribute(child, "gdr", port.net.gdr));
      port.extraAttributes =
          extras(child, {"name", "dev", "speed", "port", "latency", "guid", "maxconn", "gdr"});
      if (port.name.empty()) port.name = "net " + std::to_string(port.devIndex);
      TopoLink link;
      link.kind = LinkKind::kNet;
      link.bandwidthGBs = netBandwidthGBs(port.net.speedMbps);
      if (link.bandwidthGBs <= 0) {
        link.bandwidthGBs = netBandwidthGBs(100000);
        g_.notes.push_back("line " + std::to_string(child.line) + ": <net> has no speed; assumed 100 Gb/s");
      }
      link.latencyUs = port.net.latencyUs > 0 ? port.net.latencyUs : kDefaultNetLatencyUs;
      link.b = nicNode;
      link.a = g_.addNode(std::move(port));
      g_.addLink(link);
    }
    return Status::ok();
  }

  // NVLinks name their far end by bus id, which may come later in the file, so
  // they are joined up once the whole tree is known.
  Status resolveNvLinks() {
    std::set<std::pair<int, int>> listed;  // (gpu, far end) pairs seen so far
    for (const PendingNvLink& p : pending_) {
      std::string target = normalizeBusId(p.target);
      // A copy: adding an NVSwitch node below may move the node vector.
      const TopoNode gpu = g_.node(p.gpu);
      std::string where = "line " + std::to_string(p.line) + ": ";
      if (target.empty()) {
        return Status::invalidArgument("line %d: <nvlink target=\"%s\">: expected a PCI bus id", p.line,
                                       p.target.substr(0, 64).c_str());
      }
      if (target == gpu.busId) {
        g_.notes.push_back(where + gpu.name + " lists an NVLink to itself (count " + std::to_string(p.count) +
                           "); ignored");
        continue;
      }
      if (p.tclass == kClassCpuNvLink) {
        g_.notes.push_back(where + "NVLink from " + gpu.name + " to a CPU (" + target + ") is not modelled yet");
        continue;
      }
      int far = g_.findByBusId(target);
      if (far < 0 && (p.tclass == kClassNvSwitch || p.tclass.empty())) {
        // NCCL dumps name NVSwitches only as NVLink targets; they become nodes here.
        TopoNode sw;
        sw.kind = NodeKind::kNvSwitch;
        sw.busId = target;
        sw.name = "NVSwitch " + target;
        sw.pci.classCode = kClassNvSwitch;
        far = g_.addNode(std::move(sw));
      }
      if (far < 0) {
        g_.notes.push_back(where + "NVLink from " + gpu.name + " to " + target + ", which is not in the file; ignored");
        continue;
      }
      NodeKind farKind = g_.node(far).kind;
      if (farKind != NodeKind::kGpu && farKind != NodeKind::kNvSwitch) {
        return Status::invalidArgument("line %d: NVLink from %s to %s, which is a %s", p.line, gpu.name.c_str(),
                                       target.c_str(), nodeKindName(farKind));
      }
      double perLink = nvlinkPerLinkGBs(gpu.gpu.sm);
      int existing = g_.findLink(p.gpu, far, LinkKind::kNvLink);
      if (existing >= 0) {
        TopoLink& link = g_.mutableLink(existing);
        if (listed.count({p.gpu, far}) != 0) {
          link.count += p.count;  // the same GPU listing a target twice: more lanes
        } else if (link.count != p.count) {
          // Both ends list the link; a mismatch is a dump from a half-trained link.
          g_.notes.push_back(where + "NVLink " + gpu.name + " - " + g_.node(far).name + " has count " +
                             std::to_string(p.count) + " here and " + std::to_string(link.count) +
                             " from the other end; using the larger");
          link.count = std::max(link.count, p.count);
        }
        link.bandwidthGBs = link.count * perLink;
      } else {
        TopoLink link;
        link.a = p.gpu;
        link.b = far;
        link.kind = LinkKind::kNvLink;
        link.count = p.count;
        link.bandwidthGBs = p.count * perLink;
        link.latencyUs = kNvLinkLatencyUs;
        g_.addLink(link);
      }
      listed.insert({p.gpu, far});
    }
    return Status::ok();
  }

  TopologyGraph g_;
  std::vector<PendingNvLink> pending_;
  std::map<std::string, int> busIdLines_;
  std::set<int> sawGpu_;
};

class NcclWriter {
 public:
  explicit NcclWriter(const TopologyGraph& g) : g_(g) {}

  std::string write() {
    out_ = "<system version=\"1\">\n";
    for (int i = 0; i < g_.nodeCount(); ++i) {
      if (g_.node(i).parent == -1 && g_.node(i).kind == NodeKind::kCpu) writeNode(i, 1);
    }
    out_ += "</system>\n";
    return std::move(out_);
  }

 private:
  void indent(int depth) { out_.append(static_cast<size_t>(depth) * 2, ' '); }
  void attr(const char* name, const std::string& value, bool always = false) {
    if (value.empty() && !always) return;
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    out_ += xmlEscape(value);
    out_ += '"';
  }
  void intAttr(const char* name, int value) {
    if (value >= 0) attr(name, std::to_string(value));
  }
  void extraAttrs(const TopoNode& n, bool gpuElement) {
    for (const auto& [name, value] : n.extraAttributes) {
      bool isGpu = name.rfind("gpu:", 0) == 0;
      if (isGpu != gpuElement) continue;
      attr((isGpu ? name.substr(4) : name).c_str(), value, true);
    }
  }

  void writeNode(int i, int depth) {
    const TopoNode& n = g_.node(i);
    std::vector<int> kids = g_.children(i);
    indent(depth);
    if (n.kind == NodeKind::kCpu) {
      out_ += "<cpu";
      intAttr("numaid", n.numaId);
      attr("affinity", n.cpu.affinity);
      attr("arch", n.cpu.arch);
      attr("vendor", n.cpu.vendor);
      attr("familyid", n.cpu.familyId);
      attr("modelid", n.cpu.modelId);
      extraAttrs(n, false);
      out_ += ">\n";
      writeChildren(kids, depth + 1);
      indent(depth);
      out_ += "</cpu>\n";
      return;
    }
    if (n.busId.empty()) {
      // Only a NIC can appear without a PCI function: it is written as a bare <nic>.
      out_ += "<nic";
      extraAttrs(n, false);
      out_ += ">\n";
      writeChildren(kids, depth + 1);
      indent(depth);
      out_ += "</nic>\n";
      return;
    }
    out_ += "<pci";
    attr("busid", n.busId);
    attr("class", n.pci.classCode);
    attr("vendor", n.pci.vendor);
    attr("device", n.pci.device);
    attr("subsystem_vendor", n.pci.subsystemVendor);
    attr("subsystem_device", n.pci.subsystemDevice);
    attr("link_speed", n.pci.linkSpeed);
    attr("link_width", n.pci.linkWidth);
    extraAttrs(n, false);
    // The reader types a <pci> by its class, or by a <gpu>/<nic> child when the class says
    // otherwise; write that child whenever the class alone would not give the same kind back.
    bool classSaysGpu = n.pci.classCode.rfind("0x03", 0) == 0;
    bool classSaysNic = n.pci.classCode.rfind("0x02", 0) == 0;
    bool hasGpuElement = n.kind == NodeKind::kGpu && (n.devIndex >= 0 || n.gpu.sm >= 0 || n.gpu.rank >= 0 ||
                                                       n.gpu.gdr >= 0 || hasNvLinks(i) || !classSaysGpu ||
                                                       hasExtra(n, true));
    bool hasPorts = false;
    for (int k : kids) hasPorts = hasPorts || g_.node(k).kind == NodeKind::kNetPort;
    bool needsEmptyNic = n.kind == NodeKind::kNic && !hasPorts && !classSaysNic;
    if (kids.empty() && !hasGpuElement && !needsEmptyNic) {
      out_ += "/>\n";
      return;
    }
    out_ += ">\n";
    if (hasGpuElement) writeGpu(i, depth + 1);
    if (needsEmptyNic) {
      indent(depth + 1);
      out_ += "<nic>\n";
      indent(depth + 1);
      out_ += "</nic>\n";
    }
    if (n.kind == NodeKind::kNic) {
      writeChildren(kids, depth + 1, /*insideNic=*/false, /*wrapPortsInNic=*/true);
    } else {
      writeChildren(kids, depth + 1);
    }
    indent(depth);
    out_ += "</pci>\n";
  }

  static bool hasExtra(const TopoNode& n, bool gpuElement) {
    for (const auto& [name, value] : n.extraAttributes) {
      if ((name.rfind("gpu:", 0) == 0) == gpuElement) return true;
    }
    return false;
  }

  bool hasNvLinks(int gpu) const {
    for (int l : g_.linksOf(gpu)) {
      if (g_.links()[static_cast<size_t>(l)].kind == LinkKind::kNvLink ||
          g_.links()[static_cast<size_t>(l)].kind == LinkKind::kC2C) {
        return true;
      }
    }
    return false;
  }

  void writeGpu(int i, int depth) {
    const TopoNode& n = g_.node(i);
    indent(depth);
    out_ += "<gpu";
    intAttr("dev", n.devIndex);
    intAttr("sm", n.gpu.sm);
    intAttr("rank", n.gpu.rank);
    intAttr("gdr", n.gpu.gdr);
    extraAttrs(n, true);
    if (!hasNvLinks(i)) {
      out_ += "/>\n";
      return;
    }
    out_ += ">\n";
    for (int l : g_.linksOf(i)) {
      const TopoLink& link = g_.links()[static_cast<size_t>(l)];
      const TopoNode& far = g_.node(g_.otherEnd(l, i));
      if (link.kind == LinkKind::kNvLink && !far.busId.empty()) {
        indent(depth + 1);
        out_ += "<nvlink";
        attr("target", far.busId);
        attr("count", std::to_string(link.count));
        std::string tclass = far.kind == NodeKind::kNvSwitch ? kClassNvSwitch
                             : far.pci.classCode.empty()     ? kClassGpu
                                                             : far.pci.classCode;
        attr("tclass", tclass);
        out_ += "/>\n";
      } else if (link.kind == LinkKind::kC2C) {
        indent(depth + 1);
        out_ += "<c2c";
        attr("bw", formatDouble(link.bandwidthGBs * 1000.0 / link.count));
        attr("count", std::to_string(link.count));
        out_ += "/>\n";
      }
    }
    indent(depth);
    out_ += "</gpu>\n";
  }

  void writeChildren(const std::vector<int>& kids, int depth, bool insideNic = false, bool wrapPortsInNic = false) {
    size_t k = 0;
    while (k < kids.size()) {
      const TopoNode& n = g_.node(kids[k]);
      if (n.kind == NodeKind::kNetPort) {
        if (!insideNic && wrapPortsInNic) {
          // Consecutive ports of a PCI NIC go in one <nic> element.
          indent(depth);
          out_ += "<nic>\n";
          while (k < kids.size() && g_.node(kids[k]).kind == NodeKind::kNetPort) writePort(kids[k++], depth + 1);
          indent(depth);
          out_ += "</nic>\n";
        } else {
          writePort(kids[k++], depth);
        }
        continue;
      }
      if (n.kind == NodeKind::kNvSwitch && n.busId.empty()) {
        ++k;
        continue;
      }
      writeNode(kids[k++], depth);
    }
  }

  void writePort(int i, int depth) {
    const TopoNode& n = g_.node(i);
    indent(depth);
    out_ += "<net";
    attr("name", n.name);
    intAttr("dev", n.devIndex);
    intAttr("speed", n.net.speedMbps);
    intAttr("port", n.net.port);
    if (n.net.latencyUs >= 0) attr("latency", formatDouble(n.net.latencyUs));
    attr("guid", n.net.guid);
    intAttr("maxconn", n.net.maxConn);
    intAttr("gdr", n.net.gdr);
    extraAttrs(n, false);
    out_ += "/>\n";
  }

  const TopologyGraph& g_;
  std::string out_;
};

}  // namespace

Result<TopologyGraph> readNcclTopology(const XmlElement& root) { return NcclReader().read(root); }

std::string writeNcclTopology(const TopologyGraph& graph) { return NcclWriter(graph).write(); }

}  // namespace loom
