// Schedule builders: pure functions from a collective's shape to one rank's
// schedule. They touch no transport and no memory; the verifier proves them.
#pragma once

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// Ring algorithms for AllReduce (reduce-scatter then all-gather around the
// ring), AllGather, ReduceScatter, and pipelined chains for Broadcast and
// Reduce. Rank r sends to r+1 and receives from r-1 (mod nranks).
Result<Schedule> buildRing(const CollectiveShape& shape, int rank, const BuildOptions& options);

// AllToAll as grouped point-to-point: every send posted first, then every
// receive, so no ordering of peers can deadlock.
Result<Schedule> buildAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
