// One UCP context and one UCP worker per communicator, shared by all of its
// UCX connections.
//
// A single worker means one ucp_worker_progress() call moves every UCX
// connection of the communicator forward, and one event fd covers all of them,
// which is what lets the executor's single progress loop drive the transport.
// UCX is entered only with `mutex()` held: connections are driven by the
// executor's thread, but abort() arrives from whichever thread aborts the
// communicator (the worker is created UCS_THREAD_MODE_SERIALIZED for that).
//
// UCX only moves data while its worker is progressed, and a peer's progress
// is needed too (connection wireup, acknowledgements). The executor progresses
// the worker while it waits on UCX connections; between its calls (between
// collectives, or while it waits on shared memory only) a background thread
// takes over, sleeping on the worker's event fd. It stands aside while the
// executor is active, so the data path has the worker to itself.
//
// Peers are reached through endpoints created from worker addresses that the
// ranks exchange through the bootstrap. Besides the data streams, each peer
// pair has one control message: "this rank is aborting", sent as an active
// message so it does not disturb the byte streams.
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loom/status.h"

namespace loom {

class UcxContext {
 public:
  // Reads the UCX configuration (after filling in Loom's defaults for UCX
  // variables the user did not set) and creates the context and worker.
  // Unavailable when UCX cannot start here; the message says why.
  static Result<std::shared_ptr<UcxContext>> create(int rank, int nranks, int channels);
  ~UcxContext();
  UcxContext(const UcxContext&) = delete;
  UcxContext& operator=(const UcxContext&) = delete;

  // This worker's address, to be handed to every peer.
  const std::vector<std::byte>& workerAddress() const { return address_; }

  // Creates one endpoint to `peer`. UCX pairs the endpoints two workers create
  // to each other by creation order, so every rank must create its endpoints
  // to a given peer in the same order (the connection table goes channel by
  // channel). `pid` is checked for liveness when `sameHost`.
  Result<ucp_ep_h> connect(int peer, int pid, bool sameHost, const void* address, size_t bytes);

  std::mutex& mutex() { return mutex_; }
  ucp_worker_h worker() const { return worker_; }
  int rank() const { return rank_; }

  // The remaining calls expect mutex() to be held.

  // Records that the executor is driving the worker (the background thread
  // then leaves it alone for a while).
  void markActiveLocked();

  // Runs the worker until it reports no more work (bounded).
  void progressLocked();
  // A descriptor for poll(): the worker's event fd once armed, or a descriptor
  // that is always ready when events are already pending (so the caller does
  // not sleep on work that is waiting to be progressed); -1 without wakeup.
  int waitFdLocked();
  // Non-OK once `peer` aborted or an endpoint to it failed. Cheap: for the
  // data path.
  Status peerErrorLocked(int peer);
  // peerErrorLocked, plus a liveness check of a peer on this host (a few
  // system calls: for the executor's occasional checks while it waits).
  Status peerStatusLocked(int peer);
  // Tells `peer` this rank is aborting (once per peer; waits briefly so the
  // message leaves this process even if it exits right after).
  void sendAbortLocked(int peer);

  // "UCX 1.13.1 (UCX_TLS=...)", for the log.
  std::string describe() const;

 private:
  struct Peer;
  struct EndpointOwner;
  UcxContext() = default;
  static void onEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);
  static ucs_status_t onAbortMessage(void* arg, const void* header, size_t headerBytes, void* data, size_t bytes,
                                     const ucp_am_recv_param_t* param);
  Peer* peer(int rank);
  // The background progress loop (see the top of this file).
  void progressInBackground();

  int rank_ = 0;
  std::mutex mutex_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int eventFd_ = -1;  // the worker's; owned by UCX
  int readyFd_ = -1;  // an eventfd that stays readable and writable
  std::vector<std::byte> address_;
  std::vector<std::unique_ptr<Peer>> peers_;            // by rank; null when not reached over UCX
  std::vector<std::unique_ptr<EndpointOwner>> endpoints_;  // in creation order
  std::atomic<int64_t> lastActiveNanos_{0};  // steady clock, last executor call
  std::atomic<bool> stopping_{false};
  int stopFd_ = -1;  // eventfd: wakes the background thread to exit
  std::thread progressThread_;
};

}  // namespace loom
