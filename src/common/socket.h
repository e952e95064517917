// Small TCP helpers shared by the bootstrap and the TCP transport. Every call
// that waits takes a deadline, so no socket operation can block forever.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "loom/status.h"

namespace loom {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
// now + LOOM_TIMEOUT_S
Deadline deadlineFromConfig();
Deadline deadlineAfter(double seconds);
double secondsLeft(Deadline deadline);

// An IPv4 or IPv6 address and port, stored flat so it can travel in messages.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  std::string toString() const;  // "10.0.0.1:41234"
  int port() const;
  void setPort(int port);
};

// Parses "host" or "host:port" (numeric or resolvable name).
Result<SocketAddress> resolveAddress(const std::string& host, int port);
// The address this rank advertises, chosen by LOOM_SOCKET_IFNAME (see config.h).
Result<SocketAddress> chooseLocalAddress();

// Owns a socket file descriptor.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close();

  // Listens on `address` (port 0 picks a free one); the bound address is
  // written back into `address`.
  static Result<Socket> listen(SocketAddress& address);
  // Connects, retrying refused connections until the deadline (the listener may
  // not be up yet).
  static Result<Socket> connect(const SocketAddress& address, Deadline deadline);
  Result<Socket> accept(Deadline deadline) const;

  Status sendAll(const void* data, size_t bytes, Deadline deadline) const;
  Status recvAll(void* data, size_t bytes, Deadline deadline) const;
  Status setNonBlocking() const;

 private:
  int fd_ = -1;
};

}  // namespace loom
