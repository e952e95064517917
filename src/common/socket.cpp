#include "common/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/config.h"
#include "common/logging.h"
#include "common/string_list.h"

namespace loom {

Deadline deadlineAfter(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
Deadline deadlineFromConfig() { return deadlineAfter(config().timeoutSeconds); }
double secondsLeft(Deadline deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

namespace {

int pollMillis(Deadline deadline) {
  double left = secondsLeft(deadline);
  if (left <= 0) return 0;
  return left > 1.0 ? 1000 : static_cast<int>(left * 1000) + 1;
}

// Waits until fd is ready for `events` or the deadline passes.
Status waitFor(int fd, short events, Deadline deadline, const char* what) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, pollMillis(deadline));
    if (rc > 0) return Status::ok();
    if (rc < 0 && errno != EINTR) return Status::systemError("poll while %s: %s", what, strerror(errno));
    if (secondsLeft(deadline) <= 0) {
      return Status::timeout("timed out after LOOM_TIMEOUT_S=%.0f s while %s", config().timeoutSeconds, what);
    }
  }
}

bool interfaceMatches(const std::string& filter, const char* name) {
  if (filter.empty()) return true;
  bool exclude = filter[0] == '^';
  std::string list = exclude ? filter.substr(1) : filter;
  bool exact = !list.empty() && list[0] == '=';
  if (exact) list = list.substr(1);
  bool listed = false;
  for (const std::string& item : splitCommaList(list)) {
    if (exact ? item == name : std::strncmp(name, item.c_str(), item.size()) == 0) listed = true;
  }
  return exclude ? !listed : listed;
}

}  // namespace

std::string SocketAddress::toString() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "<no address>";
}

int SocketAddress::port() const {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SocketAddress::setPort(int port) {
  if (storage.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (storage.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

Result<SocketAddress> resolveAddress(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Status::invalidArgument("cannot resolve host '%s': %s", host.c_str(), gai_strerror(rc));
  }
  SocketAddress a;
  std::memcpy(&a.storage, res->ai_addr, res->ai_addrlen);
  a.length = res->ai_addrlen;
  freeaddrinfo(res);
  a.setPort(port);
  return a;
}

Result<SocketAddress> chooseLocalAddress() {
  const std::string& filter = config().socketIfname;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Status::systemError("getifaddrs: %s", strerror(errno));
  SocketAddress best, loopback;
  bool haveBest = false, haveLoopback = false;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP)) continue;
    int family = i->ifa_addr->sa_family;
    if (family != AF_INET) continue;  // IPv6 works through resolveAddress; IPv4 keeps discovery simple
    if (!interfaceMatches(filter, i->ifa_name)) continue;
    SocketAddress a;
    a.length = sizeof(sockaddr_in);
    std::memcpy(&a.storage, i->ifa_addr, a.length);
    if (i->ifa_flags & IFF_LOOPBACK) {
      if (!haveLoopback) loopback = a, haveLoopback = true;
    } else if (!haveBest) {
      best = a, haveBest = true;
      LOOM_INFO(kNet, "advertising interface %s (%s)", i->ifa_name, a.toString().c_str());
    }
  }
  freeifaddrs(list);
  if (haveBest) return best;
  if (haveLoopback) return loopback;
  return Status::unavailable("no network interface matches LOOM_SOCKET_IFNAME='%s'", filter.c_str());
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Socket> Socket::listen(SocketAddress& address) {
  Socket s(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return Status::systemError("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&address.storage), address.length) != 0) {
    return Status::systemError("cannot listen on %s: %s", address.toString().c_str(), strerror(errno));
  }
  if (::listen(s.fd(), 1024) != 0) return Status::systemError("listen: %s", strerror(errno));
  socklen_t len = sizeof(address.storage);
  getsockname(s.fd(), reinterpret_cast<sockaddr*>(&address.storage), &len);
  address.length = len;
  return s;
}

Result<Socket> Socket::connect(const SocketAddress& address, Deadline deadline) {
  int delayMs = 1;
  while (true) {
    Socket s(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s.valid()) return Status::systemError("socket: %s", strerror(errno));
    int rc = ::connect(s.fd(), reinterpret_cast<const sockaddr*>(&address.storage), address.length);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      LOOM_RETURN_IF_ERROR(waitFor(s.fd(), POLLOUT, deadline, ("connecting to " + address.toString()).c_str()));
      socklen_t len = sizeof(err);
      getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      int flags = fcntl(s.fd(), F_GETFL);
      fcntl(s.fd(), F_SETFL, flags & ~O_NONBLOCK);
      int one = 1;
      setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return s;
    }
    if (err != ECONNREFUSED && err != ETIMEDOUT && err != EHOSTUNREACH && err != ENETUNREACH) {
      return Status::systemError("connect to %s: %s", address.toString().c_str(), strerror(err));
    }
    if (secondsLeft(deadline) <= 0) {
      return Status::timeout("could not connect to %s within LOOM_TIMEOUT_S=%.0f s (%s); is that rank running?",
                             address.toString().c_str(), config().timeoutSeconds, strerror(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
    delayMs = std::min(delayMs * 2, 100);
  }
}

Result<Socket> Socket::accept(Deadline deadline) const {
  LOOM_RETURN_IF_ERROR(waitFor(fd_, POLLIN, deadline, "waiting for a connection"));
  Socket s(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
  if (!s.valid()) return Status::systemError("accept: %s", strerror(errno));
  int one = 1;
  setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return s;
}

Status Socket::sendAll(const void* data, size_t bytes, Deadline deadline) const {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return Status::remoteError("send failed: %s (the peer closed the connection?)", strerror(errno));
    }
    LOOM_RETURN_IF_ERROR(waitFor(fd_, POLLOUT, deadline, "sending"));
  }
  return Status::ok();
}

Status Socket::recvAll(void* data, size_t bytes, Deadline deadline) const {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = ::recv(fd_, p, bytes, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= n;
      continue;
    }
    if (n == 0) return Status::remoteError("connection closed by peer (its process exited or aborted)");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return Status::remoteError("recv failed: %s", strerror(errno));
    }
    LOOM_RETURN_IF_ERROR(waitFor(fd_, POLLIN, deadline, "receiving"));
  }
  return Status::ok();
}

Status Socket::setNonBlocking() const {
  int flags = fcntl(fd_, F_GETFL);
  if (flags < 0 || fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Status::systemError("fcntl O_NONBLOCK: %s", strerror(errno));
  }
  return Status::ok();
}

}  // namespace loom
