// The connections of one communicator, by (peer, channel) and direction.
//
// Shared-memory connections open lazily on first use (each side opens the
// same named segment), so a ring touches only its neighbours' segments. TCP
// connections, for peers on other hosts, are opened at init because both
// sides must take part.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "exec/executor.h"

namespace loom {

enum class TransportKind { kShm, kTcp };

class ConnectionTable final : public ConnectionProvider {
 public:
  // Decides the transport per peer (LOOM_TRANSPORT, host identity) and opens
  // the TCP connections.
  static Result<std::unique_ptr<ConnectionTable>> connect(Bootstrap& bootstrap, int channels);
  ~ConnectionTable() override;

  Result<SendConnection*> sendConnection(int peer, int channel) override;
  Result<RecvConnection*> recvConnection(int peer, int channel) override;

  TransportKind transportTo(int peer) const { return transports_[peer]; }
  // Tells every peer this rank is aborting.
  void abortAll();

 private:
  ConnectionTable(Bootstrap& b) : bootstrap_(b) {}
  std::string shmName(int from, int to, int channel) const;
  Status checkPeer(int peer, int channel) const;

  Bootstrap& bootstrap_;
  int channels_ = 1;
  std::vector<TransportKind> transports_;
  std::map<std::pair<int, int>, std::unique_ptr<SendConnection>> sends_;
  std::map<std::pair<int, int>, std::unique_ptr<RecvConnection>> recvs_;
};

}  // namespace loom
