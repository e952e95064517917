// How schedule builders cut element ranges into pieces, and the slices they
// name.
//
// Every rank builds its own schedule, and the two ends of a connection only
// agree on what a message holds if they cut the data identically: channel
// parts, pipeline slices, ring chunks and blocks are all computed from the
// shape alone, the same way on every rank. So every builder shares the one
// definition here, and a piece that comes out empty is empty on both ends of
// a connection, which both sides then skip alike.
#pragma once

#include <algorithm>
#include <cstddef>

#include "schedule/schedule.h"

namespace loom {

// The elements [lo, hi).
struct Range {
  size_t lo = 0;
  size_t hi = 0;
  size_t size() const { return hi - lo; }
  bool empty() const { return hi == lo; }
};

// Boundary i of `parts` near-equal pieces of `total`; 128-bit so that huge
// counts cannot overflow the product.
inline size_t splitPoint(size_t total, size_t i, size_t parts) {
  return static_cast<size_t>(static_cast<unsigned __int128>(total) * i / parts);
}

// Piece i of `parts` near-equal pieces of `whole`.
inline Range pieceOf(Range whole, size_t i, size_t parts) {
  return {whole.lo + splitPoint(whole.size(), i, parts), whole.lo + splitPoint(whole.size(), i + 1, parts)};
}

// Which of `parts` pieces of `total` holds element `offset` (< total): the
// largest i with splitPoint(total, i, parts) <= offset. Kept beside
// splitPoint because it must invert exactly that formula.
inline size_t pieceHolding(size_t total, size_t offset, size_t parts) {
  return static_cast<size_t>((static_cast<unsigned __int128>(offset + 1) * parts - 1) / total);
}

// The common part of two ranges; empty (at the larger lo) when they do not
// overlap.
inline Range intersect(Range a, Range b) {
  const size_t lo = std::max(a.lo, b.lo);
  const size_t hi = std::min(a.hi, b.hi);
  return lo < hi ? Range{lo, hi} : Range{lo, lo};
}

inline size_t ceilDiv(size_t a, size_t b) { return a / b + (a % b != 0); }

// How many pipeline slices a range of m elements needs so that none exceeds
// pipelineElements (0: no pipelining). An empty range is still one slice, of
// nothing, which callers skip.
inline size_t sliceCount(size_t m, size_t pipelineElements) {
  if (pipelineElements == 0 || m == 0) return 1;
  return ceilDiv(m, pipelineElements);
}

// a mod n in [0, n), for negative a too: ring positions count backwards.
inline int mod(long a, int n) {
  long r = a % n;
  return static_cast<int>(r < 0 ? r + n : r);
}

inline Slice in(size_t offset, size_t count) { return {BufferId::kInput, offset, count}; }
inline Slice out(size_t offset, size_t count) { return {BufferId::kOutput, offset, count}; }
inline Slice scratch(size_t offset, size_t count) { return {BufferId::kScratch, offset, count}; }
inline Slice in(Range r) { return in(r.lo, r.size()); }
inline Slice out(Range r) { return out(r.lo, r.size()); }

// The checks every builder starts with; `algorithm` prefixes the message.
inline Status validateRanksAndChannels(const char* algorithm, const CollectiveShape& shape, int rank,
                                       const BuildOptions& options) {
  if (shape.nranks < 1) {
    return Status::invalidArgument("%s: nranks %d is invalid; need at least 1", algorithm, shape.nranks);
  }
  if (rank < 0 || rank >= shape.nranks) {
    return Status::invalidArgument("%s: rank %d is outside [0, %d)", algorithm, rank, shape.nranks);
  }
  if (options.channels < 1) {
    return Status::invalidArgument("%s: options.channels %d is invalid; need at least 1", algorithm,
                                   options.channels);
  }
  return Status::ok();
}

}  // namespace loom
