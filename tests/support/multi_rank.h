// Runs ranks as forked processes for multi-rank tests.
//
// Rank 0 creates the UniqueId (so the bootstrap root lives in a rank, as in a
// real job) and hands it to the others through a shared page. GoogleTest
// assertions work inside a rank: failures print at once, and a rank with a
// failure exits non-zero, which the parent reports.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "loom/communicator.h"

namespace loom::testing {

struct RankOutcome {
  int exitCode = -1;  // the rank's exit status, or -1 if it did not exit normally
  int signal = 0;     // the signal that ended it, if any
  bool timedOut = false;
};

// Forks `nranks` processes running fn(rank, id); waits at most timeoutSeconds,
// then kills the stragglers. fn's return value is the rank's exit code.
std::vector<RankOutcome> runRanks(int nranks, const std::function<int(int rank, const UniqueId& id)>& fn,
                                  double timeoutSeconds = 300);

// A readable summary ("rank 2: exit 1; rank 3: killed by signal 9") or "" when
// every rank exited 0.
std::string describeFailures(const std::vector<RankOutcome>& outcomes);

// runRanks + a Communicator per rank; fn gets the communicator. The rank fails
// if creating the communicator fails.
std::vector<RankOutcome> runCommRanks(int nranks, const std::function<void(Communicator& comm)>& fn,
                                      double timeoutSeconds = 300);

}  // namespace loom::testing

// Fails the test unless every rank exited 0.
#define EXPECT_RANKS_OK(outcomes) EXPECT_EQ(::loom::testing::describeFailures(outcomes), "")
