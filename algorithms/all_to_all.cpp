// All-to-all schedules: grouped point-to-point, a pairwise exchange and a
// hierarchical exchange through one rank per pair of groups.
//
// In-place, input block p and output block p are the same memory: a receive
// into block p must come after the last send of it, and then waits for that
// send to be received. Each builder orders its steps so that those waits
// never form a circle, and the schedule is the same in-place or not, because
// the builder cannot know which it will be.
#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "algorithms/all_to_all.h"
#include "algorithms/partition.h"

namespace loom {
namespace {

// Whether `rank` receives `peer`'s block through scratch. Each pair picks one
// side; splitting by ring distance spreads the scratch evenly over the ranks.
bool receivesThroughScratch(int rank, int peer, int nranks) {
  const int ahead = mod(peer - rank, nranks);
  const int behind = nranks - ahead;
  return ahead < behind || (ahead == behind && rank < peer);
}

Status validate(const char* name, const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels(name, shape, rank, options));
  const int n = shape.nranks;
  if (shape.kind != CollectiveKind::kAllToAll)
    return Status::invalidArgument("%s builder cannot build collective %s", name, collectiveName(shape.kind));
  if (shape.count > SIZE_MAX / static_cast<size_t>(n))
    return Status::invalidArgument("%s: count %zu times %d ranks overflows", name, shape.count, n);
  return Status::ok();
}

// Channel c's share of every block: elements [lo, lo + len) of each, the same
// split on every rank.
struct Part {
  size_t lo;
  size_t len;
};

Part partOf(size_t count, size_t c, size_t channels) {
  const size_t lo = splitPoint(count, c, channels);
  return {lo, splitPoint(count, c + 1, channels) - lo};
}

// Calls `fn(offset, size)` for each pipeline slice of [base, base + len).
// The count is sliceCount's (partition.h) except for an empty range with
// pipelining, which gets no slice here and one empty slice there. No caller
// passes an empty range (empty channel parts are skipped), so the two agree
// on every call made, but they are not the same function and stay apart.
template <typename Fn>
void forSlices(size_t base, size_t len, size_t P, Fn fn) {
  const size_t slices = P == 0 ? 1 : ceilDiv(len, P);
  for (size_t j = 0; j < slices; ++j) {
    const size_t a = splitPoint(len, j, slices);
    fn(base + a, splitPoint(len, j + 1, slices) - a);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Grouped point-to-point.
//
// Cost, S the bytes a rank sends in all: (n-1)α + (n-1)/n·S·β, every message
// offered to the network at once.
//
// If both ranks of a pair received straight into the output, each would wait
// for the other to receive first: a deadlock. So for every pair exactly one
// side receives into scratch and copies into place at the end; those staged
// receives come first and never wait on anything but their message, which
// makes every direct receive's wait finite.

Result<Schedule> buildAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate("all-to-all", shape, rank, options));
  const int n = shape.nranks;

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
    const Part part = partOf(count, c, k);
    const size_t lo = part.lo;
    const size_t len = part.len;
    if (len == 0) continue;
    if (n == 1) {
      steps.push_back(Step::copy(in(lo, len), out(lo, len)));
      continue;
    }
    // Sends start with the next rank so that no rank is every peer's first target.
    for (int d = 1; d < n; ++d) {
      const int p = mod(rank + d, n);
      const size_t block = static_cast<size_t>(p) * count;
      forSlices(block + lo, len, P, [&](size_t a, size_t m) { steps.push_back(Step::send(p, in(a, m))); });
    }
    steps.push_back(Step::copy(in(self * count + lo, len), out(self * count + lo, len)));
    for (int d = 1; d < n; ++d) {
      const int q = mod(rank - d, n);
      const long slot = slotOf[static_cast<size_t>(q)];
      if (slot < 0) continue;
      const size_t base = static_cast<size_t>(slot) * count;
      forSlices(base + lo, len, P, [&](size_t a, size_t m) { steps.push_back(Step::recv(q, scratch(a, m))); });
    }
    for (int d = 1; d < n; ++d) {
      const int q = mod(rank - d, n);
      if (slotOf[static_cast<size_t>(q)] >= 0) continue;
      const size_t block = static_cast<size_t>(q) * count;
      forSlices(block + lo, len, P, [&](size_t a, size_t m) { steps.push_back(Step::recv(q, out(a, m))); });
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

// ---------------------------------------------------------------------------
// Pairwise exchange.
//
// Cost, S the bytes a rank sends in all: (n-1)α + (n-1)/n·S·β. The same as the
// grouped point-to-point on paper, but with one message in flight per rank
// and direction: round k+1's send is posted only when round k's receive is
// done, so no link or receiver is ever offered n-1 messages at once.
//
// In-place, round k receives into block r-k, which this rank sends in round
// n-k. When n-k < k that send went first, and the receive only waits for the
// peer's round n-k receive, finished before round k. When n-k >= k the block
// still has to leave, so the receive goes to scratch and is copied into place
// at the end of round n-k, once the peer's same-round receive has taken the
// send. By induction over rounds nothing waits in a circle. That stages
// floor(n/2) blocks, in-place or not, because the builder cannot tell which.

Result<Schedule> buildPairwiseAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate("pairwise all-to-all", shape, rank, options));
  const int n = shape.nranks;
  Schedule sched;
  sched.rank = rank;
  sched.nranks = n;
  const size_t count = shape.count;
  if (count == 0) return sched;

  // Round k <= n/2 stages its block in slot k-1.
  sched.scratchCount = static_cast<size_t>(n / 2) * count;
  auto slot = [&](int round) { return static_cast<size_t>(round - 1) * count; };
  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const size_t self = static_cast<size_t>(rank);
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    std::vector<Step>& steps = sched.channels[c].steps;
    const Part part = partOf(count, c, k);
    if (part.len == 0) continue;
    // Nothing ever sends this rank's own block, so the copy can go first.
    steps.push_back(Step::copy(in(self * count + part.lo, part.len), out(self * count + part.lo, part.len)));
    for (int round = 1; round < n; ++round) {
      const int to = mod(rank + round, n);
      const int from = mod(rank - round, n);
      forSlices(static_cast<size_t>(to) * count + part.lo, part.len, P,
                [&](size_t a, size_t m) { steps.push_back(Step::send(to, in(a, m))); });
      if (2 * round <= n) {
        forSlices(slot(round) + part.lo, part.len, P,
                  [&](size_t a, size_t m) { steps.push_back(Step::recv(from, scratch(a, m))); });
      } else {
        forSlices(static_cast<size_t>(from) * count + part.lo, part.len, P,
                  [&](size_t a, size_t m) { steps.push_back(Step::recv(from, out(a, m))); });
      }
      // This round's send was the last read of block `to`, which round n-k
      // received into scratch.
      const int stagedRound = n - round;
      if (2 * stagedRound <= n)
        steps.push_back(Step::copy(scratch(slot(stagedRound) + part.lo, part.len),
                                   out(static_cast<size_t>(to) * count + part.lo, part.len)));
    }
  }
  return sched;
}

// ---------------------------------------------------------------------------
// Hierarchical exchange.
//
// Cost, for G groups of L ranks (n = G·L), S the bytes a rank sends in all,
// α, β between groups and α', β' within one, and m = ⌈(G-1)/L⌉ remote groups
// per aggregating rank:
//   between groups: m·α + (n-L)/n·S·β, one message per pair of groups
//   within a group: about (n-1)·α' + 2(n-G)/n·S·β' on an aggregating rank
//   (gathering to the others, scattering what it serves block by block, and
//   the direct local exchange)
// against (n-L)·α + (n-L)/n·S·β between groups for the direct exchange. The
// bytes between groups are the same; the messages drop from n-L per rank to
// m, which is what a latency-bound network (and one link per host) wants.
// When every rank has its own link, one rank per pair of groups carries what
// all L could: prefer the direct or pairwise exchange there.
//
// For groups g != h, aggregator(g, h) is the rank of g that (1) gathers what
// every rank of g sends to h, laid out [source rank of g][destination rank of
// h], (2) sends it in one message to aggregator(h, g) and receives h's
// traffic to g from it, laid out the same way, and (3) scatters that to each
// rank of g. Blocks between ranks of one group go directly, as in the grouped
// point-to-point (one side of each pair receives through scratch).
//
// Every rank's steps run in this order, which the in-place argument needs:
//   1 gather sends  2 local sends  3 own gather copies  4 gather receives
//   5 local receives through scratch  6 exchange sends
//   7 direct local receives  8 exchange receives  9 scatter sends
//   10 own scatter copies  11 scatter receives  12 local staging copies
// Every write into the output (7, 10, 11, 12) comes after the last read of
// that input block. Steps 1-6 wait only for messages posted in steps 1-2, so
// every rank gets through them. A write over a block this rank sent waits
// for the send to be received: by the peer's step 5 (for 7) or step 7 (for
// 12), by the aggregator's step 4 (for 11); step 10 overwrites blocks only
// copied, never sent. Step 8 needs the partner's step 6 and step 11 the
// aggregator's step 9, each reached without any later step of another rank,
// so nothing waits in a circle.
// Between two ranks of a group, messages go gather, local, scatter on both
// ends, which keeps each connection's order matched.
//
// Scratch: an aggregator holds two copies (outgoing and incoming) of L_g·L_h
// blocks for each group it serves, plus one block per local peer it receives
// through scratch.

namespace {

struct Groups {
  std::vector<std::vector<int>> members;  // by group index, ranks ascending
  std::vector<int> groupOf;               // group index of each rank
  std::vector<int> localIndex;            // index of each rank within its group

  int count() const { return static_cast<int>(members.size()); }
  size_t size(int g) const { return members[static_cast<size_t>(g)].size(); }
  int member(int g, size_t i) const { return members[static_cast<size_t>(g)][i]; }

  // Counting h by its distance after g spreads the G-1 remote groups evenly
  // over g's ranks.
  int aggregator(int g, int h) const {
    const size_t d = static_cast<size_t>(mod(h - g - 1, count()));
    return member(g, d % size(g));
  }
};

// Groups are numbered by their lowest rank, so every rank numbers them alike
// whatever ids the caller used.
Groups makeGroups(int n, const std::vector<int>& ids) {
  Groups gr;
  gr.groupOf.resize(static_cast<size_t>(n));
  gr.localIndex.resize(static_cast<size_t>(n));
  std::map<int, int> indexOf;
  for (int r = 0; r < n; ++r) {
    const int id = ids.empty() ? 0 : ids[static_cast<size_t>(r)];
    auto [it, inserted] = indexOf.emplace(id, static_cast<int>(gr.members.size()));
    if (inserted) gr.members.emplace_back();
    std::vector<int>& m = gr.members[static_cast<size_t>(it->second)];
    gr.groupOf[static_cast<size_t>(r)] = it->second;
    gr.localIndex[static_cast<size_t>(r)] = static_cast<int>(m.size());
    m.push_back(r);
  }
  return gr;
}

// A rank's scratch in blocks. Channel c's share of block b sits at
// blocks·lo + b·len, so every channel has its own contiguous stretch and a
// run of blocks is contiguous within it.
struct Layout {
  size_t blocks = 0;
  std::vector<long> gather;   // by group h: first block of this group's traffic to h, or -1
  std::vector<long> scatter;  // by group h: first block of h's traffic to this group, or -1
  std::vector<long> stage;    // by local index: the block that peer's data is staged in, or -1
};

Layout layoutOf(const Groups& gr, int rank) {
  Layout l;
  const int G = gr.count();
  const int g = gr.groupOf[static_cast<size_t>(rank)];
  const size_t L = gr.size(g);
  l.gather.assign(static_cast<size_t>(G), -1);
  l.scatter.assign(static_cast<size_t>(G), -1);
  for (int d = 1; d < G; ++d) {
    const int h = (g + d) % G;
    if (gr.aggregator(g, h) != rank) continue;
    l.gather[static_cast<size_t>(h)] = static_cast<long>(l.blocks);
    l.blocks += L * gr.size(h);
    l.scatter[static_cast<size_t>(h)] = static_cast<long>(l.blocks);
    l.blocks += L * gr.size(h);
  }
  const int li = gr.localIndex[static_cast<size_t>(rank)];
  const int Li = static_cast<int>(L);
  l.stage.assign(L, -1);
  for (int e = 1; e < Li; ++e) {
    const int from = mod(li - e, Li);
    if (receivesThroughScratch(li, from, Li)) l.stage[static_cast<size_t>(from)] = static_cast<long>(l.blocks++);
  }
  return l;
}

// What one message stream between two ranks carries: contiguous segments,
// merged when both ends continue the previous one. Both ends build the same
// list, so they cut it into the same messages.
struct Transfer {
  BufferId from;
  BufferId to;
  struct Segment {
    size_t src;
    size_t dst;
    size_t len;
  };
  std::vector<Segment> segments;

  void add(size_t src, size_t dst, size_t len) {
    if (!segments.empty()) {
      Segment& last = segments.back();
      if (last.src + last.len == src && last.dst + last.len == dst) {
        last.len += len;
        return;
      }
    }
    segments.push_back({src, dst, len});
  }
};

class HierarchicalBuilder {
 public:
  HierarchicalBuilder(const CollectiveShape& shape, Groups groups)
      : count_(shape.count), gr_(std::move(groups)) {}

  const Groups& groups() const { return gr_; }

  const Layout& layout(int rank) {
    auto it = layouts_.find(rank);
    if (it == layouts_.end()) it = layouts_.emplace(rank, layoutOf(gr_, rank)).first;
    return it->second;
  }

  void setPart(Part part) { part_ = part; }

  // Rank i of group g's blocks for group h, to aggregator(g, h).
  Transfer gather(int g, int h, size_t i) {
    const int agg = gr_.aggregator(g, h);
    const Layout& l = layout(agg);
    const size_t base = static_cast<size_t>(l.gather[static_cast<size_t>(h)]) + i * gr_.size(h);
    Transfer t{BufferId::kInput, BufferId::kScratch, {}};
    for (size_t j = 0; j < gr_.size(h); ++j)
      t.add(block(gr_.member(h, j)), scratchBlock(l, base + j), part_.len);
    return t;
  }

  // All of g's traffic to h, from aggregator(g, h) to aggregator(h, g).
  Transfer exchange(int g, int h) {
    const Layout& src = layout(gr_.aggregator(g, h));
    const Layout& dst = layout(gr_.aggregator(h, g));
    Transfer t{BufferId::kScratch, BufferId::kScratch, {}};
    t.add(scratchBlock(src, static_cast<size_t>(src.gather[static_cast<size_t>(h)])),
          scratchBlock(dst, static_cast<size_t>(dst.scatter[static_cast<size_t>(g)])),
          gr_.size(g) * gr_.size(h) * part_.len);
    return t;
  }

  // h's traffic to rank j of group g, from aggregator(g, h).
  Transfer scatter(int h, int g, size_t j) {
    const Layout& l = layout(gr_.aggregator(g, h));
    const size_t base = static_cast<size_t>(l.scatter[static_cast<size_t>(h)]);
    Transfer t{BufferId::kScratch, BufferId::kOutput, {}};
    for (size_t i = 0; i < gr_.size(h); ++i)
      t.add(scratchBlock(l, base + i * gr_.size(g) + j), block(gr_.member(h, i)), part_.len);
    return t;
  }

  // Rank a of group g's block for rank b of the same group.
  Transfer local(int g, size_t a, size_t b) {
    const int from = gr_.member(g, a);
    const int to = gr_.member(g, b);
    const Layout& l = layout(to);
    const long staged = l.stage[a];
    Transfer t{BufferId::kInput, staged >= 0 ? BufferId::kScratch : BufferId::kOutput, {}};
    t.add(block(to), staged >= 0 ? scratchBlock(l, static_cast<size_t>(staged)) : block(from), part_.len);
    return t;
  }

  size_t stagedAt(int rank, size_t a) { return scratchBlock(layout(rank), static_cast<size_t>(layout(rank).stage[a])); }
  size_t block(int rank) const { return static_cast<size_t>(rank) * count_ + part_.lo; }

 private:
  size_t scratchBlock(const Layout& l, size_t b) const { return l.blocks * part_.lo + b * part_.len; }

  size_t count_;
  Groups gr_;
  Part part_{0, 0};
  std::map<int, Layout> layouts_;
};

void emitSends(std::vector<Step>& steps, int peer, const Transfer& t, size_t P) {
  for (const Transfer::Segment& s : t.segments)
    forSlices(s.src, s.len, P, [&](size_t a, size_t m) { steps.push_back(Step::send(peer, Slice{t.from, a, m})); });
}

void emitRecvs(std::vector<Step>& steps, int peer, const Transfer& t, size_t P) {
  for (const Transfer::Segment& s : t.segments)
    forSlices(s.dst, s.len, P, [&](size_t a, size_t m) { steps.push_back(Step::recv(peer, Slice{t.to, a, m})); });
}

void emitCopies(std::vector<Step>& steps, const Transfer& t) {
  for (const Transfer::Segment& s : t.segments)
    steps.push_back(Step::copy(Slice{t.from, s.src, s.len}, Slice{t.to, s.dst, s.len}));
}

}  // namespace

Result<Schedule> buildHierarchicalAllToAll(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate("hierarchical all-to-all", shape, rank, options));
  const int n = shape.nranks;
  if (!options.groupOf.empty() && options.groupOf.size() != static_cast<size_t>(n))
    return Status::invalidArgument("hierarchical all-to-all: options.groupOf has %zu entries for %d ranks; give one "
                                   "group per rank, or none for a single group",
                                   options.groupOf.size(), n);
  Schedule sched;
  sched.rank = rank;
  sched.nranks = n;
  const size_t count = shape.count;
  if (count == 0) return sched;

  HierarchicalBuilder b(shape, makeGroups(n, options.groupOf));
  const Groups& gr = b.groups();
  const int G = gr.count();
  const int g = gr.groupOf[static_cast<size_t>(rank)];
  const size_t li = gr.localIndex[static_cast<size_t>(rank)];
  const size_t L = gr.size(g);
  const Layout& mine = b.layout(rank);
  if (mine.blocks > 0 && count > SIZE_MAX / mine.blocks)
    return Status::invalidArgument("hierarchical all-to-all: count %zu times %zu scratch blocks overflows", count,
                                   mine.blocks);
  sched.scratchCount = mine.blocks * count;

  // The remote groups in distance order, and those this rank serves.
  std::vector<int> remote, served;
  for (int d = 1; d < G; ++d) {
    const int h = (g + d) % G;
    remote.push_back(h);
    if (mine.gather[static_cast<size_t>(h)] >= 0) served.push_back(h);
  }
  auto next = [&](size_t e) { return (li + e) % L; };
  auto prev = [&](size_t e) { return (li + L - e) % L; };

  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    std::vector<Step>& steps = sched.channels[c].steps;
    const Part part = partOf(count, c, k);
    if (part.len == 0) continue;
    b.setPart(part);
    steps.push_back(Step::copy(in(b.block(rank), part.len), out(b.block(rank), part.len)));
    for (int h : remote) {
      const int agg = gr.aggregator(g, h);
      if (agg != rank) emitSends(steps, agg, b.gather(g, h, li), P);  // 1
    }
    for (size_t e = 1; e < L; ++e) emitSends(steps, gr.member(g, next(e)), b.local(g, li, next(e)), P);  // 2
    for (int h : served) emitCopies(steps, b.gather(g, h, li));                                         // 3
    for (int h : served)
      for (size_t e = 1; e < L; ++e) emitRecvs(steps, gr.member(g, prev(e)), b.gather(g, h, prev(e)), P);  // 4
    for (size_t e = 1; e < L; ++e)
      if (mine.stage[prev(e)] >= 0) emitRecvs(steps, gr.member(g, prev(e)), b.local(g, prev(e), li), P);  // 5
    for (int h : served) emitSends(steps, gr.aggregator(h, g), b.exchange(g, h), P);                  // 6
    for (size_t e = 1; e < L; ++e)
      if (mine.stage[prev(e)] < 0) emitRecvs(steps, gr.member(g, prev(e)), b.local(g, prev(e), li), P);  // 7
    for (int h : served) emitRecvs(steps, gr.aggregator(h, g), b.exchange(h, g), P);                  // 8
    for (int h : served)
      for (size_t e = 1; e < L; ++e) emitSends(steps, gr.member(g, next(e)), b.scatter(h, g, next(e)), P);  // 9
    for (int h : served) emitCopies(steps, b.scatter(h, g, li));                                         // 10
    for (int h : remote) {
      const int agg = gr.aggregator(g, h);
      if (agg != rank) emitRecvs(steps, agg, b.scatter(h, g, li), P);  // 11
    }
    for (size_t e = 1; e < L; ++e) {  // 12
      if (mine.stage[prev(e)] < 0) continue;
      const int from = gr.member(g, prev(e));
      steps.push_back(Step::copy(scratch(b.stagedAt(rank, prev(e)), part.len), out(b.block(from), part.len)));
    }
  }
  return sched;
}

}  // namespace loom
