// Builds tests/api/c_program/allreduce.c the way an NCCL user builds a
// program (a C99 compiler, include/nccl.h, -lnccl) and runs it on 2..4
// forked ranks against Loom's libnccl.so.2.
//
// The machine also has NVIDIA's libnccl.so.2 in the loader's cache, so the
// test checks which file ncclAllReduce really came from: passing because the
// real NCCL was loaded would prove nothing about Loom.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "support/run_command.h"

namespace {

namespace fs = std::filesystem;

using loom::testing::CommandResult;
using loom::testing::runCommand;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// ctest sets LOOM_BUILD_DIR and LOOM_SOURCE_DIR; when the binary is run by
// hand, fall back to its own location (build/bin/) and to this file's path.
fs::path buildDir() {
  if (const char* dir = std::getenv("LOOM_BUILD_DIR")) return dir;
  return fs::canonical("/proc/self/exe").parent_path().parent_path();
}

fs::path sourceDir() {
  if (const char* dir = std::getenv("LOOM_SOURCE_DIR")) return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

// The line "<key>: <value>" of the program's output, or "".
std::string outputField(const std::string& output, const std::string& key) {
  std::string prefix = key + ": ";
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    start = end + 1;
  }
  return "";
}

class NcclCProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    lib_ = buildDir() / "lib";
    ASSERT_TRUE(fs::exists(lib_ / "libnccl.so"))
        << lib_ / "libnccl.so" << " is missing: build the `nccl` target (e.g. plain `ninja`) first";
    ASSERT_TRUE(fs::exists(lib_ / "libnccl.so.2")) << lib_ / "libnccl.so.2" << " is missing";
    char dirTemplate[] = "/tmp/loom_c_program_XXXXXX";
    ASSERT_NE(mkdtemp(dirTemplate), nullptr);
    workDir_ = dirTemplate;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!workDir_.empty()) fs::remove_all(workDir_, ignored);
  }

  // Compiles the program as an NCCL user would; returns its path.
  fs::path compile() {
    fs::path source = sourceDir() / "tests/api/c_program/allreduce.c";
    fs::path program = workDir_ / "allreduce";
    std::string command = "cc -std=c99 -Wall -Wextra -I" + quoted(sourceDir() / "include") + " " +
                          quoted(source) + " -L" + quoted(lib_) + " -lnccl -ldl -o " + quoted(program);
    CommandResult built = runCommand(command);
    EXPECT_EQ(built.exitCode, 0) << command << "\n" << built.output;
    EXPECT_EQ(built.output, "") << "the program should compile without warnings:\n" << built.output;
    return program;
  }

  fs::path lib_;
  fs::path workDir_;
};

TEST_F(NcclCProgram, AllReduceRunsOnLoomsLibnccl) {
  fs::path program = compile();
  ASSERT_TRUE(fs::exists(program));
  const fs::path loomLibrary = fs::canonical(lib_ / "libnccl.so.2");
  for (int nranks = 2; nranks <= 4; ++nranks) {
    SCOPED_TRACE("nranks " + std::to_string(nranks));
    // `timeout` bounds a hung run; the program's ranks also give up on their own.
    std::string command = "LD_LIBRARY_PATH=" + quoted(lib_) + " timeout 120 " + quoted(program) + " " +
                          std::to_string(nranks);
    CommandResult run = runCommand(command);
    ASSERT_EQ(run.exitCode, 0) << command << "\n" << run.output;
    EXPECT_NE(run.output.find("all " + std::to_string(nranks) + " ranks passed"), std::string::npos)
        << run.output;
    EXPECT_EQ(outputField(run.output, "version"), "22809") << run.output;

    std::string library = outputField(run.output, "library");
    ASSERT_FALSE(library.empty()) << run.output;
    std::error_code error;
    fs::path loaded = fs::canonical(library, error);
    ASSERT_FALSE(error) << "cannot resolve " << library;
    EXPECT_EQ(loaded, loomLibrary) << "ncclAllReduce came from " << library << ", not Loom's build";
  }
}

}  // namespace
