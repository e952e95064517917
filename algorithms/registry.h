// Every algorithm Loom has, what it implements and what it needs.
//
// The planner enumerates this list to find the valid choices for a call; the
// overrides (LOOM_ALGO) and loom-perf's -a name entries by their names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// What the communicator offers that some algorithms need.
struct AlgorithmContext {
  bool directReach = false;   // every rank reaches every other without hops (one host, NVSwitch)
  bool multipleGroups = false;  // BuildOptions::groupOf names more than one group
};

using ScheduleBuilder = Result<Schedule> (*)(const CollectiveShape&, int rank, const BuildOptions&);

struct Algorithm {
  const char* name;  // "ring", "tree", ... (matched case-insensitively)
  std::vector<CollectiveKind> collectives;
  bool needsDirectReach = false;
  bool needsGroups = false;
  ScheduleBuilder build = nullptr;

  bool implements(CollectiveKind kind) const;
  // "" when the algorithm can run `kind` here, else why not.
  std::string whyNot(CollectiveKind kind, const AlgorithmContext& context) const;
};

const std::vector<Algorithm>& algorithms();
// By name, case-insensitive; nullptr if unknown.
const Algorithm* findAlgorithm(std::string_view name);
// "ring, tree, ..." for messages.
std::string algorithmNames();
// The default when nothing is forced (until the planner chooses by cost).
const Algorithm& defaultAlgorithm(CollectiveKind kind);

}  // namespace loom
