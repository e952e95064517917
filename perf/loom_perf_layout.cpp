#include "loom_perf_layout.h"

#include <algorithm>

namespace loom::perf {

CollectiveLayout layoutFor(CollectiveKind kind, size_t bytes, DataType type, int nranks) {
  const size_t typeSize = dataTypeSize(type);
  const size_t count = bytes / typeSize;
  const size_t n = static_cast<size_t>(nranks);
  const size_t perRank = count / n;
  CollectiveLayout l;
  switch (kind) {
    case CollectiveKind::kAllReduce:
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
    case CollectiveKind::kSendRecv:
      l.paramCount = count;
      l.sendCount = count;
      l.recvCount = count;
      break;
    case CollectiveKind::kAllGather:
      l.paramCount = perRank;
      l.sendCount = perRank;
      l.recvCount = perRank * n;
      l.sendInPlaceOffset = perRank;
      break;
    case CollectiveKind::kReduceScatter:
      l.paramCount = perRank;
      l.sendCount = perRank * n;
      l.recvCount = perRank;
      l.recvInPlaceOffset = perRank;
      break;
    case CollectiveKind::kAllToAll:
      l.paramCount = perRank;
      l.sendCount = perRank * n;
      l.recvCount = perRank * n;
      break;
  }
  l.rowBytes = std::max(l.sendCount, l.recvCount) * typeSize;
  return l;
}

bool isReducing(CollectiveKind kind) {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduce ||
         kind == CollectiveKind::kReduceScatter;
}

bool hasRoot(CollectiveKind kind) { return kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce; }

}  // namespace loom::perf
