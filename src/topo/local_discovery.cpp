#include "topo/local_discovery.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#if LOOM_HAVE_HWLOC
#include <dlfcn.h>
#include <hwloc.h>

#include <type_traits>
#endif

#include "common/config.h"
#include "common/logging.h"
#include "topo/hwloc_topology.h"
#include "topo/nccl_topology.h"
#include "topo/nvml_gpus.h"
#include "topo/socket_links.h"
#include "topo/sysfs_nics.h"
#include "topo/sysfs_pci.h"
#include "topo/topology_file.h"
#include "topo/topology_summary.h"
#include "topo/xml_reader.h"

namespace loom {
namespace fs = std::filesystem;

namespace {

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; malformed parts are skipped.
std::vector<int> parseCpuList(const std::string& list) {
  std::vector<int> cpus;
  std::stringstream parts(list);
  for (std::string part; std::getline(parts, part, ',');) {
    if (part.empty()) continue;
    char* end = nullptr;
    long first = std::strtol(part.c_str(), &end, 10);
    long last = first;
    if (end == part.c_str()) continue;
    if (*end == '-') last = std::strtol(end + 1, nullptr, 10);
    // 65536 CPUs is beyond any machine; the bound keeps a corrupt file from allocating gigabytes.
    if (first < 0 || last < first || last >= 65536) continue;
    for (long c = first; c <= last; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

// The affinity format of NCCL and hwloc: hex 32-bit words, most significant first, comma-separated.
std::string affinityMask(const std::vector<int>& cpus) {
  if (cpus.empty()) return "";
  int highest = *std::max_element(cpus.begin(), cpus.end());
  std::vector<unsigned> words(static_cast<size_t>(highest / 32 + 1), 0);
  for (int c : cpus) words[static_cast<size_t>(c / 32)] |= 1u << (c % 32);
  std::string out;
  for (size_t i = words.size(); i-- > 0;) {
    char word[16];
    std::snprintf(word, sizeof(word), "%08x", words[i]);
    out += (out.empty() ? "" : ",") + std::string(word);
  }
  return out;
}

// Vendor, family and model as NCCL records them; only x86 /proc/cpuinfo has them in this form.
CpuInfo localCpuInfo() {
  CpuInfo info;
  struct utsname name;
  if (uname(&name) == 0) info.arch = name.machine;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line) && line.find_first_not_of(" \t") != std::string::npos;) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "vendor_id") info.vendor = value;
    if (key == "cpu family") info.familyId = value;
    if (key == "model") info.modelId = value;
  }
  return info;
}

#if LOOM_HAVE_HWLOC
// The hwloc functions discovery calls. hwloc is loaded at run time, like the
// CUDA driver and NVML, so that libloom and the drop-in libnccl.so.2 do not
// depend on it: only its header is needed to build.
struct HwlocApi {
  int (*init)(hwloc_topology_t*);
  int (*setTypeFilter)(hwloc_topology_t, hwloc_obj_type_t, enum hwloc_type_filter_e);
  int (*load)(hwloc_topology_t);
  int (*exportXmlBuffer)(hwloc_topology_t, char**, int*, unsigned long);
  void (*freeXmlBuffer)(hwloc_topology_t, char*);
  void (*destroy)(hwloc_topology_t);
};

// The library whose ABI matches the header Loom was built with (hwloc 2.x).
Result<HwlocApi> loadHwloc() {
  static const Result<HwlocApi> api = []() -> Result<HwlocApi> {
    void* lib = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return Status::unavailable("libhwloc.so.15 not found");
    HwlocApi a{};
    bool ok = true;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      ok = ok && fn != nullptr;
    };
    bind(a.init, "hwloc_topology_init");
    bind(a.setTypeFilter, "hwloc_topology_set_type_filter");
    bind(a.load, "hwloc_topology_load");
    bind(a.exportXmlBuffer, "hwloc_topology_export_xmlbuffer");
    bind(a.freeXmlBuffer, "hwloc_free_xmlbuffer");
    bind(a.destroy, "hwloc_topology_destroy");
    if (!ok) return Status::unavailable("libhwloc.so.15 lacks a function discovery needs");
    return a;
  }();
  return api;
}

// hwloc's view of this machine as hwloc XML: going through the export lets the
// tested hwloc XML reader do all the interpreting, so a live machine and a
// saved lstopo file give the same graph.
Result<std::string> hwlocXml() {
  LOOM_ASSIGN_OR_RETURN(HwlocApi hw, loadHwloc());
  hwloc_topology_t topology;
  if (hw.init(&topology) != 0) return Status::systemError("hwloc_topology_init failed");
  // I/O objects are dropped by default; "important" keeps GPUs, NICs and the bridges above them.
  for (hwloc_obj_type_t io : {HWLOC_OBJ_BRIDGE, HWLOC_OBJ_PCI_DEVICE, HWLOC_OBJ_OS_DEVICE}) {
    hw.setTypeFilter(topology, io, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  }
  // Caches are irrelevant to collectives and are most of the XML on big machines.
  for (hwloc_obj_type_t cache : {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L4CACHE,
                                 HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3ICACHE}) {
    hw.setTypeFilter(topology, cache, HWLOC_TYPE_FILTER_KEEP_NONE);
  }
  if (hw.load(topology) != 0) {
    int error = errno;
    hw.destroy(topology);
    return Status::systemError("hwloc_topology_load failed: %s", std::strerror(error));
  }
  char* buffer = nullptr;
  int length = 0;
  if (hw.exportXmlBuffer(topology, &buffer, &length, 0) != 0 || buffer == nullptr) {
    int error = errno;
    hw.destroy(topology);
    return Status::systemError("hwloc_topology_export_xmlbuffer failed: %s", std::strerror(error));
  }
  // The length counts the terminating NUL.
  std::string xml(buffer, static_cast<size_t>(std::max(length - 1, 0)));
  hw.freeXmlBuffer(topology, buffer);
  hw.destroy(topology);
  return xml;
}
#endif

// CPUs, PCIe tree, GPUs and NICs from hwloc; nullopt (with a note saying why) when it cannot be used.
std::optional<TopologyGraph> readHwloc(const DiscoveryOptions& options, std::vector<std::string>& notes) {
#if LOOM_HAVE_HWLOC
  if (options.sysfsRoot != "/sys") {
    notes.push_back("hwloc not used: it reads the real /sys, not " + options.sysfsRoot);
    return std::nullopt;
  }
  auto xml = hwlocXml();
  auto root = xml.isOk() ? parseXml(*xml) : Result<XmlElement>(xml.status());
  auto graph = root.isOk() ? readHwlocTopology(*root) : Result<TopologyGraph>(root.status());
  if (!graph.isOk()) {
    notes.push_back("hwloc failed (" + graph.status().message() + "); CPUs and NICs read from sysfs instead");
    return std::nullopt;
  }
  if (graph->count(NodeKind::kCpu) == 0) {
    notes.push_back("hwloc reported no package or NUMA node; CPUs read from sysfs instead");
    return std::nullopt;
  }
  // hwloc XML carries no architecture; NCCL files do, and the dump should too.
  std::string arch = localCpuInfo().arch;
  for (int cpu : graph->nodesOfKind(NodeKind::kCpu)) {
    if (graph->node(cpu).cpu.arch.empty()) graph->mutableNode(cpu).cpu.arch = arch;
  }
  return std::move(graph).value();
#else
  (void)options;
  notes.push_back("Loom was built without hwloc: CPUs from sysfs NUMA nodes, PCIe bridges only above NICs and GPUs");
  return std::nullopt;
#endif
}

// One CPU node per NUMA node that has CPUs, from <root>/devices/system/node.
void readSysfsCpus(TopologyGraph& graph, const std::string& sysfsRoot) {
  CpuInfo info = localCpuInfo();
  std::vector<std::pair<int, std::string>> nodes;  // numa id, cpulist
  std::vector<std::string> memoryOnly;
  std::error_code ec;
  fs::path dir = fs::path(sysfsRoot) / "devices" / "system" / "node";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind("node", 0) != 0 || name.size() == 4 ||
        name.find_first_not_of("0123456789", 4) != std::string::npos) {
      continue;
    }
    std::string cpus = readSysfsAttribute(it->path() / "cpulist");
    // Memory-only nodes (CXL memory, a Grace Hopper GPU's HBM) have no CPU to run on.
    if (parseCpuList(cpus).empty()) {
      memoryOnly.push_back(name);
      continue;
    }
    nodes.emplace_back(std::atoi(name.c_str() + 4), cpus);
  }
  std::sort(nodes.begin(), nodes.end());
  if (!memoryOnly.empty()) {
    std::sort(memoryOnly.begin(), memoryOnly.end());
    std::string names;
    for (const std::string& n : memoryOnly) names += (names.empty() ? "" : ", ") + n;
    graph.notes.push_back("NUMA nodes with memory but no CPU left out: " + names);
  }
  if (nodes.empty()) {
    // No NUMA support in the kernel, or a container that hides it: one socket is the safe reading.
    std::string online = readSysfsAttribute(fs::path(sysfsRoot) / "devices" / "system" / "cpu" / "online");
    graph.notes.push_back("no NUMA nodes in " + dir.string() + "; assumed one CPU node (NUMA 0)");
    nodes.emplace_back(0, online);
  }
  for (const auto& [numa, cpus] : nodes) {
    TopoNode cpu;
    cpu.kind = NodeKind::kCpu;
    cpu.numaId = numa;
    cpu.name = "NUMA " + std::to_string(numa);
    cpu.cpu = info;
    cpu.cpu.affinity = affinityMask(parseCpuList(cpus));
    graph.addNode(std::move(cpu));
  }
  connectSocketsPairwise(graph);
}

void logTopology(const TopologyGraph& graph, const std::string& source) {
  if (!logEnabled(LogLevel::kInfo, Subsystem::kGraph)) return;
  std::stringstream summary(summarize(graph).toString(graph));
  std::string line;
  std::getline(summary, line);
  LOOM_INFO(kGraph, "topology (%s): %s", source.c_str(), line.c_str());
  while (std::getline(summary, line)) LOOM_INFO(kGraph, "topology: %s", line.c_str());
  for (const std::string& note : graph.notes) LOOM_INFO(kGraph, "topology note: %s", note.c_str());
}

// Written beside the target and renamed over it, so ranks of one host dumping
// at once, or a reader racing the writer, never see half a file.
Status writeDump(const TopologyGraph& graph, const std::string& path) {
  std::string xml = writeNcclTopology(graph);
  std::string temporary = path + ".tmp." + std::to_string(getpid());
  FILE* file = std::fopen(temporary.c_str(), "w");
  if (file == nullptr) {
    return Status::systemError("cannot write the topology dump %s (LOOM_TOPO_DUMP_FILE): %s", path.c_str(),
                               std::strerror(errno));
  }
  bool written = std::fwrite(xml.data(), 1, xml.size(), file) == xml.size();
  int error = errno;
  if (std::fclose(file) != 0 && written) {
    written = false;
    error = errno;
  }
  if (written && std::rename(temporary.c_str(), path.c_str()) != 0) {
    written = false;
    error = errno;
  }
  if (!written) {
    std::remove(temporary.c_str());
    return Status::systemError("cannot write the topology dump %s (LOOM_TOPO_DUMP_FILE): %s", path.c_str(),
                               std::strerror(error));
  }
  LOOM_INFO(kGraph, "topology written to %s", path.c_str());
  return Status::ok();
}

}  // namespace

TopologyGraph discoverLocalTopology(const DiscoveryOptions& options) {
  std::vector<std::string> notes;
  std::optional<TopologyGraph> fromHwloc;
  if (options.useHwloc) {
    fromHwloc = readHwloc(options, notes);
  } else {
    notes.push_back("hwloc not used (disabled by the caller)");
  }
  TopologyGraph graph = fromHwloc ? std::move(*fromHwloc) : TopologyGraph();
  graph.notes.insert(graph.notes.begin(), notes.begin(), notes.end());
  if (!fromHwloc) readSysfsCpus(graph, options.sysfsRoot);
  addSysfsNics(graph, options.sysfsRoot);
  if (options.useNvml) {
    addNvmlGpus(graph, options.sysfsRoot);
  } else {
    graph.notes.push_back("NVML not used (disabled by the caller): no GPUs discovered");
  }
  logTopology(graph, fromHwloc ? "discovered with hwloc" : "discovered from sysfs");
  return graph;
}

Result<TopologyGraph> localTopology() {
  const Config& c = config();
  TopologyGraph graph;
  if (!c.topoFile.empty()) {
    auto loaded = loadTopologyFile(c.topoFile);
    if (!loaded.isOk()) {
      Status status = loaded.status();
      if (status.message().find(c.topoFile) == std::string::npos) status = status.withContext(c.topoFile);
      return status.withContext("topology file named by LOOM_TOPO_FILE/NCCL_TOPO_FILE");
    }
    graph = std::move(loaded).value();
    logTopology(graph, "from " + c.topoFile);
  } else {
    graph = discoverLocalTopology();
  }
  if (!c.topoDumpFile.empty()) LOOM_RETURN_IF_ERROR(writeDump(graph, c.topoDumpFile));
  return graph;
}

}  // namespace loom
