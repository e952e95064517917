// Direct (all-pairs) AllReduce for small messages between ranks that all
// reach each other directly, such as one NVLink domain: one or two message
// latencies instead of a ring's 2(n-1) or a tree's 2·log2(n).
#pragma once

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// One-shot AllReduce: every rank sends its whole input to every other rank
// and reduces all n contributions itself. One latency, but (n-1)·S received
// per rank, so only for small S. AllReduce only.
Result<Schedule> buildOneShot(const CollectiveShape& shape, int rank, const BuildOptions& options);

// Two-shot AllReduce: a direct reduce-scatter (rank r gathers and reduces
// chunk r from every rank) followed by a direct all-gather of the reduced
// chunks. Two latencies and the ring's bandwidth term. AllReduce only.
Result<Schedule> buildTwoShot(const CollectiveShape& shape, int rank, const BuildOptions& options);

}  // namespace loom
