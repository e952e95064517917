// Where the topology tests find their data: the shared published topology files
// (../shared/topologies next to the source tree) and this folder's own fixtures.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace loom::topo_test {

inline std::filesystem::path sourceDir() {
  if (const char* dir = std::getenv("LOOM_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  // Run by hand, outside ctest: this file is <source>/tests/topo/.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

inline std::filesystem::path sharedTopologiesDir() { return sourceDir() / ".." / "shared" / "topologies"; }
inline std::filesystem::path fixturesDir() { return sourceDir() / "tests" / "topo" / "fixtures"; }

inline std::vector<std::filesystem::path> xmlFilesIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool hasLineNumber(const std::string& message) {
  for (size_t p = message.find("line "); p != std::string::npos; p = message.find("line ", p + 1)) {
    if (p + 5 < message.size() && message[p + 5] >= '0' && message[p + 5] <= '9') return true;
  }
  return false;
}

}  // namespace loom::topo_test

// The shared folder is outside this repository; without it the tests that need it skip.
#define LOOM_REQUIRE_SHARED_TOPOLOGIES()                                                              \
  do {                                                                                                \
    if (!std::filesystem::is_directory(::loom::topo_test::sharedTopologiesDir())) {                   \
      GTEST_SKIP() << "no shared topology files at " << ::loom::topo_test::sharedTopologiesDir()      \
                   << " (they live next to the source tree in ../shared/topologies)";                 \
    }                                                                                                 \
  } while (0)
