#include "exec/one_shot_slots.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/config.h"
#include "transports/shm/shm_connection.h"

namespace loom {

// One cache line each, so a rank's stores never share a line with another's.
struct alignas(64) OneShotSlots::RankState {
  std::atomic<uint64_t> latest;  // the last call this rank announced or published
};

// The data follows the header directly, so a small input shares the header's
// cache line: a waiter that sees the sequence already holds the data.
struct OneShotSlots::SlotHeader {
  std::atomic<uint64_t> sequence;  // the call whose data the slot holds
  CallSignature signature;
};

namespace {

// Segment layout: a line with the abort flag, then per rank its RankState and
// two slots (a SlotHeader and its data), each starting on a cache line.
struct alignas(64) AreaHeader {
  std::atomic<int32_t> abortedBy;  // rank + 1 of the first rank that aborted; 0: none
};

constexpr size_t kLine = 64;
constexpr auto kYieldBeforeSleeping = std::chrono::microseconds(200);

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

Result<std::unique_ptr<OneShotSlots>> OneShotSlots::create(Bootstrap& bootstrap, size_t slotBytes) {
  std::unique_ptr<OneShotSlots> slots(new OneShotSlots());
  slots->rank_ = bootstrap.rank();
  slots->nranks_ = bootstrap.nranks();
  slots->slotBytes_ = roundUp(slotBytes, kLine);
  slots->slotStride_ = roundUp(sizeof(SlotHeader) + slots->slotBytes_, kLine);
  slots->rankStride_ = sizeof(RankState) + 2 * slots->slotStride_;
  slots->mappedBytes_ = sizeof(AreaHeader) + slots->nranks_ * slots->rankStride_;
  for (const PeerInfo& peer : bootstrap.peers()) slots->pids_.push_back(peer.pid);
  // With more ranks than cores, the rank waited for is usually not running:
  // spinning only delays giving it the core.
  slots->spinLimit_ = slots->nranks_ > static_cast<int>(std::thread::hardware_concurrency()) ? 4 : 128;

  char name[96];
  std::snprintf(name, sizeof(name), "/loom-%016llx-oneshot", static_cast<unsigned long long>(bootstrap.jobId()));
  const std::string bellName = std::string(name) + "-bell";
  Status made = Status::ok();
  if (slots->rank_ == 0) {
    // The segment starts zeroed: no rank has published, nobody aborted.
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      made = Status::systemError("shm_open(%s): %s", name, strerror(errno));
    } else {
      int rc = ftruncate(fd, slots->mappedBytes_) == 0 ? posix_fallocate(fd, 0, slots->mappedBytes_) : errno;
      close(fd);
      if (rc != 0) {
        shm_unlink(name);
        made = Status::systemError(
            "cannot reserve %zu bytes in /dev/shm for the one-shot slots (%s): %s; enlarge /dev/shm "
            "(docker run --shm-size=1g) or lower LOOM_ONESHOT_BYTES",
            slots->mappedBytes_, name, strerror(rc));
      }
    }
    if (made.isOk()) {
      auto bell = Doorbell::create(bellName);
      if (bell.isOk()) slots->bell_ = std::move(bell.value()); else made = bell.status();
    }
  }
  // Every rank takes part in both barriers, even after an error, so no rank
  // waits for one that gave up; the error then reaches all through the second.
  Status s = bootstrap.barrier();
  if (s.isOk() && made.isOk()) {
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      made = Status::systemError("shm_open(%s): %s", name, strerror(errno));
    } else {
      void* p = mmap(nullptr, slots->mappedBytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
      if (p == MAP_FAILED) made = Status::systemError("mmap(%s): %s", name, strerror(errno));
      else slots->base_ = static_cast<std::byte*>(p);
    }
    if (made.isOk() && slots->bell_ == nullptr) {
      auto bell = Doorbell::open(bellName);
      if (bell.isOk()) slots->bell_ = std::move(bell.value()); else made = bell.status();
    }
  }
  int failed = made.isOk() ? 0 : 1;
  std::vector<int> failures(slots->nranks_);
  failures[slots->rank_] = failed;
  if (s.isOk()) s = bootstrap.allGather(failures.data(), sizeof(int));
  if (slots->rank_ == 0) {
    shm_unlink(name);
    if (slots->bell_ != nullptr) slots->bell_->unlink();
  }
  LOOM_RETURN_IF_ERROR(s);
  LOOM_RETURN_IF_ERROR(made);
  for (int r = 0; r < slots->nranks_; ++r) {
    if (failures[r] != 0) return Status::remoteError("rank %d could not map the one-shot slots", r);
  }
  return slots;
}

OneShotSlots::~OneShotSlots() {
  if (base_ != nullptr) munmap(base_, mappedBytes_);
}

OneShotSlots::RankState* OneShotSlots::rankState(int rank) const {
  return reinterpret_cast<RankState*>(base_ + sizeof(AreaHeader) + rank * rankStride_);
}

OneShotSlots::SlotHeader* OneShotSlots::slotHeader(int rank, uint64_t sequence) const {
  return reinterpret_cast<SlotHeader*>(reinterpret_cast<std::byte*>(rankState(rank) + 1) + (sequence & 1) * slotStride_);
}

const void* OneShotSlots::slotOf(int rank, uint64_t sequence) const { return slotHeader(rank, sequence) + 1; }

uint64_t OneShotSlots::progressOf(int rank) const {
  // A rank's last call is the later of its last announce and last publish,
  // so a run of one-shots touches only the slots' lines.
  uint64_t a = slotHeader(rank, 0)->sequence.load(), b = slotHeader(rank, 1)->sequence.load();
  return std::max(std::max(a, b), rankState(rank)->latest.load());
}

void OneShotSlots::announce(uint64_t sequence) {
  rankState(rank_)->latest.store(sequence);  // sequentially consistent: see Doorbell::ringIfWaiting
  bell_->ringIfWaiting();
}

Result<void*> OneShotSlots::ownSlot(uint64_t sequence, const std::atomic<bool>& abortRequested) {
  // The slot last held call sequence-2; every peer is done with it once it
  // has published sequence-1.
  if (sequence > 1) LOOM_RETURN_IF_ERROR(waitForSequence(sequence - 1, abortRequested, "reuse a one-shot slot"));
  return const_cast<void*>(slotOf(rank_, sequence));
}

void OneShotSlots::publish(uint64_t sequence, const CallSignature& signature) {
  SlotHeader* header = slotHeader(rank_, sequence);
  header->signature = signature;
  header->sequence.store(sequence);  // sequentially consistent: see Doorbell::ringIfWaiting
  bell_->ringIfWaiting();
}

Status OneShotSlots::waitForAll(uint64_t sequence, const CallSignature& signature,
                                const std::atomic<bool>& abortRequested) {
  LOOM_RETURN_IF_ERROR(waitForSequence(sequence, abortRequested, "receive one-shot inputs"));
  for (int r = 0; r < nranks_; ++r) {
    const SlotHeader* header = slotHeader(r, sequence);
    if (header->sequence.load(std::memory_order_acquire) != sequence) {
      return Status::invalidUsage(
          "mismatched calls across ranks: rank %d ran call %llu differently (not as a one-shot %s); "
          "every rank must issue the same collectives with the same counts, types and ops",
          r, static_cast<unsigned long long>(sequence), signature.toString().c_str());
    }
    const CallSignature& theirs = header->signature;
    if (theirs.kind != signature.kind || theirs.type != signature.type || theirs.op != signature.op ||
        theirs.count != signature.count) {
      return Status::invalidUsage("mismatched calls across ranks: rank %d is running %s but this rank is running %s",
                                  r, theirs.toString().c_str(), signature.toString().c_str());
    }
  }
  return Status::ok();
}

Status OneShotSlots::waitForSequence(uint64_t sequence, const std::atomic<bool>& abortRequested,
                                     const char* purpose) {
  auto* area = reinterpret_cast<AreaHeader*>(base_);
  int next = 0;  // peers before `next` have reached `sequence`
  std::chrono::steady_clock::time_point started;  // read only once waiting gets long
  int sleeps = 0;
  auto allArrived = [&] {
    while (next < nranks_ && progressOf(next) >= sequence) ++next;
    return next == nranks_;
  };
  for (int idle = 0;; ++idle) {
    if (allArrived()) return Status::ok();
    if (int aborted = area->abortedBy.load(std::memory_order_relaxed); aborted != 0) {
      return Status::remoteError("rank %d aborted", aborted - 1);
    }
    // Spin only briefly: with more ranks than cores the rank we wait for may
    // need this core. Then yield it for a while (a rank that is merely
    // descheduled comes back sooner this way than through a sleep and a
    // wake-up), and only then sleep.
    if (idle < spinLimit_) {
      cpuRelax();
      continue;
    }
    if (idle == spinLimit_) started = std::chrono::steady_clock::now();
    if (idle < 4096 && (idle % 16 != 0 || std::chrono::steady_clock::now() - started < kYieldBeforeSleeping)) {
      sched_yield();
      continue;
    }
    if (abortRequested.load(std::memory_order_relaxed)) return Status::aborted("communicator was aborted");
    bell_->waitUnless(allArrived, 2000);
    if (sleeps++ % 64 == 0 && !allArrived()) {  // the first sleep, then about every 130 ms
      // Liveness first, progress after: a rank may publish its last call and
      // exit while we sleep, and what it published outlives it.
      const int waitedFor = next;
      if (!processAlive(pids_[waitedFor]) && !allArrived() && next == waitedFor) {
        return Status::remoteError("rank %d (pid %d) died", waitedFor, pids_[waitedFor]);
      }
      double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (waited > config().timeoutSeconds) {
        return Status::timeout("waited %.0f s (LOOM_TIMEOUT_S) to %s: rank %d has not reached call %llu; it may be "
                               "stalled, dead, or running a different call",
                               waited, purpose, next, static_cast<unsigned long long>(sequence));
      }
    }
  }
}

void OneShotSlots::abort() {
  int32_t none = 0;
  reinterpret_cast<AreaHeader*>(base_)->abortedBy.compare_exchange_strong(none, rank_ + 1);
  bell_->ring();
}

}  // namespace loom
