#include "transports/ucx/ucx_connection.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

namespace loom {
namespace {

// Staging per send connection. Large enough to keep several batches in flight
// while earlier ones flush; each batch is flushed separately so space comes
// back in pieces rather than all at once.
constexpr size_t kRingBytes = size_t{4} << 20;
constexpr size_t kBatchBytes = size_t{512} << 10;

bool inProgress(void* request) { return ucp_request_check_status(request) == UCS_INPROGRESS; }

class UcxSend final : public SendConnection {
 public:
  UcxSend(std::shared_ptr<UcxContext> c, ucp_ep_h ep, int peer)
      : c_(std::move(c)), ep_(ep), peer_(peer), ring_(kRingBytes) {}
  ~UcxSend() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    // Requests still in flight are released by UCX when they finish (or when
    // the context closes the endpoint).
    for (const InFlight& f : inFlight_) {
      if (f.request != nullptr) ucp_request_free(f.request);
    }
  }

  Result<size_t> write(const void* data, size_t bytes) override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    c_->markActiveLocked();
    if (aborted_) return Status::aborted("this rank aborted its connection to rank %d", peer_);
    LOOM_RETURN_IF_ERROR(reap());
    // The first (staged_ - reported_) bytes of `data` are already in the ring
    // (an earlier call staged them but they were not yet confirmed): stage on
    // from there. The executor passes the same stream position again until we
    // report bytes taken, so this prefix is always the start of `data`.
    const size_t ahead = static_cast<size_t>(staged_ - reported_);
    size_t room = kRingBytes - static_cast<size_t>(staged_ - confirmed_);
    size_t want = std::min({bytes - std::min(bytes, ahead), room, kBatchBytes});
    if (want > 0) {
      LOOM_RETURN_IF_ERROR(stage(static_cast<const std::byte*>(data) + ahead, want));
    }
    if (confirmed_ == reported_ && !inFlight_.empty()) {
      c_->progressLocked();
      LOOM_RETURN_IF_ERROR(reap());
    }
    if (confirmed_ == reported_) LOOM_RETURN_IF_ERROR(c_->peerErrorLocked(peer_));
    size_t n = static_cast<size_t>(std::min<uint64_t>(confirmed_ - reported_, bytes));
    reported_ += n;
    return n;
  }

  void abort() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    aborted_ = true;
    c_->sendAbortLocked(peer_);
  }

  Status peerStatus() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    c_->progressLocked();
    return c_->peerStatusLocked(peer_);
  }

  int pollFd() const override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    return c_->waitFdLocked();
  }

 private:
  struct InFlight {
    void* request;  // null: completed when posted
    uint64_t end;   // stream offset just past what it covers
    bool flush;
  };

  // Copies `bytes` into the ring (splitting at its end), posts them, and posts
  // a flush that confirms them.
  Status stage(const std::byte* src, size_t bytes) {
    while (bytes > 0) {
      size_t at = static_cast<size_t>(staged_ % kRingBytes);
      size_t n = std::min(bytes, kRingBytes - at);
      std::memcpy(ring_.data() + at, src, n);
      ucp_request_param_t p{};
      void* r = ucp_stream_send_nbx(ep_, ring_.data() + at, n, &p);
      if (UCS_PTR_IS_ERR(r)) return failure(UCS_PTR_STATUS(r));
      staged_ += n;
      inFlight_.push_back({r, staged_, false});
      src += n;
      bytes -= n;
    }
    ucp_request_param_t p{};
    void* f = ucp_ep_flush_nbx(ep_, &p);
    if (UCS_PTR_IS_ERR(f)) return failure(UCS_PTR_STATUS(f));
    inFlight_.push_back({f, staged_, true});
    return reap();
  }

  // Retires finished requests in posting order; a finished flush confirms
  // everything before it (and frees that part of the ring).
  Status reap() {
    while (!inFlight_.empty()) {
      InFlight& f = inFlight_.front();
      if (f.request != nullptr) {
        if (inProgress(f.request)) break;
        ucs_status_t st = ucp_request_check_status(f.request);
        ucp_request_free(f.request);
        f.request = nullptr;
        if (st != UCS_OK) {
          inFlight_.pop_front();
          return failure(st);
        }
      }
      if (f.flush) confirmed_ = f.end;
      inFlight_.pop_front();
    }
    return Status::ok();
  }

  Status failure(ucs_status_t st) {
    // The endpoint's error callback usually has the better story.
    Status peer = c_->peerErrorLocked(peer_);
    if (!peer.isOk()) return peer;
    return Status::remoteError("connection to rank %d lost: UCX send failed: %s (process exited or aborted?)", peer_,
                               ucs_status_string(st));
  }

  std::shared_ptr<UcxContext> c_;
  ucp_ep_h ep_;
  int peer_;
  std::vector<std::byte> ring_;
  std::deque<InFlight> inFlight_;
  // Stream offsets: staged_ >= confirmed_ >= reported_.
  uint64_t staged_ = 0;     // copied into the ring and posted
  uint64_t confirmed_ = 0;  // flushed out of this process
  uint64_t reported_ = 0;   // returned to the executor as taken
  bool aborted_ = false;
};

class UcxRecv final : public RecvConnection {
 public:
  UcxRecv(std::shared_ptr<UcxContext> c, ucp_ep_h ep, int peer) : c_(std::move(c)), ep_(ep), peer_(peer) {}
  ~UcxRecv() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    release();
  }

  Result<std::span<const std::byte>> peek() override {
    // Unlocked fast path: the executor consumes a buffer in several steps.
    if (data_ != nullptr && offset_ < length_) return std::span<const std::byte>(data_ + offset_, length_ - offset_);
    std::lock_guard<std::mutex> lock(c_->mutex());
    c_->markActiveLocked();
    release();
    if (aborted_) return Status::aborted("this rank aborted its connection to rank %d", peer_);
    if (!take()) {
      c_->progressLocked();
      if (!take()) {
        // Data that arrived before an error is still delivered; only an empty
        // stream reports the error.
        LOOM_RETURN_IF_ERROR(c_->peerErrorLocked(peer_));
        return std::span<const std::byte>();
      }
    }
    return std::span<const std::byte>(data_, length_);
  }

  void consume(size_t bytes) override { offset_ += bytes; }

  void abort() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    aborted_ = true;
    c_->sendAbortLocked(peer_);
  }

  Status peerStatus() override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    c_->progressLocked();
    return c_->peerStatusLocked(peer_);
  }

  int pollFd() const override {
    std::lock_guard<std::mutex> lock(c_->mutex());
    return c_->waitFdLocked();
  }

 private:
  // Takes the next received buffer, if any.
  bool take() {
    size_t length = 0;
    ucs_status_ptr_t p = ucp_stream_recv_data_nb(ep_, &length);
    if (p == nullptr || UCS_PTR_IS_ERR(p)) return false;
    data_ = static_cast<const std::byte*>(p);
    length_ = length;
    offset_ = 0;
    return true;
  }
  void release() {
    if (data_ != nullptr) ucp_stream_data_release(ep_, const_cast<std::byte*>(data_));
    data_ = nullptr;
    length_ = offset_ = 0;
  }

  std::shared_ptr<UcxContext> c_;
  ucp_ep_h ep_;
  int peer_;
  const std::byte* data_ = nullptr;  // UCX's buffer, held until fully consumed
  size_t length_ = 0, offset_ = 0;
  bool aborted_ = false;
};

}  // namespace

std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>> makeUcxConnections(
    std::shared_ptr<UcxContext> context, ucp_ep_h endpoint, int peerRank) {
  return {std::make_unique<UcxSend>(context, endpoint, peerRank),
          std::make_unique<UcxRecv>(std::move(context), endpoint, peerRank)};
}

}  // namespace loom
