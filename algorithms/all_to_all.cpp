// AllToAll as grouped point-to-point.
//
// In-place, input block p and output block p are the same memory, and a
// receive into memory that a posted send still reads must wait for that send
// to be received. If both ranks of a pair received straight into the output,
// each would wait for the other to receive first: a deadlock. So for every
// pair exactly one side receives into scratch and copies into place at the
// end; those staged receives come first and never wait on anything but their
// message, which makes every direct receive's wait finite. The schedule is the
// same in-place or not, because the builder cannot know which it will be.
#include <algorithm>

#include "algorithms/algorithm.h"

namespace loom {
namespace {

size_t splitPoint(size_t total, size_t i, size_t parts) {
  return static_cast<size_t>(static_cast<unsigned __int128>(total) * i / parts);
}

int mod(long a, int n) {
  long r = a % n;
  return static_cast<int>(r < 0 ? r + n : r);
}

// Whether `rank` receives `peer`'s block through scratch. Each pair picks one
// side; splitting by ring distance spreads the scratch evenly over the ranks.
bool receivesThroughScratch(int rank, int peer, int nranks) {
  const int ahead = mod(peer - rank, nranks);
  const int behind = nranks - ahead;
  return ahead < behind || (ahead == behind && rank < peer);
}

Slice in(size_t offset, size_t count) { return {BufferId::kInput, offset, count}; }
Slice out(size_t offset, size_t count) { return {BufferId::kOutput, offset, count}; }
Slice scratch(size_t offset, size_t count) { return {BufferId::kScratch, offset, count}; }

}  // namespace

Result<Schedule> buildAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  const int n = shape.nranks;
  if (n < 1) return Status::invalidArgument("all-to-all: nranks %d is invalid; need at least 1", n);
  if (rank < 0 || rank >= n) return Status::invalidArgument("all-to-all: rank %d is outside [0, %d)", rank, n);
  if (options.channels < 1)
    return Status::invalidArgument("all-to-all: options.channels %d is invalid; need at least 1", options.channels);
  if (shape.kind != CollectiveKind::kAllToAll)
    return Status::invalidArgument("all-to-all builder cannot build collective %s", collectiveName(shape.kind));
  if (shape.count > SIZE_MAX / static_cast<size_t>(n))
    return Status::invalidArgument("all-to-all: count %zu times %d ranks overflows", shape.count, n);

  Schedule sched;
  sched.rank = rank;
  sched.nranks = n;
  const size_t count = shape.count;
  if (count == 0) return sched;

  // Scratch slot of each staged peer, in the order its receives are posted.
  std::vector<long> slotOf(static_cast<size_t>(n), -1);
  size_t staged = 0;
  for (int d = 1; d < n; ++d) {
    const int q = mod(rank - d, n);
    if (receivesThroughScratch(rank, q, n)) slotOf[static_cast<size_t>(q)] = static_cast<long>(staged++);
  }
  sched.scratchCount = staged * count;

  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const size_t self = static_cast<size_t>(rank);
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    std::vector<Step>& steps = sched.channels[c].steps;
    const size_t lo = splitPoint(count, c, k);
    const size_t len = splitPoint(count, c + 1, k) - lo;
    if (len == 0) continue;
    const size_t slices = P == 0 ? 1 : len / P + (len % P != 0);
    // Calls `fn(offset, size)` for each pipeline slice of this channel's part
    // of a block.
    auto forSlices = [&](auto fn) {
      for (size_t j = 0; j < slices; ++j) {
        const size_t a = lo + splitPoint(len, j, slices);
        const size_t b = lo + splitPoint(len, j + 1, slices);
        fn(a, b - a);
      }
    };
    if (n == 1) {
      steps.push_back(Step::copy(in(lo, len), out(lo, len)));
      continue;
    }
    // Sends start with the next rank so that no rank is every peer's first target.
    for (int d = 1; d < n; ++d) {
      const int p = mod(rank + d, n);
      const size_t block = static_cast<size_t>(p) * count;
      forSlices([&](size_t a, size_t m) { steps.push_back(Step::send(p, in(block + a, m))); });
    }
    steps.push_back(Step::copy(in(self * count + lo, len), out(self * count + lo, len)));
    for (int d = 1; d < n; ++d) {
      const int q = mod(rank - d, n);
      const long slot = slotOf[static_cast<size_t>(q)];
      if (slot < 0) continue;
      const size_t base = static_cast<size_t>(slot) * count;
      forSlices([&](size_t a, size_t m) { steps.push_back(Step::recv(q, scratch(base + a, m))); });
    }
    for (int d = 1; d < n; ++d) {
      const int q = mod(rank - d, n);
      if (slotOf[static_cast<size_t>(q)] >= 0) continue;
      const size_t block = static_cast<size_t>(q) * count;
      forSlices([&](size_t a, size_t m) { steps.push_back(Step::recv(q, out(block + a, m))); });
    }
    for (int d = 1; d < n; ++d) {
      const int q = mod(rank - d, n);
      const long slot = slotOf[static_cast<size_t>(q)];
      if (slot < 0) continue;
      steps.push_back(Step::copy(scratch(static_cast<size_t>(slot) * count + lo, len),
                                 out(static_cast<size_t>(q) * count + lo, len)));
    }
  }
  return sched;
}

}  // namespace loom
