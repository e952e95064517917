#include "loom_perf_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "loom/device.h"
#include "loom_perf_algorithms.h"
#include "loom_perf_json.h"
#include "loom_perf_layout.h"
#include "loom_perf_pattern.h"
#include "loom_perf_plot.h"
#include "plan/bus_bandwidth.h"

namespace loom::perf {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char, FreeDeleter>;

Result<Buffer> allocateBuffer(size_t bytes) {
  // Page alignment keeps every datatype aligned and matches what a GPU allocator returns.
  size_t rounded = std::max<size_t>((bytes + 4095) / 4096 * 4096, 4096);
  void* p = std::aligned_alloc(4096, rounded);
  if (p == nullptr) {
    return Status::systemError("cannot allocate %zu bytes for a buffer; lower -e (maxbytes)", rounded);
  }
  // Touch every page now so first-touch faults are not timed.
  std::memset(p, 0, rounded);
  return Buffer(static_cast<char*>(p));
}

void print(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fflush(stdout);
}

class Sweep {
 public:
  Sweep(const Options& o, Backend& b) : o_(o), b_(b), rank_(b.rank()), nranks_(b.size()) {}

  Result<std::vector<Row>> run() {
    LOOM_ASSIGN_OR_RETURN(send_, allocateBuffer(o_.maxBytes));
    LOOM_ASSIGN_OR_RETURN(recv_, allocateBuffer(o_.maxBytes));
    const CollectiveKind kind = o_.collective;
    std::vector<RedOpKind> ops = isReducing(kind) ? o_.ops : std::vector<RedOpKind>{RedOpKind::kSum};
    if (hasRoot(kind) && !o_.allRoots && o_.root >= nranks_) {
      return Status::invalidArgument("-r %d: the root must be a rank in [0, %d]", o_.root, nranks_ - 1);
    }
    std::vector<int> roots;
    if (!hasRoot(kind)) {
      roots = {-1};
    } else if (o_.allRoots) {
      for (int r = 0; r < nranks_; ++r) roots.push_back(r);
    } else {
      roots = {o_.root};
    }
    std::vector<Row> rows;
    for (DataType type : o_.types) {
      for (RedOpKind op : ops) {
        std::string why = b_.unsupported(kind, type, op);
        if (!why.empty()) {
          if (rank_ == 0) {
            print("# " + std::string(b_.name()) + ": skipping " + dataTypeName(type) +
                  (isReducing(kind) ? std::string("/") + redOpName(op) : std::string()) + ": " + why + "\n");
          }
          continue;
        }
        for (int root : roots) {
          LOOM_RETURN_IF_ERROR(runOne(type, op, root, &rows));
        }
      }
    }
    return rows;
  }

 private:
  CollectiveCall callFor(DataType type, RedOpKind op, int root, const CollectiveLayout& l, bool inPlace) const {
    CollectiveCall c;
    c.kind = o_.collective;
    c.type = type;
    c.op = op;
    c.root = std::max(root, 0);
    c.count = l.paramCount;
    c.inPlace = inPlace;
    c.send = send_.get();
    c.recv = recv_.get();
    return c;
  }

  Status runOne(DataType type, RedOpKind op, int root, std::vector<Row>* rows) {
    // Warm up at both ends of the range: connections, buffers and plans for
    // the large and the small path exist before anything is timed.
    for (size_t bytes : {o_.maxBytes, o_.minBytes}) {
      CollectiveLayout l = layoutFor(o_.collective, bytes, type, nranks_);
      CollectiveCall c = callFor(type, op, root, l, false);
      for (int i = 0; i < o_.warmupIters; ++i) LOOM_RETURN_IF_ERROR(b_.launch(c));
      LOOM_RETURN_IF_ERROR(b_.complete());
    }
    for (size_t bytes = o_.minBytes; bytes <= o_.maxBytes;) {
      CollectiveLayout l = layoutFor(o_.collective, bytes, type, nranks_);
      Row row;
      row.type = type;
      row.op = op;
      row.reducing = isReducing(o_.collective);
      row.root = root;
      row.bytes = l.rowBytes;
      row.count = l.paramCount;
      LOOM_ASSIGN_OR_RETURN(row.outOfPlace, measure(callFor(type, op, root, l, false), l));
      LOOM_ASSIGN_OR_RETURN(row.inPlace, measure(callFor(type, op, root, l, true), l));
      if (rank_ == 0) print(formatRow(row));
      rows->push_back(row);
      if (o_.stepBytes > 0) {
        if (bytes > o_.maxBytes - o_.stepBytes) break;
        bytes += o_.stepBytes;
      } else {
        if (bytes > o_.maxBytes / o_.stepFactor) break;
        bytes *= o_.stepFactor;
      }
    }
    return Status::ok();
  }

  Result<Measurement> measure(const CollectiveCall& call, const CollectiveLayout& l) {
    const bool grouped = o_.aggIters > 1;
    prepare(call, l, DataPattern(call.type, call.op, isReducing(call.kind), nranks_, 0));
    LOOM_RETURN_IF_ERROR(b_.prepare(call));
    LOOM_RETURN_IF_ERROR(b_.barrier());
    auto start = std::chrono::steady_clock::now();
    for (int it = 0; it < o_.iters; ++it) {
      if (grouped) LOOM_RETURN_IF_ERROR(b_.groupStart());
      for (int a = 0; a < o_.aggIters; ++a) LOOM_RETURN_IF_ERROR(b_.launch(call));
      if (grouped) LOOM_RETURN_IF_ERROR(b_.groupEnd());
    }
    LOOM_RETURN_IF_ERROR(b_.complete());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds /= static_cast<double>(o_.iters) * o_.aggIters;
    LOOM_ASSIGN_OR_RETURN(seconds, aggregateTime(seconds));

    Measurement m;
    m.timeUs = seconds * 1e6;
    m.algBw = seconds > 0 ? static_cast<double>(l.rowBytes) / 1e9 / seconds : 0;
    m.busBw = m.algBw * busBandwidthFactor(call.kind, nranks_);
    if (o_.checkIters > 0) {
      int64_t wrong = 0;
      for (int rep = 1; rep <= o_.checkIters; ++rep) {
        DataPattern pattern(call.type, call.op, isReducing(call.kind), nranks_, rep);
        prepare(call, l, pattern);
        LOOM_RETURN_IF_ERROR(b_.launch(call));
        LOOM_RETURN_IF_ERROR(b_.complete());
        wrong += countWrong(call, l, pattern);
      }
      LOOM_ASSIGN_OR_RETURN(m.wrong, b_.allReduceSum(wrong));
    }
    return m;
  }

  Result<double> aggregateTime(double seconds) {
    switch (o_.timeAggregation) {
      case TimeAggregation::kRank0: return b_.allReduceDouble(rank_ == 0 ? seconds : 0.0, Backend::Reduction::kSum);
      case TimeAggregation::kAverage: {
        LOOM_ASSIGN_OR_RETURN(double sum, b_.allReduceDouble(seconds, Backend::Reduction::kSum));
        return sum / nranks_;
      }
      case TimeAggregation::kMin: return b_.allReduceDouble(seconds, Backend::Reduction::kMin);
      case TimeAggregation::kMax: return b_.allReduceDouble(seconds, Backend::Reduction::kMax);
    }
    return seconds;
  }

  // Input: the index each element carries in the collective's global view,
  // so that allgather blocks and alltoall blocks are told apart.
  size_t inputIndex(CollectiveKind kind, const CollectiveLayout& l, size_t k) const {
    if (kind == CollectiveKind::kAllGather) return static_cast<size_t>(rank_) * l.paramCount + k;
    return k;
  }

  void prepare(const CollectiveCall& c, const CollectiveLayout& l, const DataPattern& p) {
    const size_t ts = dataTypeSize(c.type);
    char* input;
    if (c.inPlace) {
      std::memset(c.recv, kSentinelByte, std::max(l.sendCount, l.recvCount) * ts);
      input = static_cast<char*>(c.recv) + l.sendInPlaceOffset * static_cast<size_t>(rank_) * ts;
    } else {
      std::memset(c.recv, kSentinelByte, l.recvCount * ts);
      input = static_cast<char*>(c.send);
    }
    for (size_t k = 0; k < l.sendCount; ++k) storeElement(c.type, input, k, p.input(rank_, inputIndex(c.kind, l, k)));
  }

  int64_t countWrong(const CollectiveCall& c, const CollectiveLayout& l, const DataPattern& p) const {
    const size_t ts = dataTypeSize(c.type);
    const char* out = static_cast<const char*>(c.recv);
    if (c.inPlace) out += b_.inPlaceResultOffset(c.kind, l, rank_) * ts;
    const size_t per = l.paramCount;
    const int prev = (rank_ + nranks_ - 1) % nranks_;
    int64_t wrong = 0;
    auto check = [&](size_t k, double expected) {
      if (!p.matches(loadElement(c.type, out, k), expected)) ++wrong;
    };
    switch (c.kind) {
      case CollectiveKind::kAllReduce:
        for (size_t k = 0; k < l.recvCount; ++k) check(k, p.reduced(k));
        break;
      case CollectiveKind::kReduce:
        if (rank_ == c.root) {
          for (size_t k = 0; k < l.recvCount; ++k) check(k, p.reduced(k));
        }
        break;
      case CollectiveKind::kBroadcast:
        for (size_t k = 0; k < l.recvCount; ++k) check(k, p.input(c.root, k));
        break;
      case CollectiveKind::kAllGather:
        // Block j holds rank j's input, whose global indices are j*per + m = k.
        for (size_t k = 0; k < l.recvCount; ++k) check(k, p.input(static_cast<int>(k / per), k));
        break;
      case CollectiveKind::kReduceScatter:
        for (size_t k = 0; k < l.recvCount; ++k) check(k, p.reduced(static_cast<size_t>(rank_) * per + k));
        break;
      case CollectiveKind::kAllToAll:
        // Block j came from rank j's block for us.
        for (size_t k = 0; k < l.recvCount; ++k) {
          size_t j = k / per;
          check(k, p.input(static_cast<int>(j), static_cast<size_t>(rank_) * per + k % per));
        }
        break;
      case CollectiveKind::kSendRecv:
        for (size_t k = 0; k < l.recvCount; ++k) check(k, p.input(prev, k));
        break;
    }
    return wrong;
  }

  const Options& o_;
  Backend& b_;
  const int rank_;
  const int nranks_;
  Buffer send_;
  Buffer recv_;
};

struct RankRecord {
  int32_t pid;
  char host[124];
};

const char* stepText(const Options& o, char* buf, size_t n) {
  if (o.stepBytes > 0) {
    std::snprintf(buf, n, "%zu(bytes)", o.stepBytes);
  } else {
    std::snprintf(buf, n, "%zu(factor)", o.stepFactor);
  }
  return buf;
}

const char* aggregationText(TimeAggregation a) {
  switch (a) {
    case TimeAggregation::kRank0: return "rank 0's";
    case TimeAggregation::kAverage: return "the mean over ranks of each rank's";
    case TimeAggregation::kMin: return "the minimum over ranks of each rank's";
    case TimeAggregation::kMax: return "the maximum over ranks of each rank's";
  }
  return "";
}

Status printHeader(const Options& o, Backend& loom, const std::string& launchDescription) {
  RankRecord mine{};
  mine.pid = static_cast<int32_t>(getpid());
  gethostname(mine.host, sizeof(mine.host) - 1);
  std::vector<RankRecord> all(static_cast<size_t>(loom.size()));
  LOOM_RETURN_IF_ERROR(loom.allGatherBytes(&mine, sizeof(mine), all.data()));
  if (loom.rank() != 0) return Status::ok();

  char step[64];
  char line[512];
  std::string s;
  std::snprintf(line, sizeof(line), "# Collective test starting: loom-perf --coll %s\n",
                collectiveFlagName(o.collective));
  s += line;
  std::snprintf(line, sizeof(line),
                "# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %s warmup iters: %d iters: %d agg iters: %d "
                "validation: %d graph: 0\n",
                o.minBytes, o.maxBytes, stepText(o, step, sizeof(step)), o.warmupIters, o.iters, o.aggIters,
                o.checkIters);
  s += line;
  s += "#\n";
  s += "# " + std::string(collectiveName(o.collective)) + " over " + std::to_string(loom.size()) + " rank" +
       (loom.size() == 1 ? "" : "s") + " (" + launchDescription + ")\n";
  s += "# " + loom.description() + "\n";
  s += std::string("# time: ") + aggregationText(o.timeAggregation) + " mean over " + std::to_string(o.iters) +
       " iterations\n";
  s += "# GPU: " + gpuAvailability() + "\n";
  if (const char* algo = std::getenv("LOOM_ALGO")) s += std::string("# algorithm forced: LOOM_ALGO=") + algo + "\n";
  if (!o.algorithms.empty()) {
    std::string names;
    for (const std::string& n : o.algorithms) names += (names.empty() ? "" : ", ") + n;
    s += "# algorithms: " + names + " (a section each, on a communicator split with CommOptions::algorithm " +
         collectiveFlagName(o.collective) + ":<name>)\n";
  }
  s += "#\n# Using devices\n";
  for (size_t r = 0; r < all.size(); ++r) {
    all[r].host[sizeof(all[r].host) - 1] = '\0';
    std::snprintf(line, sizeof(line), "#  Rank %2zu Group  0 Pid %6d on %10s device -1 [host] host memory\n", r,
                  all[r].pid, all[r].host);
    s += line;
  }
  s += "#\n";
  // With several algorithms each section has its own column header.
  if (o.algorithms.empty()) s += formatColumnHeader();
  print(s);
  return Status::ok();
}

std::string summary(const char* label, const std::vector<Row>& rows) {
  char line[256];
  std::string s;
  int64_t wrong = totalWrong(rows);
  std::snprintf(line, sizeof(line), "# %sOut of bounds values : %lld %s\n", label, static_cast<long long>(wrong),
                wrong == 0 ? "OK" : "FAILED");
  s += line;
  std::snprintf(line, sizeof(line), "# %sAvg bus bandwidth    : %g \n", label, averageBusBandwidth(rows));
  s += line;
  s += "#\n";
  return s;
}

// The library refuses a forced algorithm that cannot run on this
// communicator with a message containing this (plan/algorithm_override.cpp).
constexpr const char kCannotRun[] = "cannot run it";

bool cannotRunHere(const Status& status) {
  return !status.isOk() && status.message().find(kCannotRun) != std::string::npos;
}

// The library's reason, without the "LOOM_ALGO='...' forces X to ..." prefix.
std::string skipReason(const Status& status) {
  const std::string& m = status.message();
  const std::string marker = std::string(kCannotRun) + ": ";
  size_t at = m.find(marker);
  return at == std::string::npos ? m : m.substr(at + marker.size());
}

// Buffers for probeAlgorithm; they must outlive the backend a probe ran on.
struct ProbeBuffers {
  Buffer send;
  Buffer recv;
};

// One small call of the collective on `b`. The algorithm is chosen when a
// call is issued, from the rules and from facts every rank shares (the hosts
// of all ranks), so every rank is refused alike, before anything is sent;
// the refusals are still counted over all ranks, so that a disagreement is an
// error rather than a hang. Returns "" when the algorithm runs, else why not.
Result<std::string> probeAlgorithm(const Options& o, Backend& b, ProbeBuffers* buffers) {
  const int n = b.size();
  CollectiveLayout l = layoutFor(o.collective, o.minBytes, DataType::kFloat32, n);
  CollectiveCall c;
  c.kind = o.collective;
  c.type = DataType::kFloat32;
  c.op = RedOpKind::kSum;
  c.root = hasRoot(o.collective) && !o.allRoots && o.root < n ? o.root : 0;
  c.count = std::clamp<size_t>(l.paramCount, 1, 1024);
  const size_t bytes = c.count * sizeof(float) * static_cast<size_t>(n);
  LOOM_ASSIGN_OR_RETURN(buffers->send, allocateBuffer(bytes));
  LOOM_ASSIGN_OR_RETURN(buffers->recv, allocateBuffer(bytes));
  c.send = buffers->send.get();
  c.recv = buffers->recv.get();
  Status launched = b.launch(c);
  if (!launched.isOk() && !cannotRunHere(launched)) return launched;
  LOOM_ASSIGN_OR_RETURN(int64_t refused, b.allReduceSum(launched.isOk() ? 0 : 1));
  if (refused == 0) {
    LOOM_RETURN_IF_ERROR(b.complete());
    return std::string();
  }
  if (refused == n) return skipReason(launched);
  return Status::internal("%lld of %d ranks were refused the forced algorithm (%s) and the others were not; "
                          "ranks must agree on whether an algorithm can run",
                          static_cast<long long>(refused), n,
                          launched.isOk() ? "this rank was not" : launched.message().c_str());
}

// One section for `name`: a communicator split off with the algorithm
// forced, the probe, the sweep. `result` gets the rows or the skip reason.
Status runAlgorithmSection(const Options& o, Backend& loom, const std::string& name, AlgorithmRows* result) {
  const bool printing = loom.rank() == 0;
  result->name = name;
  // The planner's section forces nothing.
  const std::string rules = name == kPlannerSection ? "" : std::string(collectiveFlagName(o.collective)) + ":" + name;
  auto skip = [&](const std::string& reason) {
    result->skipped = reason;
    if (printing) print("# algorithm " + name + ": skipped: " + reason + "\n#\n");
    return Status::ok();
  };
  ProbeBuffers probeBuffers;  // declared first: outlives the backend that may still use them
  Result<std::unique_ptr<Backend>> derived = loom.withAlgorithm(rules);
  if (!derived.isOk()) {
    // The library may equally refuse when the communicator is created.
    if (cannotRunHere(derived.status())) return skip(skipReason(derived.status()));
    return derived.status().withContext("creating the communicator for algorithm " + name);
  }
  Backend& b = *derived.value();
  auto fail = [&](const Status& status) {
    // Abort before the backend is destroyed: destroying it waits for its work.
    b.abort();
    return status.withContext("algorithm " + name);
  };
  Result<std::string> probe = probeAlgorithm(o, b, &probeBuffers);
  if (!probe.isOk()) return fail(probe.status());
  if (!probe.value().empty()) return skip(probe.value());
  if (printing) print("# algorithm: " + name + "\n" + formatColumnHeader());
  Result<std::vector<Row>> rows = runSweep(o, b);
  if (!rows.isOk()) return fail(rows.status());
  result->rows = std::move(rows.value());
  return Status::ok();
}

}  // namespace

Result<std::vector<Row>> runSweep(const Options& options, Backend& backend) {
  Sweep sweep(options, backend);
  return sweep.run();
}

namespace {

// Each compared library's sweep, after Loom's, with its rows and summary.
Status runComparisons(const Options& o, const std::vector<Backend*>& compared, bool printing,
                      std::vector<LibraryRows>* out) {
  for (Backend* other : compared) {
    const std::string name = other->name();
    if (printing) {
      print("# Comparison: the same sweep through " + other->description() + "\n" + "# (" + name +
            " rows: same columns; skipped combinations are listed)\n#\n" + formatColumnHeader());
    }
    LibraryRows library;
    library.library = name;
    LOOM_ASSIGN_OR_RETURN(library.rows, runSweep(o, *other));
    if (printing) print(summary((name + " ").c_str(), library.rows));
    out->push_back(std::move(library));
  }
  return Status::ok();
}

// --json and --plot, on rank 0, from every library's rows.
Status writeOutputs(const Options& o, const std::vector<LibraryRows>& all, int ranks) {
  if (!o.jsonPath.empty()) {
    LOOM_RETURN_IF_ERROR(writeJsonFile(o.jsonPath, all, o.collective, ranks));
    print("# Rows written to " + o.jsonPath + " (JSON)\n");
  }
  if (!o.plotPath.empty()) {
    LOOM_RETURN_IF_ERROR(writePlot(o.plotPath, all, o.collective, ranks));
    print("# busbw plot written to " + o.plotPath + "\n");
  }
  return Status::ok();
}

// -a all / -a a,b,c: a section per algorithm, the compared libraries' rows
// once, the table.
Result<int> runAlgorithmSections(const Options& o, Backend& loom, const std::vector<Backend*>& compared) {
  const bool printing = loom.rank() == 0;
  std::vector<AlgorithmRows> sections;
  std::vector<LibraryRows> all;
  int64_t wrong = 0;
  for (const std::string& name : o.algorithms) {
    AlgorithmRows section;
    LOOM_RETURN_IF_ERROR(runAlgorithmSection(o, loom, name, &section));
    if (section.skipped.empty()) {
      if (printing) print(summary("", section.rows));
      wrong += totalWrong(section.rows);
      all.push_back(LibraryRows{"loom", name, section.rows});
    }
    sections.push_back(std::move(section));
  }
  std::vector<LibraryRows> others;
  LOOM_RETURN_IF_ERROR(runComparisons(o, compared, printing, &others));
  for (const LibraryRows& other : others) wrong += totalWrong(other.rows);
  if (printing) {
    print(formatAlgorithmTable(sections, others) + "#\n");
    all.insert(all.end(), others.begin(), others.end());
    LOOM_RETURN_IF_ERROR(writeOutputs(o, all, loom.size()));
  }
  return wrong == 0 ? 0 : 1;
}

}  // namespace

Result<int> runBenchmark(const Options& o, Backend& loom, const std::vector<Backend*>& compared,
                         const std::string& launchDescription) {
  LOOM_RETURN_IF_ERROR(printHeader(o, loom, launchDescription));
  const bool printing = loom.rank() == 0;
  auto concluded = [&] {
    if (printing) print(std::string("# Collective test concluded: loom-perf --coll ") + collectiveFlagName(o.collective) + "\n");
  };
  if (!o.algorithms.empty()) {
    LOOM_ASSIGN_OR_RETURN(int code, runAlgorithmSections(o, loom, compared));
    concluded();
    return code;
  }
  std::vector<LibraryRows> all(1);
  all[0].library = "loom";
  LOOM_ASSIGN_OR_RETURN(all[0].rows, runSweep(o, loom));
  if (printing) print(summary("", all[0].rows));
  std::vector<LibraryRows> others;
  LOOM_RETURN_IF_ERROR(runComparisons(o, compared, printing, &others));
  all.insert(all.end(), others.begin(), others.end());
  if (printing && !others.empty()) print(formatRatioTable(all[0].rows, others) + "#\n");
  if (printing) LOOM_RETURN_IF_ERROR(writeOutputs(o, all, loom.size()));
  int64_t wrong = 0;
  for (const LibraryRows& library : all) wrong += totalWrong(library.rows);
  concluded();
  return wrong == 0 ? 0 : 1;
}

}  // namespace loom::perf
