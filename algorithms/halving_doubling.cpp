// Recursive halving/doubling schedules (Rabenseifner's AllReduce).
//
// Cost as built, with α the per-message latency, β the time per element, γ the
// reduction time per element, S the elements per rank and p = 2^floor(log2 n):
//   AllReduce, n a power of two: 2·log2(n)·α + 2·(n-1)/n·S·β + (n-1)/n·S·γ.
//   AllReduce, other n: the same on the p ranks that stay, plus the fix-up's
//     2 extra steps on the paired ranks, 2α + 2·S·β + S·γ (the whole vector
//     goes to the partner and the result comes back).
//   ReduceScatter (n a power of two, S = per-rank output count):
//     log2(n)·α + (n-1)·S·β + (n-1)·S·γ.
//   AllGather (n a power of two, S = per-rank input count): log2(n)·α + (n-1)·S·β.
// Channels share S between them. Pipelining splits each channel's AllReduce
// part into ceil(S_c / 2P) regions that each pay the α terms again (so that
// no message exceeds P), and cuts ReduceScatter and AllGather messages into
// P-sized pieces (one α per piece).
//
// Every split is computed identically on every rank from the shape alone, so
// a piece that comes out empty is empty on both ends and both sides skip it.
#include "algorithms/halving_doubling.h"

#include <algorithm>

#include "algorithms/partition.h"

namespace loom {
namespace {

int floorPowerOfTwo(int n) {
  int p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

// A range of any buffer, the buffer chosen at run time (the in/out/scratch of
// partition.h fix it); `base` rebases a range of the flat n·count array onto
// a buffer that holds only the part starting there.
Slice at(BufferId b, Range r, size_t base = 0) { return {b, r.lo - base, r.size()}; }

// Sends or receives one range as pieces of at most P elements. Both ends cut
// the same range the same way, so their messages match one for one.
void sendPieces(Channel& ch, int peer, BufferId b, Range r, size_t base, size_t P) {
  const size_t pieces = sliceCount(r.size(), P);
  for (size_t j = 0; j < pieces; ++j) {
    const Range piece = pieceOf(r, j, pieces);
    if (!piece.empty()) ch.steps.push_back(Step::send(peer, at(b, piece, base)));
  }
}

void recvPieces(Channel& ch, int peer, BufferId b, Range r, size_t base, size_t P) {
  const size_t pieces = sliceCount(r.size(), P);
  for (size_t j = 0; j < pieces; ++j) {
    const Range piece = pieceOf(r, j, pieces);
    if (!piece.empty()) ch.steps.push_back(Step::recv(peer, at(b, piece, base)));
  }
}

// Reduces a received range into place: dst = src ⊕ message, cut like the
// sender's pieces.
void recvReducePieces(Channel& ch, int peer, BufferId srcBuf, size_t srcBase, BufferId dstBuf, size_t dstBase,
                      Range r, size_t P) {
  const size_t pieces = sliceCount(r.size(), P);
  for (size_t j = 0; j < pieces; ++j) {
    const Range piece = pieceOf(r, j, pieces);
    if (!piece.empty())
      ch.steps.push_back(Step::recvReduce(peer, at(srcBuf, piece, srcBase), at(dstBuf, piece, dstBase)));
  }
}

// The ranks that run the power-of-two core, renumbered 0..p-1. Below 2·extra,
// even ranks stay (as core rank/2) and odd ranks sit out; above, rank - extra.
struct Fold {
  int nranks;
  int p;
  int extra;  // nranks - p: how many ranks sit out

  explicit Fold(int n) : nranks(n), p(floorPowerOfTwo(n)), extra(n - floorPowerOfTwo(n)) {}
  bool sitsOut(int rank) const { return rank < 2 * extra && rank % 2 == 1; }
  bool hasSitter(int rank) const { return rank < 2 * extra && rank % 2 == 0; }
  int coreRank(int rank) const { return rank < 2 * extra ? rank / 2 : rank - extra; }
  int realRank(int core) const { return core < extra ? 2 * core : core + extra; }
};

// One AllReduce region on one channel. The region is cut into p blocks;
// the reduce-scatter leaves core rank c holding the full sum of block c (the
// half it keeps at each step is the one holding block c), and the all-gather
// retraces the steps in reverse. Only the output is ever written, so the
// input stays intact out-of-place.
void allReduceRegion(Channel& ch, const Fold& fold, int rank, Range region, size_t P) {
  const int core = fold.coreRank(rank);
  const size_t p = static_cast<size_t>(fold.p);
  auto blocks = [&](size_t lo, size_t hi) {
    return Range{region.lo + splitPoint(region.size(), lo, p), region.lo + splitPoint(region.size(), hi, p)};
  };
  // The paired odd rank's vector is folded in first; from then on this rank's
  // running sum lives in its output.
  bool inOutput = false;
  if (fold.hasSitter(rank)) {
    recvReducePieces(ch, rank + 1, BufferId::kInput, 0, BufferId::kOutput, 0, region, P);
    inOutput = true;
  }
  size_t lo = 0, hi = p;
  for (int d = fold.p / 2; d >= 1; d /= 2) {
    const int peer = fold.realRank(core ^ d);
    const size_t mid = lo + (hi - lo) / 2;
    const bool upper = (core & d) != 0;
    const Range keep = upper ? blocks(mid, hi) : blocks(lo, mid);
    const Range give = upper ? blocks(lo, mid) : blocks(mid, hi);
    const BufferId src = inOutput ? BufferId::kOutput : BufferId::kInput;
    // The sent and kept halves are disjoint, so the reduction never has to
    // wait for this step's send, even in-place.
    if (!give.empty()) ch.steps.push_back(Step::send(peer, at(src, give)));
    if (!keep.empty()) ch.steps.push_back(Step::recvReduce(peer, at(src, keep), at(BufferId::kOutput, keep)));
    inOutput = true;
    if (upper) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  for (int d = 1; d < fold.p; d *= 2) {
    const int peer = fold.realRank(core ^ d);
    const size_t width = hi - lo;
    const bool upper = (core & d) != 0;
    const size_t plo = upper ? lo - width : hi;
    const Range mine = blocks(lo, hi);
    const Range theirs = blocks(plo, plo + width);
    if (!mine.empty()) ch.steps.push_back(Step::send(peer, at(BufferId::kOutput, mine)));
    if (!theirs.empty()) ch.steps.push_back(Step::recv(peer, at(BufferId::kOutput, theirs)));
    lo = std::min(lo, plo);
    hi = lo + 2 * width;
  }
  if (fold.hasSitter(rank)) sendPieces(ch, rank + 1, BufferId::kOutput, region, 0, P);
}

void allReduce(Channel& ch, const Fold& fold, int rank, Range part, size_t P) {
  // A region of at most 2P elements keeps every core message (at most half a
  // region) within P; the fix-up messages are cut separately.
  const size_t regions = P == 0 ? 1 : ceilDiv(ceilDiv(part.size(), P), 2);
  if (fold.sitsOut(rank)) {
    // Every send is posted before the first receive, so the partner can fold
    // in and reduce each region without waiting for the result of the last.
    for (size_t l = 0; l < regions; ++l) sendPieces(ch, rank - 1, BufferId::kInput, pieceOf(part, l, regions), 0, P);
    for (size_t l = 0; l < regions; ++l) recvPieces(ch, rank - 1, BufferId::kOutput, pieceOf(part, l, regions), 0, P);
    return;
  }
  for (size_t l = 0; l < regions; ++l) {
    const Range region = pieceOf(part, l, regions);
    if (!region.empty()) allReduceRegion(ch, fold, rank, region, P);
  }
}

// ReduceScatter and AllGather treat the n·count elements of the large buffer
// as one flat array; each channel owns a contiguous stretch of it. A range of
// whole blocks cut to that stretch is still contiguous, so every step stays
// one message (or one per pipeline piece) whatever the channel count.
struct Flat {
  size_t count;  // elements per rank block
  Range part;    // this channel's stretch of [0, n·count)
  Range blocks(size_t lo, size_t hi) const { return intersect(Range{lo * count, hi * count}, part); }
};

// Recursive doubling: the owned blocks double each step, from this rank's own.
// Own data leaves straight from the input; the copy into place comes after
// the first exchange, because in-place it is a copy onto itself that waits
// until the partner has received that data.
void allGather(Channel& ch, int rank, int n, const Flat& f, size_t P) {
  const size_t r = static_cast<size_t>(rank);
  const size_t inBase = r * f.count;
  size_t lo = r, hi = r + 1;
  for (int d = 1; d < n; d *= 2) {
    const int peer = rank ^ d;
    const size_t width = hi - lo;
    const size_t plo = (rank & d) != 0 ? lo - width : hi;
    const Range mine = f.blocks(lo, hi);
    if (d == 1) {
      sendPieces(ch, peer, BufferId::kInput, mine, inBase, P);
    } else {
      sendPieces(ch, peer, BufferId::kOutput, mine, 0, P);
    }
    recvPieces(ch, peer, BufferId::kOutput, f.blocks(plo, plo + width), 0, P);
    if (d == 1 && !mine.empty())
      ch.steps.push_back(Step::copy(at(BufferId::kInput, mine, inBase), at(BufferId::kOutput, mine)));
    lo = std::min(lo, plo);
    hi = lo + 2 * width;
  }
}

// Recursive halving: the kept half always holds block `rank`. Partial sums
// cannot go to the input (the caller's) nor fit in the output (one block), so
// they live in scratch, laid out like the input from the first kept half on.
// The last step reduces straight into the output.
void reduceScatter(Channel& ch, int rank, int n, const Flat& f, size_t P) {
  const size_t r = static_cast<size_t>(rank);
  const size_t half = static_cast<size_t>(n / 2);
  const size_t scratchBase = (r >= half ? half : 0) * f.count;
  const size_t outBase = r * f.count;
  size_t lo = 0, hi = static_cast<size_t>(n);
  bool first = true;
  for (int d = n / 2; d >= 1; d /= 2) {
    const int peer = rank ^ d;
    const size_t mid = lo + (hi - lo) / 2;
    const bool upper = (rank & d) != 0;
    const Range keep = upper ? f.blocks(mid, hi) : f.blocks(lo, mid);
    const Range give = upper ? f.blocks(lo, mid) : f.blocks(mid, hi);
    const BufferId src = first ? BufferId::kInput : BufferId::kScratch;
    const size_t srcBase = first ? 0 : scratchBase;
    sendPieces(ch, peer, src, give, srcBase, P);
    if (d == 1) {
      recvReducePieces(ch, peer, src, srcBase, BufferId::kOutput, outBase, keep, P);
    } else {
      recvReducePieces(ch, peer, src, srcBase, BufferId::kScratch, scratchBase, keep, P);
    }
    first = false;
    if (upper) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
}

Status validate(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels("halving-doubling", shape, rank, options));
  switch (shape.kind) {
    case CollectiveKind::kAllReduce: break;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
      if ((shape.nranks & (shape.nranks - 1)) != 0)
        return Status::invalidArgument(
            "halving-doubling %s: nranks %d is not a power of two; only AllReduce folds in the extra ranks "
            "(use the ring for %s)",
            collectiveName(shape.kind), shape.nranks, collectiveName(shape.kind));
      if (shape.count > SIZE_MAX / static_cast<size_t>(shape.nranks))
        return Status::invalidArgument("halving-doubling %s: count %zu times %d ranks overflows",
                                       collectiveName(shape.kind), shape.count, shape.nranks);
      break;
    default:
      return Status::invalidArgument(
          "halving-doubling: collective %s is not supported (use AllReduce, or AllGather or ReduceScatter on a "
          "power-of-two rank count)",
          collectiveName(shape.kind));
  }
  return Status::ok();
}

}  // namespace

Result<Schedule> buildHalvingDoubling(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate(shape, rank, options));
  Schedule sched;
  sched.rank = rank;
  sched.nranks = shape.nranks;
  if (shape.count == 0) return sched;

  const int n = shape.nranks;
  const size_t k = static_cast<size_t>(options.channels);
  const size_t P = options.pipelineElements;
  const bool flat = shape.kind != CollectiveKind::kAllReduce;
  // AllReduce splits its vector between channels; the others split the
  // n·count-element buffer they gather into or scatter from.
  const Range all{0, flat ? shape.count * static_cast<size_t>(n) : shape.count};
  sched.channels.resize(k);
  const Fold fold(n);
  for (size_t c = 0; c < k; ++c) {
    Channel& ch = sched.channels[c];
    if (n == 1) {
      const Range part = pieceOf(Range{0, shape.count}, c, k);
      if (!part.empty()) ch.steps.push_back(Step::copy(at(BufferId::kInput, part), at(BufferId::kOutput, part)));
      continue;
    }
    const Range part = pieceOf(all, c, k);
    if (part.empty()) continue;
    switch (shape.kind) {
      case CollectiveKind::kAllReduce: allReduce(ch, fold, rank, part, P); break;
      case CollectiveKind::kAllGather: allGather(ch, rank, n, Flat{shape.count, part}, P); break;
      case CollectiveKind::kReduceScatter: reduceScatter(ch, rank, n, Flat{shape.count, part}, P); break;
      default: break;  // rejected by validate()
    }
  }
  // Channels map their stretches into scratch by the same offset, so they
  // share one area without overlapping.
  if (shape.kind == CollectiveKind::kReduceScatter && n > 2)
    sched.scratchCount = static_cast<size_t>(n / 2) * shape.count;
  return sched;
}

}  // namespace loom
