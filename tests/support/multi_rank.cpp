#include "support/multi_rank.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace loom::testing {
namespace {

// The shared page: a state word, then the id's bytes.
struct SharedHeader {
  std::atomic<int> state;  // 0 waiting, 1 ready, 2 rank 0 failed
};
constexpr size_t kIdOffset = 64;  // keeps the id aligned for any type
static_assert(sizeof(SharedHeader) <= kIdOffset);

int runChild(int rank, SharedHeader* shared, unsigned char* id, const std::function<bool(void*)>& makeId,
             const std::function<int(int, const void*)>& fn) {
  if (rank == 0) {
    if (!makeId(id)) {
      shared->state.store(2);
      return 3;
    }
    shared->state.store(1);
  } else {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (shared->state.load() == 0) {
      if (std::chrono::steady_clock::now() > deadline) return 4;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (shared->state.load() != 1) return 5;
  }
  int code = fn(rank, id);
  if (::testing::Test::HasFailure() && code == 0) code = 1;
  return code;
}

}  // namespace

std::vector<RankOutcome> runRanksWithIdBytes(int nranks, size_t idBytes, const std::function<bool(void*)>& makeId,
                                             const std::function<int(int, const void*)>& fn,
                                             double timeoutSeconds) {
  const size_t pageBytes = kIdOffset + idBytes;
  void* page = mmap(nullptr, pageBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* shared = new (page) SharedHeader();
  shared->state.store(0);
  auto* id = static_cast<unsigned char*>(page) + kIdOffset;
  std::fflush(stdout);
  std::fflush(stderr);

  std::vector<pid_t> pids(nranks, -1);
  for (int r = 0; r < nranks; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      int code = runChild(r, shared, id, makeId, fn);
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(code);
    }
    pids[r] = pid;
  }

  std::vector<RankOutcome> outcomes(nranks);
  int remaining = nranks;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSeconds);
  while (remaining > 0) {
    bool progressed = false;
    for (int r = 0; r < nranks; ++r) {
      if (pids[r] < 0) continue;
      int status = 0;
      if (waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        if (WIFEXITED(status)) outcomes[r].exitCode = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) outcomes[r].signal = WTERMSIG(status);
        pids[r] = -1;
        --remaining;
        progressed = true;
      }
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      for (int r = 0; r < nranks; ++r) {
        if (pids[r] < 0) continue;
        kill(pids[r], SIGKILL);
        waitpid(pids[r], nullptr, 0);
        outcomes[r].timedOut = true;
        pids[r] = -1;
      }
      break;
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  munmap(page, pageBytes);
  return outcomes;
}

std::vector<RankOutcome> runRanks(int nranks, const std::function<int(int, const UniqueId&)>& fn,
                                  double timeoutSeconds) {
  return runRanksWithId<UniqueId>(
      nranks,
      [](UniqueId& id) {
        auto made = createUniqueId();
        if (!made.isOk()) {
          std::fprintf(stderr, "rank 0: createUniqueId failed: %s\n", made.status().toString().c_str());
          return false;
        }
        id = made.value();
        return true;
      },
      fn, timeoutSeconds);
}

std::string describeFailures(const std::vector<RankOutcome>& outcomes) {
  std::string out;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    const RankOutcome& o = outcomes[r];
    char line[128] = "";
    if (o.timedOut) {
      std::snprintf(line, sizeof(line), "rank %zu: timed out; ", r);
    } else if (o.signal != 0) {
      std::snprintf(line, sizeof(line), "rank %zu: killed by signal %d; ", r, o.signal);
    } else if (o.exitCode != 0) {
      std::snprintf(line, sizeof(line), "rank %zu: exit %d; ", r, o.exitCode);
    }
    out += line;
  }
  return out;
}

std::vector<RankOutcome> runCommRanks(int nranks, const std::function<void(Communicator&)>& fn,
                                      double timeoutSeconds) {
  return runRanks(
      nranks,
      [&](int rank, const UniqueId& id) {
        auto comm = Communicator::create(nranks, id, rank);
        if (!comm.isOk()) {
          std::fprintf(stderr, "rank %d: Communicator::create failed: %s\n", rank,
                       comm.status().toString().c_str());
          return 2;
        }
        fn(*comm.value());
        return 0;
      },
      timeoutSeconds);
}

}  // namespace loom::testing
