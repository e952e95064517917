// Hierarchical schedules: rings inside each group (host) and rings across
// groups, so that the slow links between hosts carry each byte as few times
// as possible.
//
// Groups come from BuildOptions::groupOf. They are ordered by their lowest
// rank, a group's ranks by global rank, and a rank's "local index" q is its
// position in its group. G is the number of groups, k_j the size of group j.
// A "rail" l (0 <= l < largest group size) is the ring over groups that, in
// group j, passes through the rank of local index l mod k_j. With equal
// groups that is the usual rail: the ranks of the same local index. With
// unequal groups a rank of a small group stands in for the missing local
// indices and so rides on several rails. Nothing falls back to a flat ring:
// every shape gets the two-level schedule, and everything below is computed
// from (shape, groupOf) alone, identically on every rank.
//
// AllReduce, per pipeline region:
//   1. reduce-scatter around each group: rank q of group j ends with chunk q
//      (of k_j near-equal chunks) summed over its group;
//   2. all-reduce across groups: the chunk boundaries of every group cut the
//      region into intervals, and each interval is all-reduced by a ring over
//      the G ranks (one per group) whose chunks contain it. Equal groups give
//      one interval per chunk and the ring is rail q;
//   3. all-gather around each group.
// AllGather, per slice: each rail all-gathers the blocks of its own local
// index (one ring over groups), so that rank q of group j then holds every
// block whose owner's local index is q mod k_j; an all-gather around each
// group hands those sets on. ReduceScatter mirrors it: reduce-scatter around
// each group of those same sets (partial sums in scratch), then each rail
// reduce-scatters its blocks across groups, straight into each owner's output.
// Broadcast: a chain from the root through one rank per group (rail of the
// root's local index), and from that rank a chain around its group, both
// pipelined in slices. Reduce is the mirror: chains around each group end at
// the rail rank, and a chain of those ends at the root.
//
// Cost for G groups of g ranks and S bytes (AllReduce, Broadcast, Reduce: the
// buffer; AllGather: the output; ReduceScatter: the input), with latency α and
// time per byte β inside a group (l) and between groups (g), β_g being one
// rank's own link out of its host (a NIC per rank, as on rail-optimised hosts):
//   AllReduce      2(g-1)α_l + 2(G-1)α_g + 2(g-1)/g·S·β_l + 2(G-1)/G·(S/g)·β_g
//   AllGather,
//   ReduceScatter  (g-1)α_l + (G-1)α_g + (g-1)/g·S·β_l + (G-1)/G·(S/g)·β_g
//                  (an intra step moves G blocks as G messages posted back to
//                  back, so their latencies mostly overlap)
//   Broadcast,
//   Reduce         (G-1)(α_g + S/σ·β_g) + (g-1)(α_l + S/σ·β_l)
//                    + (σ-1)·max(α_g + S/σ·β_g, α_l + S/σ·β_l)
//                  for σ pipeline slices: the chains' depth is paid once.
// Pipelining (P elements per message) adds one α per extra message and lets
// the phases of successive regions overlap. The flat ring pays 2(n-1)α_g and
// 2(n-1)/n·S·β_g on the links between hosts for AllReduce: g times the bytes
// per NIC here, and about as many even when the whole host shares one NIC
// (then multiply the β_g terms above by g). With unequal groups the slowest
// rank is in the smallest group: AllReduce moves 2(G-1)/G·S/k_min across
// groups for it, and a rank that stands in for missing local indices carries
// the AllGather or ReduceScatter blocks of every rail it rides.
#include "algorithms/hierarchical.h"

#include <algorithm>
#include <map>
#include <vector>

#include "algorithms/partition.h"

namespace loom {
namespace {

// A range of a buffer chosen at run time (partition.h's in/out/scratch fix
// it). Not `at`, as halving_doubling.cpp names it: here `at` is a rank's Place.
Slice of(BufferId b, Range r) { return {b, r.lo, r.size()}; }

struct Groups {
  std::vector<std::vector<int>> members;  // by group, ascending ranks
  std::vector<int> group;                 // by rank: index into members
  std::vector<int> local;                 // by rank: position in its group
  std::vector<int> sizes;                 // distinct group sizes
  int largest = 1;

  int count() const { return static_cast<int>(members.size()); }
  int size(int j) const { return static_cast<int>(members[static_cast<size_t>(mod(j, count()))].size()); }
  int at(int j, int q) const { return members[static_cast<size_t>(mod(j, count()))][static_cast<size_t>(q)]; }
  // The rank of group j on rail l.
  int onRail(int j, int l) const { return at(j, l % size(j)); }
  // The rank of group j whose own block rail l carries, or -1.
  int blockOnRail(int j, int l) const { return size(j) > l ? at(j, l) : -1; }
};

Groups makeGroups(int nranks, const std::vector<int>& groupOf) {
  Groups gs;
  gs.group.resize(static_cast<size_t>(nranks));
  gs.local.resize(static_cast<size_t>(nranks));
  std::map<int, int> indexOf;  // group id -> index, in order of first rank
  for (int r = 0; r < nranks; ++r) {
    const int id = groupOf.empty() ? 0 : groupOf[static_cast<size_t>(r)];
    auto [it, inserted] = indexOf.emplace(id, gs.count());
    if (inserted) gs.members.emplace_back();
    std::vector<int>& m = gs.members[static_cast<size_t>(it->second)];
    gs.group[static_cast<size_t>(r)] = it->second;
    gs.local[static_cast<size_t>(r)] = static_cast<int>(m.size());
    m.push_back(r);
  }
  for (const std::vector<int>& m : gs.members) {
    const int k = static_cast<int>(m.size());
    gs.sizes.push_back(k);
    gs.largest = std::max(gs.largest, k);
  }
  std::sort(gs.sizes.begin(), gs.sizes.end());
  gs.sizes.erase(std::unique(gs.sizes.begin(), gs.sizes.end()), gs.sizes.end());
  return gs;
}

// What one rank needs to know about its place in the groups.
struct Place {
  int rank;
  int G;     // groups
  int j;     // my group
  int q;     // my local index
  int k;     // my group's size
  int next;  // ring neighbours inside my group
  int prev;

  Place(const Groups& gs, int r)
      : rank(r),
        G(gs.count()),
        j(gs.group[static_cast<size_t>(r)]),
        q(gs.local[static_cast<size_t>(r)]),
        k(gs.size(j)),
        next(gs.at(j, mod(q + 1, k))),
        prev(gs.at(j, mod(q - 1, k))) {}
};

// Ring all-reduce of `interval` among `ring` (position p is ring[p], this rank
// at position `me`); position p ends the reduce-scatter owning sub-piece p.
// `own` holds this rank's contribution, the result goes to the output.
void ringAllReduce(Channel& ch, const std::vector<int>& ring, int me, Range interval, BufferId own) {
  const int n = static_cast<int>(ring.size());
  const int next = ring[static_cast<size_t>(mod(me + 1, n))];
  const int prev = ring[static_cast<size_t>(mod(me - 1, n))];
  auto sub = [&](long p) { return pieceOf(interval, static_cast<size_t>(mod(p, n)), static_cast<size_t>(n)); };
  for (int s = 0; s < n - 1; ++s) {
    const Range sc = sub(me - s - 1);
    if (!sc.empty()) ch.steps.push_back(Step::send(next, of(s == 0 ? own : BufferId::kOutput, sc)));
    const Range rc = sub(me - s - 2);
    if (!rc.empty()) ch.steps.push_back(Step::recvReduce(prev, of(own, rc), out(rc)));
  }
  for (int s = 0; s < n - 1; ++s) {
    const Range sc = sub(me - s);
    if (!sc.empty()) ch.steps.push_back(Step::send(next, out(sc)));
    const Range rc = sub(me - s - 1);
    if (!rc.empty()) ch.steps.push_back(Step::recv(prev, out(rc)));
  }
}

// Sends (or receives) `r` as messages of at most P elements; both ends cut
// the same range the same way.
template <typename Emit>
void inPieces(Range r, size_t P, Emit emit) {
  const size_t n = sliceCount(r.size(), P);
  for (size_t i = 0; i < n; ++i) {
    const Range piece = pieceOf(r, i, n);
    if (!piece.empty()) emit(piece);
  }
}

void allReduce(Channel& ch, const Groups& gs, const Place& at, Range part, size_t P) {
  const int k = at.k;
  // A loop covers about nranks·P elements, as a flat ring's does, so that the
  // pieces the rails reduce come out near P: every interval lies inside one
  // chunk of the largest group and is cut G ways, and nranks <= G·largest.
  // The chunks inside a group are larger and go as several messages.
  const size_t units = gs.local.size();
  const size_t loops = P == 0 ? 1 : ceilDiv(ceilDiv(part.size(), P), units);
  // A group of one has nothing reduced in its output until the rail ring.
  const BufferId own = k > 1 ? BufferId::kOutput : BufferId::kInput;
  std::vector<size_t> cuts;
  std::vector<int> ring(static_cast<size_t>(at.G));
  for (size_t l = 0; l < loops; ++l) {
    const Range region = pieceOf(part, l, loops);
    if (region.empty()) continue;
    auto chunk = [&](long p) { return pieceOf(region, static_cast<size_t>(mod(p, k)), static_cast<size_t>(k)); };
    for (int s = 0; s < k - 1; ++s) {
      inPieces(chunk(at.q - s - 1), P,
               [&](Range sc) { ch.steps.push_back(Step::send(at.next, s == 0 ? in(sc) : out(sc))); });
      inPieces(chunk(at.q - s - 2), P,
               [&](Range rc) { ch.steps.push_back(Step::recvReduce(at.prev, in(rc), out(rc))); });
    }
    const Range mine = chunk(at.q);
    if (at.G > 1 && !mine.empty()) {
      // Every group's chunk boundaries inside my chunk; between two cuts each
      // group has one owner. Intervals are visited in ascending order on every
      // rank, so the rings of different intervals cannot wait on each other.
      cuts.assign({mine.lo, mine.hi});
      for (int size : gs.sizes) {
        for (int i = 1; i < size; ++i) {
          const size_t c = region.lo + splitPoint(region.size(), static_cast<size_t>(i), static_cast<size_t>(size));
          if (c > mine.lo && c < mine.hi) cuts.push_back(c);
        }
      }
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        const Range interval{cuts[i], cuts[i + 1]};
        for (int g = 0; g < at.G; ++g) {
          const size_t owner = pieceHolding(region.size(), interval.lo - region.lo, static_cast<size_t>(gs.size(g)));
          ring[static_cast<size_t>(g)] = gs.at(g, static_cast<int>(owner));
        }
        ringAllReduce(ch, ring, at.j, interval, own);
      }
    }
    for (int s = 0; s < k - 1; ++s) {
      inPieces(chunk(at.q - s), P, [&](Range sc) { ch.steps.push_back(Step::send(at.next, out(sc))); });
      inPieces(chunk(at.q - s - 1), P, [&](Range rc) { ch.steps.push_back(Step::recv(at.prev, out(rc))); });
    }
  }
}

// The blocks that rank q of a group of k holds between the two phases of
// AllGather and ReduceScatter: those whose owner's local index is q mod k.
std::vector<std::vector<int>> blockSets(const Groups& gs, int k) {
  std::vector<std::vector<int>> sets(static_cast<size_t>(k));
  for (size_t b = 0; b < gs.local.size(); ++b) sets[static_cast<size_t>(gs.local[b] % k)].push_back(static_cast<int>(b));
  return sets;
}

void allGather(Channel& ch, const Groups& gs, const Place& at, Range part, size_t count, size_t P) {
  const std::vector<std::vector<int>> sets = blockSets(gs, at.k);
  const size_t slices = sliceCount(part.size(), P);
  for (size_t js = 0; js < slices; ++js) {
    const Range sl = pieceOf(part, js, slices);
    if (sl.empty()) continue;
    // Our own block leaves from the input, so no step waits for the local
    // copy, which is done last.
    auto src = [&](int b) {
      return b == at.rank ? in(sl) : out(static_cast<size_t>(b) * count + sl.lo, sl.size());
    };
    auto dst = [&](int b) { return out(static_cast<size_t>(b) * count + sl.lo, sl.size()); };
    if (at.G > 1) {
      for (int l = at.q; l < gs.largest; l += at.k) {
        const int next = gs.onRail(at.j + 1, l);
        const int prev = gs.onRail(at.j - 1, l);
        for (int s = 0; s < at.G - 1; ++s) {
          const int sb = gs.blockOnRail(at.j - s, l);
          if (sb >= 0) ch.steps.push_back(Step::send(next, src(sb)));
          const int rb = gs.blockOnRail(at.j - s - 1, l);
          if (rb >= 0) ch.steps.push_back(Step::recv(prev, dst(rb)));
        }
      }
    }
    for (int s = 0; s < at.k - 1; ++s) {
      for (int b : sets[static_cast<size_t>(mod(at.q - s, at.k))]) ch.steps.push_back(Step::send(at.next, src(b)));
      for (int b : sets[static_cast<size_t>(mod(at.q - s - 1, at.k))]) ch.steps.push_back(Step::recv(at.prev, dst(b)));
    }
  }
  // Last, because in-place this copy is onto itself and must wait for every
  // send of the same memory to be received.
  ch.steps.push_back(
      Step::copy(in(part), out(static_cast<size_t>(at.rank) * count + part.lo, part.size())));
}

// Scratch per slice: a result area for this rank's block set (the group's
// sums, then the rails' partial sums in place), and up to two rotating slots
// for partial sums passing around the group. Returns the scratch used.
size_t reduceScatter(Channel& ch, const Groups& gs, const Place& at, Range part, size_t count, size_t P,
                     size_t scratchBase) {
  const int k = at.k;
  const std::vector<std::vector<int>> sets = blockSets(gs, k);
  const std::vector<int>& mySet = sets[static_cast<size_t>(at.q)];
  size_t widest = 0;
  for (const std::vector<int>& s : sets) widest = std::max(widest, s.size());
  const size_t slices = sliceCount(part.size(), P);
  const size_t slotSize = ceilDiv(part.size(), slices);
  const size_t slots = static_cast<size_t>(std::clamp(k - 2, 0, 2));
  // The result area holds group sums for the rails, and the rails' partial
  // sums, which a group of one has only on rails of three groups or more.
  const size_t results = at.G > 1 && (k > 1 || at.G > 2) ? mySet.size() : 0;
  const size_t partialBase = scratchBase + results * slotSize;
  std::vector<size_t> resultIndex(gs.local.size(), 0);
  for (size_t t = 0; t < mySet.size(); ++t) resultIndex[static_cast<size_t>(mySet[t])] = t;
  size_t writes = 0;
  for (size_t js = 0; js < slices; ++js) {
    const Range sl = pieceOf(part, js, slices);
    if (sl.empty()) continue;
    auto input = [&](int b) { return in(static_cast<size_t>(b) * count + sl.lo, sl.size()); };
    auto result = [&](int b) {
      return scratch(scratchBase + resultIndex[static_cast<size_t>(b)] * slotSize, sl.size());
    };
    auto partial = [&](size_t slot, size_t t) {
      return scratch(partialBase + (slot * widest + t) * slotSize, sl.size());
    };
    size_t lastSlot = 0;
    for (int s = 0; s < k - 1; ++s) {
      const std::vector<int>& sendSet = sets[static_cast<size_t>(mod(at.q - s - 1, k))];
      for (size_t t = 0; t < sendSet.size(); ++t)
        ch.steps.push_back(Step::send(at.next, s == 0 ? input(sendSet[t]) : partial(lastSlot, t)));
      const std::vector<int>& recvSet = sets[static_cast<size_t>(mod(at.q - s - 2, k))];
      const bool last = s == k - 2;
      if (!last) lastSlot = writes++ % slots;
      for (size_t t = 0; t < recvSet.size(); ++t) {
        const int b = recvSet[t];
        // With one group, this rank's set is its own block and the sum is final.
        const Slice d = !last ? partial(lastSlot, t) : at.G == 1 ? out(sl) : result(b);
        ch.steps.push_back(Step::recvReduce(at.prev, input(b), d));
      }
    }
    if (at.G == 1) continue;
    // A group of one has no group sum: its input is its contribution.
    auto own = [&](int b) { return k > 1 ? result(b) : input(b); };
    for (int l = at.q; l < gs.largest; l += k) {
      const int next = gs.onRail(at.j + 1, l);
      const int prev = gs.onRail(at.j - 1, l);
      for (int s = 0; s < at.G - 1; ++s) {
        const int sb = gs.blockOnRail(at.j - s - 1, l);
        if (sb >= 0) ch.steps.push_back(Step::send(next, s == 0 ? own(sb) : result(sb)));
        const int rb = gs.blockOnRail(at.j - s - 2, l);
        // The last block to arrive is this rank's own, complete.
        if (rb >= 0) ch.steps.push_back(Step::recvReduce(prev, own(rb), s == at.G - 2 ? out(sl) : result(rb)));
      }
    }
  }
  return (results + slots * widest) * slotSize;
}

// Chains for Broadcast and Reduce: across groups through the ranks on the
// root's rail, and around each group from (Broadcast) or to (Reduce) that rank.
struct Chains {
  int interPrev = -1, interNext = -1;
  int intraPrev = -1, intraNext = -1;
};

Chains chains(const Groups& gs, const Place& at, int root, bool towardRoot) {
  const int rootGroup = gs.group[static_cast<size_t>(root)];
  const int rail = gs.local[static_cast<size_t>(root)];
  const int repLocal = rail % at.k;
  Chains c;
  // Broadcast runs root group first; Reduce ends there.
  const int shift = towardRoot ? 1 : 0;
  if (at.q == repLocal) {
    const int e = mod(at.j - rootGroup - shift, at.G);
    if (e > 0) c.interPrev = gs.onRail(at.j - 1, rail);
    if (e < at.G - 1) c.interNext = gs.onRail(at.j + 1, rail);
  }
  const int d = mod(at.q - repLocal - shift, at.k);
  if (d > 0) c.intraPrev = gs.at(at.j, mod(at.q - 1, at.k));
  if (d < at.k - 1) c.intraNext = gs.at(at.j, mod(at.q + 1, at.k));
  return c;
}

void broadcast(Channel& ch, const Groups& gs, const Place& at, int root, Range part, size_t P) {
  const Chains c = chains(gs, at, root, false);
  const bool isRoot = at.rank == root;
  const size_t slices = sliceCount(part.size(), P);
  for (size_t js = 0; js < slices; ++js) {
    const Range sl = pieceOf(part, js, slices);
    if (sl.empty()) continue;
    if (!isRoot) ch.steps.push_back(Step::recv(c.interPrev >= 0 ? c.interPrev : c.intraPrev, out(sl)));
    const Slice src = isRoot ? in(sl) : out(sl);
    // Across groups first: it is the longer way.
    if (c.interNext >= 0) ch.steps.push_back(Step::send(c.interNext, src));
    if (c.intraNext >= 0) ch.steps.push_back(Step::send(c.intraNext, src));
  }
  // Last: in-place it is a no-op copy that must wait for the sends of the same memory.
  if (isRoot) ch.steps.push_back(Step::copy(in(part), out(part)));
}

// Non-root ranks may have no output buffer (NCCL allows a null recvbuff), so
// partial sums go through a few scratch slots; reusing one waits for its
// previous send to be received, which is the chains' flow control.
size_t reduce(Channel& ch, const Groups& gs, const Place& at, int root, Range part, size_t P, size_t scratchBase) {
  constexpr size_t kSlots = 4;
  const Chains c = chains(gs, at, root, true);
  const bool isRoot = at.rank == root;
  const size_t slices = sliceCount(part.size(), P);
  const size_t slotSize = ceilDiv(part.size(), slices);
  const size_t slots = std::min(slices, kSlots);
  const bool accumulates = !isRoot && (c.intraPrev >= 0 || c.interPrev >= 0);
  for (size_t js = 0; js < slices; ++js) {
    const Range sl = pieceOf(part, js, slices);
    if (sl.empty()) continue;
    const Slice acc = isRoot ? out(sl) : scratch(scratchBase + (js % slots) * slotSize, sl.size());
    Slice have = in(sl);
    for (int from : {c.intraPrev, c.interPrev}) {
      if (from < 0) continue;
      ch.steps.push_back(Step::recvReduce(from, have, acc));
      have = acc;
    }
    if (!isRoot) ch.steps.push_back(Step::send(c.interNext >= 0 ? c.interNext : c.intraNext, have));
  }
  return accumulates ? slots * slotSize : 0;
}

Status validate(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels("hierarchical", shape, rank, options));
  if (!options.groupOf.empty() && options.groupOf.size() != static_cast<size_t>(shape.nranks))
    return Status::invalidArgument(
        "hierarchical: options.groupOf has %zu entries but there are %d ranks; give one group per rank or none",
        options.groupOf.size(), shape.nranks);
  switch (shape.kind) {
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
      if (shape.root < 0 || shape.root >= shape.nranks)
        return Status::invalidArgument("hierarchical %s: root %d is outside [0, %d)", collectiveName(shape.kind),
                                       shape.root, shape.nranks);
      break;
    case CollectiveKind::kAllReduce: break;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
      if (shape.count > SIZE_MAX / static_cast<size_t>(shape.nranks))
        return Status::invalidArgument("hierarchical %s: count %zu times %d ranks overflows",
                                       collectiveName(shape.kind), shape.count, shape.nranks);
      break;
    default:
      return Status::invalidArgument("hierarchical: collective %s is not supported (use AllReduce, AllGather, "
                                     "ReduceScatter, Broadcast or Reduce)",
                                     collectiveName(shape.kind));
  }
  return Status::ok();
}

}  // namespace

Result<Schedule> buildHierarchical(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate(shape, rank, options));
  Schedule sched;
  sched.rank = rank;
  sched.nranks = shape.nranks;
  if (shape.count == 0) return sched;

  const Groups gs = makeGroups(shape.nranks, options.groupOf);
  const Place at(gs, rank);
  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const Range all{0, shape.count};
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    Channel& ch = sched.channels[c];
    const Range part = pieceOf(all, c, k);
    if (part.empty()) continue;
    if (shape.nranks == 1) {
      // One rank: every supported collective is a copy of count elements.
      ch.steps.push_back(Step::copy(in(part), out(part)));
      continue;
    }
    switch (shape.kind) {
      case CollectiveKind::kAllReduce: allReduce(ch, gs, at, part, P); break;
      case CollectiveKind::kAllGather: allGather(ch, gs, at, part, shape.count, P); break;
      case CollectiveKind::kReduceScatter:
        sched.scratchCount += reduceScatter(ch, gs, at, part, shape.count, P, sched.scratchCount);
        break;
      case CollectiveKind::kBroadcast: broadcast(ch, gs, at, shape.root, part, P); break;
      case CollectiveKind::kReduce: sched.scratchCount += reduce(ch, gs, at, shape.root, part, P, sched.scratchCount); break;
      default: break;  // rejected by validate()
    }
  }
  return sched;
}

}  // namespace loom
