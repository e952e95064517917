// loom-train: the bundled GPT trainer's entry point. Flags (train_flags.h),
// how the ranks come to exist (forked, mpirun, torchrun-style variables), and
// what the user sees: a line per step, validation, checkpoints, a CSV log, a
// plot, a sample and a summary. The training itself is trainer.h.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "kernels/gpt/cpu_threads.h"
#include "loom/device.h"
#include "tools/launch/rank_launch.h"
#include "trainer/loss_plot.h"
#include "trainer/synthetic_corpus.h"
#include "trainer/train_flags.h"
#include "trainer/trainer.h"

#if defined(LOOM_HAVE_MPI)
#include "bootstrap/mpi_bootstrap.h"
#endif
#if defined(LOOM_HAVE_GPT_CUDA)
#include "kernels/gpt/cuda/gpt_cuda.h"
#endif

namespace loom::trainer {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Whether a GPU could run the CUDA kernels, in one line. The training loop
// does not use them yet, so it runs on the CPU either way.
std::string gpuLine() {
#if defined(LOOM_HAVE_GPT_CUDA)
  const gpt::cuda::GpuStatus gpu = gpt::cuda::probeGpu();
  if (gpu.usable) return gpu.message + "; the trainer's CUDA path is not wired up yet";
  return gpu.message;
#else
  return gpuAvailability() + "; this loom-train was built without the CUDA kernels";
#endif
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "loom-train: %s\nRun loom-train --help for the list of flags.\n", message.c_str());
  return kExitUsage;
}

int fail(int rank, const Status& s) {
  std::fprintf(stderr, "loom-train: rank %d: %s\n", rank, s.message().c_str());
  return kExitFailure;
}

// Ranks sharing this host's cores: the launcher says, else assume all.
int localRanks(int worldSize) {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "LOCAL_WORLD_SIZE"}) {
    if (const char* v = std::getenv(name); v != nullptr && std::atoi(v) > 0) return std::atoi(v);
  }
  return worldSize;
}

// The run as rank 0 shows it: a line per step, or a progress bar under them on a terminal.
class Console {
 public:
  Console(bool active, bool quiet, int steps, bool barAllowed)
      : active_(active), quiet_(quiet), steps_(steps), terminal_(active && barAllowed && isatty(STDOUT_FILENO)) {}
  void line(const std::string& text) {
    if (!active_) return;
    clearBar();
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }
  void stepLine(const std::string& text, uint64_t done) {
    if (!active_) return;
    if (!quiet_) line(text);
    if (terminal_) {
      clearBar();
      const int width = 40, filled = steps_ > 0 ? static_cast<int>(width * done / steps_) : width;
      std::printf("[%s%s] %llu/%d", std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                  static_cast<unsigned long long>(done), steps_);
      std::fflush(stdout);
      barShown_ = true;
    }
  }
  void clearBar() {
    if (barShown_) std::printf("\r\033[K");
    barShown_ = false;
  }

 private:
  bool active_, quiet_;
  int steps_;
  bool terminal_, barShown_ = false;
};

// "12 34 5 ..." and, on the synthetic corpus, how many steps the chain allows.
std::string describeSample(const TrainConfig& config, const std::vector<int32_t>& prompt,
                           const std::vector<int32_t>& sample) {
  std::string text;
  for (int32_t t : sample) text += std::to_string(t) + " ";
  if (!config.dataPath.empty() || prompt.empty()) return text;
  SyntheticCorpusSpec spec;
  spec.vocabSize = static_cast<uint32_t>(config.model.vocabSize);
  spec.seed = config.seed;
  Result<SyntheticCorpus> corpus = SyntheticCorpus::create(spec);
  if (!corpus.isOk()) return text;
  int allowed = 0;
  int32_t previous = prompt.back();
  for (int32_t t : sample) {
    const auto next = corpus->successors(static_cast<uint16_t>(previous));
    allowed += std::find(next.begin(), next.end(), static_cast<uint16_t>(t)) != next.end();
    previous = t;
  }
  return text + "\n  (" + std::to_string(allowed) + " of " + std::to_string(sample.size()) +
         " sampled transitions are ones the corpus' chain can make)";
}

int train(const TrainFlags& flags, Communicator* comm, const std::string& launchedHow) {
  const int rank = comm != nullptr ? comm->rank() : 0;
  const int worldSize = comm != nullptr ? comm->size() : 1;
  const TrainConfig& config = flags.config;
  gpt::setCpuThreads(flags.threads > 0 ? flags.threads
                                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                                         std::max(1, localRanks(worldSize))));
  // Open MPI hands its ranks a pseudo-terminal even when mpirun's output goes
  // to a file, so under mpirun the bar stays off.
  int mpiWorld = 0;
  Console console(rank == 0, flags.quiet, config.steps, !launch::launchedByMpiLauncher(&mpiWorld));
  char text[512];
  std::snprintf(text, sizeof(text), "loom-train: %d rank%s (%s), training on the CPU kernels, %d thread%s per rank",
                worldSize, worldSize == 1 ? "" : "s", launchedHow.c_str(), gpt::cpuThreads(),
                gpt::cpuThreads() == 1 ? "" : "s");
  console.line(text);
  console.line("loom-train: " + gpuLine());

  std::vector<std::string> log;
  Result<std::unique_ptr<Trainer>> made = Trainer::create(config, comm, &log);
  for (const std::string& l : log) console.line(l);
  if (!made.isOk()) return fail(rank, made.status());
  Trainer& trainer = *made.value();
  const GptConfig& m = config.model;
  std::snprintf(text, sizeof(text),
                "model: GPT-2, %d layers, %d channels, %d heads, context %d, vocab %d: %zu parameters; batch %zu x %d "
                "tokens per step in %d micro-step%s; ZeRO-1 %s",
                m.layers, m.channels, m.heads, m.maxSeqLen, m.vocabSize, trainer.model().parameterCount(),
                config.batchSequences, m.maxSeqLen, config.microSteps, config.microSteps == 1 ? "" : "s",
                config.zero ? "on" : "off");
  console.line(text);

  std::FILE* csv = nullptr;
  if (rank == 0 && !flags.logPath.empty()) {
    csv = std::fopen(flags.logPath.c_str(), trainer.stepsDone() > 0 ? "a" : "w");
    if (csv == nullptr) return fail(rank, Status::systemError("--log %s: cannot open for writing", flags.logPath.c_str()));
    if (trainer.stepsDone() == 0) std::fprintf(csv, "step,loss,val_loss,tokens_per_s,step_ms,comm_exposed_ms\n");
  }
  std::vector<LossPoint> curve;
  double commTotal = 0, commExposed = 0, tokensPerSecondSum = 0, lastValidation = -1;
  int timedSteps = 0;
  while (trainer.stepsDone() < static_cast<uint64_t>(config.steps)) {
    Result<StepReport> step = trainer.step();
    if (!step.isOk()) return fail(rank, step.status());
    const StepReport& r = step.value();
    const bool last = r.step == static_cast<uint64_t>(config.steps);
    double validation = -1;
    if (last || (flags.valEvery > 0 && r.step % flags.valEvery == 0)) {
      Result<double> v = trainer.validationLoss();
      if (!v.isOk()) return fail(rank, v.status());
      validation = lastValidation = v.value();
    }
    if (r.step > 1) {  // the first step also allocates and warms caches
      commTotal += r.comm.totalMs;
      commExposed += r.comm.exposedMs;
      tokensPerSecondSum += r.tokensPerSecond;
      ++timedSteps;
    }
    char validationText[32] = "";
    if (validation >= 0) std::snprintf(validationText, sizeof(validationText), " | val loss %.4f", validation);
    std::snprintf(text, sizeof(text),
                  "step %5llu/%d | loss %.4f | grad norm %.3f | lr %.2e | %8.0f tok/s | %7.1f ms | comm %6.1f ms (%.1f "
                  "hidden, %.1f exposed)%s",
                  static_cast<unsigned long long>(r.step), config.steps, r.loss, r.gradientNorm, r.learningRate,
                  r.tokensPerSecond,
                  r.stepMs, r.comm.totalMs, r.comm.totalMs - r.comm.exposedMs, r.comm.exposedMs, validationText);
    console.stepLine(text, r.step);
    curve.push_back({static_cast<double>(r.step), r.loss, validation});
    if (csv != nullptr) {
      char validationField[32] = "";
      if (validation >= 0) std::snprintf(validationField, sizeof(validationField), "%.6f", validation);
      std::fprintf(csv, "%llu,%.6f,%s,%.1f,%.3f,%.3f\n", static_cast<unsigned long long>(r.step), r.loss,
                   validationField, r.tokensPerSecond, r.stepMs, r.comm.exposedMs);
      std::fflush(csv);
    }
    if (flags.checkpointEvery > 0 && (last || r.step % flags.checkpointEvery == 0)) {
      Result<std::string> path = trainer.saveCheckpoint();
      if (!path.isOk()) return fail(rank, path.status());
      if (rank == 0) console.line("checkpoint: " + path.value());
    }
  }
  console.clearBar();
  if (csv != nullptr) std::fclose(csv);

  if (lastValidation < 0) {
    Result<double> v = trainer.validationLoss();
    if (!v.isOk()) return fail(rank, v.status());
    lastValidation = v.value();
  }
  if (timedSteps > 0) {
    const int at = std::snprintf(text, sizeof(text), "summary: %d rank%s, mean %.0f tokens/s over steps 2..%d", worldSize,
                                 worldSize == 1 ? "" : "s", tokensPerSecondSum / timedSteps, config.steps);
    if (worldSize > 1) {
      std::snprintf(text + at, sizeof(text) - at, "; communication %.1f ms per step, %.0f%% of it hidden behind backward",
                    commTotal / timedSteps, commTotal > 0 ? 100.0 * (commTotal - commExposed) / commTotal : 0.0);
    }
    console.line(text);
  }
  if (trainer.targetLoss() > 0) {
    std::snprintf(text, sizeof(text),
                  "summary: validation loss %.4f; best possible on this corpus %.4f (ratio %.3f: %s 10%%)",
                  lastValidation, trainer.targetLoss(), lastValidation / trainer.targetLoss(),
                  lastValidation <= 1.1 * trainer.targetLoss() ? "within" : "not within");
  } else {
    std::snprintf(text, sizeof(text), "summary: validation loss %.4f", lastValidation);
  }
  console.line(text);
  if (rank == 0 && flags.sampleTokens > 0) {
    std::vector<int32_t> prompt = trainer.prompt(8);
    std::vector<int32_t> sample = trainer.model().sample(prompt, flags.sampleTokens, 1.0f, config.seed);
    std::string promptText;
    for (int32_t t : prompt) promptText += std::to_string(t) + " ";
    console.line("sample (token ids; prompt: " + promptText + "): " + describeSample(config, prompt, sample));
  }
  if (rank == 0 && !flags.plotPath.empty()) {
    Status s = writeLossPlot(flags.plotPath, curve, trainer.targetLoss());
    if (!s.isOk()) return fail(rank, s);
    console.line("plot: " + flags.plotPath);
  }
  return 0;
}

int runWithCommunicator(const TrainFlags& flags, Result<std::unique_ptr<Communicator>> comm, int rank,
                        const std::string& how) {
  if (!comm.isOk()) return fail(rank, comm.status());
  int code = train(flags, comm.value().get(), how);
  if (code != 0) comm.value()->abort();  // peers get an error, not a hang
  return code;
}

int run(int argc, char** argv) {
  Result<TrainFlags> parsed = parseTrainFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.isOk()) return usageError(parsed.status().message());
  const TrainFlags& flags = parsed.value();
  if (flags.help) {
    std::fputs(trainUsage().c_str(), stdout);
    return 0;
  }
  CommOptions options;
  options.name = "loom-train";
  int worldSize = 0;
  if (launch::launchedByMpiLauncher(&worldSize)) {
    if (flags.ranks > 0) return usageError("--ranks and mpirun both start ranks; under mpirun drop --ranks");
#if defined(LOOM_HAVE_MPI)
    MPI_Init(nullptr, nullptr);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int code = runWithCommunicator(flags, createCommunicatorFromMpi(MPI_COMM_WORLD, options), rank,
                                   "mpirun; MPI only bootstraps");
    if (code != 0) MPI_Abort(MPI_COMM_WORLD, code);
    MPI_Finalize();
    return code;
#else
    if (worldSize > 1) return usageError("started by mpirun, but this loom-train was built without MPI");
#endif
  }
  if (launch::launchedWithRankEnvironment()) {
    if (flags.ranks > 0) return usageError("--ranks and RANK/WORLD_SIZE both start ranks; drop --ranks");
    return runWithCommunicator(flags, Communicator::createFromEnvironment(options), std::atoi(std::getenv("RANK")),
                               "RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT");
  }
  if (flags.ranks > 1) {
    return launch::runForkedRanks(flags.ranks, [&](int rank, const UniqueId& id) {
      return runWithCommunicator(flags, Communicator::create(flags.ranks, id, rank, options), rank, "forked by --ranks");
    });
  }
  return train(flags, nullptr, "single process");
}

}  // namespace
}  // namespace loom::trainer

int main(int argc, char** argv) { return loom::trainer::run(argc, argv); }
