#include "tools/launch/rank_launch.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>  // program_invocation_short_name
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace loom::launch {
namespace {

struct SharedId {
  std::atomic<int> state;  // 0 waiting, 1 ready, 2 rank 0 failed
  UniqueId id;
};

constexpr auto kIdWait = std::chrono::seconds(120);
constexpr auto kGraceAfterFailure = std::chrono::seconds(20);

int runChild(int rank, SharedId* shared, const std::function<int(int, const UniqueId&)>& fn) {
  if (rank == 0) {
    Result<UniqueId> id = createUniqueId();
    if (!id.isOk()) {
      Status s = id.status();
      std::fprintf(stderr, "%s: rank 0: createUniqueId failed: %s\n", program_invocation_short_name, s.message().c_str());
      shared->state.store(2);
      return 3;
    }
    shared->id = id.value();
    shared->state.store(1);
  } else {
    auto deadline = std::chrono::steady_clock::now() + kIdWait;
    while (shared->state.load() == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "%s: rank %d: rank 0 did not publish a UniqueId within %lld s\n", program_invocation_short_name, rank,
                     static_cast<long long>(kIdWait.count()));
        return 3;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Rank 0 has already said why; staying quiet keeps that message on top.
    if (shared->state.load() != 1) return 3;
  }
  return fn(rank, shared->id);
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

bool launchedByMpiLauncher(int* worldSize) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      *worldSize = std::atoi(v);
      return true;
    }
  }
  return false;
}

bool launchedWithRankEnvironment() { return std::getenv("RANK") != nullptr && std::getenv("WORLD_SIZE") != nullptr; }

int runForkedRanks(int nranks, const std::function<int(int, const UniqueId&)>& fn) {
  void* page = mmap(nullptr, sizeof(SharedId), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    std::fprintf(stderr, "%s: mmap of the UniqueId page: %s\n", program_invocation_short_name, strerror(errno));
    return 3;
  }
  auto* shared = new (page) SharedId();
  shared->state.store(0);
  // Children inherit stdio buffers; flush so nothing is printed twice.
  std::fflush(stdout);
  std::fflush(stderr);

  const pid_t parent = getpid();
  std::vector<pid_t> pids(static_cast<size_t>(nranks), -1);
  for (int r = 0; r < nranks; ++r) {
    pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "%s: fork: %s\n", program_invocation_short_name, strerror(errno));
      for (pid_t p : pids) {
        if (p > 0) kill(p, SIGKILL);
      }
      for (pid_t p : pids) {
        if (p > 0) waitpid(p, nullptr, 0);
      }
      return 3;
    }
    if (pid == 0) {
      // If the launcher dies (Ctrl-C, timeout), its ranks must not linger.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(3);
      int code = runChild(r, shared, fn);
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(code);
    }
    pids[static_cast<size_t>(r)] = pid;
  }

  int firstFailure = 0;
  int remaining = nranks;
  std::chrono::steady_clock::time_point killAt{};
  bool failed = false;
  while (remaining > 0) {
    int status = 0;
    pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (int r = 0; r < nranks; ++r) {
        if (pids[static_cast<size_t>(r)] != done) continue;
        pids[static_cast<size_t>(r)] = -1;
        --remaining;
        int code = exitCodeOf(status);
        if (WIFSIGNALED(status)) {
          std::fprintf(stderr, "%s: rank %d was killed by signal %d\n", program_invocation_short_name, r, WTERMSIG(status));
        }
        if (code != 0 && !failed) {
          failed = true;
          firstFailure = code;
          killAt = std::chrono::steady_clock::now() + kGraceAfterFailure;
        }
      }
      continue;
    }
    if (failed && std::chrono::steady_clock::now() > killAt) {
      for (int r = 0; r < nranks; ++r) {
        pid_t p = pids[static_cast<size_t>(r)];
        if (p <= 0) continue;
        std::fprintf(stderr, "%s: rank %d still running %lld s after another rank failed; killing it\n", program_invocation_short_name, r,
                     static_cast<long long>(kGraceAfterFailure.count()));
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
        pids[static_cast<size_t>(r)] = -1;
        --remaining;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  munmap(page, sizeof(SharedId));
  return firstFailure;
}

}  // namespace loom::launch
