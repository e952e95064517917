// How ranks meet, and the out-of-band channel they keep afterwards.
//
// join() sends this rank's address to the root and receives everyone's. The
// ranks then link into a ring of TCP connections used for small out-of-band
// exchanges (allGather, barrier) and keep a listener through which data
// connections (TCP transport) are opened. Every connection carries the job's
// token; one without it is refused.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "bootstrap/wire.h"

namespace loom {

struct PeerInfo {
  SocketAddress address;
  std::string hostId;
  int pid = 0;
};

class Bootstrap {
 public:
  static Result<std::unique_ptr<Bootstrap>> join(const UniqueIdFields& id, int rank, int nranks);

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  uint64_t jobId() const { return jobId_; }
  const Token& token() const { return token_; }
  const std::vector<PeerInfo>& peers() const { return peers_; }

  // `data` holds nranks blocks of `bytesPerRank`; this rank's block is filled
  // in, the others are filled from the peers.
  Status allGather(void* data, size_t bytesPerRank);
  Status barrier();

  // Data connections: the higher rank connects, the lower accepts.
  Result<Socket> connectTo(int peer, ConnectionPurpose purpose, int channel);
  Result<Socket> acceptFrom(int peer, ConnectionPurpose purpose, int channel);

  // Closes the ring so that peers blocked on it fail fast.
  void abort();

 private:
  Bootstrap() = default;
  int rank_ = 0;
  int nranks_ = 1;
  uint64_t jobId_ = 0;
  Token token_;
  std::vector<PeerInfo> peers_;
  Socket listener_;
  Socket ringNext_, ringPrev_;
  std::mutex acceptMutex_;
  // Connections that arrived before anyone asked for them, by (rank, purpose, channel).
  std::map<std::tuple<int, int, int>, Socket> early_;
};

}  // namespace loom
