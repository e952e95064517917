// The planner: which algorithm, how many channels and what pipeline chunk a
// collective call runs with.
//
// For a call it enumerates every algorithm the registry has for the
// collective that is valid here and allowed by LOOM_ALGO, with every channel
// count up to what the communicator has and every chunk size on offer,
// builds each candidate's schedules for all ranks, costs them with the cost
// model on the topology, and keeps the cheapest. Decisions are remembered per
// (collective, element size, bytes rounded up to a power of two), so a
// training loop pays for planning once per message size class.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/registry.h"
#include "loom/status.h"
#include "loom/types.h"
#include "plan/algorithm_override.h"
#include "plan/cost_model.h"

namespace loom {

struct PlanChoice {
  const Algorithm* algorithm = nullptr;
  int channels = 1;
  size_t chunkBytes = 0;    // pipeline slice; 0: no pipelining
  double predictedUs = 0;
  size_t bytes = 0;         // the size the prediction is for (nccl-tests' size column)
  double busBwGBs = 0;      // predicted, nccl-tests' definition
};

struct PlannerSetup {
  Placement placement;          // the graph must outlive the planner
  std::vector<int> groupOf;     // host (or NVLink domain) of each rank, for hierarchical algorithms
  AlgorithmContext context;
  AlgorithmOverride allowed;    // LOOM_ALGO
  int maxChannels = 1;          // channels the communicator has connections for
  std::vector<size_t> chunkBytesChoices = {size_t{1} << 19};
  CostParameters parameters;
};

class Planner {
 public:
  explicit Planner(PlannerSetup setup);

  int nranks() const { return static_cast<int>(setup_.placement.deviceOfRank.size()); }

  // The cheapest candidate for a call of `count` elements of `elementBytes`
  // (count as NCCL means it for `kind`); remembered per size class.
  Result<PlanChoice> choose(CollectiveKind kind, size_t count, size_t elementBytes);

  // Every candidate, cheapest first, for a call moving `bytes` (nccl-tests'
  // size: the larger of a rank's input and output). Not remembered. A single
  // candidate is returned unpredicted (predictedUs 0) unless `alwaysPredict`.
  Result<std::vector<PlanChoice>> rankCandidates(CollectiveKind kind, size_t bytes, size_t elementBytes,
                                                 bool alwaysPredict = true) const;

  // The schedule options a choice runs with.
  BuildOptions buildOptions(const PlanChoice& choice, size_t elementBytes) const;

  // Collective x size -> algorithm, channels, predicted time and busbw, and
  // the runner-up: what LOOM_DEBUG_SUBSYS=TUNING and loom-topo print.
  std::string decisionTable(const std::vector<CollectiveKind>& kinds, const std::vector<size_t>& sizes,
                            size_t elementBytes) const;

 private:
  Result<double> predict(CollectiveKind kind, size_t count, size_t elementBytes, const Algorithm& algorithm,
                         const BuildOptions& options) const;

  PlannerSetup setup_;
  std::mutex mutex_;
  std::map<std::tuple<CollectiveKind, size_t, int>, PlanChoice> decisions_;
};

// The element count of a call of `kind` that moves `bytes` (nccl-tests' size
// column: all-gather's is the whole output, reduce-scatter's the whole input).
size_t countForBytes(CollectiveKind kind, size_t bytes, size_t elementBytes, int nranks);

}  // namespace loom
