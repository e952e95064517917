// Recursive halving/doubling (Rabenseifner): log-depth schedules whose
// bandwidth term matches the ring's, for mid-sized messages where the ring's
// n-1 latencies dominate.
#pragma once

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// AllReduce for any rank count: recursive-halving reduce-scatter, then
// recursive-doubling all-gather, among the largest power of two p <= n ranks.
// The other n-p ranks are folded in first: each odd rank below 2(n-p) hands
// its vector to the even rank below it and gets the result back at the end.
// ReduceScatter and AllGather are supported when nranks is a power of two;
// everything else is rejected with kInvalidArgument.
Result<Schedule> buildHalvingDoubling(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
