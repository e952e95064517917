// loom-bench-planner: how many decisions per second the planner makes.
//
// A decision is what Planner::choose() does for a size class it has not seen:
// build every valid algorithm's schedules for every rank, at every channel
// count and chunk size on offer, cost each on the topology and keep the
// cheapest. choose() remembers decisions per (collective, element size, bytes
// rounded up to a power of two), so a training loop pays this once per size
// class; but a communicator pays it for every new size class, and loom-topo
// and the simulator pay it for every row. The miss is what is timed here:
// rankCandidates(kind, size class, element size, alwaysPredict = false),
// which is exactly what choose() runs on a miss, without the map. One `hit`
// row per system times the remembered path for contrast.
//
// Systems are synthetic (src/topo/synthetic_systems.h), built the way
// tests/plan/planner_test.cpp builds them, with 8 channels on offer:
//   dgx-h100x1    1 host x 8 H100, 8 ranks
//   dgx-h100x16   16 hosts x 8 H100 on a rail-optimised network, 128 ranks
//                 (LOOM_BENCH_PLANNER_HOSTS=64 for 512 ranks: slow, see largeHosts())
// and, when the shared published topology files sit next to the source tree
// (../shared/topologies), azure-ndv5-h100 (8 ranks) read from its NCCL XML; a
// missing file only drops those rows. items_per_second is decisions per second.
//
//   build/bin/loom-bench-planner --benchmark_filter=x1/
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "plan/placement.h"
#include "plan/planner.h"
#include "topo/synthetic_systems.h"
#include "topo/topology_file.h"

namespace loom {
namespace {

constexpr size_t kFloat = 4;
// 4 KiB, not 8 B, as the small size: an all-gather of 8 B over 128 ranks is
// zero elements per rank, which the planner settles without building anything.
const size_t kSizes[] = {size_t{4} << 10, size_t{1} << 20, size_t{256} << 20};
const CollectiveKind kKinds[] = {CollectiveKind::kAllReduce, CollectiveKind::kAllGather};

std::string sizeName(size_t bytes) {
  if (bytes >= (size_t{1} << 20)) return std::to_string(bytes >> 20) + "MiB";
  if (bytes >= (size_t{1} << 10)) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

// A topology and a planner on it; the planner points into the graph, so both
// live together and never move.
struct System {
  TopologyGraph graph;
  std::unique_ptr<Planner> planner;
};

std::filesystem::path sharedTopologiesDir() {
  // This file is <source>/perf/benchmarks/; the shared files sit beside <source>.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / ".." / "shared" / "topologies";
}

Result<TopologyGraph> loadSystem(const std::string& name) {
  if (name.rfind("dgx-h100x", 0) == 0) {
    return buildSyntheticSystem({"dgx-h100", std::stoi(name.substr(9)), NetworkShape::kRailOptimized});
  }
  return loadTopologyFile((sharedTopologiesDir() / (name + "-topo.xml")).string());
}

// Built on first use and kept: Google Benchmark calls each function several
// times while it sizes the run, and a large graph is not free to build.
Result<System*> systemNamed(const std::string& name) {
  static std::map<std::string, std::unique_ptr<System>> systems;
  auto it = systems.find(name);
  if (it != systems.end()) return it->second.get();
  LOOM_ASSIGN_OR_RETURN(TopologyGraph graph, loadSystem(name));
  auto system = std::make_unique<System>();
  system->graph = std::move(graph);
  system->planner = std::make_unique<Planner>(plannerSetupFor(placeRanks(system->graph), 8));
  System* raw = system.get();
  systems.emplace(name, std::move(system));
  return raw;
}

// One uncached decision per iteration. The sizes are powers of two, so each
// is its own size class, the size choose() would plan for.
void missBench(benchmark::State& state, std::string system, CollectiveKind kind, size_t bytes) {
  auto s = systemNamed(system);
  if (!s.isOk()) {
    state.SkipWithError(s.status().toString().c_str());
    return;
  }
  const Planner& planner = *s.value()->planner;
  for (auto _ : state) {
    auto ranked = planner.rankCandidates(kind, bytes, kFloat, /*alwaysPredict=*/false);
    if (!ranked.isOk()) {
      state.SkipWithError(ranked.status().toString().c_str());
      break;
    }
    benchmark::DoNotOptimize(ranked.value().front());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["ranks"] = planner.nranks();
}

// The remembered path: a lock and a map lookup.
void hitBench(benchmark::State& state, std::string system) {
  auto s = systemNamed(system);
  if (!s.isOk()) {
    state.SkipWithError(s.status().toString().c_str());
    return;
  }
  Planner& planner = *s.value()->planner;
  const size_t count = countForBytes(CollectiveKind::kAllReduce, size_t{1} << 20, kFloat, planner.nranks());
  // Decided once before timing, so that every timed call is a hit.
  if (auto first = planner.choose(CollectiveKind::kAllReduce, count, kFloat); !first.isOk()) {
    state.SkipWithError(first.status().toString().c_str());
    return;
  }
  for (auto _ : state) {
    auto choice = planner.choose(CollectiveKind::kAllReduce, count, kFloat);
    if (!choice.isOk()) {
      state.SkipWithError(choice.status().toString().c_str());
      break;
    }
    benchmark::DoNotOptimize(choice.value());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Hosts of the large system: LOOM_BENCH_PLANNER_HOSTS, default 16 (128 ranks).
// 64 hosts (512 ranks) works too but is slow: on a 2-core VM an allreduce
// decision there took 40 s to 2 min, so a default run would take many minutes.
int largeHosts() {
  const char* v = std::getenv("LOOM_BENCH_PLANNER_HOSTS");
  const int hosts = v != nullptr ? std::atoi(v) : 0;
  return hosts >= 2 ? hosts : 16;
}

void registerAll() {
  std::vector<std::string> systems = {"dgx-h100x1", "dgx-h100x" + std::to_string(largeHosts())};
  // Optional: only when the file is there (and then cheap: a few KB of XML).
  if (std::filesystem::exists(sharedTopologiesDir() / "azure-ndv5-h100-topo.xml")) systems.push_back("azure-ndv5-h100");
  for (const std::string& system : systems) {
    for (CollectiveKind kind : kKinds) {
      for (size_t bytes : kSizes) {
        const std::string name = "miss/" + system + "/" + collectiveName(kind) + "/" + sizeName(bytes);
        benchmark::RegisterBenchmark(name.c_str(), missBench, system, kind, bytes)->Unit(benchmark::kMicrosecond);
      }
    }
    benchmark::RegisterBenchmark(("hit/" + system + "/AllReduce/1MiB").c_str(), hitBench, system);
  }
}

}  // namespace
}  // namespace loom

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  loom::registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
