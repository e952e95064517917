// Direct (all-pairs) AllReduce schedules.
//
// Cost as built, with α the per-message latency, β the time per element, γ the
// reduction time per element and S the elements per rank, counting the n-1
// messages a rank posts at once as one latency:
//   one-shot: α + (n-1)·S·β received (and sent) per rank + (n-1)·S·γ, plus
//     one local copy of S out of scratch.
//   two-shot: 2α + 2·(n-1)/n·S·β + (n-1)/n·S·γ.
// Channels share S between them. Pipelining cuts one-shot into ceil(S_c/P)
// slices and two-shot into ceil(S_c/(nP)) regions; each pays its α terms, and
// the next slice's or region's sends are posted before this one's receives
// so that the transfers overlap.
//
// Every split is computed identically on every rank from the shape alone, so
// a piece that comes out empty is empty on both ends and both sides skip it.
#include "algorithms/direct.h"

#include <algorithm>

#include "algorithms/partition.h"

namespace loom {
namespace {

// Peers in the order a rank sends to them (r+1, r+2, ...) and receives from
// them (r-1, r-2, ...): rank r-1 sends to r first, so r waits on the message
// most likely to be in flight already, and no rank is everyone's first target.
int sendPeer(int rank, int i, int n) { return mod(rank + i, n); }
int recvPeer(int rank, int i, int n) { return mod(rank - i, n); }

// In-place, the output is the input every peer is being sent, and writing it
// must wait until all of them have received it. If every rank's last receive
// wrote the output, each would wait on a peer whose last receive waits in
// turn, around a cycle: a deadlock. So the sum is built in scratch, which no
// send reads, and only a final local copy writes the output; by then every
// receive on every rank can complete. One scratch slot per channel suffices
// because the copy empties it before the next slice reuses it. Returns the
// scratch elements used.
size_t oneShot(Channel& ch, int rank, int n, Range part, size_t P, size_t scratchBase) {
  const size_t slices = P == 0 ? 1 : ceilDiv(part.size(), P);
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    for (int i = 1; i < n; ++i) ch.steps.push_back(Step::send(sendPeer(rank, i, n), in(sl)));
  }
  for (size_t j = 0; j < slices; ++j) {
    const Range sl = pieceOf(part, j, slices);
    if (sl.empty()) continue;
    const Slice sum = scratch(scratchBase, sl.size());
    for (int i = 1; i < n; ++i) ch.steps.push_back(Step::recvReduce(recvPeer(rank, i, n), i == 1 ? in(sl) : sum, sum));
    ch.steps.push_back(Step::copy(sum, out(sl)));
  }
  return ceilDiv(part.size(), slices);
}

// Rank r owns chunk r of each region. Reduce-scatter: r sends chunk q to rank
// q and reduces every peer's chunk r into its output. All-gather: r sends its
// reduced chunk to everyone and receives theirs. In-place, receiving chunk q
// overwrites what r sent q in the first phase, so it waits until q has taken
// it; q's first-phase receives only write chunk q, which r never sends, so
// they never wait on anything but messages and the wait is finite.
void twoShot(Channel& ch, int rank, int n, Range part, size_t P) {
  const size_t un = static_cast<size_t>(n);
  // Regions small enough that no chunk exceeds P.
  const size_t regions = P == 0 ? 1 : ceilDiv(ceilDiv(part.size(), P), un);
  auto chunk = [&](size_t l, int q) { return pieceOf(pieceOf(part, l, regions), static_cast<size_t>(q), un); };
  auto scatter = [&](size_t l) {
    for (int i = 1; i < n; ++i) {
      const int q = sendPeer(rank, i, n);
      const Range c = chunk(l, q);
      if (!c.empty()) ch.steps.push_back(Step::send(q, in(c)));
    }
  };
  scatter(0);
  for (size_t l = 0; l < regions; ++l) {
    const Range mine = chunk(l, rank);
    if (!mine.empty()) {
      for (int i = 1; i < n; ++i)
        ch.steps.push_back(Step::recvReduce(recvPeer(rank, i, n), i == 1 ? in(mine) : out(mine), out(mine)));
      for (int i = 1; i < n; ++i) ch.steps.push_back(Step::send(sendPeer(rank, i, n), out(mine)));
    }
    // The next region's contributions leave before this one's results are
    // awaited, so the two phases of neighbouring regions overlap.
    if (l + 1 < regions) scatter(l + 1);
    for (int i = 1; i < n; ++i) {
      const int q = recvPeer(rank, i, n);
      const Range c = chunk(l, q);
      if (!c.empty()) ch.steps.push_back(Step::recv(q, out(c)));
    }
  }
}

Status validate(const char* name, const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validateRanksAndChannels(name, shape, rank, options));
  if (shape.kind != CollectiveKind::kAllReduce)
    return Status::invalidArgument("%s: collective %s is not supported (only AllReduce)", name,
                                   collectiveName(shape.kind));
  return Status::ok();
}

enum class Shots { kOne, kTwo };

Result<Schedule> build(Shots shots, const CollectiveShape& shape, int rank, const BuildOptions& options) {
  LOOM_RETURN_IF_ERROR(validate(shots == Shots::kOne ? "one-shot" : "two-shot", shape, rank, options));
  Schedule sched;
  sched.rank = rank;
  sched.nranks = shape.nranks;
  if (shape.count == 0) return sched;
  const size_t k = static_cast<size_t>(options.channels);
  sched.channels.resize(k);
  for (size_t c = 0; c < k; ++c) {
    Channel& ch = sched.channels[c];
    const Range part = pieceOf(Range{0, shape.count}, c, k);
    if (part.empty()) continue;
    if (shape.nranks == 1) {
      ch.steps.push_back(Step::copy(in(part), out(part)));
    } else if (shots == Shots::kOne) {
      sched.scratchCount += oneShot(ch, rank, shape.nranks, part, options.pipelineElements, sched.scratchCount);
    } else {
      twoShot(ch, rank, shape.nranks, part, options.pipelineElements);
    }
  }
  return sched;
}

}  // namespace

Result<Schedule> buildOneShot(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  return build(Shots::kOne, shape, rank, options);
}

Result<Schedule> buildTwoShot(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  return build(Shots::kTwo, shape, rank, options);
}

}  // namespace loom
