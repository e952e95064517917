#include "trainer/train_flags.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>

namespace loom::trainer {

namespace {

Result<long long> parseInteger(const std::string& flag, const std::string& text, long long low, long long high) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < low || v > high) {
    return Status::invalidArgument("%s %s: expected an integer from %lld to %lld", flag.c_str(), text.c_str(), low,
                                   high);
  }
  return v;
}

Result<float> parseFloat(const std::string& flag, const std::string& text, double low, double high) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(v >= low && v <= high)) {
    return Status::invalidArgument("%s %s: expected a number from %g to %g", flag.c_str(), text.c_str(), low, high);
  }
  return static_cast<float>(v);
}

}  // namespace

std::string trainUsage() {
  return R"(loom-train: train a GPT-2 style model, data-parallel over Loom.

Usage:
  loom-train [flags]                      one process (add --ranks N to fork N ranks here)
  mpirun -np N loom-train [flags]         one rank per MPI process (MPI only bootstraps)
  RANK=r WORLD_SIZE=N MASTER_ADDR=host MASTER_PORT=p loom-train [flags]   torchrun-style

With no --data it trains on a built-in synthetic corpus (an order-2 Markov
chain with a known entropy rate) and reports how close the validation loss
gets to the best possible loss.

Run:
  --steps N             optimizer steps (300)
  --batch B             sequences per step over all ranks; a multiple of ranks x micro-steps (64)
  --micro-steps M       gradient-accumulation steps per optimizer step (1)
  --lr X                peak learning rate (0.02); linear warm-up, then cosine decay to 10%
  --warmup N            warm-up steps (20)
  --weight-decay X      AdamW weight decay on matrices (0.1)
  --grad-clip X         clip the global gradient norm to X; 0 disables (1.0)
  --seed S              model initialisation and synthetic corpus (1)
  --zero 0|1            1: ZeRO-1 (reduce-scatter gradients, update a shard, all-gather parameters) (0)
  --bucket-kb K         gradient all-reduce bucket size in KiB (32)
  --ranks N             fork N ranks in this process (not with mpirun or RANK/WORLD_SIZE)
  --threads N           CPU kernel threads per rank (default: cores / local ranks, at least 1)

Model:
  --layers L (2)  --channels C (64)  --heads H (4; must divide C)
  --seq-len T (64: context length)  --vocab V (64; a token file's ids must be below V)

Data:
  --data FILE           llm.c token file (magic 20240520, uint16 tokens) to train on
  --val-data FILE       validation token file (default: the last 5% of --data)
  --val-every K         validation loss every K steps and at the end; 0: only at the end (50)
  --val-batches N       batches per validation (4)

Checkpoints:
  --checkpoint-dir DIR  where checkpoints go
  --checkpoint-every N  write a checkpoint every N steps and at the end (0: never)
  --keep N              keep the newest N checkpoints; 0 keeps all (3)
  --resume              continue from the newest valid checkpoint in --checkpoint-dir
                        (also at another rank count); a damaged one is skipped with the reason

Output:
  --log FILE.csv        per step: step,loss,val_loss,tokens_per_s,step_ms,comm_exposed_ms
  --plot FILE.png       loss curve (needs gnuplot)
  --sample N            tokens to sample from the model at the end (64; 0: none)
  --quiet               only the summary lines
  --help                this text
)";
}

Result<TrainFlags> parseTrainFlags(const std::vector<std::string>& args) {
  TrainFlags f;
  TrainConfig& c = f.config;
  GptConfig& m = c.model;
  long long zero = 0, bucketKiB = static_cast<long long>(c.bucketBytes >> 10);
  using Setter = std::function<Status(const std::string& flag, const std::string& value)>;
  auto integer = [](auto* target, long long low, long long high) -> Setter {
    return [=](const std::string& flag, const std::string& value) {
      LOOM_ASSIGN_OR_RETURN(long long v, parseInteger(flag, value, low, high));
      *target = static_cast<std::remove_pointer_t<decltype(target)>>(v);
      return Status::ok();
    };
  };
  auto number = [](float* target, double low, double high) -> Setter {
    return [=](const std::string& flag, const std::string& value) {
      LOOM_ASSIGN_OR_RETURN(*target, parseFloat(flag, value, low, high));
      return Status::ok();
    };
  };
  auto text = [](std::string* target) -> Setter {
    return [=](const std::string& flag, const std::string& value) {
      if (value.empty()) return Status::invalidArgument("%s: expected a path, got an empty string", flag.c_str());
      *target = value;
      return Status::ok();
    };
  };
  const long long kBig = 1LL << 30;
  const std::map<std::string, Setter> withValue = {
      {"--steps", integer(&c.steps, 0, kBig)},
      {"--batch", integer(&c.batchSequences, 1, kBig)},
      {"--micro-steps", integer(&c.microSteps, 1, 1 << 16)},
      {"--lr", number(&c.learningRate, 0, 10)},
      {"--warmup", integer(&c.warmupSteps, 0, kBig)},
      {"--weight-decay", number(&c.weightDecay, 0, 10)},
      {"--grad-clip", number(&c.gradClip, 0, 1e6)},
      {"--seed", integer(&c.seed, 0, (1LL << 62))},
      {"--zero", integer(&zero, 0, 1)},
      {"--bucket-kb", integer(&bucketKiB, 1, 1 << 20)},
      {"--ranks", integer(&f.ranks, 1, 1024)},
      {"--threads", integer(&f.threads, 1, 1024)},
      {"--layers", integer(&m.layers, 1, 1 << 10)},
      {"--channels", integer(&m.channels, 1, 1 << 16)},
      {"--heads", integer(&m.heads, 1, 1 << 12)},
      {"--seq-len", integer(&m.maxSeqLen, 1, 1 << 16)},
      {"--vocab", integer(&m.vocabSize, 2, 65536)},
      {"--data", text(&c.dataPath)},
      {"--val-data", text(&c.valDataPath)},
      {"--val-every", integer(&f.valEvery, 0, kBig)},
      {"--val-batches", integer(&c.valBatches, 1, 1 << 16)},
      {"--checkpoint-dir", text(&c.checkpointDir)},
      {"--checkpoint-every", integer(&f.checkpointEvery, 0, kBig)},
      {"--keep", integer(&c.keepCheckpoints, 0, 1 << 20)},
      {"--log", text(&f.logPath)},
      {"--plot", text(&f.plotPath)},
      {"--sample", integer(&f.sampleTokens, 0, 1 << 20)},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    const bool hasInlineValue = flag.rfind("--", 0) == 0 && flag.find('=') != std::string::npos;
    if (hasInlineValue) {
      value = flag.substr(flag.find('=') + 1);
      flag = flag.substr(0, flag.find('='));
    }
    if (flag == "--help" || flag == "-h") {
      f.help = true;
      continue;
    }
    if (flag == "--resume" || flag == "--quiet") {
      if (hasInlineValue) return Status::invalidArgument("%s takes no value", flag.c_str());
      (flag == "--resume" ? c.resume : f.quiet) = true;
      continue;
    }
    auto it = withValue.find(flag);
    if (it == withValue.end()) return Status::invalidArgument("unknown flag %s", args[i].c_str());
    if (!hasInlineValue) {
      if (i + 1 >= args.size()) return Status::invalidArgument("%s needs a value", flag.c_str());
      value = args[++i];
    }
    LOOM_RETURN_IF_ERROR(it->second(flag, value));
  }
  c.zero = zero != 0;
  c.bucketBytes = static_cast<size_t>(bucketKiB) << 10;
  if (f.help) return f;
  LOOM_RETURN_IF_ERROR(m.validate());
  if (c.resume && c.checkpointDir.empty()) return Status::invalidArgument("--resume needs --checkpoint-dir DIR");
  if (f.checkpointEvery > 0 && c.checkpointDir.empty()) {
    return Status::invalidArgument("--checkpoint-every %d needs --checkpoint-dir DIR", f.checkpointEvery);
  }
  if (!c.valDataPath.empty() && c.dataPath.empty()) {
    return Status::invalidArgument("--val-data %s needs --data (the synthetic corpus has its own validation stream)",
                                   c.valDataPath.c_str());
  }
  return f;
}

}  // namespace loom::trainer
