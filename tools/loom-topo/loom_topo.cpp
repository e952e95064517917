// loom-topo: prints the topology Loom discovered (or loaded, or built), the
// path types between ranks, groups and rails, and the planner's decision
// table: which algorithm each collective would use at each size, with the
// predicted time and bus bandwidth.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "device/cuda_probe.h"
#include "plan/algorithm_override.h"
#include "plan/placement.h"
#include "topo/local_discovery.h"
#include "topo/nccl_topology.h"
#include "topo/synthetic_systems.h"
#include "topo/topology_file.h"
#include "topo/topology_paths.h"
#include "topo/topology_print.h"
#include "topo/topology_summary.h"

namespace loom {
namespace {

struct Options {
  std::string topoFile;
  std::string system;
  int hosts = 1;
  NetworkShape network = NetworkShape::kRailOptimized;
  int ranksPerHost = 0;  // 0: the cores of this machine (CPU-only graphs)
  int channels = 0;      // 0: 1 for host ranks, 8 for GPUs
  std::vector<CollectiveKind> collectives;
  size_t minBytes = 8;
  size_t maxBytes = size_t{1} << 30;
  size_t factor = 8;
  bool xml = false;
  std::string dotFile;
  bool plan = true;
};

const char* kUsage =
    "usage: loom-topo [source] [options]\n"
    "  Prints the topology (a tree), the path type between every pair of ranks,\n"
    "  hosts, NVLink domains and NIC rails, and the planner's decision table.\n"
    "source (default: this machine, or LOOM_TOPO_FILE / NCCL_TOPO_FILE when set):\n"
    "  --topo-file FILE      an NCCL topology XML or hwloc XML file\n"
    "  --system NAME         a synthetic system: dgx-h100, dgx-a100, gb200-nvl72,\n"
    "                        pcie-only, cpu-host\n"
    "  --hosts N             hosts of --system (racks for gb200-nvl72; default 1)\n"
    "  --network SHAPE       rail (rail-optimized, default) or fat-tree\n"
    "options:\n"
    "  --ranks-per-host N    ranks per host on graphs without GPUs (default: this\n"
    "                        machine's cores); with GPUs, one rank per GPU\n"
    "  --channels N          most channels the planner may use (default 1 for host\n"
    "                        ranks, as LOOM_CHANNELS; 8 for GPUs)\n"
    "  --coll LIST           collectives of the table: allreduce,broadcast,reduce,\n"
    "                        allgather,reducescatter,alltoall (default all)\n"
    "  -b, -e, -f            smallest and largest size and factor, as nccl-tests\n"
    "                        (default 8 B to 1 GiB, factor 8; K, M, G suffixes)\n"
    "  --no-plan             topology only, no decision table\n"
    "  --xml                 write the topology as NCCL topology XML and stop\n"
    "  --dot FILE            also write Graphviz to FILE (- for standard output)\n"
    "  -h, --help            this text\n";

bool parseSize(const char* text, size_t* out) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || v < 0) return false;
  double scale = 1;
  if (*end == 'K' || *end == 'k') scale = 1024.0, ++end;
  else if (*end == 'M' || *end == 'm') scale = 1024.0 * 1024, ++end;
  else if (*end == 'G' || *end == 'g') scale = 1024.0 * 1024 * 1024, ++end;
  if (*end != '\0') return false;
  *out = static_cast<size_t>(v * scale);
  return true;
}

bool parseCount(const char* text, int* out, int min) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < min || v > 1 << 20) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parseCollectives(const std::string& list, std::vector<CollectiveKind>* out) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::optional<CollectiveKind> kind = collectiveByName(list.substr(start, end - start));
    if (!kind) return false;
    out->push_back(*kind);
    start = end + 1;
  }
  return !out->empty();
}

// Exit code 2 and the reason for a bad command line.
int usageError(const std::string& why) {
  std::fprintf(stderr, "loom-topo: %s\n%s", why.c_str(), kUsage);
  return 2;
}

int parseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char** out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--xml") {
      o->xml = true;
    } else if (arg == "--no-plan") {
      o->plan = false;
    } else if (!value(&v)) {
      return usageError(arg.rfind("-", 0) == 0 ? arg + " needs a value or is unknown" : "unexpected '" + arg + "'");
    } else if (arg == "--topo-file") {
      o->topoFile = v;
    } else if (arg == "--system") {
      o->system = v;
    } else if (arg == "--hosts") {
      if (!parseCount(v, &o->hosts, 1)) return usageError(std::string("--hosts '") + v + "': expected a count >= 1");
    } else if (arg == "--network") {
      if (std::strcmp(v, "rail") == 0) o->network = NetworkShape::kRailOptimized;
      else if (std::strcmp(v, "fat-tree") == 0) o->network = NetworkShape::kFatTree;
      else return usageError(std::string("--network '") + v + "': expected rail or fat-tree");
    } else if (arg == "--ranks-per-host") {
      if (!parseCount(v, &o->ranksPerHost, 1)) {
        return usageError(std::string("--ranks-per-host '") + v + "': expected a count >= 1");
      }
    } else if (arg == "--channels") {
      if (!parseCount(v, &o->channels, 1)) return usageError(std::string("--channels '") + v + "': expected >= 1");
    } else if (arg == "--coll") {
      if (!parseCollectives(v, &o->collectives)) {
        return usageError(std::string("--coll '") + v +
                          "': expected a comma list of allreduce, broadcast, reduce, allgather, reducescatter, alltoall");
      }
    } else if (arg == "-b" || arg == "-e") {
      if (!parseSize(v, arg == "-b" ? &o->minBytes : &o->maxBytes)) {
        return usageError(arg + " '" + v + "': expected a size such as 8, 64K, 1G");
      }
    } else if (arg == "-f") {
      if (!parseSize(v, &o->factor) || o->factor < 2) return usageError(std::string("-f '") + v + "': expected >= 2");
    } else if (arg == "--dot") {
      o->dotFile = v;
    } else {
      return usageError("unknown option '" + arg + "'");
    }
  }
  if (!o->topoFile.empty() && !o->system.empty()) return usageError("--topo-file and --system: choose one source");
  if (o->minBytes > o->maxBytes) return usageError("-b is larger than -e");
  if (o->collectives.empty()) {
    o->collectives = {CollectiveKind::kAllReduce, CollectiveKind::kBroadcast,     CollectiveKind::kReduce,
                      CollectiveKind::kAllGather, CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll};
  }
  return -1;  // go on
}

Result<TopologyGraph> loadGraph(const Options& o, std::string* source) {
  if (!o.topoFile.empty()) {
    *source = "file " + o.topoFile;
    return loadTopologyFile(o.topoFile);
  }
  if (!o.system.empty()) {
    *source = "synthetic system " + o.system + " x " + std::to_string(o.hosts) + " host(s)";
    return buildSyntheticSystem({o.system, o.hosts, o.network});
  }
  *source = "this machine";
  return localTopology();
}

// Groups as "0-7 | 8-15": rank ranges per group id.
std::string describeGroups(const std::vector<int>& groupOf) {
  std::string out;
  int groups = 0;
  for (int g : groupOf) groups = std::max(groups, g + 1);
  for (int g = 0; g < groups && g < 8; ++g) {
    std::vector<int> members;
    for (size_t r = 0; r < groupOf.size(); ++r) {
      if (groupOf[r] == g) members.push_back(static_cast<int>(r));
    }
    out += (g == 0 ? "" : " | ") + std::to_string(members.front());
    if (members.size() > 1) out += "-" + std::to_string(members.back());
    if (members.size() > 1 && members.back() - members.front() + 1 != static_cast<int>(members.size())) out += " (some)";
  }
  if (groups > 8) out += " | ... (" + std::to_string(groups) + " groups)";
  return out;
}

void printPaths(const TopologyGraph& g, const Placement& placement) {
  std::vector<int> devices;
  std::set<int> distinct(placement.deviceOfRank.begin(), placement.deviceOfRank.end());
  devices.assign(distinct.begin(), distinct.end());
  int hostOfFirst = g.node(devices.front()).hostIndex;
  std::vector<int> shown;
  for (int d : devices) {
    if (devices.size() <= 16 || g.node(d).hostIndex == hostOfFirst) shown.push_back(d);
  }
  PathMatrix matrix(g, shown);
  std::printf("\n# Paths between rank devices%s\n%s", shown.size() < devices.size() ? " (first host)" : "",
              matrix.toString(g).c_str());
  if (shown.size() < devices.size()) {
    PathMatrix across(g, {devices.front(), devices.back()});
    std::printf("first host to last host: %s\n", pathTypeName(across.path(0, 1).type));
  }
}

void printRails(const TopologyGraph& g, const Placement& placement) {
  std::printf("\n# Rails: the NIC each rank's device uses\n");
  int printed = 0;
  for (size_t r = 0; r < placement.deviceOfRank.size() && printed < 16; ++r, ++printed) {
    int d = placement.deviceOfRank[r];
    int nic = railNicOf(g, d);
    if (nic < 0) {
      std::printf("rank %zu (%s): no NIC\n", r, g.node(d).name.c_str());
      continue;
    }
    TopoPath p = findPath(g, d, nic);
    std::printf("rank %zu (%s): %s, %s, %.1f GB/s\n", r, g.node(d).name.c_str(), g.node(nic).name.c_str(),
                pathTypeName(p.type), p.bandwidthGBs);
  }
  if (placement.deviceOfRank.size() > 16) std::printf("... (%zu ranks)\n", placement.deviceOfRank.size());
}

int run(const Options& o) {
  std::string source;
  auto graph = loadGraph(o, &source);
  if (!graph.isOk()) {
    std::fprintf(stderr, "loom-topo: %s\n", graph.status().toString().c_str());
    return 1;
  }
  const TopologyGraph& g = graph.value();
  if (o.xml) {
    std::fputs(writeNcclTopology(g).c_str(), stdout);
    return 0;
  }
  if (!o.dotFile.empty()) {
    std::string dot = formatGraphviz(g);
    if (o.dotFile == "-") {
      std::fputs(dot.c_str(), stdout);
      return 0;
    }
    std::ofstream out(o.dotFile);
    out << dot;
    if (!out) {
      std::fprintf(stderr, "loom-topo: cannot write %s\n", o.dotFile.c_str());
      return 1;
    }
  }
  std::printf("# Topology of %s\n", source.c_str());
  if (o.topoFile.empty() && o.system.empty()) std::printf("# GPU: %s\n", cudaAvailability().explanation.c_str());
  std::printf("%s\n%s", summarize(g).toString(g).c_str(), formatTopologyTree(g).c_str());

  bool hasGpus = g.count(NodeKind::kGpu) > 0;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Placement placement = placeRanks(g, o.ranksPerHost > 0 ? o.ranksPerHost : cores);
  if (placement.deviceOfRank.empty()) {
    std::printf("\nno GPU or CPU node to place ranks on\n");
    return 0;
  }
  PlannerSetup setup = plannerSetupFor(placement, o.channels > 0 ? o.channels : (hasGpus ? 8 : 1));
  // On this machine, plan as a communicator here would: its cores, its chunk.
  if (!hasGpus && o.topoFile.empty() && o.system.empty()) {
    setup.parameters.hostCores = cores;
    setup.chunkBytesChoices = {config().chunkBytes};
  }
  std::printf("\n# Ranks: %zu, %s\n", placement.deviceOfRank.size(),
              hasGpus ? "one per GPU" : "on the CPUs (host buffers)");
  std::printf("groups for hierarchical algorithms: %s\n", describeGroups(setup.groupOf).c_str());
  printPaths(g, placement);
  printRails(g, placement);
  if (!o.plan) return 0;

  std::vector<size_t> sizes;
  for (size_t b = o.minBytes; b <= o.maxBytes; b *= o.factor) {
    sizes.push_back(b);
    if (b == 0) break;
  }
  Planner planner(std::move(setup));
  std::printf("\n# Planner decisions for float32 (predicted by the cost model; busbw as nccl-tests)\n%s",
              planner.decisionTable(o.collectives, sizes, 4).c_str());
  return 0;
}

}  // namespace
}  // namespace loom

int main(int argc, char** argv) {
  loom::Options options;
  int early = loom::parseOptions(argc, argv, &options);
  if (early >= 0) return early;
  return loom::run(options);
}
