#include "bootstrap/bootstrap.h"

#include <unistd.h>

#include <vector>

#include "common/config.h"
#include "common/logging.h"

namespace loom {

Result<std::unique_ptr<Bootstrap>> Bootstrap::join(const UniqueIdFields& id, int rank, int nranks) {
  std::unique_ptr<Bootstrap> b(new Bootstrap());
  b->rank_ = rank;
  b->nranks_ = nranks;
  b->jobId_ = id.jobId;
  b->token_ = id.token;
  LOOM_ASSIGN_OR_RETURN(SocketAddress root, id.root.toAddress());

  // Listen on the interface that reaches the root when it is loopback (all
  // ranks on one machine), otherwise on the chosen interface.
  LOOM_ASSIGN_OR_RETURN(SocketAddress local, chooseLocalAddress());
  if (root.storage.ss_family == AF_INET &&
      (reinterpret_cast<sockaddr_in*>(&root.storage)->sin_addr.s_addr & 0xff) == 127) {
    local = root;
  }
  local.setPort(0);
  LOOM_ASSIGN_OR_RETURN(b->listener_, Socket::listen(local));

  Deadline deadline = deadlineFromConfig();
  LOOM_ASSIGN_OR_RETURN(Socket toRoot, Socket::connect(root, deadline));
  HelloMessage hello;
  hello.token = id.token;
  hello.rank = rank;
  hello.nranks = nranks;
  hello.pid = getpid();
  hello.address = WireAddress::from(local);
  std::snprintf(hello.hostId, sizeof(hello.hostId), "%s", localHostId().c_str());
  LOOM_RETURN_IF_ERROR(toRoot.sendAll(&hello, sizeof(hello), deadline));

  // The root answers when everyone has arrived or at its own timeout; allow it
  // a little longer than ours so its explanation reaches us first.
  Deadline replyDeadline = deadlineAfter(config().timeoutSeconds + 10);
  RootReply reply;
  Status got = toRoot.recvAll(&reply, sizeof(reply), replyDeadline);
  if (!got.isOk()) return got.withContext("waiting for the bootstrap root at " + root.toString());
  if (reply.magic != RootReply::kMagic) return Status::remoteError("bootstrap root sent a malformed reply");
  if (reply.statusCode != 0) {
    reply.message[sizeof(reply.message) - 1] = '\0';
    return Status::make(static_cast<StatusCode>(reply.statusCode), "%s", reply.message);
  }
  std::vector<PeerRecord> table(nranks);
  LOOM_RETURN_IF_ERROR(toRoot.recvAll(table.data(), table.size() * sizeof(PeerRecord), replyDeadline));
  for (int r = 0; r < nranks; ++r) {
    PeerInfo p;
    LOOM_ASSIGN_OR_RETURN(p.address, table[r].address.toAddress());
    table[r].hostId[kHostIdBytes - 1] = '\0';
    p.hostId = table[r].hostId;
    p.pid = table[r].pid;
    b->peers_.push_back(p);
  }

  if (nranks > 1) {
    int next = (rank + 1) % nranks, prev = (rank + nranks - 1) % nranks;
    LOOM_ASSIGN_OR_RETURN(b->ringNext_, b->connectTo(next, ConnectionPurpose::kRing, 0));
    LOOM_ASSIGN_OR_RETURN(b->ringPrev_, b->acceptFrom(prev, ConnectionPurpose::kRing, 0));
  }
  LOOM_INFO(kBootstrap, "rank %d of %d joined; listening on %s", rank, nranks, local.toString().c_str());
  return b;
}

Status Bootstrap::allGather(void* data, size_t bytesPerRank) {
  auto* bytes = static_cast<char*>(data);
  Deadline deadline = deadlineFromConfig();
  for (int step = 0; step < nranks_ - 1; ++step) {
    int sendBlock = (rank_ - step + nranks_) % nranks_;
    int recvBlock = (rank_ - step - 1 + nranks_) % nranks_;
    Status s = ringNext_.sendAll(bytes + sendBlock * bytesPerRank, bytesPerRank, deadline);
    if (s.isOk()) s = ringPrev_.recvAll(bytes + recvBlock * bytesPerRank, bytesPerRank, deadline);
    if (!s.isOk()) return s.withContext("out-of-band allgather (rank " + std::to_string(rank_) + ")");
  }
  return Status::ok();
}

Status Bootstrap::barrier() {
  std::vector<char> flags(nranks_, 1);
  return allGather(flags.data(), 1);
}

Result<Socket> Bootstrap::connectTo(int peer, ConnectionPurpose purpose, int channel) {
  Deadline deadline = deadlineFromConfig();
  LOOM_ASSIGN_OR_RETURN(Socket s, Socket::connect(peers_[peer].address, deadline));
  PeerHandshake h;
  h.token = token_;
  h.fromRank = rank_;
  h.purpose = purpose;
  h.channel = channel;
  LOOM_RETURN_IF_ERROR(s.sendAll(&h, sizeof(h), deadline));
  return s;
}

Result<Socket> Bootstrap::acceptFrom(int peer, ConnectionPurpose purpose, int channel) {
  std::lock_guard<std::mutex> lock(acceptMutex_);
  auto key = std::make_tuple(peer, static_cast<int>(purpose), channel);
  Deadline deadline = deadlineFromConfig();
  while (true) {
    auto it = early_.find(key);
    if (it != early_.end()) {
      Socket s = std::move(it->second);
      early_.erase(it);
      return s;
    }
    auto accepted = listener_.accept(deadline);
    if (!accepted.isOk()) {
      return accepted.status().withContext("waiting for rank " + std::to_string(peer) + " to connect");
    }
    PeerHandshake h;
    Socket s = std::move(accepted.value());
    if (!s.recvAll(&h, sizeof(h), deadlineAfter(5)).isOk() || h.magic != PeerHandshake::kMagic) {
      LOOM_WARN(kBootstrap, "rank %d dropped a connection that did not speak Loom's handshake", rank_);
      continue;
    }
    if (!(h.token == token_)) {
      LOOM_WARN(kBootstrap, "rank %d refused a connection claiming rank %d: wrong secret token", rank_, h.fromRank);
      continue;
    }
    if (h.fromRank < 0 || h.fromRank >= nranks_) {
      LOOM_WARN(kBootstrap, "rank %d refused a connection from out-of-range rank %d", rank_, h.fromRank);
      continue;
    }
    early_[std::make_tuple(h.fromRank, static_cast<int>(h.purpose), h.channel)] = std::move(s);
  }
}

void Bootstrap::abort() {
  // shutdown() rather than close(): wakes a peer blocked on the other end while
  // leaving the descriptors valid for any thread still using them.
  if (ringNext_.valid()) ::shutdown(ringNext_.fd(), SHUT_RDWR);
  if (ringPrev_.valid()) ::shutdown(ringPrev_.fd(), SHUT_RDWR);
}

}  // namespace loom
