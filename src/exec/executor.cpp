#include "exec/executor.h"

#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "kernels/reduce.h"

namespace loom {

std::string CallSignature::toString() const {
  char buf[160];
  if (kind == CollectiveKind::kSendRecv) {
    std::snprintf(buf, sizeof(buf), "SendRecv");
  } else if (kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce) {
    std::snprintf(buf, sizeof(buf), "%s(count=%llu, %s, %s, root=%d)", collectiveName(kind),
                  static_cast<unsigned long long>(count), dataTypeName(type), redOpName(op), root);
  } else {
    std::snprintf(buf, sizeof(buf), "%s(count=%llu, %s, %s)", collectiveName(kind),
                  static_cast<unsigned long long>(count), dataTypeName(type), redOpName(op));
  }
  return buf;
}

void ConnectionProvider::waitForActivity(uint32_t, int micros) {
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
}

namespace {

struct MessageHeader {
  static constexpr uint32_t kMagic = 0x4c4d4d53;
  uint32_t magic = kMagic;
  uint8_t kind = 0, type = 0, op = 0, reserved = 0;
  int32_t root = 0;
  uint32_t reserved2 = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;  // payload bytes that follow
};
static_assert(sizeof(MessageHeader) == 32);

MessageHeader headerFor(const CallSignature& s, uint64_t bytes) {
  MessageHeader h;
  h.kind = static_cast<uint8_t>(s.kind);
  h.type = static_cast<uint8_t>(s.type);
  h.op = static_cast<uint8_t>(s.op);
  h.root = s.root;
  h.count = s.count;
  h.bytes = bytes;
  return h;
}

struct ByteRange {
  std::byte* begin;
  size_t bytes;
  bool overlaps(const ByteRange& o) const {
    return bytes > 0 && o.bytes > 0 && begin < o.begin + o.bytes && o.begin < begin + bytes;
  }
};

struct PendingSend {
  SendConnection* connection;
  int peer;
  MessageHeader header;
  ByteRange data;
  size_t sent = 0;  // bytes of header + payload written so far
};

struct ActiveRecv {
  RecvConnection* connection = nullptr;
  MessageHeader header;
  size_t headerBytes = 0;
  size_t received = 0;  // payload bytes
  std::byte carry[8];   // one element split across the end of a ring buffer
  size_t carryBytes = 0;
};

class Runner {
 public:
  Runner(const Execution& e, ConnectionProvider& c) : e_(e), connections_(c), elementSize_(dataTypeSize(e.type)) {
    for (size_t i = 0; i < e.schedule->channels.size(); ++i) {
      Lane lane;
      lane.channel = static_cast<int>(i);
      lanes_.push_back(std::move(lane));
    }
  }

  Status run(const std::atomic<bool>& abortRequested) {
    const double timeout = config().timeoutSeconds;
    auto lastProgress = std::chrono::steady_clock::now();
    int idle = 0;
    while (true) {
      const uint32_t activity = connections_.activitySnapshot();
      bool done = true, progressed = false;
      for (Lane& lane : lanes_) {
        LOOM_RETURN_IF_ERROR(advance(lane, progressed));
        done = done && lane.finished(*e_.schedule);
      }
      if (done) return Status::ok();
      if (progressed) {
        idle = 0;
        continue;
      }
      if (abortRequested.load(std::memory_order_relaxed)) return Status::aborted("communicator was aborted");
      ++idle;
      if (idle == 1) lastProgress = std::chrono::steady_clock::now();
      if (idle < 64) continue;
      if (idle < 512) {
        sched_yield();
        continue;
      }
      // Parked: ranks that are not running get the cores (more ranks than cores).
      sleepBriefly(activity);
      if (idle % 16 == 0) {
        LOOM_RETURN_IF_ERROR(checkPeers());
        double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - lastProgress).count();
        if (waited > timeout) {
          return Status::timeout("no progress for %.0f s (LOOM_TIMEOUT_S=%.0f): %s", waited, timeout,
                                 describeWaits().c_str());
        }
      }
    }
  }

 private:
  struct Lane {
    int channel = 0;
    size_t next = 0;
    std::vector<PendingSend> sends;
    bool receiving = false;
    ActiveRecv recv;
    bool finished(const Schedule& s) const {
      return next == s.channels[channel].steps.size() && sends.empty() && !receiving;
    }
  };

  std::byte* address(const Slice& s) const {
    return static_cast<std::byte*>(e_.buffers[static_cast<int>(s.buffer)]) + s.offset * elementSize_;
  }
  ByteRange range(const Slice& s) const { return {address(s), s.count * elementSize_}; }

  Status advance(Lane& lane, bool& progressed) {
    LOOM_RETURN_IF_ERROR(progressSends(lane, progressed));
    const auto& steps = e_.schedule->channels[lane.channel].steps;
    while (lane.next < steps.size()) {
      const Step& step = steps[lane.next];
      if (step.kind == StepKind::kSend) {
        LOOM_ASSIGN_OR_RETURN(SendConnection * c, connections_.sendConnection(step.peer, lane.channel));
        ByteRange data = range(step.src);
        lane.sends.push_back(PendingSend{c, step.peer, headerFor(e_.signature, data.bytes), data});
        ++lane.next;
        progressed = true;
        LOOM_RETURN_IF_ERROR(progressSends(lane, progressed));
        continue;
      }
      // Every other step writes dst: wait while an earlier send still reads it.
      ByteRange dst = range(step.dst);
      for (const PendingSend& s : lane.sends) {
        if (s.data.overlaps(dst)) return Status::ok();
      }
      if (step.kind == StepKind::kCopy) {
        if (address(step.src) != dst.begin) std::memmove(dst.begin, address(step.src), dst.bytes);
      } else if (step.kind == StepKind::kReduce) {
        reduceElements(e_.type, e_.combine, dst.begin, dst.begin, address(step.src), step.dst.count);
      } else {
        bool complete = false;
        LOOM_RETURN_IF_ERROR(progressRecv(lane, step, complete));
        if (!complete) return Status::ok();
      }
      ++lane.next;
      progressed = true;
    }
    return Status::ok();
  }

  Status progressSends(Lane& lane, bool& progressed) {
    // Messages to one peer go out in program order; different peers proceed
    // independently, so one slow receiver does not hold up the others.
    blocked_.clear();
    for (size_t i = 0; i < lane.sends.size();) {
      PendingSend& s = lane.sends[i];
      if (std::find(blocked_.begin(), blocked_.end(), s.connection) == blocked_.end()) {
        LOOM_RETURN_IF_ERROR(pushSend(s, progressed).withContext("sending to rank " + std::to_string(s.peer)));
        if (s.sent == sizeof(MessageHeader) + s.data.bytes) {
          lane.sends.erase(lane.sends.begin() + i);
          continue;
        }
      }
      blocked_.push_back(s.connection);  // later messages to this peer wait their turn
      ++i;
    }
    return Status::ok();
  }

  Status pushSend(PendingSend& s, bool& progressed) {
    while (s.sent < sizeof(MessageHeader)) {
      LOOM_ASSIGN_OR_RETURN(size_t n, s.connection->write(reinterpret_cast<const char*>(&s.header) + s.sent,
                                                          sizeof(MessageHeader) - s.sent));
      if (n == 0) return Status::ok();
      s.sent += n;
      progressed = true;
    }
    while (s.sent < sizeof(MessageHeader) + s.data.bytes) {
      size_t done = s.sent - sizeof(MessageHeader);
      LOOM_ASSIGN_OR_RETURN(size_t n, s.connection->write(s.data.begin + done, s.data.bytes - done));
      if (n == 0) return Status::ok();
      s.sent += n;
      progressed = true;
    }
    return Status::ok();
  }

  Status checkHeader(const MessageHeader& h, size_t expectedBytes, int peer) const {
    if (h.magic != MessageHeader::kMagic) {
      return Status::remoteError("corrupt message from rank %d (magic 0x%08x)", peer, h.magic);
    }
    MessageHeader mine = headerFor(e_.signature, expectedBytes);
    if (h.kind != mine.kind || h.type != mine.type || h.op != mine.op || h.root != mine.root || h.count != mine.count) {
      CallSignature theirs{static_cast<CollectiveKind>(h.kind), static_cast<DataType>(h.type),
                           static_cast<RedOpKind>(h.op), h.root, h.count};
      return Status::invalidUsage("mismatched calls across ranks: rank %d is running %s but this rank is running %s",
                                  peer, theirs.toString().c_str(), e_.signature.toString().c_str());
    }
    if (h.bytes != expectedBytes) {
      return Status::invalidUsage("mismatched sizes: rank %d sent %llu bytes but this rank expects %zu bytes", peer,
                                  static_cast<unsigned long long>(h.bytes), expectedBytes);
    }
    return Status::ok();
  }

  Status progressRecv(Lane& lane, const Step& step, bool& complete) {
    ActiveRecv& r = lane.recv;
    if (!lane.receiving) {
      r = ActiveRecv();
      LOOM_ASSIGN_OR_RETURN(r.connection, connections_.recvConnection(step.peer, lane.channel));
      lane.receiving = true;
    }
    ByteRange dst = range(step.dst);
    while (r.headerBytes < sizeof(MessageHeader) || r.received < dst.bytes) {
      auto peeked = r.connection->peek();
      if (!peeked.isOk()) return peeked.status().withContext("receiving from rank " + std::to_string(step.peer));
      std::span<const std::byte> in = peeked.value();
      if (in.empty()) return Status::ok();
      if (r.headerBytes < sizeof(MessageHeader)) {
        size_t n = std::min(in.size(), sizeof(MessageHeader) - r.headerBytes);
        std::memcpy(reinterpret_cast<char*>(&r.header) + r.headerBytes, in.data(), n);
        r.connection->consume(n);
        r.headerBytes += n;
        if (r.headerBytes == sizeof(MessageHeader)) LOOM_RETURN_IF_ERROR(checkHeader(r.header, dst.bytes, step.peer));
        continue;
      }
      size_t remaining = dst.bytes - r.received;
      if (step.kind == StepKind::kRecv) {
        size_t n = std::min(in.size(), remaining);
        std::memcpy(dst.begin + r.received, in.data(), n);
        r.connection->consume(n);
        r.received += n;
        continue;
      }
      const std::byte* local = address(step.src) + r.received;
      if (r.carryBytes > 0 || in.size() < elementSize_) {
        size_t n = std::min(in.size(), elementSize_ - r.carryBytes);
        std::memcpy(r.carry + r.carryBytes, in.data(), n);
        r.connection->consume(n);
        r.carryBytes += n;
        if (r.carryBytes == elementSize_) {
          reduceElements(e_.type, e_.combine, dst.begin + r.received, local, r.carry, 1);
          r.received += elementSize_;
          r.carryBytes = 0;
        }
        continue;
      }
      size_t n = std::min(in.size(), remaining) / elementSize_ * elementSize_;
      reduceElements(e_.type, e_.combine, dst.begin + r.received, local, in.data(), n / elementSize_);
      r.connection->consume(n);
      r.received += n;
    }
    lane.receiving = false;
    complete = true;
    return Status::ok();
  }

  void sleepBriefly(uint32_t activity) {
    // Sleep on the sockets we wait for when there are any (wakes as data
    // arrives); otherwise until a shared-memory peer rings this rank's bell.
    std::vector<pollfd> fds;
    for (const Lane& lane : lanes_) {
      if (lane.receiving && lane.recv.connection->pollFd() >= 0) {
        fds.push_back({lane.recv.connection->pollFd(), POLLIN, 0});
      }
      for (const PendingSend& s : lane.sends) {
        if (s.connection->pollFd() >= 0) fds.push_back({s.connection->pollFd(), POLLOUT, 0});
      }
    }
    if (!fds.empty()) {
      ::poll(fds.data(), fds.size(), 1);
      return;
    }
    connections_.waitForActivity(activity, 2000);
  }

  Status checkPeers() {
    for (Lane& lane : lanes_) {
      if (lane.receiving) {
        LOOM_RETURN_IF_ERROR(lane.recv.connection->peerStatus());
      } else if (lane.next < e_.schedule->channels[lane.channel].steps.size()) {
        const Step& step = e_.schedule->channels[lane.channel].steps[lane.next];
        if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce) {
          LOOM_ASSIGN_OR_RETURN(RecvConnection * c, connections_.recvConnection(step.peer, lane.channel));
          LOOM_RETURN_IF_ERROR(c->peerStatus());
        }
      }
      for (PendingSend& s : lane.sends) LOOM_RETURN_IF_ERROR(s.connection->peerStatus());
    }
    return Status::ok();
  }

  std::string describeWaits() const {
    std::string out;
    for (const Lane& lane : lanes_) {
      const auto& steps = e_.schedule->channels[lane.channel].steps;
      char buf[200];
      if (lane.next < steps.size() &&
          (steps[lane.next].kind == StepKind::kRecv || steps[lane.next].kind == StepKind::kRecvReduce)) {
        std::snprintf(buf, sizeof(buf), "channel %d step %zu/%zu waits to receive from rank %d; ", lane.channel,
                      lane.next, steps.size(), steps[lane.next].peer);
      } else if (!lane.sends.empty()) {
        std::snprintf(buf, sizeof(buf), "channel %d waits for rank %d to take %zu bytes; ", lane.channel,
                      lane.sends.front().peer, lane.sends.front().data.bytes);
      } else {
        buf[0] = '\0';
      }
      out += buf;
    }
    return out + "a peer may be stalled, dead, or running a different call";
  }

  const Execution& e_;
  ConnectionProvider& connections_;
  size_t elementSize_;
  std::vector<Lane> lanes_;
  std::vector<SendConnection*> blocked_;  // reused by progressSends to avoid allocating
};

}  // namespace

Status executeSchedule(const Execution& execution, ConnectionProvider& connections,
                       const std::atomic<bool>& abortRequested) {
  Runner runner(execution, connections);
  return runner.run(abortRequested);
}

}  // namespace loom
