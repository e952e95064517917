// loom-perf end to end: forked ranks, every size row present, every result
// checked correct, and a bad command line refused with a useful message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "support/run_command.h"

namespace {

using loom::testing::CommandResult;
using loom::testing::haveCommand;
using loom::testing::runCommand;

std::string loomPerfPath() { return loom::testing::builtProgramPath("loom-perf"); }

// Bounds each run in time even if something hangs, so ctest reports a failure
// instead of waiting for its own timeout.
std::string withTimeout(const std::string& command) {
  if (haveCommand("timeout")) return "timeout 300 " + command;
  return command;
}

struct PerfRow {
  size_t bytes = 0;
  size_t count = 0;
  std::string type;
  std::string redop;
  std::string wrongOutOfPlace;
  std::string wrongInPlace;
};

// Data rows are the lines that are not comments and have nccl-tests' 13 columns.
std::vector<PerfRow> parseRows(const std::string& output) {
  std::vector<PerfRow> rows;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    if (f.size() != 13) continue;
    PerfRow r;
    r.bytes = std::stoull(f[0]);
    r.count = std::stoull(f[1]);
    r.type = f[2];
    r.redop = f[3];
    r.wrongOutOfPlace = f[8];
    r.wrongInPlace = f[12];
    rows.push_back(r);
  }
  return rows;
}

class LoomPerfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(loomPerfPath().c_str(), X_OK) != 0) {
      GTEST_FAIL() << loomPerfPath() << " is missing; build the loom-perf target (LOOM_BUILD_DIR="
                   << (std::getenv("LOOM_BUILD_DIR") ? std::getenv("LOOM_BUILD_DIR") : "unset") << ")";
    }
  }
};

// 8 B .. 64 KiB doubling: 14 sizes.
std::vector<size_t> sweepSizes() {
  std::vector<size_t> sizes;
  for (size_t s = 8; s <= 64 * 1024; s *= 2) sizes.push_back(s);
  return sizes;
}

void expectAllCorrect(const CommandResult& r, const std::vector<size_t>& expectedBytes) {
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::vector<PerfRow> rows = parseRows(r.output);
  ASSERT_EQ(rows.size(), expectedBytes.size()) << r.output;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].bytes, expectedBytes[i]) << "row " << i << "\n" << r.output;
    EXPECT_EQ(rows[i].type, "float");
    EXPECT_EQ(rows[i].wrongOutOfPlace, "0") << "size " << rows[i].bytes << "\n" << r.output;
    EXPECT_EQ(rows[i].wrongInPlace, "0") << "size " << rows[i].bytes << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# Avg bus bandwidth"), std::string::npos) << r.output;
}

TEST_F(LoomPerfTest, AllReduceOverThreeForkedRanksIsCorrectAtEverySize) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --ranks 3 -b 8 -e 64K -n 2 -w 1"));
  expectAllCorrect(r, sweepSizes());
  EXPECT_NE(r.output.find("over 3 ranks"), std::string::npos) << r.output;
  for (const PerfRow& row : parseRows(r.output)) {
    EXPECT_EQ(row.count, row.bytes / 4);
    EXPECT_EQ(row.redop, "sum");
  }
}

TEST_F(LoomPerfTest, AllGatherOverThreeForkedRanksIsCorrectAtEverySize) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --coll allgather --ranks 3 -b 8 -e 64K -n 2 -w 1"));
  // nccl-tests' sizing: each rank sends size/4/3 floats, the row shows the gathered bytes.
  std::vector<size_t> expected;
  for (size_t s : sweepSizes()) expected.push_back(s / 4 / 3 * 3 * 4);
  expectAllCorrect(r, expected);
  for (const PerfRow& row : parseRows(r.output)) {
    EXPECT_EQ(row.count, row.bytes / 4 / 3);
    EXPECT_EQ(row.redop, "none");
  }
}

TEST_F(LoomPerfTest, AcceptsNcclTestsBinaryNamesForTheCollective) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --coll reduce_scatter_perf --ranks 2 -b 1K -e 4K -n 1 -w 0"));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("ReduceScatter over 2 ranks"), std::string::npos) << r.output;
  EXPECT_EQ(parseRows(r.output).size(), 3u) << r.output;
}

TEST_F(LoomPerfTest, UnknownFlagIsRefusedWithItsName) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --no-such-flag 3"));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find("unknown flag '--no-such-flag'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("-h"), std::string::npos) << r.output;
  EXPECT_TRUE(parseRows(r.output).empty()) << r.output;
}

TEST_F(LoomPerfTest, BadFlagValueIsRefusedWithTheValue) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " -d float17"));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find("float17"), std::string::npos) << r.output;

  r = runCommand(withTimeout(loomPerfPath() + " -g 2"));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find("--ranks"), std::string::npos) << r.output;
}

TEST_F(LoomPerfTest, CompareMpiOutsideMpirunSaysItNeedsMpirun) {
  CommandResult r = runCommand(withTimeout(
      "env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE " + loomPerfPath() + " --compare mpi -b 8 -e 8"));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find("mpirun"), std::string::npos) << r.output;
}

// ---- -a all: several algorithms in one launch --------------------------------

struct AlgorithmRun {
  std::vector<std::string> sections;                // "# algorithm: NAME", in order
  std::map<std::string, std::vector<PerfRow>> rows;  // each section's rows
  std::map<std::string, std::string> skipped;        // "# algorithm NAME: skipped: REASON"
  std::vector<std::string> tableColumns;            // the summary table's algorithm columns
  std::map<size_t, std::string> best;               // the summary table: size -> best
  std::map<size_t, std::string> plannerRatio;       // size -> auto/best, when "auto" ran
};

AlgorithmRun parseAlgorithmRun(const std::string& output) {
  AlgorithmRun run;
  std::istringstream lines(output);
  std::string line;
  std::string section;
  bool inTable = false;
  size_t bestColumn = 0;
  bool hasPlannerRatio = false;
  const std::string sectionMark = "# algorithm: ";
  const std::string skipMark = ": skipped: ";
  while (std::getline(lines, line)) {
    if (line.rfind(sectionMark, 0) == 0) {
      section = line.substr(sectionMark.size());
      run.sections.push_back(section);
      continue;
    }
    if (line.rfind("# algorithm ", 0) == 0 && line.find(skipMark) != std::string::npos) {
      size_t at = line.find(skipMark);
      std::string name = line.substr(12, at - 12);
      run.skipped[name] = line.substr(at + skipMark.size());
      continue;
    }
    if (line.rfind("# Out-of-place busbw (GB/s) per algorithm", 0) == 0) {
      inTable = true;
      section.clear();
      continue;
    }
    if (inTable) {
      std::istringstream fields(line.substr(1));
      std::vector<std::string> f;
      std::string field;
      while (fields >> field) f.push_back(field);
      if (!f.empty() && f[0] == "size") {
        // size type redop root ALGO... best [auto/best] [mpi best/mpi]
        for (size_t i = 4; i < f.size() && f[i] != "best"; ++i) run.tableColumns.push_back(f[i]);
        bestColumn = 4 + run.tableColumns.size();
        hasPlannerRatio = bestColumn + 1 < f.size() && f[bestColumn + 1] == "auto/best";
      } else if (!f.empty() && std::isdigit(static_cast<unsigned char>(f[0][0]))) {
        if (bestColumn < f.size()) run.best[std::stoull(f[0])] = f[bestColumn];
        if (hasPlannerRatio && bestColumn + 1 < f.size()) run.plannerRatio[std::stoull(f[0])] = f[bestColumn + 1];
      } else {
        inTable = false;
      }
      continue;
    }
    if (!section.empty()) {
      std::vector<PerfRow> parsed = parseRows(line + "\n");
      if (!parsed.empty()) run.rows[section].push_back(parsed.front());
    }
  }
  return run;
}

TEST_F(LoomPerfTest, AllAlgorithmsOfAllReduceRunInOneLaunch) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --ranks 3 -a all -b 8 -e 64K -n 2 -w 1"));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  AlgorithmRun run = parseAlgorithmRun(r.output);
  // One host: oneshot and twoshot run, hier needs several hosts; auto is the planner.
  const std::vector<std::string> forced{"ring", "tree", "rhd", "oneshot", "twoshot"};
  std::vector<std::string> expected = forced;
  expected.push_back("auto");
  EXPECT_EQ(run.sections, expected) << r.output;
  ASSERT_EQ(run.skipped.count("hier"), 1u) << r.output;
  EXPECT_NE(run.skipped["hier"].find("host"), std::string::npos) << r.output;
  EXPECT_EQ(run.skipped.size(), 1u) << r.output;
  for (const std::string& name : expected) {
    const std::vector<PerfRow>& rows = run.rows[name];
    ASSERT_EQ(rows.size(), sweepSizes().size()) << name << "\n" << r.output;
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].bytes, sweepSizes()[i]) << name << "\n" << r.output;
      EXPECT_EQ(rows[i].wrongOutOfPlace, "0") << name << " size " << rows[i].bytes << "\n" << r.output;
      EXPECT_EQ(rows[i].wrongInPlace, "0") << name << " size " << rows[i].bytes << "\n" << r.output;
    }
  }
  // Every data row belongs to a section.
  EXPECT_EQ(parseRows(r.output).size(), expected.size() * sweepSizes().size()) << r.output;
  EXPECT_EQ(run.tableColumns, expected) << r.output;
  ASSERT_EQ(run.best.size(), sweepSizes().size()) << r.output;
  for (size_t bytes : sweepSizes()) {
    ASSERT_EQ(run.best.count(bytes), 1u) << "no summary line for " << bytes << "\n" << r.output;
    // The best is among the forced algorithms; auto/best compares the planner with it.
    EXPECT_NE(std::find(forced.begin(), forced.end(), run.best[bytes]), forced.end())
        << "size " << bytes << " best '" << run.best[bytes] << "'\n" << r.output;
    ASSERT_EQ(run.plannerRatio.count(bytes), 1u) << r.output;
    EXPECT_GT(std::stod(run.plannerRatio[bytes]), 0.0) << r.output;
  }
  EXPECT_EQ(r.output.find("FAILED"), std::string::npos) << r.output;
}

TEST_F(LoomPerfTest, AlgorithmListRunsExactlyTheNamedSections) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --ranks 2 -a ring,tree -b 1K -e 4K -n 1 -w 0"));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  AlgorithmRun run = parseAlgorithmRun(r.output);
  EXPECT_EQ(run.sections, (std::vector<std::string>{"ring", "tree"})) << r.output;
  EXPECT_TRUE(run.skipped.empty()) << r.output;
  EXPECT_EQ(run.rows["ring"].size(), 3u) << r.output;
  EXPECT_EQ(run.rows["tree"].size(), 3u) << r.output;
  EXPECT_EQ(run.tableColumns, (std::vector<std::string>{"ring", "tree"})) << r.output;
  EXPECT_EQ(run.best.size(), 3u) << r.output;
}

TEST_F(LoomPerfTest, UnknownAlgorithmIsRefusedWithTheKnownNames) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " -a bogus"));
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("unknown algorithm 'bogus'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ring"), std::string::npos) << r.output;
  EXPECT_TRUE(parseRows(r.output).empty()) << r.output;

  r = runCommand(withTimeout(loomPerfPath() + " --algo ring,bogus"));
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("unknown algorithm 'bogus'"), std::string::npos) << r.output;

  // An algorithm the collective does not have is refused up front, too.
  r = runCommand(withTimeout(loomPerfPath() + " -a ring,direct"));
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("direct does not implement allreduce"), std::string::npos) << r.output;
}

// loom-perf keeps its own copy of which algorithms implement which collective
// (the registry is internal to libloom.so); `-h` prints it, and this compares
// it with the registry so that a new or changed algorithm is not missed.
TEST_F(LoomPerfTest, AlgorithmListMatchesTheRegistry) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " -h"));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::pair<const char*, loom::CollectiveKind> collectives[] = {
      {"allreduce", loom::CollectiveKind::kAllReduce},     {"broadcast", loom::CollectiveKind::kBroadcast},
      {"reduce", loom::CollectiveKind::kReduce},           {"allgather", loom::CollectiveKind::kAllGather},
      {"reducescatter", loom::CollectiveKind::kReduceScatter}, {"alltoall", loom::CollectiveKind::kAllToAll}};
  for (const auto& [flagName, kind] : collectives) {
    std::set<std::string> registry;
    for (const loom::Algorithm& a : loom::algorithms()) {
      if (a.implements(kind)) registry.insert(a.name);
    }
    std::set<std::string> listed;
    bool found = false;
    std::istringstream lines(r.output);
    std::string line;
    const std::string prefix = std::string(flagName) + ":";
    while (std::getline(lines, line)) {
      size_t start = line.find_first_not_of(' ');
      if (start == std::string::npos || line.compare(start, prefix.size(), prefix) != 0) continue;
      found = true;
      std::string rest = line.substr(start + prefix.size());
      std::replace(rest.begin(), rest.end(), ',', ' ');
      std::istringstream names(rest);
      std::string name;
      while (names >> name) listed.insert(name);
    }
    ASSERT_TRUE(found) << "-h lists no algorithms for " << flagName << "\n" << r.output;
    EXPECT_EQ(listed, registry) << flagName << ": perf/loom_perf_algorithms.cpp no longer mirrors the registry";
  }
}

}  // namespace
