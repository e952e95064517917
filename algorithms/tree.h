// The double binary tree: two complementary binary trees, each carrying half
// of the data, so that every rank forwards data as an interior node in at most
// one tree and the latency grows with log2(nranks) instead of nranks.
#pragma once

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// AllReduce (reduce up both trees, broadcast back down, pipelined in slices of
// options.pipelineElements), Broadcast and Reduce (shape.root on top of both
// trees). Other collectives are rejected with an invalid-argument status.
Result<Schedule> buildDoubleBinaryTree(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
