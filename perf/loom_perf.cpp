// loom-perf: nccl-tests' bandwidth benchmark for Loom.
//
// Exit codes: 0 all rows correct, 1 some element was wrong, 2 bad command
// line, 3 a Loom (or MPI or Gloo) call failed, or --json / --plot could not
// be written.
#include <libgen.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "loom/communicator.h"
#include "loom_perf_backend.h"
#include "loom_perf_bench.h"
#include "tools/launch/rank_launch.h"
#include "loom_perf_gloo_backend.h"
#include "loom_perf_options.h"
#include "loom_perf_plot.h"

#if defined(LOOM_HAVE_MPI)
// loom-perf's target sees only the public include path; the MPI bootstrap
// header sits with its sources.
#include "bootstrap/mpi_bootstrap.h"
#include "loom_perf_mpi_backend.h"
#endif

namespace loom::perf {
namespace {

constexpr int kExitWrong = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFailure = 3;

int usageError(const std::string& message) {
  std::fprintf(stderr, "loom-perf: %s\n", message.c_str());
  return kExitUsage;
}

#if defined(LOOM_HAVE_GLOO)
// Gloo's seconds per operation: -T when given, else long enough for the
// largest sizes on a loaded host (Gloo's own default is 30 s).
int glooTimeoutSeconds(const Options& o) { return o.timeoutSeconds > 0 ? o.timeoutSeconds : 300; }
#endif

// The Gloo backend for --compare gloo (else null), connected over `loom`'s
// ranks; collective. A failure is reported by every rank.
Result<std::unique_ptr<Backend>> makeGlooComparison(const Options& o, Backend& loom) {
  if (!o.compareGloo) return std::unique_ptr<Backend>();
#if defined(LOOM_HAVE_GLOO)
  Result<std::unique_ptr<Backend>> gloo = makeGlooBackend(loom, glooTimeoutSeconds(o));
  if (!gloo.isOk()) return gloo.status().withContext("--compare gloo");
  return std::move(gloo.value());
#else
  (void)loom;
  return Status::unavailable("--compare gloo: this loom-perf was built without Gloo");
#endif
}

std::vector<Backend*> comparedBackends(Backend* mpi, Backend* gloo) {
  std::vector<Backend*> compared;
  if (mpi != nullptr) compared.push_back(mpi);
  if (gloo != nullptr) compared.push_back(gloo);
  return compared;
}

// Runs the benchmark on this process's rank of `comm` (or reports why it has none).
int runOnCommunicator(const Options& o, int rank, Result<std::unique_ptr<Communicator>> comm,
                      const std::string& launch) {
  if (!comm.isOk()) {
    std::fprintf(stderr, "loom-perf: rank %d: Communicator::create failed: %s\n", rank,
                 describeStatus(comm.status()).c_str());
    return kExitFailure;
  }
  std::unique_ptr<Backend> loom = makeLoomBackend(std::move(comm.value()), o.blocking);
  Result<std::unique_ptr<Backend>> gloo = makeGlooComparison(o, *loom);
  if (!gloo.isOk()) {
    std::fprintf(stderr, "loom-perf: rank %d: %s\n", rank, describeStatus(gloo.status()).c_str());
    loom->abort();
    return kExitFailure;
  }
  Result<int> result = runBenchmark(o, *loom, comparedBackends(nullptr, gloo.value().get()), launch);
  if (!result.isOk()) {
    std::fprintf(stderr, "loom-perf: rank %d: %s\n", rank, describeStatus(result.status()).c_str());
    std::fflush(stdout);
    loom->abort();
    return kExitFailure;
  }
  return result.value();
}

int runRank(const Options& o, int rank, int nranks, const UniqueId& id, const std::string& launch) {
  CommOptions commOptions;
  commOptions.name = "loom-perf";
  return runOnCommunicator(o, rank, Communicator::create(nranks, id, rank, commOptions), launch);
}

#if defined(LOOM_HAVE_MPI)
int runUnderMpi(const Options& o) {
  MPI_Init(nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = 0;
  {
    CommOptions commOptions;
    commOptions.name = "loom-perf";
    auto comm = createCommunicatorFromMpi(MPI_COMM_WORLD, commOptions);
    if (!comm.isOk()) {
      std::fprintf(stderr, "loom-perf: rank %d: createCommunicatorFromMpi failed: %s\n", rank,
                   describeStatus(comm.status()).c_str());
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
      return kExitFailure;
    }
    std::unique_ptr<Backend> loom = makeLoomBackend(std::move(comm.value()), o.blocking);
    std::unique_ptr<Backend> mpi = o.compareMpi ? makeMpiBackend(MPI_COMM_WORLD) : nullptr;
    Result<std::unique_ptr<Backend>> gloo = makeGlooComparison(o, *loom);
    if (!gloo.isOk()) {
      std::fprintf(stderr, "loom-perf: rank %d: %s\n", rank, describeStatus(gloo.status()).c_str());
      std::fflush(stdout);
      loom->abort();
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
      return kExitFailure;
    }
    Result<int> result = runBenchmark(o, *loom, comparedBackends(mpi.get(), gloo.value().get()),
                                      "launched by mpirun, bootstrapped over MPI");
    if (!result.isOk()) {
      std::fprintf(stderr, "loom-perf: rank %d: %s\n", rank, describeStatus(result.status()).c_str());
      std::fflush(stdout);
      loom->abort();
      // Peers may be inside an MPI call that will never complete; only
      // MPI_Abort ends the job reliably.
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
      return kExitFailure;
    }
    code = result.value();
  }  // Loom's communicator finalizes before MPI does.
  MPI_Finalize();
  return code;
}
#endif

int run(int argc, char** argv) {
  CollectiveKind defaultCollective = CollectiveKind::kAllReduce;
  std::string program = argc > 0 ? argv[0] : "loom-perf";
  {
    std::string copy = program;
    parseCollectiveName(basename(copy.data()), &defaultCollective);
  }
  Result<Options> parsed = parseOptions(argc, argv, defaultCollective);
  if (!parsed.isOk()) return usageError(parsed.status().message() + "\nRun " + program + " -h for the list of flags.");
  const Options& o = parsed.value();
  if (o.help) {
    std::fputs(usageText("loom-perf").c_str(), stdout);
    return 0;
  }
  if (o.timeoutSeconds > 0) setenv("LOOM_TIMEOUT_S", std::to_string(o.timeoutSeconds).c_str(), 1);
  if (!o.algorithm.empty()) setenv("LOOM_ALGO", o.algorithm.c_str(), 1);

  int worldSize = 0;
  const bool underMpi = launch::launchedByMpiLauncher(&worldSize);
  if (o.compareMpi) {
#if !defined(LOOM_HAVE_MPI)
    return usageError("--compare mpi needs loom-perf built with MPI, and CMake found no MPI in this build");
#endif
    if (!underMpi) {
      return usageError(
          "--compare mpi needs the ranks to be MPI processes: run it under mpirun, e.g. "
          "mpirun -np 4 loom-perf --compare mpi" + std::string(o.compareGloo ? ",gloo" : "") +
          (o.compareGloo ? " (--compare gloo alone also works with --ranks N)" : ""));
    }
  }
  if (o.compareGloo) {
#if !defined(LOOM_HAVE_GLOO)
    return usageError(
        "--compare gloo: this loom-perf was built without Gloo (CMake found no Gloo package, or LOOM_PERF_GLOO "
        "was OFF); install libgloo-dev and reconfigure with -DLOOM_PERF_GLOO=ON");
#endif
    // Checked here too so that the common mistake costs no sweep.
    const char* worldEnv = std::getenv("WORLD_SIZE");
    const int planned = underMpi ? worldSize
                        : launch::launchedWithRankEnvironment() && o.ranks == 0 ? std::atoi(worldEnv != nullptr ? worldEnv : "1")
                                                                        : std::max(o.ranks, 1);
    if (planned < 2) {
      return usageError("--compare gloo needs 2 or more ranks (Gloo's collectives need a peer): add --ranks N, or run "
                        "under mpirun -np N");
    }
  }
  if (!o.plotPath.empty()) {
    std::string problem = gnuplotProblem();
    if (!problem.empty()) return usageError(problem);
  }
  if (underMpi && o.ranks > 0) {
    return usageError("--ranks and mpirun both start ranks; under mpirun drop --ranks (use mpirun -np N)");
  }
  if (underMpi) {
#if defined(LOOM_HAVE_MPI)
    return runUnderMpi(o);
#else
    if (worldSize > 1) {
      return usageError("started by an MPI launcher with " + std::to_string(worldSize) +
                        " processes, but this loom-perf was built without MPI; rebuild with MPI or use --ranks N");
    }
#endif
  }
  if (launch::launchedWithRankEnvironment() && o.ranks == 0) {
    CommOptions commOptions;
    commOptions.name = "loom-perf";
    int rank = std::atoi(std::getenv("RANK"));
    return runOnCommunicator(o, rank, Communicator::createFromEnvironment(commOptions),
                             "one process per rank, from RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT");
  }
  if (o.ranks > 1) {
    return launch::runForkedRanks(o.ranks, [&](int rank, const UniqueId& id) {
      return runRank(o, rank, o.ranks, id, "forked by --ranks");
    });
  }
  Result<UniqueId> id = createUniqueId();
  if (!id.isOk()) {
    std::fprintf(stderr, "loom-perf: createUniqueId failed: %s\n", describeStatus(id.status()).c_str());
    return kExitFailure;
  }
  return runRank(o, 0, 1, id.value(), "single process; use --ranks N or mpirun for more");
}

}  // namespace
}  // namespace loom::perf

int main(int argc, char** argv) { return loom::perf::run(argc, argv); }
