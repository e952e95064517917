// Ranks under `mpirun --oversubscribe -np 4`: loom-perf bootstraps Loom through
// createCommunicatorFromMpi and checks every result.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_command.h"

#if defined(LOOM_HAVE_MPI)
#include "bootstrap/mpi_bootstrap.h"
#endif

namespace {

using loom::testing::CommandResult;
using loom::testing::haveCommand;
using loom::testing::runCommand;

std::string loomPerfPath() { return loom::testing::builtProgramPath("loom-perf"); }

// `appContexts` is what follows mpirun's own flags: "-np 4 prog args [: -np 2 prog args]".
std::string mpirun(const std::string& appContexts) {
  // Containers often run as root and forbid the cross-process memory access
  // Open MPI's shared-memory transport would use.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  std::string bound = haveCommand("timeout") ? "timeout 120 " : "";
  return bound + "mpirun --oversubscribe --bind-to none --allow-run-as-root " + appContexts;
}

std::string loomPerfRanks(int nranks, const std::string& args) {
  return "-np " + std::to_string(nranks) + " " + loomPerfPath() + " " + args;
}

// nccl-tests' data rows: 13 columns, #wrong in columns 9 and 13.
std::vector<std::vector<std::string>> parseRows(const std::string& output) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    if (f.size() == 13) rows.push_back(f);
  }
  return rows;
}

class MpiBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveCommand("mpirun")) GTEST_SKIP() << "mpirun is not installed";
#if !defined(LOOM_HAVE_MPI)
    GTEST_SKIP() << "this build has no MPI";
#endif
    if (access(loomPerfPath().c_str(), X_OK) != 0) {
      GTEST_FAIL() << loomPerfPath() << " is missing; build the loom-perf target";
    }
  }
};

TEST_F(MpiBootstrapTest, FourRanksUnderMpirunBootstrapAndComputeCorrectly) {
  CommandResult r = runCommand(mpirun(loomPerfRanks(4, "-b 8 -e 1M -n 2 -w 1 -c 1")));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("over 4 ranks (launched by mpirun, bootstrapped over MPI)"), std::string::npos)
      << r.output;
  auto rows = parseRows(r.output);
  ASSERT_EQ(rows.size(), 18u) << r.output;  // 8 B .. 1 MiB doubling
  size_t expectedBytes = 8;
  for (const auto& row : rows) {
    EXPECT_EQ(row[0], std::to_string(expectedBytes));
    EXPECT_EQ(row[8], "0") << "out-of-place wrong at " << row[0] << "\n" << r.output;
    EXPECT_EQ(row[12], "0") << "in-place wrong at " << row[0] << "\n" << r.output;
    expectedBytes *= 2;
  }
  EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
}

TEST_F(MpiBootstrapTest, CompareMpiRunsBothLibrariesOnTheSameSizes) {
  CommandResult r = runCommand(mpirun(loomPerfRanks(4, "--coll allgather -b 1K -e 64K -n 2 -w 1 --compare mpi")));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  auto rows = parseRows(r.output);
  ASSERT_EQ(rows.size(), 14u) << r.output;  // 7 sizes, Loom then MPI
  for (const auto& row : rows) {
    EXPECT_EQ(row[8], "0") << r.output;
    EXPECT_EQ(row[12], "0") << r.output;
  }
  EXPECT_NE(r.output.find("# mpi Out of bounds values : 0 OK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("busbw ratio loom / mpi"), std::string::npos) << r.output;
}

TEST_F(MpiBootstrapTest, RankZeroFailingToCreateTheIdFailsEveryRankInsteadOfHanging) {
  // With no usable interface rank 0's createUniqueId fails. Only rank 0 ever
  // calls it, so ranks 1..3 can only learn of the failure from the broadcast;
  // without it they would wait in MPI_Bcast or for a root that never listens.
  CommandResult r = runCommand(mpirun("-x LOOM_SOCKET_IFNAME=no-such-interface0 " + loomPerfRanks(4, "-e 64")));
  EXPECT_NE(r.exitCode, 0) << r.output;
  EXPECT_NE(r.exitCode, 124) << "timed out instead of failing:\n" << r.output;
  EXPECT_NE(r.output.find("could not create the UniqueId"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no-such-interface0"), std::string::npos) << r.output;
  EXPECT_TRUE(parseRows(r.output).empty()) << r.output;
}

#if defined(LOOM_HAVE_MPI)
TEST(MpiBootstrapApiTest, RefusesToRunBeforeMpiInit) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) GTEST_SKIP() << "MPI is already initialised in this process";
  auto comm = loom::createCommunicatorFromMpi(MPI_COMM_WORLD);
  ASSERT_FALSE(comm.isOk());
  EXPECT_EQ(comm.status().code(), loom::StatusCode::kInvalidUsage);
  EXPECT_NE(comm.status().message().find("MPI_Init"), std::string::npos) << comm.status().message();
}
#endif

}  // namespace
