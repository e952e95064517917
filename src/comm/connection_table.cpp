#include "comm/connection_table.h"

#include <strings.h>

#include "common/config.h"
#include "common/logging.h"
#include "transports/shm/shm_connection.h"
#include "transports/tcp/tcp_connection.h"

namespace loom {

Result<std::unique_ptr<ConnectionTable>> ConnectionTable::connect(Bootstrap& bootstrap, int channels) {
  std::unique_ptr<ConnectionTable> t(new ConnectionTable(bootstrap));
  t->channels_ = channels;
  const int rank = bootstrap.rank(), nranks = bootstrap.nranks();
  const std::string& forced = config().transport;
  if (strcasecmp(forced.c_str(), "auto") != 0 && strcasecmp(forced.c_str(), "shm") != 0 &&
      strcasecmp(forced.c_str(), "tcp") != 0) {
    return Status::invalidArgument("LOOM_TRANSPORT='%s' is not one of auto, shm, tcp", forced.c_str());
  }
  const std::string& myHost = bootstrap.peers()[rank].hostId;
  for (int p = 0; p < nranks; ++p) {
    bool sameHost = bootstrap.peers()[p].hostId == myHost;
    if (strcasecmp(forced.c_str(), "shm") == 0 && !sameHost) {
      return Status::invalidArgument("LOOM_TRANSPORT=shm but rank %d (host %s) and rank %d (host %s) do not share memory",
                                     rank, myHost.c_str(), p, bootstrap.peers()[p].hostId.c_str());
    }
    bool tcp = p != rank && (!sameHost || strcasecmp(forced.c_str(), "tcp") == 0);
    t->transports_.push_back(tcp ? TransportKind::kTcp : TransportKind::kShm);
  }
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
  LOOM_RETURN_IF_ERROR(t->setUpDoorbells());
  int tcpPeers = 0;
  for (TransportKind k : t->transports_) tcpPeers += k == TransportKind::kTcp;
  LOOM_INFO(kInit, "rank %d: %d peer(s) over TCP, %d over shared memory, %d channel(s)", rank, tcpPeers,
            nranks - tcpPeers, channels);
  return t;
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
