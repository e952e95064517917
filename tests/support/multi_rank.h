// Runs ranks as forked processes for multi-rank tests.
//
// Rank 0 creates the UniqueId (so the bootstrap root lives in a rank, as in a
// real job) and hands it to the others through a shared page. GoogleTest
// assertions work inside a rank: failures print at once, and a rank with a
// failure exits non-zero, which the parent reports.
#pragma once

#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
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

// The general form of runRanks, for ids of any size: rank 0 fills the
// `idBytes` bytes of the shared id with makeId (returning false when it failed,
// which ends the rank with exit code 3 and the others with 5); every rank then
// runs fn(rank, the id's bytes). A rank with a GoogleTest failure exits 1 if fn
// returned 0.
std::vector<RankOutcome> runRanksWithIdBytes(int nranks, size_t idBytes, const std::function<bool(void* id)>& makeId,
                                             const std::function<int(int rank, const void* id)>& fn,
                                             double timeoutSeconds = 300);

// runRanksWithIdBytes for a trivially copyable id type such as ncclUniqueId:
// rank 0 makes the id with makeId(id), every rank runs fn(rank, id).
template <typename Id>
std::vector<RankOutcome> runRanksWithId(int nranks, const std::function<bool(Id& id)>& makeId,
                                        const std::function<int(int rank, const Id& id)>& fn,
                                        double timeoutSeconds = 300) {
  static_assert(std::is_trivially_copyable_v<Id>, "the id is shared between processes as bytes");
  return runRanksWithIdBytes(
      nranks, sizeof(Id),
      [&](void* out) {
        Id id{};
        if (!makeId(id)) return false;
        std::memcpy(out, &id, sizeof(Id));
        return true;
      },
      [&](int rank, const void* bytes) {
        Id id{};
        std::memcpy(&id, bytes, sizeof(Id));
        return fn(rank, id);
      },
      timeoutSeconds);
}

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
