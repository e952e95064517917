// Bus bandwidth, as nccl-tests defines it: busbw = algbw * factor, where the
// factor is the fraction of the data each rank must move over its busiest
// link, so numbers compare across rank counts and with link speeds.
// Header-only: loom-perf (which links only the public library) uses it too.
#pragma once

#include "loom/types.h"

namespace loom {

inline double busBandwidthFactor(CollectiveKind kind, int nranks) {
  const double n = nranks;
  switch (kind) {
    case CollectiveKind::kAllReduce: return 2.0 * (n - 1) / n;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return (n - 1) / n;
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
    case CollectiveKind::kSendRecv: return 1.0;
  }
  return 1.0;
}

}  // namespace loom
