// Ring and chain schedules.
//
// Each channel runs around its own rank order (BuildOptions::ringOrders). The
// algorithms below work in ring positions: chunk and slice ownership, who
// starts and who ends follow a rank's position in the order. Only where a
// result has a meaning in rank ids (whose block an all-gather slot holds,
// which block a reduce-scatter leaves on a rank, who the root is) do they map
// positions back to ranks, so any order computes the same collective.
//
// Every split (channels, pipeline slices, ring chunks) is computed the same
// way on every rank from the shape alone, so a chunk that comes out empty is
// empty on both ends of a connection and both sides simply skip it: no
// zero-length messages ever appear on the wire.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/partition.h"

namespace loom {
namespace {

// One channel's ring: `order[i]` is the rank at position i.
struct Ring {
  const std::vector<int>* order;
  int pos;  // this rank's position
  int nranks;
  int rankAt(long position) const { return (*order)[static_cast<size_t>(mod(position, nranks))]; }
  int rank() const { return rankAt(pos); }
  int next() const { return rankAt(pos + 1); }
  int prev() const { return rankAt(pos - 1); }
  int positionOf(int r) const {
    return static_cast<int>(std::find(order->begin(), order->end(), r) - order->begin());
  }
};

// Reduce-scatter then all-gather over n chunks of each "loop" region. A loop
// bounds each chunk by P elements, which is NCCL's pipelining of a ring.
void ringAllReduce(Channel& ch, const Ring& ring, Range part, size_t P) {
  const int n = ring.nranks;
  const int r = ring.pos;
  const size_t loops = P == 0 ? 1 : ceilDiv(ceilDiv(part.size(), P), static_cast<size_t>(n));
  for (size_t l = 0; l < loops; ++l) {
    const Range region = pieceOf(part, l, loops);
    auto chunk = [&](long i) { return pieceOf(region, static_cast<size_t>(mod(i, n)), static_cast<size_t>(n)); };
    for (int s = 0; s < n - 1; ++s) {
      const Range sc = chunk(r - s);
      // The first chunk leaves straight from the input; later ones are the
      // partial sums accumulated in the output.
      if (!sc.empty()) ch.steps.push_back(Step::send(ring.next(), s == 0 ? in(sc.lo, sc.size()) : out(sc.lo, sc.size())));
      const Range rc = chunk(r - s - 1);
      if (!rc.empty()) ch.steps.push_back(Step::recvReduce(ring.prev(), in(rc.lo, rc.size()), out(rc.lo, rc.size())));
    }
    for (int s = 0; s < n - 1; ++s) {
      const Range sc = chunk(r + 1 - s);
      if (!sc.empty()) ch.steps.push_back(Step::send(ring.next(), out(sc.lo, sc.size())));
      const Range rc = chunk(r - s);
      if (!rc.empty()) ch.steps.push_back(Step::recv(ring.prev(), out(rc.lo, rc.size())));
    }
  }
}

// `part` is a range within each rank's block of `count` elements.
void ringAllGather(Channel& ch, const Ring& ring, Range part, size_t count, size_t P) {
  const int n = ring.nranks;
  const int r = ring.pos;
  const size_t slices = sliceCount(part.size(), P);
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    for (int s = 0; s < n - 1; ++s) {
      // The block that started s hops back belongs to the rank there.
      const size_t sendBlock = static_cast<size_t>(ring.rankAt(r - s));
      // Our own block leaves from the input so the ring does not wait for the
      // local copy, which is done last.
      ch.steps.push_back(Step::send(ring.next(), s == 0 ? in(sl.lo, sl.size())
                                                        : out(sendBlock * count + sl.lo, sl.size())));
      const size_t recvBlock = static_cast<size_t>(ring.rankAt(r - s - 1));
      ch.steps.push_back(Step::recv(ring.prev(), out(recvBlock * count + sl.lo, sl.size())));
    }
  }
  // Last, because in-place this copy is onto itself and would have to wait
  // for the sends of the same memory to be received.
  ch.steps.push_back(
      Step::copy(in(part.lo, part.size()), out(static_cast<size_t>(ring.rank()) * count + part.lo, part.size())));
}

// Partial sums travel through two alternating scratch slots; the last step of
// each slice lands in the output. Returns the scratch elements used.
size_t ringReduceScatter(Channel& ch, const Ring& ring, Range part, size_t count, size_t P, size_t scratchBase) {
  const int n = ring.nranks;
  const int r = ring.pos;
  const size_t slices = sliceCount(part.size(), P);
  const size_t slotSize = ceilDiv(part.size(), slices);
  // n-2 partial sums per slice go through scratch; two slots let one be sent
  // while the next is reduced.
  const size_t slots = static_cast<size_t>(std::min(n - 2, 2));
  size_t writes = 0;
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    size_t lastSlot = 0;
    for (int s = 0; s < n - 1; ++s) {
      // The sum for the rank at position p starts at p + 1 and ends, n - 1
      // hops later, at p; so the block it carries is that rank's.
      if (s == 0) {
        const size_t b = static_cast<size_t>(ring.rankAt(r - 1));
        ch.steps.push_back(Step::send(ring.next(), in(b * count + sl.lo, sl.size())));
      } else {
        ch.steps.push_back(Step::send(ring.next(), scratch(scratchBase + lastSlot * slotSize, sl.size())));
      }
      const size_t b = static_cast<size_t>(ring.rankAt(r - s - 2));
      const Slice mine = in(b * count + sl.lo, sl.size());
      if (s == n - 2) {
        ch.steps.push_back(Step::recvReduce(ring.prev(), mine, out(sl.lo, sl.size())));
      } else {
        lastSlot = writes++ % slots;
        ch.steps.push_back(Step::recvReduce(ring.prev(), mine, scratch(scratchBase + lastSlot * slotSize, sl.size())));
      }
    }
  }
  return slots * slotSize;
}

// A chain from the root around the ring; each slice is forwarded as soon as
// it arrives, so the chain's depth is paid once, not once per slice.
void chainBroadcast(Channel& ch, const Ring& ring, int root, Range part, size_t P) {
  const int n = ring.nranks;
  const int pos = mod(ring.pos - ring.positionOf(root), n);
  const size_t slices = sliceCount(part.size(), P);
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    if (pos == 0) {
      ch.steps.push_back(Step::send(ring.next(), in(sl.lo, sl.size())));
    } else {
      ch.steps.push_back(Step::recv(ring.prev(), out(sl.lo, sl.size())));
      if (pos != n - 1) ch.steps.push_back(Step::send(ring.next(), out(sl.lo, sl.size())));
    }
  }
  // Last for the same reason as in the all-gather: in-place it is a no-op
  // copy that must wait for the sends of the same memory.
  if (pos == 0) ch.steps.push_back(Step::copy(in(part.lo, part.size()), out(part.lo, part.size())));
}

// A chain that starts after the root and ends at it. Non-root ranks may have
// no output buffer at all (NCCL allows a null recvbuff there), so their partial
// sums go through a few scratch slots; reusing a slot waits for its previous
// send to be received, which is the chain's flow control. Returns the scratch
// elements used.
size_t chainReduce(Channel& ch, const Ring& ring, int root, Range part, size_t P, size_t scratchBase) {
  constexpr size_t kSlots = 4;
  const int n = ring.nranks;
  const int pos = mod(ring.pos - ring.positionOf(root) - 1, n);
  const size_t slices = sliceCount(part.size(), P);
  const size_t slotSize = ceilDiv(part.size(), slices);
  const size_t slots = std::min(slices, kSlots);
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    if (pos == 0) {
      ch.steps.push_back(Step::send(ring.next(), in(sl.lo, sl.size())));
    } else if (pos == n - 1) {
      ch.steps.push_back(Step::recvReduce(ring.prev(), in(sl.lo, sl.size()), out(sl.lo, sl.size())));
    } else {
      const Slice slot = scratch(scratchBase + (j % slots) * slotSize, sl.size());
      ch.steps.push_back(Step::recvReduce(ring.prev(), in(sl.lo, sl.size()), slot));
      ch.steps.push_back(Step::send(ring.next(), slot));
    }
  }
  return (pos == 0 || pos == n - 1) ? 0 : slots * slotSize;
}

Status validate(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels("ring", shape, rank, options));
  switch (shape.kind) {
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
      if (shape.root < 0 || shape.root >= shape.nranks)
        return Status::invalidArgument("ring %s: root %d is outside [0, %d)", collectiveName(shape.kind), shape.root,
                                       shape.nranks);
      break;
    case CollectiveKind::kAllReduce: break;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
      if (shape.count > SIZE_MAX / static_cast<size_t>(shape.nranks))
        return Status::invalidArgument("ring %s: count %zu times %d ranks overflows", collectiveName(shape.kind),
                                       shape.count, shape.nranks);
      break;
    default:
      return Status::invalidArgument("ring: collective %s is not supported (use AllReduce, AllGather, "
                                     "ReduceScatter, Broadcast or Reduce)",
                                     collectiveName(shape.kind));
  }
  // Every order is checked, used by this call's channels or not: a bad one
  // is the caller's bug either way, and every rank must reject it alike.
  const size_t n = static_cast<size_t>(shape.nranks);
  for (size_t o = 0; o < options.ringOrders.size(); ++o) {
    const std::vector<int>& order = options.ringOrders[o];
    if (order.size() != n)
      return Status::invalidArgument("ring: ringOrders[%zu] has %zu entries; it must be a permutation of 0..%d", o,
                                     order.size(), shape.nranks - 1);
    std::vector<size_t> seenAt(n, SIZE_MAX);
    for (size_t i = 0; i < n; ++i) {
      const int r = order[i];
      if (r < 0 || r >= shape.nranks)
        return Status::invalidArgument("ring: ringOrders[%zu][%zu] is %d, outside [0, %d)", o, i, r, shape.nranks);
      if (seenAt[static_cast<size_t>(r)] != SIZE_MAX)
        return Status::invalidArgument("ring: ringOrders[%zu] lists rank %d twice (at %zu and %zu); it must be a "
                                       "permutation of 0..%d",
                                       o, r, seenAt[static_cast<size_t>(r)], i, shape.nranks - 1);
      seenAt[static_cast<size_t>(r)] = i;
    }
  }
  return Status::ok();
}

}  // namespace

Result<Schedule> buildRing(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate(shape, rank, options));
  Schedule sched;
  sched.rank = rank;
  sched.nranks = shape.nranks;
  if (shape.count == 0) return sched;

  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const Range all{0, shape.count};
  std::vector<int> natural(static_cast<size_t>(shape.nranks));
  for (int r = 0; r < shape.nranks; ++r) natural[static_cast<size_t>(r)] = r;
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    Channel& ch = sched.channels[c];
    const Range part = pieceOf(all, c, k);
    if (part.empty()) continue;
    const std::vector<int>& order =
        options.ringOrders.empty() ? natural : options.ringOrders[c % options.ringOrders.size()];
    Ring ring{&order, 0, shape.nranks};
    ring.pos = ring.positionOf(rank);
    if (shape.nranks == 1) {
      // One rank: every supported collective is a copy of count elements.
      ch.steps.push_back(Step::copy(in(part.lo, part.size()), out(part.lo, part.size())));
      continue;
    }
    switch (shape.kind) {
      case CollectiveKind::kAllReduce: ringAllReduce(ch, ring, part, P); break;
      case CollectiveKind::kAllGather: ringAllGather(ch, ring, part, shape.count, P); break;
      case CollectiveKind::kReduceScatter:
        sched.scratchCount += ringReduceScatter(ch, ring, part, shape.count, P, sched.scratchCount);
        break;
      case CollectiveKind::kBroadcast: chainBroadcast(ch, ring, shape.root, part, P); break;
      case CollectiveKind::kReduce:
        sched.scratchCount += chainReduce(ch, ring, shape.root, part, P, sched.scratchCount);
        break;
      default: break;  // rejected by validate()
    }
  }
  return sched;
}

}  // namespace loom
