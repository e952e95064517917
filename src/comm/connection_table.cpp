#include "comm/connection_table.h"

#include <strings.h>

#include <algorithm>
#include <cstring>

#include "common/config.h"
#include "common/logging.h"
#include "transports/ib/ib_probe.h"
#include "transports/shm/shm_connection.h"
#include "transports/tcp/tcp_connection.h"
#ifdef LOOM_HAVE_UCX
#include "transports/ucx/ucx_connection.h"
#include "transports/ucx/ucx_context.h"
#endif

namespace loom {

bool ucxBuiltIn() {
#ifdef LOOM_HAVE_UCX
  return true;
#else
  return false;
#endif
}

namespace {

bool is(const std::string& value, const char* name) { return strcasecmp(value.c_str(), name) == 0; }

}  // namespace

Result<std::unique_ptr<ConnectionTable>> ConnectionTable::connect(Bootstrap& bootstrap, int channels) {
  std::unique_ptr<ConnectionTable> t(new ConnectionTable(bootstrap));
  t->channels_ = channels;
  const int rank = bootstrap.rank(), nranks = bootstrap.nranks();
  LOOM_RETURN_IF_ERROR(t->chooseTransports());
  // The higher rank connects and the lower accepts; connects complete through
  // the listen backlog, so this order cannot deadlock.
  for (int c = 0; c < channels; ++c) {
    for (int p = 0; p < rank; ++p) {
      if (t->transports_[p] != TransportKind::kTcp) continue;
      LOOM_ASSIGN_OR_RETURN(Socket s, bootstrap.connectTo(p, ConnectionPurpose::kData, c));
      LOOM_ASSIGN_OR_RETURN(auto pair, makeTcpConnections(std::move(s), p));
      t->sends_[{p, c}] = std::move(pair.first);
      t->recvs_[{p, c}] = std::move(pair.second);
    }
    for (int p = rank + 1; p < nranks; ++p) {
      if (t->transports_[p] != TransportKind::kTcp) continue;
      LOOM_ASSIGN_OR_RETURN(Socket s, bootstrap.acceptFrom(p, ConnectionPurpose::kData, c));
      LOOM_ASSIGN_OR_RETURN(auto pair, makeTcpConnections(std::move(s), p));
      t->sends_[{p, c}] = std::move(pair.first);
      t->recvs_[{p, c}] = std::move(pair.second);
    }
  }
  LOOM_RETURN_IF_ERROR(t->openUcxConnections());
  LOOM_RETURN_IF_ERROR(t->setUpDoorbells());
  int tcpPeers = 0, ucxPeers = 0;
  for (TransportKind k : t->transports_) {
    tcpPeers += k == TransportKind::kTcp;
    ucxPeers += k == TransportKind::kUcx;
  }
  LOOM_INFO(kInit, "rank %d: %d peer(s) over TCP, %d over UCX, %d over shared memory, %d channel(s)", rank, tcpPeers,
            ucxPeers, nranks - tcpPeers - ucxPeers, channels);
  return t;
}

Status ConnectionTable::chooseTransports() {
  const int rank = bootstrap_.rank(), nranks = bootstrap_.nranks();
  std::string forced = config().transport;
  if (!is(forced, "auto") && !is(forced, "shm") && !is(forced, "tcp") && !is(forced, "ucx") && !is(forced, "ib")) {
    return Status::invalidArgument("LOOM_TRANSPORT='%s' is not one of auto, shm, tcp, ucx, ib", forced.c_str());
  }
  const auto& peers = bootstrap_.peers();
  const std::string& myHost = peers[rank].hostId;
  bool multiHost = false;
  for (const PeerInfo& p : peers) multiHost = multiHost || p.hostId != peers[0].hostId;
  if (is(forced, "ib") || (is(forced, "auto") && multiHost)) {
    // The probe says once, at INFO, whether an RDMA device is usable.
    const IbAvailability ib = probeIbDevices();
    if (is(forced, "ib")) {
      // Loom's own verbs data path has not run on hardware yet; UCX drives
      // an RDMA device itself when there is one, so that is the fallback.
      LOOM_INFO(kInit, "rank %d: LOOM_TRANSPORT=ib: %s; falling back to auto (UCX or TCP across hosts)", rank,
                ib.usable ? "Loom's ibverbs data path is not enabled yet (untested on hardware)" : ib.reason.c_str());
      forced = "auto";
    }
  }

  // Every rank computes the same answer here (same variable, same host list),
  // so either all of them take part in the address exchange or none does.
  // UCX only when asked for: with more ranks than cores its endpoints
  // reported false "Endpoint timeout" errors in our tests (issue 5 note), so
  // auto keeps TCP across hosts until that is understood.
  const bool wantUcx = is(forced, "ucx");
  std::string ucxWhyNot;  // why this rank has no UCX, for the log and errors
  std::string ucxName = "UCX";
  ucxAddresses_.assign(nranks, {});
  if (wantUcx) {
#ifdef LOOM_HAVE_UCX
    auto created = UcxContext::create(rank, nranks, channels_);
    if (created.isOk()) {
      ucx_ = std::move(created.value());
      ucxName = ucx_->describe();
    } else {
      ucxWhyNot = created.status().message();
    }
    // Round one: address sizes (0: UCX did not start on that rank); round
    // two: the addresses, each padded to the largest.
    std::vector<uint32_t> sizes(nranks, 0);
    if (ucx_) sizes[rank] = static_cast<uint32_t>(ucx_->workerAddress().size());
    LOOM_RETURN_IF_ERROR(bootstrap_.allGather(sizes.data(), sizeof(uint32_t)));
    const size_t widest = *std::max_element(sizes.begin(), sizes.end());
    if (widest > 0) {
      std::vector<std::byte> all(widest * nranks);
      if (ucx_) std::memcpy(all.data() + widest * rank, ucx_->workerAddress().data(), sizes[rank]);
      LOOM_RETURN_IF_ERROR(bootstrap_.allGather(all.data(), widest));
      for (int p = 0; p < nranks; ++p) {
        ucxAddresses_[p].assign(all.begin() + widest * p, all.begin() + widest * p + sizes[p]);
      }
    }
#else
    ucxWhyNot = "Loom was built without UCX (pkg-config found no 'ucx' at configure time)";
    if (is(forced, "ucx")) return Status::unavailable("LOOM_TRANSPORT=ucx but %s", ucxWhyNot.c_str());
#endif
  }

  for (int p = 0; p < nranks; ++p) {
    const bool sameHost = peers[p].hostId == myHost;
    const bool ucxPair = !ucxAddresses_[rank].empty() && !ucxAddresses_[p].empty();
    TransportKind kind = TransportKind::kShm;
    if (p == rank) {
      kind = TransportKind::kShm;
    } else if (is(forced, "shm")) {
      if (!sameHost) {
        return Status::invalidArgument(
            "LOOM_TRANSPORT=shm but rank %d (host %s) and rank %d (host %s) do not share memory", rank,
            myHost.c_str(), p, peers[p].hostId.c_str());
      }
    } else if (is(forced, "tcp")) {
      kind = TransportKind::kTcp;
    } else if (is(forced, "ucx")) {
      if (!ucxPair) {
        if (!ucxWhyNot.empty()) return Status::unavailable("LOOM_TRANSPORT=ucx but UCX did not start on rank %d: %s", rank, ucxWhyNot.c_str());
        return Status::unavailable("LOOM_TRANSPORT=ucx but UCX did not start on rank %d (see its log)", p);
      }
      kind = TransportKind::kUcx;
    } else if (!sameHost) {
      kind = TransportKind::kTcp;
    }
    transports_.push_back(kind);
  }

  // Say which transport crosses hosts, and why, once per rank.
  if (is(forced, "auto") && multiHost) {
    LOOM_INFO(kInit, "rank %d: across hosts over TCP (LOOM_TRANSPORT=ucx selects UCX%s)", rank,
              ucxBuiltIn() ? "" : ", which this build lacks");
  } else if (is(forced, "ucx") && ucx_) {
    LOOM_INFO(kInit, "rank %d: every peer over UCX (LOOM_TRANSPORT=ucx): %s", rank, ucxName.c_str());
  }
  // Nobody uses UCX after all (every peer on this host, or no pair has it).
  if (ucx_ && std::find(transports_.begin(), transports_.end(), TransportKind::kUcx) == transports_.end()) ucx_.reset();
  return Status::ok();
}

Status ConnectionTable::openUcxConnections() {
#ifdef LOOM_HAVE_UCX
  if (!ucx_) return Status::ok();
  const auto& peers = bootstrap_.peers();
  const std::string& myHost = peers[bootstrap_.rank()].hostId;
  // Channel-major, peers ascending: the same order on every rank, which is
  // how UCX pairs the endpoints two workers create to each other.
  for (int c = 0; c < channels_; ++c) {
    for (int p = 0; p < bootstrap_.nranks(); ++p) {
      if (transports_[p] != TransportKind::kUcx) continue;
      LOOM_ASSIGN_OR_RETURN(ucp_ep_h ep, ucx_->connect(p, peers[p].pid, peers[p].hostId == myHost,
                                                       ucxAddresses_[p].data(), ucxAddresses_[p].size()));
      auto pair = makeUcxConnections(ucx_, ep, p);
      sends_[{p, c}] = std::move(pair.first);
      recvs_[{p, c}] = std::move(pair.second);
    }
  }
#endif
  return Status::ok();
}

ConnectionTable::~ConnectionTable() = default;

std::string ConnectionTable::shmName(const char* what, int rank) const {
  char name[96];
  std::snprintf(name, sizeof(name), "/loom-%016llx-%s-%d", static_cast<unsigned long long>(bootstrap_.jobId()), what,
                rank);
  return name;
}

Status ConnectionTable::setUpDoorbells() {
  const int rank = bootstrap_.rank();
  LOOM_ASSIGN_OR_RETURN(ownBell_, Doorbell::create(shmName("bell", rank)));
  // Everyone creates before anyone opens; everyone opens before the names go.
  Status s = bootstrap_.barrier();
  peerBells_.resize(bootstrap_.nranks());
  for (int p = 0; s.isOk() && p < bootstrap_.nranks(); ++p) {
    if (p == rank || transports_[p] != TransportKind::kShm) continue;
    auto bell = Doorbell::open(shmName("bell", p));
    if (bell.isOk()) peerBells_[p] = std::move(bell.value()); else s = bell.status();
  }
  if (s.isOk()) s = bootstrap_.barrier();
  ownBell_->unlink();
  return s;
}

Doorbell* ConnectionTable::bellOf(int rank) const {
  return rank == bootstrap_.rank() ? ownBell_.get() : peerBells_[rank].get();
}

std::string ConnectionTable::shmName(int from, int to, int channel) const {
  char name[96];
  std::snprintf(name, sizeof(name), "/loom-%016llx-%d-%d-%d", static_cast<unsigned long long>(bootstrap_.jobId()),
                from, to, channel);
  return name;
}

Status ConnectionTable::checkPeer(int peer, int channel) const {
  if (peer < 0 || peer >= bootstrap_.nranks()) {
    return Status::internal("schedule names rank %d, outside 0..%d", peer, bootstrap_.nranks() - 1);
  }
  if (channel < 0 || channel >= channels_) {
    return Status::internal("schedule uses channel %d but the communicator has %d", channel, channels_);
  }
  return Status::ok();
}

Result<SendConnection*> ConnectionTable::sendConnection(int peer, int channel) {
  auto it = sends_.find({peer, channel});
  if (it != sends_.end()) return it->second.get();
  LOOM_RETURN_IF_ERROR(checkPeer(peer, channel));
  ShmEndpoint e{shmName(bootstrap_.rank(), peer, channel), config().shmBufferBytes, peer, bootstrap_.peers()[peer].pid,
                bellOf(peer)};
  LOOM_ASSIGN_OR_RETURN(auto c, openShmSend(e));
  SendConnection* raw = c.get();
  sends_[{peer, channel}] = std::move(c);
  return raw;
}

Result<RecvConnection*> ConnectionTable::recvConnection(int peer, int channel) {
  auto it = recvs_.find({peer, channel});
  if (it != recvs_.end()) return it->second.get();
  LOOM_RETURN_IF_ERROR(checkPeer(peer, channel));
  ShmEndpoint e{shmName(peer, bootstrap_.rank(), channel), config().shmBufferBytes, peer, bootstrap_.peers()[peer].pid,
                bellOf(peer)};
  LOOM_ASSIGN_OR_RETURN(auto c, openShmRecv(e));
  RecvConnection* raw = c.get();
  recvs_[{peer, channel}] = std::move(c);
  return raw;
}

void ConnectionTable::abortAll() {
  // A peer may be waiting on a shared-memory connection this rank never
  // opened; open them all so every waiter sees the abort flag.
  for (int p = 0; p < bootstrap_.nranks(); ++p) {
    if (transports_[p] != TransportKind::kShm) continue;
    for (int c = 0; c < channels_; ++c) {
      (void)sendConnection(p, c);
      (void)recvConnection(p, c);
    }
  }
  for (auto& [key, c] : sends_) c->abort();
  for (auto& [key, c] : recvs_) c->abort();
}

}  // namespace loom
