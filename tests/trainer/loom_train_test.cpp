// loom-train's flags, its refusals of bad input (each a clear error naming
// the problem), and the program run end to end on forked ranks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/gpt/cpu_threads.h"
#include "support/run_command.h"
#include "trainer/checkpoint.h"
#include "trainer/token_file.h"
#include "trainer/train_flags.h"
#include "trainer/trainer.h"
#include "trainer_test_files.h"

namespace loom::trainer {
namespace {

using loom::testing::builtProgramPath;
using loom::testing::runCommand;
using testing::ScopedTempDir;

std::string flagError(const std::vector<std::string>& args) {
  auto parsed = parseTrainFlags(args);
  return parsed.isOk() ? "accepted" : parsed.status().message();
}

TEST(TrainFlags, DefaultsAndValues) {
  auto parsed = parseTrainFlags({"--steps", "7", "--zero=1", "--layers", "3", "--lr", "0.003", "--resume",
                                 "--checkpoint-dir", "/tmp/x", "--log", "a.csv", "--ranks", "2"});
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  const TrainFlags& f = parsed.value();
  EXPECT_EQ(f.config.steps, 7);
  EXPECT_TRUE(f.config.zero);
  EXPECT_EQ(f.config.model.layers, 3);
  EXPECT_FLOAT_EQ(f.config.learningRate, 0.003f);
  EXPECT_TRUE(f.config.resume);
  EXPECT_EQ(f.config.checkpointDir, "/tmp/x");
  EXPECT_EQ(f.logPath, "a.csv");
  EXPECT_EQ(f.ranks, 2);
}

TEST(TrainFlags, RefusalsNameTheFlagAndValue) {
  EXPECT_EQ(flagError({"--bogus"}), "unknown flag --bogus");
  EXPECT_EQ(flagError({"--steps"}), "--steps needs a value");
  EXPECT_NE(flagError({"--steps", "ten"}).find("--steps ten: expected an integer"), std::string::npos);
  EXPECT_NE(flagError({"--zero", "2"}).find("--zero 2"), std::string::npos);
  EXPECT_NE(flagError({"--lr", "-1"}).find("--lr -1"), std::string::npos);
  EXPECT_NE(flagError({"--heads", "3"}).find("heads=3 does not divide channels=64"), std::string::npos);
  EXPECT_NE(flagError({"--resume"}).find("--resume needs --checkpoint-dir"), std::string::npos);
  EXPECT_NE(flagError({"--checkpoint-every", "5"}).find("needs --checkpoint-dir"), std::string::npos);
  EXPECT_NE(flagError({"--val-data", "v.bin"}).find("needs --data"), std::string::npos);
}

TEST(TrainFlags, HelpExplainsEveryFlag) {
  const std::string help = trainUsage();
  for (const char* flag : {"--steps", "--data", "--val-every", "--checkpoint-dir", "--checkpoint-every", "--resume",
                           "--zero", "--log", "--plot", "--seed", "--layers", "--channels", "--heads", "--seq-len",
                           "--vocab", "--batch", "--micro-steps", "--ranks", "--threads", "mpirun"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

// Trainer::create's error for `config` on one rank ("" when it succeeds).
std::string createError(const TrainConfig& config) {
  gpt::setCpuThreads(1);
  std::vector<std::string> log;
  auto made = Trainer::create(config, nullptr, &log);
  return made.isOk() ? "" : made.status().message();
}

TrainConfig tinyConfig() {
  TrainConfig c;
  c.model.channels = 16;
  c.model.heads = 2;
  c.model.layers = 1;
  c.model.maxSeqLen = 8;
  c.batchSequences = 4;
  c.steps = 4;
  return c;
}

TEST(TrainerInput, DataFileProblemsAreClearErrors) {
  ScopedTempDir dir;
  TrainConfig c = tinyConfig();
  c.dataPath = dir.file("missing.bin");
  EXPECT_NE(createError(c).find("missing.bin"), std::string::npos) << createError(c);

  std::vector<uint16_t> tokens(4000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint16_t>(i % 60);
  ASSERT_TRUE(writeTokenFile(dir.file("good.bin"), tokens).isOk());
  c.dataPath = dir.file("good.bin");
  EXPECT_EQ(createError(c), "");

  std::vector<uint8_t> bytes = testing::readBytes(dir.file("good.bin"));
  bytes[0] ^= 0xff;  // the magic
  testing::writeBytes(dir.file("magic.bin"), bytes);
  c.dataPath = dir.file("magic.bin");
  EXPECT_NE(createError(c).find("magic"), std::string::npos) << createError(c);

  bytes = testing::readBytes(dir.file("good.bin"));
  bytes.resize(bytes.size() - 3);
  testing::writeBytes(dir.file("short.bin"), bytes);
  c.dataPath = dir.file("short.bin");
  EXPECT_NE(createError(c).find("short.bin"), std::string::npos) << createError(c);

  tokens[100] = 64;  // the model's vocabulary is 0..63
  ASSERT_TRUE(writeTokenFile(dir.file("vocab.bin"), tokens).isOk());
  c.dataPath = dir.file("vocab.bin");
  EXPECT_NE(createError(c).find("vocabulary mismatch"), std::string::npos) << createError(c);
}

TEST(TrainerInput, ImpossibleConfigsAreClearErrors) {
  TrainConfig c = tinyConfig();
  c.model.heads = 3;
  EXPECT_NE(createError(c).find("heads=3 does not divide channels=16"), std::string::npos) << createError(c);
  c = tinyConfig();
  c.batchSequences = 6;
  c.microSteps = 4;
  EXPECT_NE(createError(c).find("6"), std::string::npos) << createError(c);
  EXPECT_NE(createError(c), "");
}

// Saves checkpoints at steps 2 and 4 of a 1-rank run in `dir`.
void trainAndSave(const TrainConfig& config) {
  std::vector<std::string> log;
  auto made = Trainer::create(config, nullptr, &log);
  ASSERT_TRUE(made.isOk()) << made.status().message();
  for (int s = 1; s <= 4; ++s) {
    ASSERT_TRUE(made.value()->step().isOk());
    if (s % 2 == 0) {
      ASSERT_TRUE(made.value()->saveCheckpoint().isOk());
    }
  }
}

TEST(TrainerInput, CorruptCheckpointIsSkippedWithTheReason) {
  gpt::setCpuThreads(1);
  ScopedTempDir dir;
  TrainConfig c = tinyConfig();
  c.checkpointDir = dir.path();
  trainAndSave(c);
  std::vector<uint8_t> bytes = testing::readBytes(dir.file(checkpointFileName(4)));
  bytes[bytes.size() / 2] ^= 0x10;
  testing::writeBytes(dir.file(checkpointFileName(4)), bytes);

  c.resume = true;
  std::vector<std::string> log;
  auto made = Trainer::create(c, nullptr, &log);
  ASSERT_TRUE(made.isOk()) << made.status().message();
  EXPECT_EQ(made.value()->stepsDone(), 2u);
  std::string all;
  for (const std::string& l : log) all += l + "\n";
  EXPECT_NE(all.find("checksum mismatch"), std::string::npos) << all;
  EXPECT_NE(all.find(checkpointFileName(2)), std::string::npos) << all;
}

TEST(TrainerInput, CheckpointOfAnotherModelIsRefused) {
  gpt::setCpuThreads(1);
  ScopedTempDir dir;
  TrainConfig c = tinyConfig();
  c.checkpointDir = dir.path();
  trainAndSave(c);
  c.model.layers = 2;
  c.resume = true;
  const std::string error = createError(c);
  EXPECT_NE(error.find("layers"), std::string::npos) << error;
}

// --- the program -----------------------------------------------------------

std::string loomTrain() { return builtProgramPath("loom-train"); }

TEST(LoomTrainProgram, TrainsOnTwoForkedRanksWithLogAndCheckpoints) {
  ScopedTempDir dir;
  const std::string csv = dir.file("log.csv");
  auto r = runCommand("LOOM_TIMEOUT_S=60 " + loomTrain() +
                      " --ranks 2 --threads 1 --steps 30 --val-every 10 --layers 1 --channels 32 --seq-len 16 "
                      "--batch 8 --checkpoint-dir " + dir.path() + " --checkpoint-every 15 --log " + csv +
                      " --sample 8");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("2 ranks (forked by --ranks)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no GPU usable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step    30/30"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sample (token ids"), std::string::npos) << r.output;

  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,loss,val_loss,tokens_per_s,step_ms,comm_exposed_ms");
  std::vector<double> losses;
  int validations = 0;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string step, loss, val;
    std::getline(fields, step, ',');
    std::getline(fields, loss, ',');
    std::getline(fields, val, ',');
    losses.push_back(std::stod(loss));
    validations += !val.empty();
  }
  ASSERT_EQ(losses.size(), 30u);
  EXPECT_EQ(validations, 3);
  EXPECT_LT(losses.back(), losses.front() - 0.5);
  EXPECT_TRUE(loadCheckpoint(dir.file(checkpointFileName(15))).isOk());
  EXPECT_TRUE(loadCheckpoint(dir.file(checkpointFileName(30))).isOk());

  // Resuming a finished run has nothing left to do but says where it is.
  r = runCommand(loomTrain() + " --threads 1 --steps 30 --layers 1 --channels 32 --seq-len 16 --batch 8 "
                               "--checkpoint-dir " + dir.path() + " --resume --sample 0");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("resume from " + dir.path() + ": using " + checkpointFileName(30) + " (step 30)"),
            std::string::npos)
      << r.output;
}

// The same small run three ways; each must print the same final loss.
const char* kSmallRun = " --threads 1 --steps 6 --layers 1 --channels 16 --seq-len 8 --batch 4 --sample 0";

std::string finalValidationLine(const std::string& output) {
  const size_t at = output.find("summary: validation loss");
  return at == std::string::npos ? "(no summary)" : output.substr(at, output.find('\n', at) - at);
}

TEST(LoomTrainProgram, MpirunAndTorchrunVariablesLaunchTheSameTraining) {
  auto forked = runCommand(loomTrain() + " --ranks 2" + kSmallRun);
  ASSERT_EQ(forked.exitCode, 0) << forked.output;
  const std::string expected = finalValidationLine(forked.output);

  const int port = 20000 + getpid() % 20000;
  const std::string env = "LOOM_TIMEOUT_S=60 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
                          " LOOM_SECRET=loom-train-test ";
  auto torchrun = runCommand("(RANK=1 " + env + loomTrain() + kSmallRun + " > /dev/null 2>&1 &) ; RANK=0 " + env +
                             loomTrain() + kSmallRun);
  ASSERT_EQ(torchrun.exitCode, 0) << torchrun.output;
  EXPECT_NE(torchrun.output.find("2 ranks (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT)"), std::string::npos)
      << torchrun.output;
  EXPECT_EQ(finalValidationLine(torchrun.output), expected);

  if (!loom::testing::haveCommand("mpirun")) GTEST_SKIP() << "mpirun is not installed";
  auto mpi = runCommand(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
      "timeout 120 mpirun --oversubscribe --bind-to none -np 2 " + loomTrain() + kSmallRun);
  if (mpi.output.find("built without MPI") != std::string::npos) GTEST_SKIP() << "loom-train has no MPI";
  ASSERT_EQ(mpi.exitCode, 0) << mpi.output;
  EXPECT_NE(mpi.output.find("2 ranks (mpirun; MPI only bootstraps)"), std::string::npos) << mpi.output;
  EXPECT_EQ(finalValidationLine(mpi.output), expected);
}

TEST(LoomTrainProgram, BadFlagsExitWithUsageError) {
  auto r = runCommand(loomTrain() + " --heads 5");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("heads=5 does not divide channels=64"), std::string::npos) << r.output;
  r = runCommand(loomTrain() + " --data /nonexistent/tokens.bin --steps 1");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/tokens.bin"), std::string::npos) << r.output;
}

TEST(LoomTrainProgram, PlotsTheLossCurve) {
  if (!loom::testing::haveCommand("gnuplot")) GTEST_SKIP() << "gnuplot is not installed";
  ScopedTempDir dir;
  auto r = runCommand(loomTrain() + " --threads 1 --steps 5 --layers 1 --channels 16 --seq-len 8 --batch 4 --plot " +
                      dir.file("loss.png") + " --sample 0");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::vector<uint8_t> png = testing::readBytes(dir.file("loss.png"));
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_EQ(png[2], 'N');
  EXPECT_EQ(png[3], 'G');
}

}  // namespace
}  // namespace loom::trainer
