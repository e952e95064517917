// loom-perf's command line: nccl-tests' flags with nccl-tests' meanings, plus
// the few Loom needs because it launches its own ranks (--coll, --ranks),
// compares libraries (--compare) and writes machine-readable results
// (--json, --plot).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loom/status.h"
#include "loom/types.h"

namespace loom::perf {

// How the per-rank average time becomes the one time a row shows (-a).
enum class TimeAggregation { kRank0 = 0, kAverage = 1, kMin = 2, kMax = 3 };

struct Options {
  CollectiveKind collective = CollectiveKind::kAllReduce;
  size_t minBytes = 8;
  size_t maxBytes = size_t{64} << 20;
  size_t stepFactor = 2;  // used when stepBytes == 0
  size_t stepBytes = 0;   // -i: fixed increments instead of a factor
  int iters = 20;
  int warmupIters = 5;
  int aggIters = 1;    // -m: operations launched together per iteration
  int checkIters = 1;  // -c: 0 disables checking
  std::vector<RedOpKind> ops{RedOpKind::kSum};
  std::vector<DataType> types{DataType::kFloat32};
  int root = 0;
  bool allRoots = false;  // -r all
  bool blocking = false;  // -z 1: each call completes before the next starts
  TimeAggregation timeAggregation = TimeAggregation::kMax;
  int ranks = 0;  // --ranks N: fork N rank processes (0: not given)
  // --compare mpi,gloo: after Loom's sweep, the same sweep through each
  // library named, in this order (MPI first), then the ratio table.
  bool compareMpi = false;
  bool compareGloo = false;
  std::string jsonPath;  // --json FILE: every row of every library, written by rank 0
  std::string plotPath;  // --plot FILE.png: busbw against size per library, drawn by gnuplot
  int timeoutSeconds = 0;  // -T: exported as LOOM_TIMEOUT_S when set
  std::string algorithm;   // -a NAME / --algo: LOOM_ALGO rules, exported for the whole run when set
  // -a all / -a ring,tree: one section per algorithm, each on a communicator
  // split from the first with CommOptions::algorithm "<collective>:<name>".
  std::vector<std::string> algorithms;
  bool help = false;
};

// Parses argv[1..]. `defaultCollective` comes from the program's name, so a
// link named all_gather_perf behaves like nccl-tests' binary of that name.
Result<Options> parseOptions(int argc, char** argv, CollectiveKind defaultCollective);

// The collective a name denotes: "allreduce", "all_reduce", "all_reduce_perf",
// "AllReduce" ... Returns false for anything else.
bool parseCollectiveName(const std::string& name, CollectiveKind* kind);

// Lower-case name as --coll takes it ("allreduce").
const char* collectiveFlagName(CollectiveKind kind);

std::string usageText(const char* program);

}  // namespace loom::perf
