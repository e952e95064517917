#include "loom_perf_options.h"

#include <getopt.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "loom_perf_algorithms.h"

namespace loom::perf {
namespace {

std::string normalizedName(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '-') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // nccl-tests' binaries are <coll>_perf; accept their names verbatim.
  const std::string suffix = "perf";
  if (out.size() > suffix.size() && out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0) {
    out.resize(out.size() - suffix.size());
  }
  return out;
}

Status parseCount(const char* flag, const char* text, long long minValue, long long maxValue, long long* out) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    return Status::invalidArgument("%s expects an integer, got '%s'", flag, text);
  }
  if (v < minValue || v > maxValue) {
    return Status::invalidArgument("%s must be between %lld and %lld, got %lld", flag, minValue, maxValue, v);
  }
  *out = v;
  return Status::ok();
}

// nccl-tests' size syntax: an integer with an optional K, M or G (powers of 1024).
Status parseBytes(const char* flag, const char* text, size_t* out) {
  errno = 0;
  char* end = nullptr;
  if (text[0] == '-') return Status::invalidArgument("%s expects a size in bytes, got '%s'", flag, text);
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text) {
    return Status::invalidArgument("%s expects a size in bytes such as 8, 64K, 16M or 1G, got '%s'", flag, text);
  }
  unsigned long long scale = 1;
  switch (std::tolower(static_cast<unsigned char>(*end))) {
    case '\0': break;
    case 'k': scale = 1ull << 10; ++end; break;
    case 'm': scale = 1ull << 20; ++end; break;
    case 'g': scale = 1ull << 30; ++end; break;
    default: end = nullptr;
  }
  if (end != nullptr && (*end == 'b' || *end == 'B')) ++end;
  if (end == nullptr || *end != '\0') {
    return Status::invalidArgument("%s expects a size in bytes such as 8, 64K, 16M or 1G, got '%s'", flag, text);
  }
  if (v > ULLONG_MAX / scale) return Status::invalidArgument("%s: size '%s' is too large", flag, text);
  *out = static_cast<size_t>(v * scale);
  return Status::ok();
}

Status parseOps(const char* text, std::vector<RedOpKind>* ops) {
  std::string s = normalizedName(text);
  if (s == "all") {
    // nccl-tests' "all" includes its premultiplied sum ("mulsum").
    *ops = {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax, RedOpKind::kMin, RedOpKind::kAvg,
            RedOpKind::kPreMulSum};
    return Status::ok();
  }
  static const struct {
    const char* name;
    RedOpKind kind;
  } kOps[] = {{"sum", RedOpKind::kSum},       {"prod", RedOpKind::kProd},
              {"max", RedOpKind::kMax},       {"min", RedOpKind::kMin},
              {"avg", RedOpKind::kAvg},       {"mulsum", RedOpKind::kPreMulSum},
              {"premulsum", RedOpKind::kPreMulSum}};
  for (const auto& op : kOps) {
    if (s == op.name) {
      *ops = {op.kind};
      return Status::ok();
    }
  }
  return Status::invalidArgument("-o: unknown reduction '%s'; use sum, prod, max, min, avg, mulsum or all", text);
}

Status parseTypes(const char* text, std::vector<DataType>* types) {
  std::string s = normalizedName(text);
  if (s == "all") {
    types->clear();
    for (int t = 0; t < kNumDataTypes; ++t) types->push_back(static_cast<DataType>(t));
    return Status::ok();
  }
  // nccl-tests' names first, then the spellings people also type.
  static const struct {
    const char* name;
    DataType type;
  } kAliases[] = {{"int8", DataType::kInt8},         {"char", DataType::kInt8},
                  {"uint8", DataType::kUint8},       {"int32", DataType::kInt32},
                  {"int", DataType::kInt32},         {"uint32", DataType::kUint32},
                  {"int64", DataType::kInt64},       {"uint64", DataType::kUint64},
                  {"half", DataType::kFloat16},      {"float16", DataType::kFloat16},
                  {"fp16", DataType::kFloat16},      {"float", DataType::kFloat32},
                  {"float32", DataType::kFloat32},   {"fp32", DataType::kFloat32},
                  {"double", DataType::kFloat64},    {"float64", DataType::kFloat64},
                  {"fp64", DataType::kFloat64},      {"bfloat16", DataType::kBfloat16},
                  {"bf16", DataType::kBfloat16},     {"f8e4m3", DataType::kFloat8e4m3},
                  {"fp8e4m3", DataType::kFloat8e4m3}, {"float8e4m3", DataType::kFloat8e4m3},
                  {"f8e5m2", DataType::kFloat8e5m2}, {"fp8e5m2", DataType::kFloat8e5m2},
                  {"float8e5m2", DataType::kFloat8e5m2}};
  for (const auto& a : kAliases) {
    if (s == a.name) {
      *types = {a.type};
      return Status::ok();
    }
  }
  return Status::invalidArgument(
      "-d: unknown datatype '%s'; use int8, uint8, int32, uint32, int64, uint64, half, float, double, "
      "bfloat16, f8e4m3, f8e5m2 or all",
      text);
}

// --compare's value: a comma-separated list of libraries, each at most once.
Status parseCompare(const char* text, Options* o) {
  o->compareMpi = false;
  o->compareGloo = false;
  const std::string all = text;
  size_t start = 0;
  for (;;) {
    size_t comma = all.find(',', start);
    std::string item = all.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::string name = normalizedName(item);
    if (name == "mpi") {
      o->compareMpi = true;
    } else if (name == "gloo") {
      o->compareGloo = true;
    } else if (item.empty()) {
      return Status::invalidArgument("--compare: empty library name in '%s'; use mpi, gloo or mpi,gloo", text);
    } else {
      return Status::invalidArgument("--compare: unknown library '%s' in '%s'; use mpi, gloo or mpi,gloo",
                                     item.c_str(), text);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return Status::ok();
}

bool endsWithPng(const std::string& path) {
  if (path.size() < 4) return false;
  std::string tail = path.substr(path.size() - 4);
  for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".png";
}

// "<indent><collective>: ring, tree, ..." per collective that has a choice.
std::string algorithmListText() {
  std::string s;
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kBroadcast, CollectiveKind::kReduce,
                              CollectiveKind::kAllGather, CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll}) {
    s += std::string(27, ' ') + collectiveFlagName(kind) + ":";
    const char* sep = " ";
    for (const std::string& name : algorithmsFor(kind)) {
      s += sep + name;
      sep = ", ";
    }
    s += "\n";
  }
  return s;
}

}  // namespace

bool parseCollectiveName(const std::string& name, CollectiveKind* kind) {
  std::string s = normalizedName(name);
  static const struct {
    const char* name;
    CollectiveKind kind;
  } kNames[] = {{"allreduce", CollectiveKind::kAllReduce},         {"allgather", CollectiveKind::kAllGather},
                {"reducescatter", CollectiveKind::kReduceScatter}, {"broadcast", CollectiveKind::kBroadcast},
                {"bcast", CollectiveKind::kBroadcast},             {"reduce", CollectiveKind::kReduce},
                {"alltoall", CollectiveKind::kAllToAll},           {"sendrecv", CollectiveKind::kSendRecv}};
  for (const auto& n : kNames) {
    if (s == n.name) {
      *kind = n.kind;
      return true;
    }
  }
  return false;
}

const char* collectiveFlagName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce: return "allreduce";
    case CollectiveKind::kAllGather: return "allgather";
    case CollectiveKind::kReduceScatter: return "reducescatter";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kReduce: return "reduce";
    case CollectiveKind::kAllToAll: return "alltoall";
    case CollectiveKind::kSendRecv: return "sendrecv";
  }
  return "unknown";
}

std::string usageText(const char* program) {
  std::string p = program;
  return "Usage: " + p +
         " [--coll NAME] [--ranks N] [nccl-tests flags]\n"
         "\n"
         "Measures Loom collectives the way nccl-tests measures NCCL: same flags, same columns.\n"
         "\n"
         "Ranks (one per process):\n"
         "  --ranks N              fork N rank processes on this host\n"
         "  mpirun -np N " + p + "  one rank per MPI process (needs a build with MPI)\n"
         "  (neither)              a single rank\n"
         "\n"
         "Collective:\n"
         "  --coll NAME            allreduce (default), allgather, reducescatter, broadcast,\n"
         "                         reduce, alltoall, sendrecv; nccl-tests' binary names\n"
         "                         (all_reduce_perf, all_gather, ...) are accepted too\n"
         "  --compare LIB[,LIB]    after Loom's rows, run the same sweep through another\n"
         "                         library and print its busbw and Loom's busbw over it:\n"
         "                         mpi (needs mpirun), gloo (needs 2+ ranks on one host;\n"
         "                         --ranks N or mpirun), or mpi,gloo\n"
         "\n"
         "Output files (written by rank 0 at the end):\n"
         "  --json FILE            every row of every library as a JSON array\n"
         "  --plot FILE.png        out-of-place busbw against size per library (and per\n"
         "                         algorithm with -a), drawn with gnuplot\n"
         "\n"
         "nccl-tests flags:\n"
         "  -b, --minbytes SIZE    smallest size (default 8; K, M, G suffixes)\n"
         "  -e, --maxbytes SIZE    largest size (default 64M)\n"
         "  -f, --stepfactor N     multiply the size by N each step (default 2)\n"
         "  -i, --stepbytes SIZE   add SIZE each step instead of multiplying\n"
         "  -n, --iters N          timed iterations per size (default 20)\n"
         "  -w, --warmup_iters N   untimed iterations first (default 5)\n"
         "  -m, --agg_iters N      operations grouped per iteration (default 1)\n"
         "  -c, --check N          check results N times per size; 0 disables (default 1)\n"
         "  -o, --op OP            sum, prod, max, min, avg, mulsum or all (default sum)\n"
         "  -d, --datatype TYPE    int8, uint8, int32, uint32, int64, uint64, half, float,\n"
         "                         double, bfloat16, f8e4m3, f8e5m2 or all (default float)\n"
         "  -r, --root N|all       root of broadcast and reduce (default 0)\n"
         "  -a, --average N        time shown: 0 rank 0, 1 mean, 2 min, 3 max over ranks\n"
         "                         (default 3: the slowest rank bounds the collective)\n"
         "  -a, --algo ALGO        a name instead of a number forces the algorithm, in\n"
         "                         LOOM_ALGO syntax: ring, allreduce:tree;broadcast:ring, ^ring\n"
         "  -a, --algo all|A,B,... one launch, one section per algorithm (ring,tree,rhd:\n"
         "                         those; all: every algorithm of the collective), then a\n"
         "                         table of out-of-place busbw per size and algorithm with\n"
         "                         the best; one that cannot run here is skipped, with why.\n"
         "                         auto: the planner's choice per size (LOOM_ALGO unset);\n"
         "                         all adds it, and the table its busbw over the best's.\n"
         "                         all runs, per collective:\n" +
         algorithmListText() +
         "  -z, --blocking 0|1     1: every call completes before the next (no stream)\n"
         "  -T, --timeout SECONDS  sets LOOM_TIMEOUT_S for this run\n"
         "  -g, --ngpus 1          accepted for compatibility; only 1\n"
         "  -t, --nthreads 1       accepted for compatibility; only 1\n"
         "  -p, --parallel_init N  accepted and ignored (ranks are processes)\n"
         "  -G, --cudagraph 0      accepted for compatibility; only 0\n"
         "  -C, --report_cputime N accepted; times are host wall-clock times anyway\n"
         "  -h, --help             this text\n";
}

Result<Options> parseOptions(int argc, char** argv, CollectiveKind defaultCollective) {
  Options o;
  o.collective = defaultCollective;
  enum LongOnly { kColl = 1000, kRanks, kCompare, kAlgo, kJson, kPlot };
  static const option kLong[] = {{"nthreads", required_argument, nullptr, 't'},
                                 {"ngpus", required_argument, nullptr, 'g'},
                                 {"minbytes", required_argument, nullptr, 'b'},
                                 {"maxbytes", required_argument, nullptr, 'e'},
                                 {"stepbytes", required_argument, nullptr, 'i'},
                                 {"stepfactor", required_argument, nullptr, 'f'},
                                 {"iters", required_argument, nullptr, 'n'},
                                 {"warmup_iters", required_argument, nullptr, 'w'},
                                 {"agg_iters", required_argument, nullptr, 'm'},
                                 {"average", required_argument, nullptr, 'a'},
                                 {"parallel_init", required_argument, nullptr, 'p'},
                                 {"check", required_argument, nullptr, 'c'},
                                 {"op", required_argument, nullptr, 'o'},
                                 {"datatype", required_argument, nullptr, 'd'},
                                 {"root", required_argument, nullptr, 'r'},
                                 {"blocking", required_argument, nullptr, 'z'},
                                 {"cudagraph", required_argument, nullptr, 'G'},
                                 {"report_cputime", required_argument, nullptr, 'C'},
                                 {"timeout", required_argument, nullptr, 'T'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {"coll", required_argument, nullptr, kColl},
                                 {"ranks", required_argument, nullptr, kRanks},
                                 {"compare", required_argument, nullptr, kCompare},
                                 {"algo", required_argument, nullptr, kAlgo},
                                 {"json", required_argument, nullptr, kJson},
                                 {"plot", required_argument, nullptr, kPlot},
                                 {nullptr, 0, nullptr, 0}};
  const char* kShort = ":t:g:b:e:i:f:n:w:m:a:p:c:o:d:r:z:G:C:T:h";

  // getopt keeps its cursor in globals; reset so a second parse (tests) starts clean.
  optind = 0;
  opterr = 0;
  bool sawFactor = false;
  bool sawStep = false;
  std::string algoText;  // -a NAME / --algo: read once the collective is known
  std::string algoFlag;
  long long v = 0;
  for (;;) {
    int longIndex = -1;
    int c = getopt_long(argc, argv, kShort, kLong, &longIndex);
    if (c == -1) break;
    const char* arg = optarg;
    char flag[64];
    if (longIndex >= 0) {
      std::snprintf(flag, sizeof(flag), "--%s", kLong[longIndex].name);
    } else {
      std::snprintf(flag, sizeof(flag), "-%c", c);
    }
    switch (c) {
      case 't':
      case 'g':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, INT_MAX, &v));
        if (v != 1) {
          return Status::invalidArgument(
              "%s %lld: loom-perf runs exactly one rank per process with host buffers, so threads and GPUs "
              "per process are always 1; to run more ranks use --ranks N or mpirun -np N",
              flag, v);
        }
        break;
      case 'b': LOOM_RETURN_IF_ERROR(parseBytes(flag, arg, &o.minBytes)); break;
      case 'e': LOOM_RETURN_IF_ERROR(parseBytes(flag, arg, &o.maxBytes)); break;
      case 'i':
        LOOM_RETURN_IF_ERROR(parseBytes(flag, arg, &o.stepBytes));
        if (o.stepBytes == 0) return Status::invalidArgument("%s must be greater than 0", flag);
        sawStep = true;
        break;
      case 'f':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 2, 1 << 20, &v));
        o.stepFactor = static_cast<size_t>(v);
        sawFactor = true;
        break;
      case 'n':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 1, INT_MAX, &v));
        o.iters = static_cast<int>(v);
        break;
      case 'w':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, INT_MAX, &v));
        o.warmupIters = static_cast<int>(v);
        break;
      case 'm':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 1, 1 << 20, &v));
        o.aggIters = static_cast<int>(v);
        break;
      case 'a':
        // nccl-tests' -a is a number; a name picks the algorithm (LOOM_ALGO syntax).
        if (arg[0] >= '0' && arg[0] <= '9') {
          LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, 3, &v));
          o.timeAggregation = static_cast<TimeAggregation>(v);
        } else {
          algoText = arg;
          algoFlag = flag;
        }
        break;
      case kAlgo:
        algoText = arg;
        algoFlag = flag;
        break;
      case 'p':
      case 'C': LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, 1, &v)); break;
      case 'c':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, 1 << 20, &v));
        o.checkIters = static_cast<int>(v);
        break;
      case 'o': LOOM_RETURN_IF_ERROR(parseOps(arg, &o.ops)); break;
      case 'd': LOOM_RETURN_IF_ERROR(parseTypes(arg, &o.types)); break;
      case 'r':
        if (std::strcmp(arg, "all") == 0) {
          o.allRoots = true;
        } else {
          LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, INT_MAX, &v));
          o.root = static_cast<int>(v);
          o.allRoots = false;
        }
        break;
      case 'z':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, 1, &v));
        o.blocking = v == 1;
        break;
      case 'G':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 0, INT_MAX, &v));
        if (v != 0) {
          return Status::invalidArgument("%s %lld: CUDA graphs need a GPU; loom-perf drives host streams, use -G 0",
                                         flag, v);
        }
        break;
      case 'T':
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 1, 24 * 3600, &v));
        o.timeoutSeconds = static_cast<int>(v);
        break;
      case 'h': o.help = true; break;
      case kColl:
        if (!parseCollectiveName(arg, &o.collective)) {
          return Status::invalidArgument(
              "--coll: unknown collective '%s'; use allreduce, allgather, reducescatter, broadcast, reduce, "
              "alltoall or sendrecv",
              arg);
        }
        break;
      case kRanks:
        LOOM_RETURN_IF_ERROR(parseCount(flag, arg, 1, 4096, &v));
        o.ranks = static_cast<int>(v);
        break;
      case kCompare: LOOM_RETURN_IF_ERROR(parseCompare(arg, &o)); break;
      case kJson:
        if (arg[0] == '\0') return Status::invalidArgument("--json needs a file name, got ''");
        o.jsonPath = arg;
        break;
      case kPlot:
        if (arg[0] == '\0') return Status::invalidArgument("--plot needs a file name ending in .png, got ''");
        if (!endsWithPng(arg)) {
          return Status::invalidArgument("--plot: '%s' does not end in .png; --plot writes a PNG image", arg);
        }
        o.plotPath = arg;
        break;
      case ':': {
        const char* bad = argv[optind - 1];
        return Status::invalidArgument("flag %s needs a value", bad);
      }
      default: {
        const char* bad = argv[optind - 1];
        if (optopt != 0 && optopt != '?') {
          return Status::invalidArgument("unknown flag -%c", optopt);
        }
        return Status::invalidArgument("unknown flag '%s'", bad);
      }
    }
  }
  if (optind < argc) {
    return Status::invalidArgument("unexpected argument '%s'; every setting is a flag", argv[optind]);
  }
  // Like nccl-tests, the increment mode is whichever of -i/-f was given; -f wins a tie.
  if (sawFactor || !sawStep) o.stepBytes = 0;
  if (o.minBytes > o.maxBytes) {
    return Status::invalidArgument("-b %zu is larger than -e %zu; the smallest size must not exceed the largest",
                                   o.minBytes, o.maxBytes);
  }
  if (o.stepBytes == 0 && o.minBytes == 0) {
    return Status::invalidArgument("-b 0 with a step factor would never grow; start at -b 1 or more, or use -i");
  }
  if (!algoText.empty()) {
    LOOM_ASSIGN_OR_RETURN(AlgorithmSelection selection, parseAlgorithmSelection(algoFlag, algoText, o.collective));
    o.algorithm = selection.rules;
    o.algorithms = selection.perSection;
  }
  return o;
}

}  // namespace loom::perf
