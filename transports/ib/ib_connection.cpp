// UNTESTED ON HARDWARE: see ib_connection.h.
#include "transports/ib/ib_connection.h"

#ifndef LOOM_HAVE_IBVERBS

namespace loom {

Result<std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>>> makeIbConnections(
    Socket, int peerRank, const IbOptions&) {
  return Status::unavailable(
      "cannot connect to rank %d over InfiniBand/RoCE: Loom was built without <infiniband/verbs.h> "
      "(install libibverbs-dev and rebuild)",
      peerRank);
}

}  // namespace loom

#else  // LOOM_HAVE_IBVERBS

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "common/logging.h"
#include "transports/ib/credit_flow.h"
#include "transports/ib/ib_device.h"
#include "transports/ib/qp_state_machine.h"

namespace loom {
namespace {

// Work-request ids tell completions apart: what kind, and (for receives) nothing else is needed.
enum WrKind : uint64_t { kWrData = 1, kWrCredit = 2, kWrRecv = 3 };

Status peerGone(int peerRank, const char* why) {
  return Status::remoteError("InfiniBand connection to rank %d lost: %s (process exited or aborted?)", peerRank, why);
}

// Page-aligned memory that frees itself.
struct AlignedBuffer {
  std::byte* data = nullptr;
  size_t bytes = 0;
  explicit AlignedBuffer(size_t n) : bytes((n + 4095) / 4096 * 4096) {
    data = static_cast<std::byte*>(std::aligned_alloc(4096, bytes));
    if (data) std::memset(data, 0, bytes);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Everything one queue pair owns; the send and receive halves share it.
class IbQueuePair {
 public:
  IbQueuePair(std::shared_ptr<IbDevice> device, Socket socket, int peerRank, const IbOptions& options)
      : device_(std::move(device)),
        socket_(std::move(socket)),
        peerRank_(peerRank),
        slots_(options.slots),
        slotBytes_(options.slotBytes),
        ring_(size_t{options.slots} * options.slotBytes),
        staging_(size_t{options.slots} * options.slotBytes),
        creditWord_(sizeof(uint32_t)),
        lengths_(options.slots, 0),
        sender_(options.slots),
        receiver_(options.slots) {}

  ~IbQueuePair() {
    const IbVerbsApi& api = device_->api();
    if (qp_) api.destroyQp(qp_);
    if (cq_) api.destroyCq(cq_);
    if (ringLease_) device_->unregister(*ringLease_, ring_.data, ring_.bytes);
    if (stagingLease_) device_->unregister(*stagingLease_, staging_.data, staging_.bytes);
    if (creditLease_) device_->unregister(*creditLease_, creditWord_.data, creditWord_.bytes);
  }

  Status connect();

  // --- send half ---
  Result<size_t> write(const void* data, size_t bytes);
  // --- receive half ---
  Result<std::span<const std::byte>> peek();
  void consume(size_t bytes);
  // --- both ---
  void abort();
  Status peerStatus();

 private:
  Status createQp();
  Status modifyToInit();
  Status modifyToRtr(const QpEndpointInfo& peer);
  Status modifyToRts();
  Status postRecv();
  // Drains the completion queue into the credit/ring state.
  Status poll();
  // Sends pending credit back if worth it (or `force`). Needs a free send WR.
  Status returnCredits(bool piggyback);
  void fail(Status s) {
    if (error_.isOk()) error_ = std::move(s);
    state_.fail();
  }

  std::mutex mutex_;  // the send and receive halves may be driven from different threads
  std::shared_ptr<IbDevice> device_;
  Socket socket_;
  int peerRank_;
  uint32_t slots_, slotBytes_;
  uint32_t maxSendWr_ = 0;
  uint32_t sendsInFlight_ = 0;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  QpStateMachine state_;
  QpEndpointInfo local_, peer_;
  AlignedBuffer ring_, staging_, creditWord_;
  std::optional<RegistrationCache::Lease> ringLease_, stagingLease_, creditLease_;
  std::vector<uint32_t> lengths_;  // payload bytes of each arrived ring slot
  size_t readOffset_ = 0;          // consumed bytes of the oldest unread slot
  CreditSender sender_;
  CreditReceiver receiver_;
  Status error_;
};

Status IbQueuePair::connect() {
  if (ring_.data == nullptr || staging_.data == nullptr || creditWord_.data == nullptr) {
    return Status::systemError("cannot allocate %u x %u bytes of InfiniBand buffers", slots_, slotBytes_);
  }
  LOOM_ASSIGN_OR_RETURN(auto ringLease, device_->registerMemory(ring_.data, ring_.bytes));
  ringLease_ = ringLease;
  LOOM_ASSIGN_OR_RETURN(auto stagingLease, device_->registerMemory(staging_.data, staging_.bytes));
  stagingLease_ = stagingLease;
  LOOM_ASSIGN_OR_RETURN(auto creditLease, device_->registerMemory(creditWord_.data, creditWord_.bytes));
  creditLease_ = creditLease;

  LOOM_RETURN_IF_ERROR(createQp());
  LOOM_RETURN_IF_ERROR(modifyToInit());
  // Receives may be posted in INIT; they must exist before the peer's first write.
  for (uint32_t i = 0; i < slots_; ++i) LOOM_RETURN_IF_ERROR(postRecv());

  std::random_device rd;
  local_.qpn = qp_->qp_num;
  local_.psn = rd() & 0xFFFFFF;  // random so a stale packet from an old QP cannot match
  local_.lid = device_->lid();
  local_.port = static_cast<uint8_t>(device_->port());
  local_.gidIndex = static_cast<uint8_t>(device_->gid().index);
  local_.gid = device_->gid().gid;
  local_.mtuBytes = device_->mtuBytes();
  local_.linkLayer = device_->linkLayer();
  local_.ringAddress = reinterpret_cast<uintptr_t>(ring_.data);
  local_.ringRkey = ringLease_->registration.rkey;
  local_.ringSlots = slots_;
  local_.slotBytes = slotBytes_;
  local_.creditAddress = reinterpret_cast<uintptr_t>(creditWord_.data);
  local_.creditRkey = creditLease_->registration.rkey;

  // Both sides send first, then receive: 80 bytes fit any socket buffer.
  Deadline deadline = deadlineFromConfig();
  auto mine = serialize(local_);
  LOOM_RETURN_IF_ERROR(socket_.sendAll(mine.data(), mine.size(), deadline));
  std::array<uint8_t, kQpEndpointInfoBytes> theirs{};
  LOOM_RETURN_IF_ERROR(socket_.recvAll(theirs.data(), theirs.size(), deadline));
  LOOM_ASSIGN_OR_RETURN(peer_, deserializeQpEndpointInfo(theirs));
  LOOM_RETURN_IF_ERROR(validatePeerInfo(peer_, local_).withContext("rank " + std::to_string(peerRank_)));
  if (peer_.ringSlots != slots_ || peer_.slotBytes != slotBytes_) {
    return Status::remoteError("rank %d uses a %u x %u byte ring but this rank %u x %u (set the same IB options)",
                               peerRank_, peer_.ringSlots, peer_.slotBytes, slots_, slotBytes_);
  }
  LOOM_RETURN_IF_ERROR(modifyToRtr(peer_));
  LOOM_RETURN_IF_ERROR(modifyToRts());

  // Neither side writes until both are at RTR; otherwise the first write could
  // meet a peer QP that drops it.
  uint8_t ready = 1, peerReady = 0;
  LOOM_RETURN_IF_ERROR(socket_.sendAll(&ready, 1, deadline));
  LOOM_RETURN_IF_ERROR(socket_.recvAll(&peerReady, 1, deadline));
  LOOM_RETURN_IF_ERROR(socket_.setNonBlocking());
  LOOM_INFO(kNet, "rank %d: queue pair %u -> rank %d qpn %u on %s port %d, MTU %u, ring %u x %u bytes", peerRank_,
            local_.qpn, peerRank_, peer_.qpn, device_->name().c_str(), device_->port(), negotiatedMtu(local_, peer_),
            slots_, slotBytes_);
  return Status::ok();
}

Status IbQueuePair::createQp() {
  const IbVerbsApi& api = device_->api();
  // Data writes are bounded by credits (slots), credit writes by one per
  // released slot; +2 keeps room for an explicit flush.
  maxSendWr_ = 2 * slots_ + 2;
  cq_ = api.createCq(device_->context(), static_cast<int>(maxSendWr_ + slots_), nullptr, nullptr, 0);
  if (cq_ == nullptr) return Status::systemError("ibv_create_cq failed: %s", strerror(errno));
  ibv_qp_init_attr attr{};
  attr.send_cq = cq_;
  attr.recv_cq = cq_;
  attr.qp_type = IBV_QPT_RC;
  attr.sq_sig_all = 0;
  attr.cap.max_send_wr = maxSendWr_;
  attr.cap.max_recv_wr = slots_;
  attr.cap.max_send_sge = 1;
  attr.cap.max_recv_sge = 1;
  attr.cap.max_inline_data = sizeof(uint32_t);  // credit counters go inline
  qp_ = api.createQp(device_->pd(), &attr);
  if (qp_ == nullptr) return Status::systemError("ibv_create_qp failed: %s", strerror(errno));
  return Status::ok();
}

Status IbQueuePair::modifyToInit() {
  LOOM_RETURN_IF_ERROR(state_.transition(QpState::kInit));
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  attr.pkey_index = 0;
  attr.port_num = static_cast<uint8_t>(device_->port());
  attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
  int rc = device_->api().modifyQp(qp_, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
  if (rc != 0) return Status::systemError("ibv_modify_qp to INIT failed: %s", strerror(rc));
  return Status::ok();
}

Status IbQueuePair::modifyToRtr(const QpEndpointInfo& peer) {
  LOOM_RETURN_IF_ERROR(state_.transition(QpState::kRtr));
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = static_cast<ibv_mtu>(mtuEnumValue(negotiatedMtu(local_, peer)));
  attr.dest_qp_num = peer.qpn;
  attr.rq_psn = peer.psn;
  attr.max_dest_rd_atomic = 1;  // no RDMA reads are issued; 1 is the minimum providers accept
  attr.min_rnr_timer = 12;      // 0.64 ms before a receiver-not-ready retry
  attr.ah_attr.dlid = peer.lid;
  attr.ah_attr.sl = 0;
  attr.ah_attr.port_num = static_cast<uint8_t>(device_->port());
  // RoCE always routes by GID; InfiniBand uses the LID within the subnet.
  if (local_.linkLayer == IbLinkLayer::kEthernet) {
    attr.ah_attr.is_global = 1;
    std::memcpy(attr.ah_attr.grh.dgid.raw, peer.gid.data(), 16);
    attr.ah_attr.grh.sgid_index = local_.gidIndex;
    attr.ah_attr.grh.hop_limit = 255;
  }
  int rc = device_->api().modifyQp(qp_, &attr,
                                   IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                       IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
  if (rc != 0) return Status::systemError("ibv_modify_qp to RTR (peer qpn %u) failed: %s", peer.qpn, strerror(rc));
  return Status::ok();
}

Status IbQueuePair::modifyToRts() {
  LOOM_RETURN_IF_ERROR(state_.transition(QpState::kRts));
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.sq_psn = local_.psn;
  attr.timeout = 14;    // 4.096 us * 2^14 = 67 ms per transport retry
  attr.retry_cnt = 7;
  attr.rnr_retry = 7;   // 7 = retry forever; receives are reposted promptly
  attr.max_rd_atomic = 1;
  int rc = device_->api().modifyQp(qp_, &attr,
                                   IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                       IBV_QP_MAX_QP_RD_ATOMIC);
  if (rc != 0) return Status::systemError("ibv_modify_qp to RTS failed: %s", strerror(rc));
  return Status::ok();
}

Status IbQueuePair::postRecv() {
  // Zero-length: a write-with-immediate consumes a receive only to deliver
  // its immediate; the data lands where the sender addressed it.
  ibv_recv_wr wr{};
  wr.wr_id = kWrRecv;
  wr.sg_list = nullptr;
  wr.num_sge = 0;
  ibv_recv_wr* bad = nullptr;
  int rc = ibv_post_recv(qp_, &wr, &bad);
  if (rc != 0) return Status::systemError("ibv_post_recv failed: %s", strerror(rc));
  return Status::ok();
}

Status IbQueuePair::poll() {
  if (!error_.isOk()) return error_;
  ibv_wc wcs[16];
  for (;;) {
    int n = ibv_poll_cq(cq_, 16, wcs);
    if (n < 0) {
      fail(Status::systemError("ibv_poll_cq failed"));
      return error_;
    }
    for (int i = 0; i < n; ++i) {
      const ibv_wc& wc = wcs[i];
      if (wc.status != IBV_WC_SUCCESS) {
        fail(peerGone(peerRank_, device_->api().wcStatusStr(wc.status)));
        return error_;
      }
      if (wc.wr_id == kWrRecv) {
        Result<CreditReceiver::Arrival> arrival = receiver_.onArrival();
        Result<uint32_t> len = decodeSlotImmediate(ntohl(wc.imm_data), slotBytes_);
        if (!arrival.isOk()) fail(arrival.status());
        if (!len.isOk()) fail(len.status());
        if (!error_.isOk()) return error_;
        lengths_[arrival.value().slot] = len.value();
        LOOM_RETURN_IF_ERROR(postRecv());
      } else {
        --sendsInFlight_;  // every send WR is signaled, so each one completes here
      }
    }
    if (n < 16) break;
  }
  // The peer RDMA-writes its release counter here; acquire pairs with the
  // device's write having landed before the completion that told us of it,
  // and is harmless when it has not: an older counter is simply stale.
  uint32_t released = __atomic_load_n(reinterpret_cast<uint32_t*>(creditWord_.data), __ATOMIC_ACQUIRE);
  if (Status s = sender_.onCreditReturn(released); !s.isOk()) fail(s);
  return error_;
}

Status IbQueuePair::returnCredits(bool piggyback) {
  std::optional<uint32_t> counter = receiver_.creditToReturn(piggyback);
  if (!counter || sendsInFlight_ >= maxSendWr_) return Status::ok();  // retried on the next peek/consume
  // Inline: the device copies the 4 bytes at post time, so `value` may die now.
  uint32_t value = *counter;
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(&value);
  sge.length = sizeof(value);
  ibv_send_wr wr{};
  wr.wr_id = kWrCredit;
  wr.opcode = IBV_WR_RDMA_WRITE;
  wr.send_flags = IBV_SEND_INLINE | IBV_SEND_SIGNALED;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.wr.rdma.remote_addr = peer_.creditAddress;
  wr.wr.rdma.rkey = peer_.creditRkey;
  ibv_send_wr* bad = nullptr;
  int rc = ibv_post_send(qp_, &wr, &bad);
  if (rc != 0) {
    fail(Status::systemError("posting credit return to rank %d failed: %s", peerRank_, strerror(rc)));
    return error_;
  }
  ++sendsInFlight_;
  receiver_.markReturned(value);
  return Status::ok();
}

Result<size_t> IbQueuePair::write(const void* data, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  LOOM_RETURN_IF_ERROR(poll());
  size_t taken = 0;
  const auto* src = static_cast<const std::byte*>(data);
  while (taken < bytes && sendsInFlight_ < maxSendWr_) {
    std::optional<CreditSender::Grant> grant = sender_.acquire();
    if (!grant) break;  // ring full: the executor retries later
    const uint32_t slot = grant->slot;
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(slotBytes_, bytes - taken));
    // Copy out: write() promises the caller its buffer back on return. The
    // staging slot is free again: its previous write was read by the peer,
    // which is why the credit came back.
    std::byte* stage = staging_.data + size_t{slot} * slotBytes_;
    std::memcpy(stage, src + taken, n);
    ibv_sge sge{};
    sge.addr = reinterpret_cast<uintptr_t>(stage);
    sge.length = n;
    sge.lkey = stagingLease_->registration.lkey;
    ibv_send_wr wr{};
    wr.wr_id = kWrData;
    wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.imm_data = htonl(encodeSlotImmediate(n));
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.wr.rdma.remote_addr = peer_.ringAddress + uint64_t{slot} * slotBytes_;
    wr.wr.rdma.rkey = peer_.ringRkey;
    ibv_send_wr* bad = nullptr;
    int rc = ibv_post_send(qp_, &wr, &bad);
    if (rc != 0) {
      fail(Status::systemError("posting RDMA write to rank %d failed: %s", peerRank_, strerror(rc)));
      return error_;
    }
    ++sendsInFlight_;
    taken += n;
  }
  // A write to the peer just went out: credit for its data to us follows it
  // at once rather than waiting for a full batch (piggybacking on the burst).
  if (taken > 0) LOOM_RETURN_IF_ERROR(returnCredits(/*piggyback=*/true));
  return taken;
}

Result<std::span<const std::byte>> IbQueuePair::peek() {
  std::lock_guard<std::mutex> lock(mutex_);
  LOOM_RETURN_IF_ERROR(poll());
  LOOM_RETURN_IF_ERROR(returnCredits(false));  // a batch that found no free send WR earlier
  if (receiver_.unread() == 0) return std::span<const std::byte>();
  const uint32_t slot = receiver_.readSlot();
  const std::byte* base = ring_.data + size_t{slot} * slotBytes_;
  return std::span<const std::byte>(base + readOffset_, lengths_[slot] - readOffset_);
}

void IbQueuePair::consume(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (receiver_.unread() == 0) return;
  const uint32_t slot = receiver_.readSlot();
  readOffset_ += bytes;
  if (readOffset_ < lengths_[slot]) return;
  readOffset_ = 0;
  if (Status s = receiver_.release(); !s.isOk()) fail(s);
  (void)returnCredits(false);  // an error is kept in error_ and reported by the next call
}

void IbQueuePair::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Closing the socket is what the peer notices; ERROR flushes our own WRs.
  ::shutdown(socket_.fd(), SHUT_RDWR);
  if (qp_ && state_.state() != QpState::kError) {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    device_->api().modifyQp(qp_, &attr, IBV_QP_STATE);
  }
  fail(Status::aborted("connection to rank %d aborted by this rank", peerRank_));
}

Status IbQueuePair::peerStatus() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!error_.isOk()) return error_;
  // The socket carries nothing after setup, so readable means closed (or reset).
  char byte;
  ssize_t n = ::recv(socket_.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) fail(peerGone(peerRank_, "closed by peer"));
  else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail(peerGone(peerRank_, strerror(errno)));
  return error_;
}

class IbSend final : public SendConnection {
 public:
  explicit IbSend(std::shared_ptr<IbQueuePair> qp) : qp_(std::move(qp)) {}
  Result<size_t> write(const void* data, size_t bytes) override { return qp_->write(data, bytes); }
  void abort() override { qp_->abort(); }
  Status peerStatus() override { return qp_->peerStatus(); }

 private:
  std::shared_ptr<IbQueuePair> qp_;
};

class IbRecv final : public RecvConnection {
 public:
  explicit IbRecv(std::shared_ptr<IbQueuePair> qp) : qp_(std::move(qp)) {}
  Result<std::span<const std::byte>> peek() override { return qp_->peek(); }
  void consume(size_t bytes) override { qp_->consume(bytes); }
  void abort() override { qp_->abort(); }
  Status peerStatus() override { return qp_->peerStatus(); }

 private:
  std::shared_ptr<IbQueuePair> qp_;
};

}  // namespace

Result<std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>>> makeIbConnections(
    Socket socket, int peerRank, const IbOptions& options) {
  if (options.slots == 0 || options.slots >= 0x80000000u || options.slotBytes == 0) {
    return Status::invalidArgument("IB ring of %u slots x %u bytes: both must be positive (slots < 2^31)",
                                   options.slots, options.slotBytes);
  }
  LOOM_ASSIGN_OR_RETURN(auto device, IbDevice::open(options.device, options.port, options.gidIndex));
  auto qp = std::make_shared<IbQueuePair>(std::move(device), std::move(socket), peerRank, options);
  LOOM_RETURN_IF_ERROR(qp->connect().withContext("connecting to rank " + std::to_string(peerRank) +
                                                        " over InfiniBand/RoCE"));
  return std::make_pair(std::unique_ptr<SendConnection>(new IbSend(qp)), std::unique_ptr<RecvConnection>(new IbRecv(qp)));
}

}  // namespace loom

#endif  // LOOM_HAVE_IBVERBS
