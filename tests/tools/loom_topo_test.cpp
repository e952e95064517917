// loom-topo as a user runs it: on this machine, on published topology files,
// on synthetic systems, and with bad arguments.
#include <gtest/gtest.h>

#include <string>

#include "support/run_command.h"
#include "topo/topo_test_paths.h"

namespace loom {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) {
  return testing::runCommand("timeout 120 " + testing::builtProgramPath("loom-topo") + " " + args);
}

TEST(LoomTopo, ShowsThisMachineWithoutAGpu) {
  CommandResult r = run("--coll allreduce -b 8 -e 256K");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("no GPU usable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 GPUs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NUMA 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# Paths between rank devices"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("AllReduce"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("256 KiB"), std::string::npos) << r.output;
}

TEST(LoomTopo, PublishedH100FileShowsGpusNicsAndRails) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  std::string file = (topo_test::sharedTopologiesDir() / "azure-ndv5-h100-topo.xml").string();
  CommandResult r = run("--topo-file " + file + " --no-plan");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("8 GPUs"), std::string::npos) << r.output;
  // The path matrix has a row per GPU, and each GPU's rail NIC is beside it.
  for (int i = 0; i < 8; ++i) {
    EXPECT_NE(r.output.find("GPU" + std::to_string(i) + " "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("rank " + std::to_string(i) + " ("), std::string::npos) << r.output;
  }
  EXPECT_NE(r.output.find(", PIX,"), std::string::npos) << r.output;
}

TEST(LoomTopo, MalformedFileIsRefusedWithLineAndReason) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  std::string file = (topo_test::sharedTopologiesDir() / "azure-ndv6-gb200-topo.UNMERGED-MALFORMED.xml").string();
  CommandResult r = run("--topo-file " + file);
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_TRUE(topo_test::hasLineNumber(r.output)) << r.output;
}

TEST(LoomTopo, SyntheticSystemAcrossHostsPlansHierarchical) {
  CommandResult r = run("--system dgx-h100 --hosts 2 --coll allreduce -b 256M -e 256M");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("16 GPUs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NVL"), std::string::npos) << r.output;
  // 16 GPUs: the whole matrix, NVL inside a host and NET across.
  EXPECT_NE(r.output.find("h1:GPU0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NET"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hier"), std::string::npos) << r.output;
}

TEST(LoomTopo, XmlAndDotOutputs) {
  CommandResult xml = run("--system dgx-h100 --xml");
  ASSERT_EQ(xml.exitCode, 0) << xml.output;
  EXPECT_EQ(xml.output.rfind("<system", 0), 0u) << xml.output.substr(0, 200);
  CommandResult dot = run("--system cpu-host --dot -");
  ASSERT_EQ(dot.exitCode, 0) << dot.output;
  EXPECT_EQ(dot.output.rfind("graph", 0), 0u) << dot.output.substr(0, 200);
}

TEST(LoomTopo, BadArgumentsNameTheValue) {
  CommandResult r = run("--system dgx-h200");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("dgx-h200"), std::string::npos) << r.output;
  r = run("--hosts zero");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("'zero'"), std::string::npos) << r.output;
  r = run("--frobnicate 1");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_NE(r.output.find("--frobnicate"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace loom
