// A communicator's planner: the same cluster graph on every rank, then the
// planner over it.
#include <mutex>
#include <optional>
#include <thread>

#include "comm/communicator_impl.h"
#include "common/config.h"
#include "common/logging.h"
#include "topo/host_profile.h"
#include "topo/local_discovery.h"

namespace loom {
namespace {

// What a communicator needs of its host (sockets, cores, NICs and speeds)
// sysfs gives in a millisecond; hwloc's full PCIe tree takes ~100 ms and is
// for loom-topo and topology dumps. A process creating many communicators
// discovers once per topology file setting.
Result<TopologyGraph> hostTopology() {
  if (config().topoFile.empty() && config().topoDumpFile.empty()) {
    DiscoveryOptions options;
    options.useHwloc = false;
    return discoverLocalTopology(options);
  }
  return localTopology();
}

Result<TopologyGraph> cachedLocalTopology() {
  static std::mutex mutex;
  static std::string cachedFor;
  static std::optional<Result<TopologyGraph>> cached;
  std::lock_guard<std::mutex> lock(mutex);
  std::string key = config().topoFile + "\n" + config().topoDumpFile;
  if (!cached || cachedFor != key) {
    cached = hostTopology();
    cachedFor = key;
  }
  return *cached;
}

void logDecisionTable(const Planner& planner) {
  std::vector<size_t> sizes;
  for (size_t bytes = 8; bytes <= (size_t{1} << 28); bytes *= 8) sizes.push_back(bytes);
  std::string table = planner.decisionTable({CollectiveKind::kAllReduce, CollectiveKind::kBroadcast,
                                             CollectiveKind::kReduce, CollectiveKind::kAllGather,
                                             CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll},
                                            sizes, 4);
  // A line per log call: log lines have a bounded length.
  LOOM_INFO(kTuning, "planner decisions for float32, predicted on this communicator's topology:");
  size_t start = 0;
  for (size_t end = table.find('\n'); end != std::string::npos; start = end + 1, end = table.find('\n', start)) {
    LOOM_INFO(kTuning, "%s", table.substr(start, end - start).c_str());
  }
}

}  // namespace

Status setUpPlanner(Communicator::Impl& comm, AlgorithmOverride allowed) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto local = cachedLocalTopology();
  // Every rank takes part in the exchange even when its own topology failed,
  // so that all ranks fail together instead of some waiting for the others.
  HostProfile mine = local.isOk() ? profileOf(local.value(), cores) : HostProfile{0, 0, 0, 0};
  std::vector<HostProfile> profiles(static_cast<size_t>(comm.nranks));
  profiles[static_cast<size_t>(comm.rank)] = mine;
  LOOM_RETURN_IF_ERROR(comm.bootstrap->allGather(profiles.data(), sizeof(HostProfile)));
  if (!local.isOk()) return local.status();
  for (int r = 0; r < comm.nranks; ++r) {
    if (profiles[static_cast<size_t>(r)].sockets == 0) {
      return Status::invalidUsage("rank %d could not load its topology (its log says why)", r);
    }
  }

  // One profile per host: its first rank's.
  std::vector<HostProfile> hosts;
  for (int r = 0; r < comm.nranks; ++r) {
    if (comm.groupOf[static_cast<size_t>(r)] == static_cast<int>(hosts.size())) {
      hosts.push_back(profiles[static_cast<size_t>(r)]);
    }
  }
  comm.cluster = clusterGraph(hosts);
  PlannerSetup setup;
  setup.placement.graph = &comm.cluster;
  for (int r = 0; r < comm.nranks; ++r) {
    setup.placement.deviceOfRank.push_back(cpuOfHost(comm.cluster, comm.groupOf[static_cast<size_t>(r)]));
  }
  setup.groupOf = comm.groupOf;
  setup.context = comm.algorithmContext;
  setup.allowed = std::move(allowed);
  setup.maxChannels = comm.channels;
  setup.chunkBytesChoices = {config().chunkBytes};
  setup.parameters.hostCores = hosts.empty() ? 0 : hosts.front().cores;
  comm.planner = std::make_unique<Planner>(std::move(setup));
  if (comm.rank == 0 && logEnabled(LogLevel::kInfo, Subsystem::kTuning)) logDecisionTable(*comm.planner);
  return Status::ok();
}

}  // namespace loom
