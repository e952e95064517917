#include "transports/ucx/ucx_context.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/logging.h"
#include "transports/shm/shm_connection.h"  // processAlive

namespace loom {
namespace {

// The one control message: "the sending rank is aborting". Its header is the
// sender's rank; it carries no data.
constexpr unsigned kAbortMessageId = 0x4c4d;

// Bounds on the few places that wait for UCX (abort and teardown only; the
// data path never waits).
constexpr auto kAbortGrace = std::chrono::milliseconds(200);
constexpr auto kCloseGrace = std::chrono::milliseconds(2000);
// The background thread stays off the worker while the executor has used it
// this recently, and otherwise sleeps on the event fd at most this long.
constexpr int64_t kExecutorActiveNanos = 2'000'000;
constexpr int kBackgroundPollMillis = 20;

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct UcxContext::Peer {
  int rank = -1;
  int pid = 0;
  bool sameHost = false;
  bool abortedByPeer = false;  // its abort message arrived
  bool failed = false;         // an endpoint to it reported an error
  std::string failure;
  bool abortSent = false;
  ucp_ep_h controlEndpoint = nullptr;  // the first endpoint created to it
  int32_t abortHeader = 0;  // lives here: UCX may read it after ucp_am_send_nbx returns
};

struct UcxContext::EndpointOwner {
  UcxContext* context = nullptr;
  int peer = -1;
  ucp_ep_h endpoint = nullptr;
};

// No UCX_* defaults are imposed: in this project's containers UCX finds its
// transports unaided (sysv/posix shared memory within a host, tcp across;
// loopback included), and UCX parses some variables (UCX_WARN_UNUSED_ENV_VARS
// among them) when the library loads, before any setenv here could matter.
Result<std::shared_ptr<UcxContext>> UcxContext::create(int rank, int nranks, int channels) {
  std::shared_ptr<UcxContext> c(new UcxContext());
  c->rank_ = rank;
  c->peers_.resize(nranks);

  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return Status::unavailable("UCX could not read its configuration: %s", ucs_status_string(st));
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS | UCP_PARAM_FIELD_NAME;
  // Streams carry the data, active messages the abort notice, wakeup gives
  // the executor a descriptor to sleep on.
  params.features = UCP_FEATURE_STREAM | UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.estimated_num_eps = static_cast<size_t>(nranks) * channels;
  params.name = "loom";
  st = ucp_init(&params, config, &c->context_);
  ucp_config_release(config);
  if (st != UCS_OK) return Status::unavailable("ucp_init failed: %s", ucs_status_string(st));

  ucp_worker_params_t wp{};
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  st = ucp_worker_create(c->context_, &wp, &c->worker_);
  if (st != UCS_OK) return Status::unavailable("ucp_worker_create failed: %s", ucs_status_string(st));

  ucp_address_t* address = nullptr;
  size_t addressBytes = 0;
  st = ucp_worker_get_address(c->worker_, &address, &addressBytes);
  if (st != UCS_OK) return Status::unavailable("ucp_worker_get_address failed: %s", ucs_status_string(st));
  c->address_.assign(reinterpret_cast<const std::byte*>(address), reinterpret_cast<const std::byte*>(address) + addressBytes);
  ucp_worker_release_address(c->worker_, address);

  ucp_am_handler_param_t handler{};
  handler.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
  handler.id = kAbortMessageId;
  handler.cb = &UcxContext::onAbortMessage;
  handler.arg = c.get();
  st = ucp_worker_set_am_recv_handler(c->worker_, &handler);
  if (st != UCS_OK) return Status::unavailable("UCX active message handler: %s", ucs_status_string(st));

  // Without an event fd the executor still works, polling on its timer.
  if (ucp_worker_get_efd(c->worker_, &c->eventFd_) != UCS_OK) c->eventFd_ = -1;
  c->readyFd_ = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  c->stopFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (c->readyFd_ < 0 || c->stopFd_ < 0) return Status::systemError("eventfd for UCX progress: %s", strerror(errno));
  c->progressThread_ = std::thread([raw = c.get()] { raw->progressInBackground(); });
  return c;
}

void UcxContext::markActiveLocked() { lastActiveNanos_.store(nowNanos(), std::memory_order_relaxed); }

void UcxContext::progressInBackground() {
  while (!stopping_.load()) {
    int64_t idle = nowNanos() - lastActiveNanos_.load(std::memory_order_relaxed);
    if (idle < kExecutorActiveNanos) {
      // The executor is driving the worker: check back once it may have stopped.
      std::this_thread::sleep_for(std::chrono::nanoseconds(kExecutorActiveNanos - idle));
      continue;
    }
    int fd = -1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (ucp_worker_progress(worker_) != 0) {
      }
      fd = waitFdLocked();
    }
    if (fd == readyFd_) continue;  // more events already: progress again
    pollfd fds[2] = {{stopFd_, POLLIN, 0}, {fd, POLLIN, 0}};
    ::poll(fds, fd >= 0 ? 2 : 1, kBackgroundPollMillis);
  }
}

UcxContext::~UcxContext() {
  if (progressThread_.joinable()) {
    stopping_.store(true);
    uint64_t one = 1;
    (void)!::write(stopFd_, &one, sizeof(one));
    progressThread_.join();
  }
  if (stopFd_ >= 0) ::close(stopFd_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker_ != nullptr) {
    // Graceful close, progressing meanwhile: a peer may still be waiting for
    // this side to acknowledge the last bytes it flushed (across hosts a
    // flush completes remotely), and a forced close would fail that flush
    // even though the data arrived. Endpoints to failed peers are forced;
    // the grace period bounds the rest.
    std::vector<void*> closing;
    for (auto& e : endpoints_) {
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      Peer* peerState = peer(e->peer);
      p.flags = (peerState == nullptr || peerState->failed) ? UCP_EP_CLOSE_FLAG_FORCE : 0;
      void* r = ucp_ep_close_nbx(e->endpoint, &p);
      if (r != nullptr && !UCS_PTR_IS_ERR(r)) closing.push_back(r);
    }
    auto deadline = std::chrono::steady_clock::now() + kCloseGrace;
    for (void* r : closing) {
      while (ucp_request_check_status(r) == UCS_INPROGRESS && std::chrono::steady_clock::now() < deadline) {
        ucp_worker_progress(worker_);
      }
      ucp_request_free(r);
    }
    ucp_worker_destroy(worker_);
  }
  if (context_ != nullptr) ucp_cleanup(context_);
  if (readyFd_ >= 0) ::close(readyFd_);
}

UcxContext::Peer* UcxContext::peer(int rank) {
  if (rank < 0 || rank >= static_cast<int>(peers_.size())) return nullptr;
  return peers_[rank].get();
}

Result<ucp_ep_h> UcxContext::connect(int peerRank, int pid, bool sameHost, const void* address, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (peerRank < 0 || peerRank >= static_cast<int>(peers_.size()) || bytes == 0) {
    return Status::internal("UCX connect to rank %d with a %zu-byte address", peerRank, bytes);
  }
  if (!peers_[peerRank]) {
    peers_[peerRank] = std::make_unique<Peer>();
    peers_[peerRank]->rank = peerRank;
    peers_[peerRank]->pid = pid;
    peers_[peerRank]->sameHost = sameHost;
  }
  auto owner = std::make_unique<EndpointOwner>();
  owner->context = this;
  owner->peer = peerRank;
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                  UCP_EP_PARAM_FIELD_ERR_HANDLER;
  ep.address = static_cast<const ucp_address_t*>(address);
  // Across hosts, PEER mode: a dead or unreachable peer becomes an error
  // callback instead of a hang (UCX then uses only transports that can tell).
  // Within a host, NONE: UCX 1.13's shared-memory transports cannot detect a
  // dead peer, so PEER mode would push same-host traffic onto TCP loopback
  // (measured about 10x slower); peerStatusLocked() watches the peer's pid
  // instead.
  ep.err_mode = sameHost ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
  ep.err_handler.cb = &UcxContext::onEndpointError;
  ep.err_handler.arg = owner.get();
  ucs_status_t st = ucp_ep_create(worker_, &ep, &owner->endpoint);
  if (st != UCS_OK) {
    return Status::systemError("UCX could not create an endpoint to rank %d: %s", peerRank, ucs_status_string(st));
  }
  if (peers_[peerRank]->controlEndpoint == nullptr) peers_[peerRank]->controlEndpoint = owner->endpoint;
  ucp_ep_h h = owner->endpoint;
  endpoints_.push_back(std::move(owner));
  return h;
}

void UcxContext::onEndpointError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* owner = static_cast<EndpointOwner*>(arg);
  Peer* p = owner->context->peer(owner->peer);
  if (p == nullptr || p->failed) return;
  p->failed = true;
  p->failure = ucs_status_string(status);
  LOOM_INFO(kNet, "UCX endpoint to rank %d failed: %s", p->rank, p->failure.c_str());
}

ucs_status_t UcxContext::onAbortMessage(void* arg, const void* header, size_t headerBytes, void*, size_t,
                                        const ucp_am_recv_param_t*) {
  auto* c = static_cast<UcxContext*>(arg);
  int32_t from = -1;
  if (headerBytes == sizeof(from)) std::memcpy(&from, header, sizeof(from));
  if (Peer* p = c->peer(from)) p->abortedByPeer = true;
  return UCS_OK;  // nothing kept
}

void UcxContext::progressLocked() {
  // A few rounds: one call may only complete a wireup step or a fragment.
  for (int i = 0; i < 8 && ucp_worker_progress(worker_) != 0; ++i) {
  }
}

int UcxContext::waitFdLocked() {
  if (eventFd_ < 0) return -1;
  ucs_status_t st = ucp_worker_arm(worker_);
  if (st == UCS_OK) return eventFd_;
  // BUSY: events arrived since the last progress; do not sleep on them.
  return st == UCS_ERR_BUSY ? readyFd_ : -1;
}

Status UcxContext::peerErrorLocked(int rank) {
  Peer* p = peer(rank);
  if (p == nullptr) return Status::internal("rank %d is not reached over UCX", rank);
  if (p->abortedByPeer) return Status::remoteError("rank %d aborted its communicator (UCX)", rank);
  if (p->failed) {
    return Status::remoteError("connection to rank %d lost: UCX reported %s (process exited or aborted?)", rank,
                               p->failure.c_str());
  }
  return Status::ok();
}

Status UcxContext::peerStatusLocked(int rank) {
  LOOM_RETURN_IF_ERROR(peerErrorLocked(rank));
  Peer* p = peer(rank);
  if (p->sameHost && p->pid > 0 && !processAlive(p->pid)) {
    return Status::remoteError("rank %d (pid %d) died", rank, p->pid);
  }
  return Status::ok();
}

void UcxContext::sendAbortLocked(int rank) {
  Peer* p = peer(rank);
  if (p == nullptr || p->abortSent || p->failed || p->controlEndpoint == nullptr) return;
  p->abortSent = true;
  p->abortHeader = rank_;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_AM_SEND_FLAG_EAGER;
  void* send = ucp_am_send_nbx(p->controlEndpoint, kAbortMessageId, &p->abortHeader, sizeof(p->abortHeader), nullptr, 0,
                               &param);
  if (UCS_PTR_IS_ERR(send)) return;
  // The abort is usually followed by exit: flush so the notice leaves this
  // process, but never wait long on a peer that may be gone.
  ucp_request_param_t flushParam{};
  void* flush = ucp_ep_flush_nbx(p->controlEndpoint, &flushParam);
  auto deadline = std::chrono::steady_clock::now() + kAbortGrace;
  auto pending = [](void* r) { return r != nullptr && !UCS_PTR_IS_ERR(r) && ucp_request_check_status(r) == UCS_INPROGRESS; };
  while ((pending(send) || pending(flush)) && std::chrono::steady_clock::now() < deadline) {
    ucp_worker_progress(worker_);
  }
  if (send != nullptr) ucp_request_free(send);
  if (flush != nullptr && !UCS_PTR_IS_ERR(flush)) ucp_request_free(flush);
}

std::string UcxContext::describe() const {
  std::string s = std::string("UCX ") + ucp_get_version_string();
  const char* tls = std::getenv("UCX_TLS");
  s += std::string(" (UCX_TLS=") + (tls != nullptr ? tls : "all") + ")";
  return s;
}

}  // namespace loom
