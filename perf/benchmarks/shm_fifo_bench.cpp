// loom-bench-shm-fifo: what one message costs on the shared-memory transport.
//
// Two threads of one process stand in for two ranks on a host: each opens
// its end of two FIFOs (openShmSend / openShmRecv, one ring each way) and has
// its own doorbell, exactly as ConnectionTable sets them up between
// processes, and waits the way the executor's progress loop does: a few
// polls, then yielding the core, then sleeping on its doorbell until the peer
// rings it. So the figures include the wake-ups a real rank pays, which on a
// machine with more ranks than cores are most of a small message's cost.
//
//   pingpong/<size>  a message there and back per iteration; per_hop is the
//                    time of one one-way hop (half an iteration), and
//                    bytes_per_second the payload delivered per second.
//   stream/<size>    messages sent back to back one way, the receiver copying
//                    each out as a rank copies or reduces out of the ring;
//                    bytes_per_second counts bytes the receiver consumed.
//
// The ring is config().shmBufferBytes (4 MiB; LOOM_SHM_BUFFER_BYTES), as in
// a communicator. Every wait gives up after kNoProgressLimit without
// progress, so a run ends (with an error row) instead of hanging.
//
//   build/bin/loom-bench-shm-fifo --benchmark_filter=pingpong
#include <benchmark/benchmark.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "transports/shm/doorbell.h"
#include "transports/shm/shm_connection.h"

namespace loom {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNoProgressLimit = std::chrono::seconds(5);

const size_t kPingPongSizes[] = {8, 64, size_t{1} << 10, size_t{64} << 10};
const size_t kStreamSizes[] = {size_t{1} << 20, size_t{4} << 20};

std::string sizeName(size_t bytes) {
  if (bytes >= (size_t{1} << 20)) return std::to_string(bytes >> 20) + "MiB";
  if (bytes >= (size_t{1} << 10)) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

// One rank's view: its own bell (rung by the peer), its mapping of the peer's
// bell (passed in the endpoints, so writes and consumes ring it) and one
// connection each way.
struct Side {
  std::unique_ptr<Doorbell> ownBell;
  std::unique_ptr<Doorbell> peerBell;
  std::unique_ptr<SendConnection> send;
  std::unique_ptr<RecvConnection> recv;
  const std::atomic<bool>* stop = nullptr;  // set to end the helper thread's loop
};

// Two sides joined by two FIFOs. Names carry the pid and a counter, so runs of
// this program (and successive benchmarks in one) never meet; every name is
// unlinked again on the way out even if opening failed halfway.
class Pair {
 public:
  Pair() {
    static int serial = 0;
    const std::string prefix = "/loom-bench-" + std::to_string(getpid()) + "-" + std::to_string(serial++) + "-";
    for (const char* what : {"bell0", "bell1", "0-1", "1-0"}) names_.push_back(prefix + what);
    side[0].stop = side[1].stop = &stop;
  }
  ~Pair() {
    // Connections first: they hold pointers to the bells.
    for (Side& s : side) {
      s.send.reset();
      s.recv.reset();
    }
    for (Side& s : side) {
      s.ownBell.reset();
      s.peerBell.reset();
    }
    for (const std::string& name : names_) shm_unlink(name.c_str());  // ENOENT when already gone: fine
  }

  Status open() {
    const size_t capacity = config().shmBufferBytes;
    const int pid = getpid();  // both ends live here; the liveness check always passes
    for (int r = 0; r < 2; ++r) {
      LOOM_ASSIGN_OR_RETURN(side[r].ownBell, Doorbell::create(names_[r]));
    }
    for (int r = 0; r < 2; ++r) {
      LOOM_ASSIGN_OR_RETURN(side[r].peerBell, Doorbell::open(names_[1 - r]));
    }
    for (int r = 0; r < 2; ++r) {
      // Ring r -> 1-r: the writer rings the reader's bell, the reader (on
      // consume) rings the writer's, which may be waiting for room.
      ShmEndpoint out{names_[2 + r], capacity, 1 - r, pid, side[r].peerBell.get()};
      ShmEndpoint in{names_[2 + r], capacity, r, pid, side[1 - r].peerBell.get()};
      LOOM_ASSIGN_OR_RETURN(side[r].send, openShmSend(out));
      LOOM_ASSIGN_OR_RETURN(side[1 - r].recv, openShmRecv(in));
    }
    return Status::ok();
  }

  // Ends the helper thread: it sees `stop` once idle, and the ring wakes it if asleep.
  void stopHelper() {
    stop.store(true);
    side[0].peerBell->ring();
  }

  Side side[2];
  std::atomic<bool> stop{false};

 private:
  std::vector<std::string> names_;
};

enum class Progress { kDone, kMoved, kIdle };

// Calls step() until it reports kDone, waiting between fruitless calls as the
// executor does (src/exec/executor.cpp): 64 polls, then yield up to 512, then
// sleep on the own bell for up to 2 ms at a time. The bell's sequence is read
// before step() looks, so a ring after the look cuts the sleep short.
template <typename Step>
Status drive(Side& side, Step step) {
  Clock::time_point giveUp{};
  for (int idle = 0;;) {
    const uint32_t seen = side.ownBell->snapshot();
    Result<Progress> p = step();
    if (!p.isOk()) return p.status();
    if (p.value() == Progress::kDone) return Status::ok();
    if (p.value() == Progress::kMoved) {
      idle = 0;
      continue;
    }
    if (++idle < 64) continue;
    if (idle < 512) {
      sched_yield();
      continue;
    }
    // Only slow waits read the clock, so the fast path pays nothing for the bound.
    const Clock::time_point now = Clock::now();
    if (idle == 512) giveUp = now + kNoProgressLimit;
    if (side.stop->load(std::memory_order_relaxed)) return Status::aborted("stopped");
    if (now > giveUp) return Status::timeout("no progress for %lld s", static_cast<long long>(kNoProgressLimit.count()));
    side.ownBell->wait(seen, 2000);
  }
}

Status sendMessage(Side& side, const std::byte* data, size_t bytes) {
  size_t sent = 0;
  return drive(side, [&]() -> Result<Progress> {
    LOOM_ASSIGN_OR_RETURN(size_t n, side.send->write(data + sent, bytes - sent));
    sent += n;
    return sent == bytes ? Progress::kDone : n > 0 ? Progress::kMoved : Progress::kIdle;
  });
}

// Copies out as the bytes arrive (a ring may hand a message over in two
// pieces where it wraps), consuming each piece so the sender gets the room back.
Status recvMessage(Side& side, std::byte* dst, size_t bytes) {
  size_t got = 0;
  return drive(side, [&]() -> Result<Progress> {
    LOOM_ASSIGN_OR_RETURN(std::span<const std::byte> in, side.recv->peek());
    const size_t n = std::min(in.size(), bytes - got);
    if (n > 0) {
      std::memcpy(dst + got, in.data(), n);
      side.recv->consume(n);
      got += n;
    }
    return got == bytes ? Progress::kDone : n > 0 ? Progress::kMoved : Progress::kIdle;
  });
}

// Pages touched before timing, so the first iterations do not pay page faults.
std::vector<std::byte> touchedBuffer(size_t bytes) { return std::vector<std::byte>(bytes, std::byte{1}); }

void pingPongBench(benchmark::State& state, size_t bytes) {
  Pair pair;
  if (Status s = pair.open(); !s.isOk()) {
    state.SkipWithError(s.toString().c_str());
    return;
  }
  // The helper thread is rank 1: it echoes every message back.
  Status echoStatus;
  std::thread echo([&] {
    std::vector<std::byte> buffer = touchedBuffer(bytes);
    while (true) {
      Status s = recvMessage(pair.side[1], buffer.data(), bytes);
      if (s.isOk()) s = sendMessage(pair.side[1], buffer.data(), bytes);
      if (!s.isOk()) {
        if (!pair.stop.load()) echoStatus = s;
        return;
      }
    }
  });
  std::vector<std::byte> out = touchedBuffer(bytes), back = touchedBuffer(bytes);
  for (auto _ : state) {
    Status s = sendMessage(pair.side[0], out.data(), bytes);
    if (s.isOk()) s = recvMessage(pair.side[0], back.data(), bytes);
    if (!s.isOk()) {
      state.SkipWithError(("rank 0: " + s.toString()).c_str());
      break;
    }
  }
  pair.stopHelper();
  echo.join();
  if (!echoStatus.isOk()) state.SkipWithError(("echo thread: " + echoStatus.toString()).c_str());
  // Two hops per iteration: kInvert turns "hops per second" into seconds per hop.
  state.counters["per_hop"] =
      benchmark::Counter(2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * static_cast<int64_t>(bytes));
}

void streamBench(benchmark::State& state, size_t bytes) {
  Pair pair;
  if (Status s = pair.open(); !s.isOk()) {
    state.SkipWithError(s.toString().c_str());
    return;
  }
  // The helper thread is rank 1: it consumes whatever arrives, copying it out.
  std::atomic<uint64_t> consumed{0};
  Status sinkStatus;
  std::thread sink([&] {
    std::vector<std::byte> buffer = touchedBuffer(bytes);
    size_t at = 0;
    Status s = drive(pair.side[1], [&]() -> Result<Progress> {
      LOOM_ASSIGN_OR_RETURN(std::span<const std::byte> in, pair.side[1].recv->peek());
      const size_t n = std::min(in.size(), bytes - at);
      if (n == 0) return Progress::kIdle;
      std::memcpy(buffer.data() + at, in.data(), n);
      pair.side[1].recv->consume(n);
      at = (at + n) % bytes;
      consumed.store(consumed.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      return Progress::kMoved;
    });
    if (!pair.stop.load()) sinkStatus = s;
  });
  std::vector<std::byte> out = touchedBuffer(bytes);
  uint64_t sent = 0;
  for (auto _ : state) {
    if (Status s = sendMessage(pair.side[0], out.data(), bytes); !s.isOk()) {
      state.SkipWithError(("rank 0: " + s.toString()).c_str());
      break;
    }
    sent += bytes;
  }
  // Read at once, while the timer has just stopped: up to a ring's worth of
  // what was sent may not have been consumed yet, and is not counted.
  const uint64_t delivered = consumed.load(std::memory_order_relaxed);
  // Let the sink drain before stopping it, within the same bound as any wait.
  for (const Clock::time_point giveUp = Clock::now() + kNoProgressLimit;
       consumed.load(std::memory_order_relaxed) < sent && Clock::now() < giveUp;) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  pair.stopHelper();
  sink.join();
  if (!sinkStatus.isOk()) state.SkipWithError(("sink thread: " + sinkStatus.toString()).c_str());
  state.SetBytesProcessed(static_cast<int64_t>(delivered));
}

void registerAll() {
  // Real time: the threads sleep in the kernel while they wait, which CPU time would leave out.
  for (size_t bytes : kPingPongSizes) {
    benchmark::RegisterBenchmark(("pingpong/" + sizeName(bytes)).c_str(), pingPongBench, bytes)->UseRealTime();
  }
  for (size_t bytes : kStreamSizes) {
    benchmark::RegisterBenchmark(("stream/" + sizeName(bytes)).c_str(), streamBench, bytes)->UseRealTime();
  }
}

}  // namespace
}  // namespace loom

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  loom::registerAll();
  benchmark::AddCustomContext("shm ring bytes", std::to_string(loom::config().shmBufferBytes));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
