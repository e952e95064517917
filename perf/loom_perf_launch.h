// How the ranks of a loom-perf run come to exist: forked here (--ranks N),
// started by mpirun, or a single process.
#pragma once

#include <functional>

#include "loom/communicator.h"

namespace loom::perf {

// True when an MPI launcher started this process; *worldSize gets the job size.
bool launchedByMpiLauncher(int* worldSize);

// Forks `nranks` processes. Rank 0 creates the UniqueId (so the bootstrap root
// lives in a rank, as in a real job) and hands it to the others through a
// shared page; each runs fn(rank, id) and exits with its return value.
// Returns 0 when every rank exits 0, else the first failing rank's code. Once
// one rank fails, the others get a grace period to fail on their own (Loom
// reports a dead peer) and are then killed, so a run never hangs.
int runForkedRanks(int nranks, const std::function<int(int rank, const UniqueId& id)>& fn);

}  // namespace loom::perf
