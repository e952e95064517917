#include "bootstrap/bootstrap_root.h"

#include <unistd.h>

#include <map>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/logging.h"

namespace loom {
namespace {

struct Arrival {
  Socket socket;
  HelloMessage hello;
};

void sendError(const Socket& s, StatusCode code, const std::string& text) {
  RootReply reply;
  reply.statusCode = static_cast<int32_t>(code);
  std::snprintf(reply.message, sizeof(reply.message), "%s", text.c_str());
  (void)s.sendAll(&reply, sizeof(reply), deadlineAfter(5));
}

// Reads one hello; a connection that sends garbage or the wrong token is
// dropped without affecting the job.
Result<HelloMessage> readHello(const Socket& s) {
  HelloMessage hello;
  LOOM_RETURN_IF_ERROR(s.recvAll(&hello, sizeof(hello), deadlineAfter(5)));
  if (hello.magic != HelloMessage::kMagic) return Status::invalidArgument("bad magic 0x%08x", hello.magic);
  hello.hostId[kHostIdBytes - 1] = '\0';
  if (!hello.address.toAddress().isOk()) return Status::invalidArgument("malformed address");
  return hello;
}

// Ranks in this process last: once such a rank has its answer it may exit,
// taking this thread with it before the others have theirs.
template <typename Fn>
void forEachRemoteFirst(std::map<int, Arrival>& arrived, Fn fn) {
  for (bool local : {false, true}) {
    for (auto& [rank, a] : arrived) {
      if ((a.hello.pid == getpid()) == local) fn(rank, a);
    }
  }
}

void serve(Socket listener, Token token) {
  Deadline deadline = deadlineFromConfig();
  std::map<int, Arrival> arrived;
  int nranks = -1;
  while (nranks < 0 || static_cast<int>(arrived.size()) < nranks) {
    auto accepted = listener.accept(deadline);
    if (!accepted.isOk()) break;  // timed out
    Socket s = std::move(accepted.value());
    auto hello = readHello(s);
    if (!hello.isOk()) {
      LOOM_WARN(kBootstrap, "bootstrap root dropped a connection: %s", hello.status().message().c_str());
      continue;
    }
    const HelloMessage& h = hello.value();
    if (!(h.token == token)) {
      LOOM_WARN(kBootstrap, "bootstrap root refused rank %d: wrong secret token", h.rank);
      sendError(s, StatusCode::kInvalidUsage, "refused by the bootstrap root: wrong secret token for this job");
      continue;
    }
    if (h.nranks < 1 || h.rank < 0 || h.rank >= h.nranks) {
      sendError(s, StatusCode::kInvalidArgument,
                "rank " + std::to_string(h.rank) + " of nranks " + std::to_string(h.nranks) + " is out of range");
      continue;
    }
    if (nranks < 0) nranks = h.nranks;
    if (h.nranks != nranks) {
      sendError(s, StatusCode::kInvalidUsage,
                "rank " + std::to_string(h.rank) + " says nranks=" + std::to_string(h.nranks) +
                    " but earlier ranks said nranks=" + std::to_string(nranks));
      continue;
    }
    if (arrived.count(h.rank)) {
      sendError(s, StatusCode::kInvalidUsage, "rank " + std::to_string(h.rank) + " joined twice");
      continue;
    }
    arrived[h.rank] = Arrival{std::move(s), h};
  }

  if (nranks < 0 || static_cast<int>(arrived.size()) < nranks) {
    std::string missing;
    for (int r = 0; r < nranks; ++r) {
      if (!arrived.count(r)) missing += (missing.empty() ? "" : ",") + std::to_string(r);
    }
    char text[512];
    std::snprintf(text, sizeof(text),
                  "only %zu of %d ranks joined within LOOM_TIMEOUT_S=%.0f s; missing rank(s): %s",
                  arrived.size(), nranks, config().timeoutSeconds, missing.c_str());
    LOOM_WARN(kBootstrap, "bootstrap root: %s", text);
    forEachRemoteFirst(arrived, [&](int, Arrival& a) { sendError(a.socket, StatusCode::kTimeout, text); });
    return;
  }

  std::vector<PeerRecord> table(nranks);
  for (auto& [rank, a] : arrived) {
    table[rank].pid = a.hello.pid;
    table[rank].address = a.hello.address;
    std::memcpy(table[rank].hostId, a.hello.hostId, kHostIdBytes);
  }
  RootReply ok;
  forEachRemoteFirst(arrived, [&](int rank, Arrival& a) {
    Deadline d = deadlineAfter(10);
    if (!a.socket.sendAll(&ok, sizeof(ok), d).isOk() ||
        !a.socket.sendAll(table.data(), table.size() * sizeof(PeerRecord), d).isOk()) {
      LOOM_WARN(kBootstrap, "bootstrap root could not reach rank %d after it joined", rank);
    }
  });
  LOOM_INFO(kBootstrap, "bootstrap root: all %d ranks joined", nranks);
}

}  // namespace

Status startBootstrapRoot(SocketAddress& address, const Token& token) {
  LOOM_ASSIGN_OR_RETURN(Socket listener, Socket::listen(address));
  std::thread(serve, std::move(listener), token).detach();
  LOOM_INFO(kBootstrap, "bootstrap root listening on %s", address.toString().c_str());
  return Status::ok();
}

}  // namespace loom
