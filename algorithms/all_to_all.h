// All-to-all variants beyond the grouped point-to-point of buildAllToAll
// (declared in algorithm.h): schedules that shape the traffic for a network.
#pragma once

#include "algorithms/algorithm.h"

namespace loom {

// n-1 rounds; in round k rank r sends its block for (r+k) mod n there and
// receives (r-k) mod n's block for it. Each round is a permutation, so every
// rank has one message in and one out at a time instead of n-1 of each.
Result<Schedule> buildPairwiseAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options);

// Aggregates per group (options.groupOf; empty: one group). For each pair of
// groups one rank of each gathers what its group sends to the other, the two
// exchange it in one large message, and each scatters what it received within
// its own group; traffic inside a group goes directly. Groups may differ in
// size and need not be contiguous ranges of ranks.
Result<Schedule> buildHierarchicalAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
