// What a Communicator holds: its place in the group, its connections, and the
// turn-taking that keeps its operations in issue order on every rank.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "comm/connection_table.h"
#include "exec/operation.h"
#include "loom/communicator.h"
#include "plan/planner.h"
#include "topo/topology_graph.h"

namespace loom {

struct Communicator::Impl {
  int rank = 0;
  int nranks = 1;
  int channels = 1;
  std::string name;
  std::unique_ptr<Bootstrap> bootstrap;
  std::unique_ptr<ConnectionTable> connections;
  std::atomic<bool> abortRequested{false};

  // What algorithms may assume about this communicator, fixed at init.
  AlgorithmContext algorithmContext;
  std::vector<int> groupOf;  // host index of each rank, in order of first appearance
  // The machine as every rank of this communicator sees it (the same graph on
  // all ranks), and the planner that costs algorithms on it.
  TopologyGraph cluster;
  std::unique_ptr<Planner> planner;
  // Small all-reduces on one host bypass schedules (null: not on one host,
  // not over shared memory, or excluded by LOOM_ALGO / LOOM_ONESHOT_BYTES=0).
  std::unique_ptr<OneShotSlots> oneShot;

  // Operations run one at a time, in the order they were issued (their
  // ticket), whichever thread or stream runs them: every rank then runs the
  // same sequence, which is what matches messages across ranks.
  std::mutex mutex;
  std::condition_variable turn;
  uint64_t nextTicket = 0;
  uint64_t servingTicket = 0;
  bool finalized = false;
  Status failure;  // first error; the communicator refuses work afterwards
  std::atomic<bool> refusing{false};  // failure or finalized is set

  uint64_t takeTicket();
  // Waits for `ticket`'s turn, runs the operations, passes the turn on.
  Status runInTurn(uint64_t ticket, std::vector<Operation>& operations);
  // The same for any work (a blocking one-shot needs no Operation). A failed
  // work's Status, which should name the call and rank, fails the communicator.
  template <typename Work>
  Status runWorkInTurn(uint64_t ticket, Work&& work);
  // "AllReduce(count=8, float, sum) on rank 3: <status>".
  Status inContext(const Status& status, const CallSignature& call) const {
    if (status.isOk()) return status;  // no string building on the fast path
    return status.withContext(call.toString() + " on rank " + std::to_string(rank));
  }
  // Records the first failure and tells peers, so they fail instead of hang.
  void fail(const Status& status);
  Status usable();  // non-OK after failure, abort or finalize
  Status drain();   // waits until every issued ticket has run
};

template <typename Work>
Status Communicator::Impl::runWorkInTurn(uint64_t ticket, Work&& work) {
  {
    std::unique_lock<std::mutex> lock(mutex);
    turn.wait(lock, [&] { return servingTicket == ticket; });
  }
  Status s = usable();
  if (s.isOk()) {
    s = work();
    if (!s.isOk()) fail(s);
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++servingTicket;
  }
  turn.notify_all();
  return s;
}

// Builds the cluster graph from every rank's host profile (a collective call
// over the bootstrap) and the planner on it; `allowed` is LOOM_ALGO parsed.
Status setUpPlanner(Communicator::Impl& comm, AlgorithmOverride allowed);

// Submits operations for one communicator: runs them now (stream == nullptr)
// or enqueues them on the stream.
Status submitOperations(Communicator::Impl& comm, std::vector<Operation> operations, Stream* stream);

}  // namespace loom
