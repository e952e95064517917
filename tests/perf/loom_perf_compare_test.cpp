// loom-perf's comparisons and output files: --compare gloo (forked ranks),
// --compare mpi,gloo (under mpirun), --json, --plot, and their bad values.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_command.h"

namespace {

using loom::testing::CommandResult;
using loom::testing::haveCommand;
using loom::testing::runCommand;

std::string loomPerfPath() { return loom::testing::builtProgramPath("loom-perf"); }

std::string withTimeout(const std::string& command) {
  if (haveCommand("timeout")) return "timeout 300 " + command;
  return command;
}

// As tests/bootstrap/mpi_bootstrap_test.cpp runs it: as root in a container,
// without cross-process memory access, more ranks than cores.
std::string underMpirun(int nranks, const std::string& args) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  return withTimeout("mpirun --oversubscribe --bind-to none --allow-run-as-root -np " + std::to_string(nranks) + " " +
                     loomPerfPath() + " " + args);
}

std::vector<std::string> fieldsOf(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> f;
  std::string field;
  while (in >> field) f.push_back(field);
  return f;
}

// The data rows of each library's section, in order: nccl-tests' 13 columns.
struct Sections {
  std::vector<std::string> libraries;  // "loom", then each "# Comparison: ..." section's library
  std::vector<std::vector<std::vector<std::string>>> rows;
};

Sections parseSections(const std::string& output) {
  Sections s;
  s.libraries.push_back("loom");
  s.rows.emplace_back();
  std::istringstream lines(output);
  std::string line;
  const std::string marker = "# (";
  while (std::getline(lines, line)) {
    // "# (gloo rows: same columns; ...)" opens a compared library's section.
    if (line.rfind(marker, 0) == 0 && line.find(" rows: same columns") != std::string::npos) {
      s.libraries.push_back(line.substr(marker.size(), line.find(' ', marker.size()) - marker.size()));
      s.rows.emplace_back();
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = fieldsOf(line);
    if (f.size() == 13) s.rows.back().push_back(f);
  }
  return s;
}

// The ratio table: its header's column names and its lines (fields).
struct RatioTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> lines;
};

RatioTable parseRatioTable(const std::string& output) {
  RatioTable t;
  std::istringstream lines(output);
  std::string line;
  bool inTable = false;
  while (std::getline(lines, line)) {
    if (line.rfind("# busbw ratio loom / ", 0) == 0) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    if (line.rfind("#", 0) == 0) {
      std::vector<std::string> f = fieldsOf(line.substr(1));
      if (!f.empty() && f[0] == "size") {
        t.columns = f;
      } else if (!t.columns.empty()) {
        break;  // the table's end
      }
      continue;
    }
    t.lines.push_back(fieldsOf(line));
  }
  return t;
}

// 8 B .. 64 KiB doubling: 14 sizes.
constexpr size_t kSizes = 14;

void expectSectionsCorrect(const CommandResult& r, const std::vector<std::string>& libraries, size_t sizes) {
  Sections s = parseSections(r.output);
  ASSERT_EQ(s.libraries, libraries) << r.output;
  for (size_t i = 0; i < libraries.size(); ++i) {
    ASSERT_EQ(s.rows[i].size(), sizes) << libraries[i] << "\n" << r.output;
    for (const auto& row : s.rows[i]) {
      EXPECT_EQ(row[8], "0") << libraries[i] << " out of place, size " << row[0] << "\n" << r.output;
      EXPECT_EQ(row[12], "0") << libraries[i] << " in place, size " << row[0] << "\n" << r.output;
    }
    if (i > 0) {
      EXPECT_NE(r.output.find("# " + libraries[i] + " Out of bounds values : 0 OK"), std::string::npos) << r.output;
    }
  }
}

// A number, or "-" where the other library has no row or no bandwidth. Its
// value depends on timing (a descheduled rank can make it round to 0.00 on a
// loaded 2-core machine), so only its form is checked.
void expectRatio(const std::string& field, const std::string& output) {
  if (field == "-") return;
  char* end = nullptr;
  double v = std::strtod(field.c_str(), &end);
  EXPECT_TRUE(end != field.c_str() && *end == '\0') << "'" << field << "' is not a number\n" << output;
  EXPECT_GE(v, 0.0) << output;
}

class LoomPerfCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(loomPerfPath().c_str(), X_OK) != 0) {
      GTEST_FAIL() << loomPerfPath() << " is missing; build the loom-perf target";
    }
    char pattern[] = "/tmp/loom-perf-compare-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) runCommand("rm -rf '" + dir_ + "'");
  }

  // Skips when this loom-perf was built without Gloo.
  void skipWithoutGloo(const CommandResult& r) {
    if (r.output.find("built without Gloo") != std::string::npos) GTEST_SKIP() << "this loom-perf has no Gloo";
  }

  std::string dir_;
};

TEST_F(LoomPerfCompareTest, CompareGlooWithForkedRanksRunsBothLibrariesCorrectly) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --ranks 2 --compare gloo -b 8 -e 64K -n 2 -w 1"));
  skipWithoutGloo(r);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  expectSectionsCorrect(r, {"loom", "gloo"}, kSizes);
  RatioTable t = parseRatioTable(r.output);
  const std::vector<std::string> half{"loom", "gloo", "loom/gloo"};
  std::vector<std::string> columns{"size", "type", "redop", "root"};
  columns.insert(columns.end(), half.begin(), half.end());
  columns.insert(columns.end(), half.begin(), half.end());
  EXPECT_EQ(t.columns, columns) << r.output;
  ASSERT_EQ(t.lines.size(), kSizes) << r.output;
  for (const auto& line : t.lines) {
    ASSERT_EQ(line.size(), columns.size()) << r.output;
    expectRatio(line[6], r.output);
    expectRatio(line[9], r.output);
  }
}

// Gloo skips what it lacks, as MPI does, and checks every other combination.
TEST_F(LoomPerfCompareTest, CompareGlooSkipsTypesAndOpsGlooLacks) {
  CommandResult r = runCommand(withTimeout(loomPerfPath() +
                                           " --ranks 3 --coll reducescatter --compare gloo -d all -o all -b 1K -e 4K "
                                           "-n 1 -w 0"));
  skipWithoutGloo(r);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("# gloo: skipping bfloat16/sum: Gloo has no bfloat16 type"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# gloo: skipping float/avg: Gloo has no avg reduction"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# gloo Out of bounds values : 0 OK"), std::string::npos) << r.output;
}

TEST_F(LoomPerfCompareTest, CompareMpiAndGlooUnderMpirunPrintsAllThreeAndTheRatios) {
  if (!haveCommand("mpirun")) GTEST_SKIP() << "mpirun is not installed";
  CommandResult r = runCommand(underMpirun(2, "--compare mpi,gloo -b 8 -e 64K -n 2 -w 1"));
  if (r.output.find("built with MPI") != std::string::npos || r.output.find("built without MPI") != std::string::npos) {
    GTEST_SKIP() << "this loom-perf has no MPI";
  }
  skipWithoutGloo(r);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  expectSectionsCorrect(r, {"loom", "mpi", "gloo"}, kSizes);
  EXPECT_NE(r.output.find("busbw ratio loom / mpi, loom / gloo"), std::string::npos) << r.output;
  RatioTable t = parseRatioTable(r.output);
  const std::vector<std::string> half{"loom", "mpi", "loom/mpi", "gloo", "loom/gloo"};
  std::vector<std::string> columns{"size", "type", "redop", "root"};
  columns.insert(columns.end(), half.begin(), half.end());
  columns.insert(columns.end(), half.begin(), half.end());
  EXPECT_EQ(t.columns, columns) << r.output;
  ASSERT_EQ(t.lines.size(), kSizes) << r.output;
  for (const auto& line : t.lines) {
    ASSERT_EQ(line.size(), columns.size()) << r.output;
    for (size_t ratioColumn : {6u, 8u, 11u, 13u}) expectRatio(line[ratioColumn], r.output);
  }
}

// Checks the file with Python's json module: keys, libraries, one object per
// row and placement. `expectedLibraries` is a Python set literal.
void expectValidJson(const std::string& path, const std::string& expectedLibraries, size_t expectedObjects,
                     const std::string& extraCheck = "") {
  const std::string script =
      "import json,sys\n"
      "rows = json.load(open(sys.argv[1]))\n"
      "assert isinstance(rows, list), 'not an array'\n"
      "keys = {'library','algorithm','collective','ranks','type','op','root','bytes','count','in_place','time_us',"
      "'algbw_gbps','busbw_gbps','wrong'}\n"
      "for r in rows:\n"
      "    assert keys <= set(r), 'missing keys: %s' % (keys - set(r))\n"
      "    assert r['wrong'] == 0, r\n"
      "    assert isinstance(r['in_place'], bool) and r['time_us'] > 0 and r['busbw_gbps'] >= 0, r\n"
      "    assert r['collective'] == 'allreduce' and r['ranks'] == 2 and r['type'] == 'float' and r['op'] == 'sum', r\n"
      "libs = {r['library'] for r in rows}\n"
      "assert libs == " + expectedLibraries + ", libs\n"
      "assert len(rows) == " + std::to_string(expectedObjects) + ", len(rows)\n"
      "assert sum(r['in_place'] for r in rows) * 2 == len(rows)\n" + extraCheck + "print('json ok')\n";
  const std::string scriptPath = path + ".check.py";
  std::ofstream(scriptPath) << script;
  CommandResult check = runCommand("python3 '" + scriptPath + "' '" + path + "'");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(check.exitCode, 0) << check.output << "\n" << text;
  EXPECT_NE(check.output.find("json ok"), std::string::npos) << check.output;
}

TEST_F(LoomPerfCompareTest, JsonHoldsEveryRowOfEveryLibrary) {
  if (!haveCommand("python3")) GTEST_SKIP() << "python3 is not installed to parse the JSON";
  const std::string json = dir_ + "/rows.json";
  CommandResult r = runCommand(
      withTimeout(loomPerfPath() + " --ranks 2 --compare gloo -b 1K -e 4K -n 1 -w 0 --json " + json));
  skipWithoutGloo(r);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("# Rows written to " + json), std::string::npos) << r.output;
  // 3 sizes x 2 placements x 2 libraries; no -a, so no algorithm.
  expectValidJson(json, "{'loom', 'gloo'}", 12, "assert all(r['algorithm'] is None for r in rows)\n");
}

TEST_F(LoomPerfCompareTest, JsonNamesTheAlgorithmOfEachSection) {
  if (!haveCommand("python3")) GTEST_SKIP() << "python3 is not installed to parse the JSON";
  const std::string json = dir_ + "/sections.json";
  CommandResult r =
      runCommand(withTimeout(loomPerfPath() + " --ranks 2 -a ring,tree -b 1K -e 4K -n 1 -w 0 --json " + json));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  expectValidJson(json, "{'loom'}", 12,
                  "assert sorted({r['algorithm'] for r in rows}) == ['ring', 'tree'], rows\n");
}

TEST_F(LoomPerfCompareTest, PlotWritesAPng) {
  if (!haveCommand("gnuplot")) GTEST_SKIP() << "gnuplot is not installed";
  const std::string png = dir_ + "/busbw.png";
  CommandResult r = runCommand(withTimeout(loomPerfPath() + " --ranks 2 -b 8 -e 64K -n 1 -w 0 --plot " + png));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::ifstream in(png, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 8u) << r.output;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << r.output;
}

TEST_F(LoomPerfCompareTest, PlotWithoutGnuplotIsRefusedBeforeTheSweep) {
  CommandResult r = runCommand(withTimeout("env PATH=/nonexistent " + loomPerfPath() + " --plot " + dir_ + "/x.png"));
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("gnuplot"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Out of bounds"), std::string::npos) << r.output;
}

TEST_F(LoomPerfCompareTest, BadValuesAreRefusedWithTheValueNamed) {
  struct Case {
    std::string args;
    std::string expected;
  } cases[] = {
      {"--compare nccl", "unknown library 'nccl'"},
      {"--compare mpi,bogus", "unknown library 'bogus' in 'mpi,bogus'"},
      {"--compare mpi,", "empty library name in 'mpi,'"},
      {"--plot out.jpg", "'out.jpg' does not end in .png"},
      {"--plot ''", "--plot needs a file name"},
      {"--json ''", "--json needs a file name"},
      {"--compare gloo", "--compare gloo needs 2 or more ranks"},
      {"--json", "needs a value"},
  };
  for (const Case& c : cases) {
    CommandResult r = runCommand(withTimeout("env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE " + loomPerfPath() + " " + c.args));
    if (c.args == "--compare gloo" && r.output.find("built without Gloo") != std::string::npos) continue;
    EXPECT_EQ(r.exitCode, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST_F(LoomPerfCompareTest, CompareMpiAndGlooWithForkedRanksSaysMpiNeedsMpirun) {
  CommandResult r = runCommand(
      withTimeout("env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE " + loomPerfPath() + " --ranks 2 --compare mpi,gloo"));
  EXPECT_EQ(r.exitCode, 2) << r.output;
  // Under mpirun, or (a build without MPI) built with MPI.
  EXPECT_NE(r.output.find("MPI"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Out of bounds"), std::string::npos) << r.output;
}

}  // namespace
