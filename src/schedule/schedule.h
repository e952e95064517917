// The schedule: what one rank does for one collective call.
//
// An algorithm is a pure function from a CollectiveShape to one Schedule per
// rank. Three consumers read schedules: the executor (src/exec/) runs them over
// transport connections, the verifier (verifier.h) runs all ranks' schedules on
// symbolic data and proves they compute the collective, and later the
// simulator costs them. Nothing else in Loom knows how a ring or a tree works.
//
// A schedule has channels; each channel is an ordered list of steps that the
// executor runs in order, with sends asynchronous (a send is posted and makes
// progress while later steps wait). Channels are independent: they use their
// own connections (channel c of rank a talks to channel c of rank b) and must
// touch disjoint parts of the buffers. Messages on one connection are matched
// in program order, so a rank's k-th send to peer p on channel c is p's k-th
// receive from this rank on channel c.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loom/types.h"

namespace loom {

// Buffers a collective's schedule names. Offsets and counts are in elements.
enum class BufferId : uint8_t {
  kInput = 0,    // the caller's send buffer
  kOutput = 1,   // the caller's receive buffer (may alias kInput: in-place)
  kScratch = 2,  // executor-owned, Schedule::scratchCount elements
};
constexpr int kNumBuffers = 3;
// A fused group of point-to-point calls (built by the executor, not by an
// algorithm) names each call's buffer as BufferId(kNumBuffers + i).

struct Slice {
  BufferId buffer = BufferId::kInput;
  size_t offset = 0;
  size_t count = 0;
};

enum class StepKind : uint8_t {
  kSend,        // send src to peer
  kRecv,        // receive from peer into dst
  kRecvReduce,  // dst = src (local) ⊕ received from peer; src may equal dst
  kCopy,        // dst = src (local)
  kReduce,      // dst = dst ⊕ src (local)
};
const char* stepKindName(StepKind kind);

struct Step {
  StepKind kind;
  int peer = -1;  // for kSend, kRecv, kRecvReduce
  Slice src;      // read by kSend, kRecvReduce, kCopy, kReduce
  Slice dst;      // written by kRecv, kRecvReduce, kCopy, kReduce

  static Step send(int peer, Slice src) { return {StepKind::kSend, peer, src, {}}; }
  static Step recv(int peer, Slice dst) { return {StepKind::kRecv, peer, {}, dst}; }
  static Step recvReduce(int peer, Slice src, Slice dst) { return {StepKind::kRecvReduce, peer, src, dst}; }
  static Step copy(Slice src, Slice dst) { return {StepKind::kCopy, -1, src, dst}; }
  static Step reduce(Slice src, Slice dst) { return {StepKind::kReduce, -1, src, dst}; }
};

struct Channel {
  std::vector<Step> steps;
};

struct Schedule {
  int rank = 0;
  int nranks = 1;
  size_t scratchCount = 0;  // elements of kScratch the executor must provide
  std::vector<Channel> channels;

  size_t stepCount() const;
  std::string toString() const;  // one line per step, for logs and test failures
};

// What a collective call asks for, independent of any algorithm. `count` has
// NCCL's meaning per collective: AllGather's is the per-rank send count,
// ReduceScatter's the per-rank receive count, AllToAll's the count per peer.
struct CollectiveShape {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  int nranks = 1;
  size_t count = 0;
  int root = 0;  // Broadcast and Reduce only

  size_t inputCount() const;   // elements of kInput a rank provides
  size_t outputCount() const;  // elements of kOutput a rank provides
  bool reduces() const;        // AllReduce, Reduce, ReduceScatter
};

// Where kInput sits inside kOutput for NCCL's in-place form of the call, in
// elements (AllGather: rank*count, ReduceScatter: kOutput sits inside kInput at
// rank*count, handled by inPlaceOutputOffset). Other collectives: both 0.
size_t inPlaceInputOffset(const CollectiveShape& shape, int rank);
size_t inPlaceOutputOffset(const CollectiveShape& shape, int rank);

// How an algorithm may split its work, chosen by the planner.
struct BuildOptions {
  BuildOptions() = default;
  BuildOptions(int channelCount, size_t pipeline) : channels(channelCount), pipelineElements(pipeline) {}

  int channels = 1;               // independent channels, each over its own connections
  size_t pipelineElements = 0;    // 0: no pipelining; else slice size per pipeline step
  // The group (host or NVLink domain, as the topology says) of each rank, for
  // hierarchical algorithms. Empty: all ranks form one group. Group ids are
  // arbitrary integers; groups may differ in size.
  std::vector<int> groupOf;
  // Rank orders for rings: channel c runs around ringOrders[c % size()], each
  // a permutation of 0..nranks-1. Empty: the natural order 0, 1, ..., n-1.
  std::vector<std::vector<int>> ringOrders;
};

}  // namespace loom
