#include "topo/topology_print.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

namespace loom {
namespace {

std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* pattern, ...) {
  char buf[512];
  va_list args;
  va_start(args, pattern);
  std::vsnprintf(buf, sizeof(buf), pattern, args);
  va_end(args);
  return buf;
}

// "450", "12.5": bandwidths read best without a trailing ".0".
std::string compactNumber(double value) {
  std::string s = format("%.1f", value);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

const TopoLink& linkAt(const TopologyGraph& g, int l) { return g.links()[static_cast<size_t>(l)]; }

// Groups names by all but their last word: numbered ones become ranges ("NVSwitch 0".."NVSwitch 3"
// -> "NVSwitch 0..3", "GPU 5, GPU 1, GPU 2" -> "GPU 1..2,5"); others, such as NVSwitches named by
// bus id, become "NVSwitch 0000:c0:00.0 .. 0000:c5:00.0 (6)" once there are more than two.
// Groups keep the order of their first name, so the text follows link order.
std::string groupNames(const std::vector<std::string>& names) {
  struct Group {
    std::string prefix;
    std::vector<long> numbers;
    std::vector<std::string> words;  // last words that are not numbers; whole names when one word
  };
  std::vector<Group> groups;
  for (const std::string& name : names) {
    size_t space = name.rfind(' ');
    std::string prefix = space == std::string::npos ? "" : name.substr(0, space);
    std::string last = space == std::string::npos ? name : name.substr(space + 1);
    Group* group = nullptr;
    for (Group& g : groups) group = g.prefix == prefix ? &g : group;
    if (group == nullptr) group = &groups.emplace_back(Group{prefix, {}, {}});
    bool numeric = !prefix.empty() && !last.empty() && last.size() < 10 &&
                   last.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) {
      group->numbers.push_back(std::strtol(last.c_str(), nullptr, 10));
    } else {
      group->words.push_back(last);
    }
  }
  std::string out;
  for (Group& g : groups) {
    std::sort(g.numbers.begin(), g.numbers.end());
    g.numbers.erase(std::unique(g.numbers.begin(), g.numbers.end()), g.numbers.end());
    std::sort(g.words.begin(), g.words.end());
    g.words.erase(std::unique(g.words.begin(), g.words.end()), g.words.end());
    std::string items;
    for (size_t k = 0; k < g.numbers.size();) {
      size_t end = k;
      while (end + 1 < g.numbers.size() && g.numbers[end + 1] == g.numbers[end] + 1) ++end;
      items += (items.empty() ? "" : ",") + std::to_string(g.numbers[k]);
      if (end > k) items += ".." + std::to_string(g.numbers[end]);
      k = end + 1;
    }
    if (g.words.size() > 2) {
      items +=
          (items.empty() ? "" : ",") + g.words.front() + " .. " + g.words.back() + format(" (%zu)", g.words.size());
    } else {
      for (const std::string& w : g.words) items += (items.empty() ? "" : ",") + w;
    }
    out += (out.empty() ? "" : ", ") + g.prefix + (g.prefix.empty() ? "" : " ") + items;
  }
  return out;
}

// NCCL's affinity mask (hex 32-bit words, most significant first) as a cpu list
// ("cpus 0-55,112-167"), which is what people compare with `lscpu`.
std::string cpuList(const std::string& mask) {
  std::vector<unsigned long> words;
  size_t start = 0;
  while (start <= mask.size()) {
    size_t comma = mask.find(',', start);
    std::string word = mask.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (word.rfind("0x", 0) == 0) word = word.substr(2);
    char* end = nullptr;
    unsigned long bits = std::strtoul(word.c_str(), &end, 16);
    if (word.empty() || word.size() > 8 || *end != '\0') return "affinity " + mask;
    words.push_back(bits);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::string out;
  int runStart = -1;
  const int total = static_cast<int>(words.size()) * 32;
  for (int cpu = 0; cpu <= total; ++cpu) {
    bool set = cpu < total && ((words[words.size() - 1 - static_cast<size_t>(cpu / 32)] >> (cpu % 32)) & 1u);
    if (set && runStart < 0) runStart = cpu;
    if (!set && runStart >= 0) {
      out += (out.empty() ? "" : ",") + std::to_string(runStart);
      if (cpu - 1 > runStart) out += "-" + std::to_string(cpu - 1);
      runStart = -1;
    }
  }
  return out.empty() ? "affinity " + mask : "cpus " + out;
}

class TreePrinter {
 public:
  TreePrinter(const TopologyGraph& g, int maxHosts)
      : g_(g), maxHosts_(maxHosts), children_(g.nodes().size()), printed_(g.nodes().size()) {
    // One pass instead of graph.children() per node: graphs of thousands of hosts stay linear.
    for (int i = 0; i < g.nodeCount(); ++i) {
      const TopoNode& n = g.node(i);
      if (n.kind == NodeKind::kNetwork) continue;
      if (n.kind == NodeKind::kHost) hostNames_[n.hostIndex] = n.name;
      hosts_[n.hostIndex].push_back(i);
      if (isTreeChild(i)) children_[static_cast<size_t>(n.parent)].push_back(i);
    }
  }

  std::string print() {
    bool headers = hosts_.size() > 1 || !hostNames_.empty();
    int printed = 0;
    for (const auto& [host, nodes] : hosts_) {
      if (maxHosts_ > 0 && printed == maxHosts_) break;
      printHost(host, nodes, headers);
      ++printed;
    }
    if (static_cast<size_t>(printed) < hosts_.size()) {
      out_ += "... and " + plural(static_cast<int>(hosts_.size()) - printed, "more host") + "\n";
    }
    printNetwork();
    for (const std::string& note : g_.notes) out_ += "note: " + note + "\n";
    return out_;
  }

 private:
  bool isTreeChild(int i) const {
    int p = g_.node(i).parent;
    return p >= 0 && p < g_.nodeCount() && p != i;
  }

  void printHost(int host, const std::vector<int>& nodes, bool header) {
    std::string indent;
    if (header) {
      std::string title = "host " + std::to_string(host);
      auto name = hostNames_.find(host);
      out_ += title + (name != hostNames_.end() && name->second != title ? " (" + name->second + ")" : "") + "\n";
      indent = "  ";
    }
    std::vector<int> others, nvSwitches, cpus;
    for (int i : nodes) {
      const TopoNode& n = g_.node(i);
      if (n.kind == NodeKind::kNvSwitch) nvSwitches.push_back(i);
      if (n.kind == NodeKind::kCpu) cpus.push_back(i);
      if (isTreeChild(i) || n.kind == NodeKind::kHost) continue;
      if (n.kind == NodeKind::kCpu) {
        out_ += indent + label(i) + "\n";
        printChildren(i, indent);
      } else if (n.kind != NodeKind::kNvSwitch) {
        others.push_back(i);
      }
    }
    // Devices no CPU holds (virtual NICs, GPUs known only from NVLinks) get their own
    // section; so does one node of each parent loop, which no root reaches, so none is hidden.
    std::vector<bool> reached(printed_);
    for (int i : others) markSubtree(i, reached);
    for (int i : nodes) {
      if (!reached[static_cast<size_t>(i)] && isTreeChild(i)) {
        others.push_back(i);
        markSubtree(i, reached);
      }
    }
    if (!others.empty()) {
      out_ += indent + "outside the CPUs' PCIe trees:\n";
      printItems(others, indent);
    }
    if (!nvSwitches.empty()) printNvSwitches(nvSwitches, indent);
    for (int cpu : cpus) {
      for (int l : g_.linksOf(cpu)) {
        const TopoLink& link = linkAt(g_, l);
        int far = g_.otherEnd(l, cpu);
        if (link.kind != LinkKind::kSys || far < cpu) continue;  // each link once, from its lower end
        out_ += indent + g_.node(cpu).name + " <-> " + g_.node(far).name + ": SYS " + compactNumber(link.bandwidthGBs) +
                " GB/s\n";
      }
    }
  }

  void markSubtree(int root, std::vector<bool>& seen) const {
    std::vector<int> stack{root};
    while (!stack.empty()) {
      int n = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = true;
      for (int c : children_[static_cast<size_t>(n)]) stack.push_back(c);
    }
  }

  void printChildren(int node, const std::string& indent) { printItems(children_[static_cast<size_t>(node)], indent); }

  void printItems(const std::vector<int>& items, const std::string& indent) {
    for (size_t k = 0; k < items.size(); ++k) {
      int child = items[k];
      if (printed_[static_cast<size_t>(child)]) continue;
      bool last = k + 1 == items.size();
      out_ += indent + (last ? "`- " : "|- ") + label(child) + "\n";
      printChildren(child, indent + (last ? "   " : "|  "));
    }
  }

  void printNvSwitches(const std::vector<int>& switches, const std::string& indent) {
    std::vector<std::string> names;
    std::set<int> gpus;
    int links = 0;
    for (int sw : switches) {
      names.push_back(g_.node(sw).name);
      for (int l : g_.linksOf(sw)) {
        int far = g_.otherEnd(l, sw);
        if (linkAt(g_, l).kind != LinkKind::kNvLink || g_.node(far).kind != NodeKind::kGpu) continue;
        links += linkAt(g_, l).count;
        gpus.insert(far);
      }
    }
    out_ += indent + std::to_string(switches.size()) + (switches.size() == 1 ? " NVSwitch: " : " NVSwitches: ") +
            groupNames(names) + ", " + plural(links, "NVLink") + " to " + plural(static_cast<int>(gpus.size()), "GPU") +
            "\n";
  }

  // One line per node: name, bus id, what matters for its kind, then its links.
  std::string label(int i) {
    printed_[static_cast<size_t>(i)] = true;
    const TopoNode& n = g_.node(i);
    std::string s = n.name;
    if (!n.busId.empty() && n.name.find(n.busId) == std::string::npos) s += " [" + n.busId + "]";
    std::vector<std::string> parts;
    switch (n.kind) {
      case NodeKind::kCpu: {
        if (n.numaId >= 0 && n.name.find("NUMA") == std::string::npos)
          parts.push_back("NUMA " + std::to_string(n.numaId));
        std::string model = n.cpu.vendor + (n.cpu.vendor.empty() || n.cpu.arch.empty() ? "" : " ") + n.cpu.arch;
        if (!n.cpu.familyId.empty()) model += " family " + n.cpu.familyId;
        if (!n.cpu.modelId.empty()) model += " model " + n.cpu.modelId;
        if (!model.empty()) parts.push_back(model);
        if (!n.cpu.affinity.empty()) parts.push_back(cpuList(n.cpu.affinity));
        break;
      }
      case NodeKind::kGpu:
        if (n.gpu.sm >= 0) parts.push_back("sm " + std::to_string(n.gpu.sm));
        break;
      case NodeKind::kPciSwitch:
        // The fallback kind for a device of unknown class: say what it is.
        if (!n.pci.classCode.empty() && n.pci.classCode.rfind("0x0604", 0) != 0) {
          parts.push_back("class " + n.pci.classCode);
        }
        break;
      case NodeKind::kNic:
      case NodeKind::kNetPort:
        if (n.net.speedMbps > 0) parts.push_back(compactNumber(n.net.speedMbps / 1000.0) + " Gb/s");
        if (n.kind == NodeKind::kNetPort && n.net.port >= 0) parts.push_back("port " + std::to_string(n.net.port));
        break;
      default: break;
    }
    if (int up = isTreeChild(i) ? g_.findLink(i, n.parent, LinkKind::kPcie) : -1; up >= 0) {
      const TopoLink& link = linkAt(g_, up);
      std::string pcie = "PCIe";
      if (link.pcieGen > 0) pcie += " Gen" + std::to_string(link.pcieGen);
      if (link.pcieWidth > 0) pcie += " x" + std::to_string(link.pcieWidth);
      parts.push_back(pcie + (pcie.size() > 4 ? "," : "") + format(" %.1f GB/s", link.bandwidthGBs));
    }
    for (LinkKind kind : {LinkKind::kNvLink, LinkKind::kC2C}) {
      if (n.kind != NodeKind::kCpu) appendLinks(i, kind, parts);
    }
    for (size_t k = 0; k < parts.size(); ++k) s += (k > 0 ? ", " : n.kind == NodeKind::kCpu ? ": " : " ") + parts[k];
    return s;
  }

  // "NVLink: 18 links 450 GB/s to NVSwitch 0..3": bonded counts and bandwidth summed over peers.
  void appendLinks(int i, LinkKind kind, std::vector<std::string>& parts) const {
    int count = 0;
    double gbs = 0;
    std::vector<std::string> peers;
    for (int l : g_.linksOf(i)) {
      const TopoLink& link = linkAt(g_, l);
      if (link.kind != kind) continue;
      count += link.count;
      gbs += link.bandwidthGBs;
      const std::string& peer = g_.node(g_.otherEnd(l, i)).name;
      bool seen = false;
      for (const std::string& p : peers) seen = seen || p == peer;
      if (!seen) peers.push_back(peer);
    }
    if (count == 0) return;
    std::string what = kind == LinkKind::kNvLink ? "NVLink: " + plural(count, "link") + " " : "C2C ";
    parts.push_back(what + compactNumber(gbs) + " GB/s to " + groupNames(peers));
  }

  void printNetwork() {
    std::vector<int> networks = g_.nodesOfKind(NodeKind::kNetwork);
    if (networks.empty()) return;
    out_ += "network:\n";
    for (int net : networks) {
      int ports = 0;
      std::vector<std::string> others;
      for (int l : g_.linksOf(net)) {
        int far = g_.otherEnd(l, net);
        if (g_.node(far).kind == NodeKind::kNetwork) {
          others.push_back(g_.node(far).name);
        } else {
          ++ports;
        }
      }
      std::string line = "  " + g_.node(net).name + ":";
      if (ports > 0) line += " " + plural(ports, "port");
      if (!others.empty()) line += std::string(ports > 0 ? "," : "") + " linked to " + groupNames(others);
      out_ += line + "\n";
    }
  }

  const TopologyGraph& g_;
  int maxHosts_;
  std::vector<std::vector<int>> children_;
  std::map<int, std::vector<int>> hosts_;  // hostIndex -> its nodes, network nodes excluded
  std::map<int, std::string> hostNames_;   // from kHost nodes
  std::vector<bool> printed_;              // each node once, even when parents form a loop
  std::string out_;
};

// Graphviz quoted string: backslash and quote escaped, control characters dropped.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

const char* shapeOf(NodeKind kind) {
  switch (kind) {
    case NodeKind::kGpu: return "box";
    case NodeKind::kCpu: return "ellipse";
    case NodeKind::kPciSwitch: return "diamond";
    case NodeKind::kNic: return "hexagon";
    case NodeKind::kNetPort: return "note";
    case NodeKind::kNvSwitch: return "octagon";
    case NodeKind::kHost: return "tab";
    case NodeKind::kNetwork: return "doubleoctagon";
  }
  return "box";
}

std::string dotNode(const TopologyGraph& g, int i) {
  const TopoNode& n = g.node(i);
  std::string text = quoted(n.name);
  // Graphviz turns the two characters \n inside a label into a line break.
  if (!n.busId.empty() && n.name.find(n.busId) == std::string::npos) {
    text = text.substr(0, text.size() - 1) + "\\n" + quoted(n.busId).substr(1);
  }
  return "n" + std::to_string(i) + " [label=" + text + ", shape=" + shapeOf(n.kind) + "];\n";
}

std::string edgeLabel(const TopoLink& link) {
  std::string kind;
  switch (link.kind) {
    case LinkKind::kNvLink: kind = "NVL x" + std::to_string(link.count); break;
    case LinkKind::kC2C: kind = "C2C"; break;
    case LinkKind::kPcie: kind = "PCIe"; break;
    case LinkKind::kSys: kind = "SYS"; break;
    case LinkKind::kNet: kind = "NET"; break;
  }
  return kind + " " + compactNumber(link.bandwidthGBs) + " GB/s";
}

}  // namespace

std::string formatTopologyTree(const TopologyGraph& graph, int maxHosts) {
  return TreePrinter(graph, maxHosts).print();
}

std::string formatGraphviz(const TopologyGraph& graph) {
  std::map<int, std::vector<int>> hosts;
  std::vector<int> networks;
  for (int i = 0; i < graph.nodeCount(); ++i) {
    if (graph.node(i).kind == NodeKind::kNetwork) {
      networks.push_back(i);
    } else {
      hosts[graph.node(i).hostIndex].push_back(i);
    }
  }
  std::string out =
      "graph topology {\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (const auto& [host, nodes] : hosts) {
    // Graphviz ids cannot hold '-'; a negative hostIndex (never written by readers) becomes "m1".
    std::string id = host < 0 ? "m" + std::to_string(-host) : std::to_string(host);
    out += "  subgraph cluster_host" + id + " {\n    label=" + quoted("host " + std::to_string(host)) + ";\n";
    for (int i : nodes) out += "    " + dotNode(graph, i);
    out += "  }\n";
  }
  for (int i : networks) out += "  " + dotNode(graph, i);
  for (const TopoLink& link : graph.links()) {
    out += "  n" + std::to_string(link.a) + " -- n" + std::to_string(link.b) + " [label=" + quoted(edgeLabel(link)) +
           "];\n";
  }
  return out + "}\n";
}

}  // namespace loom
