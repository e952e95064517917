#include "transports/tcp/tcp_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace loom {
namespace {

constexpr size_t kStagingBytes = size_t{1} << 20;

struct SharedSocket {
  Socket socket;
  int peerRank;
  bool closed = false;  // the peer closed or reset: every later call errors
};

Status peerGone(int peerRank, const char* why) {
  return Status::remoteError("connection to rank %d lost: %s (process exited or aborted?)", peerRank, why);
}

class TcpSend final : public SendConnection {
 public:
  explicit TcpSend(std::shared_ptr<SharedSocket> s) : s_(std::move(s)) {}
  Result<size_t> write(const void* data, size_t bytes) override {
    if (s_->closed) return peerGone(s_->peerRank, "closed");
    ssize_t n = ::send(s_->socket.fd(), data, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return size_t{0};
    s_->closed = true;
    return peerGone(s_->peerRank, strerror(errno));
  }
  void abort() override { ::shutdown(s_->socket.fd(), SHUT_RDWR); }
  Status peerStatus() override { return s_->closed ? peerGone(s_->peerRank, "closed") : Status::ok(); }
  int pollFd() const override { return s_->socket.fd(); }

 private:
  std::shared_ptr<SharedSocket> s_;
};

class TcpRecv final : public RecvConnection {
 public:
  explicit TcpRecv(std::shared_ptr<SharedSocket> s) : s_(std::move(s)), staging_(kStagingBytes) {}
  Result<std::span<const std::byte>> peek() override {
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (s_->closed) return peerGone(s_->peerRank, "closed");
      ssize_t n = ::recv(s_->socket.fd(), staging_.data(), staging_.size(), MSG_DONTWAIT);
      if (n > 0) {
        end_ = n;
      } else if (n == 0) {
        s_->closed = true;
        return peerGone(s_->peerRank, "closed by peer");
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        s_->closed = true;
        return peerGone(s_->peerRank, strerror(errno));
      }
    }
    return std::span<const std::byte>(staging_.data() + begin_, end_ - begin_);
  }
  void consume(size_t bytes) override { begin_ += bytes; }
  void abort() override { ::shutdown(s_->socket.fd(), SHUT_RDWR); }
  Status peerStatus() override { return s_->closed ? peerGone(s_->peerRank, "closed") : Status::ok(); }
  int pollFd() const override { return s_->socket.fd(); }

 private:
  std::shared_ptr<SharedSocket> s_;
  std::vector<std::byte> staging_;
  size_t begin_ = 0, end_ = 0;
};

}  // namespace

Result<std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>>> makeTcpConnections(
    Socket socket, int peerRank) {
  auto shared = std::make_shared<SharedSocket>();
  shared->socket = std::move(socket);
  shared->peerRank = peerRank;
  return std::make_pair(std::unique_ptr<SendConnection>(new TcpSend(shared)),
                        std::unique_ptr<RecvConnection>(new TcpRecv(shared)));
}

}  // namespace loom
