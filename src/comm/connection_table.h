// The connections of one communicator, by (peer, channel) and direction.
//
// Shared-memory connections open lazily on first use (each side opens the
// same named segment), so a ring touches only its neighbours' segments. TCP
// and UCX connections, for peers on other hosts, are opened at init because
// both sides must take part.
//
// LOOM_TRANSPORT picks the transport per peer: auto keeps shared memory within
// a host and uses UCX across hosts when Loom was built with UCX and UCX starts
// on both ranks, else TCP; shm, tcp and ucx force one transport to every peer
// (this rank itself always uses shared memory).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "exec/executor.h"
#include "transports/shm/doorbell.h"

namespace loom {

enum class TransportKind { kShm, kTcp, kUcx };

class UcxContext;

// True when this build includes the UCX transport.
bool ucxBuiltIn();

class ConnectionTable final : public ConnectionProvider {
 public:
  // Decides the transport per peer (LOOM_TRANSPORT, host identity, UCX
  // availability) and opens the TCP and UCX connections. Collective.
  static Result<std::unique_ptr<ConnectionTable>> connect(Bootstrap& bootstrap, int channels);
  ~ConnectionTable() override;

  Result<SendConnection*> sendConnection(int peer, int channel) override;
  Result<RecvConnection*> recvConnection(int peer, int channel) override;
  uint32_t activitySnapshot() override { return ownBell_->snapshot(); }
  void waitForActivity(uint32_t seen, int micros) override { ownBell_->wait(seen, micros); }

  TransportKind transportTo(int peer) const { return transports_[peer]; }
  // Tells every peer this rank is aborting.
  void abortAll();

 private:
  ConnectionTable(Bootstrap& b) : bootstrap_(b) {}
  std::string shmName(int from, int to, int channel) const;
  Status checkPeer(int peer, int channel) const;

  std::string shmName(const char* what, int rank) const;
  // Creates this rank's bell and opens every shared-memory peer's; collective.
  Status setUpDoorbells();
  Doorbell* bellOf(int rank) const;
  // Chooses every peer's transport; starts UCX and exchanges worker addresses
  // when some peer may use it (collective, so every rank decides alike).
  Status chooseTransports();
  Status openUcxConnections();

  Bootstrap& bootstrap_;
  int channels_ = 1;
  std::vector<TransportKind> transports_;
  // Shared with the UCX connections, which keep it alive until the last goes.
  std::shared_ptr<UcxContext> ucx_;
  std::vector<std::vector<std::byte>> ucxAddresses_;  // by rank; empty: no UCX there
  // Declared before the connections, which ring them, so they outlive them.
  std::unique_ptr<Doorbell> ownBell_;
  std::vector<std::unique_ptr<Doorbell>> peerBells_;  // by rank; null across hosts
  std::map<std::pair<int, int>, std::unique_ptr<SendConnection>> sends_;
  std::map<std::pair<int, int>, std::unique_ptr<RecvConnection>> recvs_;
};

}  // namespace loom
