// Two-level (host, then across hosts) schedules; see hierarchical.cpp for the
// schedules, how groups of unequal size are handled, and their cost.
#pragma once

#include "algorithms/algorithm.h"

namespace loom {

// AllReduce, AllGather, ReduceScatter, Broadcast and Reduce over the groups
// of options.groupOf (empty or all equal: one group, which is then a plain
// ring or chain). Groups may differ in size and need not be contiguous in rank
// order; every rank derives the same plan from (shape, groupOf) alone.
// options.ringOrders is ignored: the rings here follow the groups.
Result<Schedule> buildHierarchical(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
