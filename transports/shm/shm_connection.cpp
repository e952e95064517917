#include "transports/shm/shm_connection.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/logging.h"

namespace loom {
namespace {

struct RingHeader {
  alignas(64) std::atomic<uint64_t> head;  // total bytes written by the sender
  alignas(64) std::atomic<uint64_t> tail;  // total bytes consumed by the receiver
  alignas(64) std::atomic<uint32_t> senderAborted;
  std::atomic<uint32_t> receiverAborted;
  std::atomic<uint32_t> attached;
};
constexpr size_t kDataOffset = 256;
static_assert(sizeof(RingHeader) <= kDataOffset);

class Segment {
 public:
  ~Segment() {
    if (base_ != nullptr) munmap(base_, bytes_);
  }
  static Result<std::unique_ptr<Segment>> open(const ShmEndpoint& e) {
    auto seg = std::make_unique<Segment>();
    seg->bytes_ = kDataOffset + e.capacity;
    int fd = shm_open(e.name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::systemError("shm_open(%s): %s", e.name.c_str(), strerror(errno));
    // posix_fallocate, not just ftruncate: a full /dev/shm must fail here with
    // a message, not later with SIGBUS in the middle of a collective.
    int rc = ftruncate(fd, seg->bytes_) == 0 ? posix_fallocate(fd, 0, seg->bytes_) : errno;
    if (rc != 0) {
      close(fd);
      shm_unlink(e.name.c_str());
      return Status::systemError(
          "cannot reserve %zu bytes in /dev/shm for %s: %s. Shared memory needs about %zu bytes per peer "
          "and channel; enlarge /dev/shm (docker run --shm-size=1g) or lower LOOM_SHM_BUFFER_BYTES",
          seg->bytes_, e.name.c_str(), strerror(rc), seg->bytes_);
    }
    void* p = mmap(nullptr, seg->bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return Status::systemError("mmap(%s): %s", e.name.c_str(), strerror(errno));
    seg->base_ = static_cast<char*>(p);
    if (seg->header()->attached.fetch_add(1) == 1) shm_unlink(e.name.c_str());
    return seg;
  }
  RingHeader* header() { return reinterpret_cast<RingHeader*>(base_); }
  bool peerAttached() { return header()->attached.load() >= 2; }
  char* data() { return base_ + kDataOffset; }

 private:
  char* base_ = nullptr;
  size_t bytes_ = 0;
};

void unlinkShmSegment(const std::string& name) { shm_unlink(name.c_str()); }

Status peerStatusOf(const ShmEndpoint& e, bool peerAborted) {
  if (peerAborted) return Status::remoteError("rank %d aborted", e.peerRank);
  if (e.peerPid > 0 && !processAlive(e.peerPid)) {
    return Status::remoteError("rank %d (pid %d) died", e.peerRank, e.peerPid);
  }
  return Status::ok();
}

class ShmSend final : public SendConnection {
 public:
  ShmSend(ShmEndpoint e, std::unique_ptr<Segment> s) : e_(std::move(e)), seg_(std::move(s)) {}
  ~ShmSend() override {
    // Data the receiver has not even attached for must outlive this process:
    // the receiver unlinks the segment when it attaches. Without pending data
    // nobody will come for it, so remove the name now.
    RingHeader* h = seg_->header();
    if (!seg_->peerAttached() && h->head.load() == h->tail.load()) unlinkShmSegment(e_.name);
  }
  Result<size_t> write(const void* data, size_t bytes) override {
    RingHeader* h = seg_->header();
    if (h->receiverAborted.load(std::memory_order_relaxed)) return Status::remoteError("rank %d aborted", e_.peerRank);
    uint64_t head = h->head.load(std::memory_order_relaxed);
    uint64_t tail = h->tail.load(std::memory_order_acquire);
    size_t n = std::min<size_t>(bytes, e_.capacity - (head - tail));
    if (n == 0) return size_t{0};
    size_t at = head % e_.capacity;
    size_t first = std::min(n, e_.capacity - at);
    std::memcpy(seg_->data() + at, data, first);
    std::memcpy(seg_->data(), static_cast<const char*>(data) + first, n - first);
    h->head.store(head + n, std::memory_order_release);
    if (e_.peerBell != nullptr) e_.peerBell->ring();
    return n;
  }
  void abort() override {
    seg_->header()->senderAborted.store(1);
    if (e_.peerBell != nullptr) e_.peerBell->ring();
  }
  Status peerStatus() override { return peerStatusOf(e_, seg_->header()->receiverAborted.load() != 0); }

 private:
  ShmEndpoint e_;
  std::unique_ptr<Segment> seg_;
};

class ShmRecv final : public RecvConnection {
 public:
  ShmRecv(ShmEndpoint e, std::unique_ptr<Segment> s) : e_(std::move(e)), seg_(std::move(s)) {}
  ~ShmRecv() override {
    if (!seg_->peerAttached()) unlinkShmSegment(e_.name);
  }
  Result<std::span<const std::byte>> peek() override {
    RingHeader* h = seg_->header();
    uint64_t tail = h->tail.load(std::memory_order_relaxed);
    uint64_t head = h->head.load(std::memory_order_acquire);
    if (head == tail && h->senderAborted.load(std::memory_order_relaxed)) {
      return Status::remoteError("rank %d aborted", e_.peerRank);
    }
    size_t at = tail % e_.capacity;
    size_t n = std::min<size_t>(head - tail, e_.capacity - at);
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(seg_->data() + at), n);
  }
  void consume(size_t bytes) override {
    RingHeader* h = seg_->header();
    h->tail.store(h->tail.load(std::memory_order_relaxed) + bytes, std::memory_order_release);
    if (e_.peerBell != nullptr) e_.peerBell->ring();  // the sender may be waiting for room
  }
  void abort() override {
    seg_->header()->receiverAborted.store(1);
    if (e_.peerBell != nullptr) e_.peerBell->ring();
  }
  Status peerStatus() override {
    Status s = peerStatusOf(e_, seg_->header()->senderAborted.load() != 0);
    // A sender may write its last message and exit before we look: unread
    // data (read after the liveness check) is still good.
    RingHeader* h = seg_->header();
    if (!s.isOk() && h->head.load() != h->tail.load()) return Status::ok();
    return s;
  }

 private:
  ShmEndpoint e_;
  std::unique_ptr<Segment> seg_;
};

}  // namespace

Result<std::unique_ptr<SendConnection>> openShmSend(const ShmEndpoint& endpoint) {
  LOOM_ASSIGN_OR_RETURN(auto seg, Segment::open(endpoint));
  return std::unique_ptr<SendConnection>(new ShmSend(endpoint, std::move(seg)));
}

Result<std::unique_ptr<RecvConnection>> openShmRecv(const ShmEndpoint& endpoint) {
  LOOM_ASSIGN_OR_RETURN(auto seg, Segment::open(endpoint));
  return std::unique_ptr<RecvConnection>(new ShmRecv(endpoint, std::move(seg)));
}

bool processAlive(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return true;  // no /proc: trust kill()
  char state = '?';
  // The state follows the parenthesised command name, which may hold spaces.
  char line[512] = "";
  size_t n = std::fread(line, 1, sizeof(line) - 1, f);
  std::fclose(f);
  line[n] = '\0';
  const char* close = std::strrchr(line, ')');
  if (close != nullptr && close[1] == ' ') state = close[2];
  return state != 'Z' && state != 'X';
}

}  // namespace loom
