// Double binary tree schedules.
//
// Shape. Both trees are the in-order binary tree on positions 1..m: the root
// is the largest power of two <= m, a position whose lowest set bit is b > 1
// has children p - b/2 and p + c (c the largest of b/2, b/4, ..., 1 with
// p + c <= m), and the odd positions are the leaves. Its height is
// H = floor(log2 m), and every even position is interior. Tree 0 puts member u
// (0..m-1) at position u + 1; tree 1 at u, with member 0 wrapping to m: the
// same tree shifted by one. A member at an even position in one tree is at an
// odd one in the other, so no member is interior in both trees, for any m (when
// m is odd, member 0 is a leaf in both).
//
// AllReduce: the members are all n ranks (m = n). Broadcast and Reduce: the
// members are the n-1 other ranks, numbered from root+1, and the root sits on
// top of both trees with one child in each (m = n-1, height H = 1 + floor(log2
// m)); the root necessarily touches all the data, and every other rank is
// interior in at most one tree.
//
// Each channel's part of the data is cut in two halves, one per tree (which
// tree takes the first half alternates by channel), and each half into s
// slices of at most P elements. Steps are emitted in the order of a synchronous
// pipeline: at depth d, slice j goes up at time j + H - d and comes down at
// time j + H + d (Broadcast: j + d), so every message is sent at one time and
// received at the next. Ordering each rank's steps by (time, tree, up before
// down) makes every receive come after its send in one global order, which
// rules out deadlock and keeps the per-connection FIFO order the same on both
// ends, even where two ranks are linked in both trees.
//
// Cost, as implemented (α per message round, β per element; n ranks, S =
// count, P = pipelineElements, s = ceil(S / 2P) slices per tree half). A slice
// takes one round per tree edge, and the pipeline needs 2H + s - 1 rounds
// (AllReduce: H up, H down) or H + s - 1 (Broadcast, Reduce). In a full round
// a rank, interior in one tree and a leaf in the other, sends 4 slices (1 up
// and 2 down in its interior tree, 1 up in its leaf tree) and receives 4; for
// Broadcast and Reduce, 2 each way. So
//   AllReduce:         (2H + s - 1)·(α + 4Pβ) ≈ (2H + s)·α + 2·S·β,  H = floor(log2 n)
//   Broadcast/Reduce:  (H + s - 1)·(α + 2Pβ)  ≈ (H + s)·α + S·β,      H = 1 + floor(log2(n - 1))
// i.e. an AllReduce rank sends and receives 2·S elements in all (S/2 up and S
// down as an interior node of one tree, S/2 up as a leaf of the other), after
// 2·H·α of pipeline fill and drain. With P = 0 (s = 1) nothing
// overlaps and the busiest round moves S: AllReduce ≈ 2H·(α + S·β). The ring,
// for comparison, is 2(n - 1)·α + 2·S·(n - 1)/n·β.
#include "algorithms/tree.h"

#include <algorithm>
#include <cstdint>

#include "algorithms/partition.h"

namespace loom {
namespace {

int floorLog2(int64_t x) {
  int l = 0;
  while (x > 1) x >>= 1, ++l;
  return l;
}

// The in-order binary tree on positions 1..m (see the top of the file).
// Positions are 64-bit so that doubling a lowest bit cannot overflow.
class InOrderTree {
 public:
  explicit InOrderTree(int64_t m) : m_(m), root_(int64_t{1} << floorLog2(m)) {}

  int64_t root() const { return root_; }

  int64_t parent(int64_t p) const {
    const int64_t b = p & -p;
    // A left child sits b below its parent, a right child b above; when the
    // parent a left child would have lies past m, p is instead the clamped
    // right child of the ancestor just below it.
    const int64_t up = (p & (b << 1)) != 0 ? p - b : p + b;
    return up <= m_ ? up : p - b;
  }

  int children(int64_t p, int64_t out[2]) const {
    const int64_t b = p & -p;
    if (b == 1) return 0;
    int n = 0;
    out[n++] = p - b / 2;
    for (int64_t c = b / 2; c >= 1; c /= 2) {
      if (p + c <= m_) {
        out[n++] = p + c;
        break;
      }
    }
    return n;
  }

  int depth(int64_t p) const {
    int d = 0;
    for (; p != root_; p = parent(p)) ++d;
    return d;
  }

 private:
  int64_t m_;
  int64_t root_;
};

// One rank's place in one tree; -1 where there is no such peer.
struct Links {
  int parent = -1;
  int children[2] = {-1, -1};
  int nchildren = 0;
  int depth = 0;
};

// The pair of trees of one call, in ranks.
class DoubleTree {
 public:
  explicit DoubleTree(const CollectiveShape& shape)
      : n_(shape.nranks),
        root_(shape.kind == CollectiveKind::kAllReduce ? -1 : shape.root),
        m_(root_ < 0 ? n_ : n_ - 1),
        tree_(m_) {}

  // Bounds every rank's depth, and is the same on every rank.
  int height() const { return floorLog2(m_) + (root_ < 0 ? 0 : 1); }

  Links links(int rank, int t) const {
    Links l;
    if (rank == root_) {
      l.children[l.nchildren++] = rankOf(tree_.root(), t);
      return l;
    }
    const int64_t p = position(rank, t);
    l.depth = tree_.depth(p) + (root_ < 0 ? 0 : 1);
    if (p != tree_.root()) {
      l.parent = rankOf(tree_.parent(p), t);
    } else if (root_ >= 0) {
      l.parent = root_;
    }
    int64_t kids[2];
    l.nchildren = tree_.children(p, kids);
    for (int i = 0; i < l.nchildren; ++i) l.children[i] = rankOf(kids[i], t);
    return l;
  }

 private:
  // Members are numbered from the rank after the root, so the root is left out.
  int member(int rank) const { return root_ < 0 ? rank : mod(static_cast<long>(rank) - root_ - 1, n_); }
  int rankOf(int64_t pos, int t) const {
    const int u = static_cast<int>(t == 0 ? pos - 1 : (pos == m_ ? 0 : pos));
    return root_ < 0 ? u : mod(static_cast<long>(u) + root_ + 1, n_);
  }
  int64_t position(int rank, int t) const {
    const int u = member(rank);
    return t == 0 ? u + 1 : (u == 0 ? m_ : u);
  }

  int n_;
  int root_;  // -1: no root above the trees (AllReduce)
  int m_;     // members in each tree
  InOrderTree tree_;
};

// One half of a channel's part, as carried by one tree.
struct TreeHalf {
  Range range;
  size_t slices = 1;
  Links links;
  // Reduce's partial sums on interior non-root ranks rotate through `slots`
  // scratch slots; reusing one waits for its previous send to be received,
  // which is the flow control between a rank and its parent.
  size_t slotBase = 0;
  size_t slotSize = 0;
  size_t slots = 0;

  Range slice(size_t j) const { return pieceOf(range, j, slices); }
};

class TreeBuilder {
 public:
  TreeBuilder(const CollectiveShape& shape, int rank, const DoubleTree& trees)
      : kind_(shape.kind), rank_(rank), root_(shape.root), H_(trees.height()) {}

  // Slice j leaves this rank towards the root: the own contribution reduced
  // with every child's partial sum, then sent to the parent.
  void up(Channel& ch, const TreeHalf& h, size_t j) const {
    const Range sl = h.slice(j);
    const Links& l = h.links;
    Slice acc = in(sl);
    for (int i = 0; i < l.nchildren; ++i) {
      Slice dst = out(sl);
      if (kind_ == CollectiveKind::kReduce && rank_ != root_)
        dst = scratch(h.slotBase + (j % h.slots) * h.slotSize, sl.size());
      ch.steps.push_back(Step::recvReduce(l.children[i], acc, dst));
      acc = dst;
    }
    if (l.parent >= 0) ch.steps.push_back(Step::send(l.parent, acc));
  }

  // Slice j comes from the parent (or is the root's own) and goes on to the
  // children.
  void down(Channel& ch, const TreeHalf& h, size_t j) const {
    const Range sl = h.slice(j);
    const Links& l = h.links;
    const bool broadcastRoot = kind_ == CollectiveKind::kBroadcast && rank_ == root_;
    if (l.parent >= 0) ch.steps.push_back(Step::recv(l.parent, out(sl)));
    for (int i = 0; i < l.nchildren; ++i)
      ch.steps.push_back(Step::send(l.children[i], broadcastRoot ? in(sl) : out(sl)));
  }

  // Both halves' steps in the order of the synchronous pipeline described at
  // the top of the file.
  void emit(Channel& ch, const TreeHalf* halves, int nhalves) const {
    const bool goesUp = kind_ != CollectiveKind::kBroadcast;
    const bool goesDown = kind_ != CollectiveKind::kReduce;
    size_t maxSlices = 0;
    for (int o = 0; o < nhalves; ++o) maxSlices = std::max(maxSlices, halves[o].slices);
    const long H = H_;
    const long end = static_cast<long>(maxSlices) + 2 * H;
    for (long time = 0; time < end; ++time) {
      for (int o = 0; o < nhalves; ++o) {
        const TreeHalf& h = halves[o];
        const long d = h.links.depth;
        const long slices = static_cast<long>(h.slices);
        if (goesUp) {
          const long j = time - (H - d);
          if (j >= 0 && j < slices) up(ch, h, static_cast<size_t>(j));
        }
        if (goesDown) {
          const long j = time - (kind_ == CollectiveKind::kAllReduce ? H + d : d);
          if (j >= 0 && j < slices) down(ch, h, static_cast<size_t>(j));
        }
      }
    }
  }

 private:
  CollectiveKind kind_;
  int rank_;
  int root_;
  int H_;
};

Status validate(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels("double binary tree", shape, rank, options));
  switch (shape.kind) {
    case CollectiveKind::kAllReduce: break;
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
      if (shape.root < 0 || shape.root >= shape.nranks)
        return Status::invalidArgument("double binary tree %s: root %d is outside [0, %d)",
                                       collectiveName(shape.kind), shape.root, shape.nranks);
      break;
    default:
      return Status::invalidArgument(
          "double binary tree: collective %s is not supported (use AllReduce, Broadcast or Reduce)",
          collectiveName(shape.kind));
  }
  return Status::ok();
}

}  // namespace

Result<Schedule> buildDoubleBinaryTree(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate(shape, rank, options));
  Schedule sched;
  sched.rank = rank;
  sched.nranks = shape.nranks;
  if (shape.count == 0) return sched;

  constexpr size_t kReduceSlots = 4;
  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const Range all{0, shape.count};
  const DoubleTree trees(shape);
  const TreeBuilder builder(shape, rank, trees);
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    Channel& ch = sched.channels[c];
    const Range part = pieceOf(all, c, k);
    if (part.empty()) continue;
    if (shape.nranks == 1) {
      ch.steps.push_back(Step::copy(in(part), out(part)));
      continue;
    }
    TreeHalf halves[2];
    int nhalves = 0;
    for (size_t o = 0; o < 2; ++o) {
      TreeHalf h;
      h.range = pieceOf(part, o, 2);
      // Both ends of every connection skip an empty half alike.
      if (h.range.empty()) continue;
      h.slices = sliceCount(h.range.size(), P);
      // Alternating which tree takes the first half balances the trees when a
      // channel's part is a single element.
      h.links = trees.links(rank, static_cast<int>((o + c) % 2));
      if (shape.kind == CollectiveKind::kReduce && rank != shape.root && h.links.nchildren > 0) {
        h.slotSize = ceilDiv(h.range.size(), h.slices);
        h.slots = std::min(h.slices, kReduceSlots);
        h.slotBase = sched.scratchCount;
        sched.scratchCount += h.slots * h.slotSize;
      }
      halves[nhalves++] = h;
    }
    builder.emit(ch, halves, nhalves);
    // Last: in-place this copy is onto itself and waits for the root's sends
    // of the same memory to be received.
    if (shape.kind == CollectiveKind::kBroadcast && rank == shape.root)
      ch.steps.push_back(Step::copy(in(part), out(part)));
  }
  return sched;
}

}  // namespace loom
