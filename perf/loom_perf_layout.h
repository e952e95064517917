// How nccl-tests turns a row's size into buffer counts, and its bandwidths.
//
// A row's size is the bytes of the collective's largest buffer: the whole
// vector for allreduce, broadcast, reduce and sendrecv; the gathered output of
// allgather; the input of reducescatter; each rank's full buffer for alltoall.
// "count" is the count passed to the call (per rank for allgather and
// reducescatter, per peer for alltoall).
#pragma once

#include <cstddef>

#include "loom/types.h"

namespace loom::perf {

struct CollectiveLayout {
  size_t paramCount = 0;        // the count argument of the call
  size_t sendCount = 0;         // elements each rank reads
  size_t recvCount = 0;         // elements each rank's output holds
  size_t sendInPlaceOffset = 0; // in-place input starts here in the shared buffer (per rank: times rank)
  size_t recvInPlaceOffset = 0; // in-place output starts here (per rank: times rank)
  size_t rowBytes = 0;          // the size column
};

CollectiveLayout layoutFor(CollectiveKind kind, size_t bytes, DataType type, int nranks);

bool isReducing(CollectiveKind kind);
bool hasRoot(CollectiveKind kind);

}  // namespace loom::perf
