// loom-train's command line: every flag, its default and its check.
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"
#include "trainer/trainer.h"

namespace loom::trainer {

struct TrainFlags {
  TrainConfig config;
  int ranks = 0;    // --ranks N: fork N ranks here (0: one, or as launched)
  int threads = 0;  // --threads: CPU kernel threads per rank (0: cores / ranks on this host)
  int valEvery = 50;
  int checkpointEvery = 0;
  int sampleTokens = 64;
  std::string logPath;
  std::string plotPath;
  bool quiet = false;
  bool help = false;
};

// Parses argv[1..argc). Errors name the flag and the bad value.
Result<TrainFlags> parseTrainFlags(const std::vector<std::string>& args);

// The --help text.
std::string trainUsage();

}  // namespace loom::trainer
