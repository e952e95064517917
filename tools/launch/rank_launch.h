// How the ranks of a Loom program (loom-perf, loom-train) come to exist:
// forked here (--ranks N), started by mpirun, or a single process. Messages
// start with the program's name.
#pragma once

#include <functional>

#include "loom/communicator.h"

namespace loom::launch {

// True when an MPI launcher started this process; *worldSize gets the job size.
bool launchedByMpiLauncher(int* worldSize);

// True when torchrun-style variables (RANK, WORLD_SIZE, and MASTER_ADDR /
// MASTER_PORT for Communicator::createFromEnvironment) describe this process.
bool launchedWithRankEnvironment();

// Forks `nranks` processes. Rank 0 creates the UniqueId (so the bootstrap root
// lives in a rank, as in a real job) and hands it to the others through a
// shared page; each runs fn(rank, id) and exits with its return value.
// Returns 0 when every rank exits 0, else the first failing rank's code. Once
// one rank fails, the others get a grace period to fail on their own (Loom
// reports a dead peer) and are then killed, so a run never hangs.
int runForkedRanks(int nranks, const std::function<int(int rank, const UniqueId& id)>& fn);

}  // namespace loom::launch
