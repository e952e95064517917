// Group calls: between groupStart() and groupEnd() calls are recorded per
// communicator and launched together, so that a rank's sends and receives in
// one group progress at the same time.
#pragma once

#include <vector>

#include "comm/communicator_impl.h"

namespace loom {

struct PointToPoint {
  bool isSend = true;
  int peer = 0;
  void* buffer = nullptr;
  size_t bytes = 0;
};

int groupDepth();
Status recordGroupOperation(Communicator::Impl& comm, Operation operation, Stream* stream);
Status recordGroupPointToPoint(Communicator::Impl& comm, const PointToPoint& call, Stream* stream);

// One operation for a list of sends and receives: every send posted first,
// then the receives, each list in call order. Sends never block the lane, so
// no order of calls across ranks can deadlock, and messages to one peer keep
// their order, which is how they are matched.
Operation fusePointToPoint(Communicator::Impl& comm, const std::vector<PointToPoint>& calls);

}  // namespace loom
