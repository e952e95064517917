// Helpers shared by the trainer's file tests: a scratch directory that removes
// itself, whole-file byte access, and seeded random corruption for fuzzing.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "trainer/random.h"

namespace loom::trainer::testing {

// A fresh directory under ::testing::TempDir(), deleted with its contents.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = ::testing::TempDir() + "/loom_trainer_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Damages a copy of `original` the way storage and copies do: one to three
// random bytes overwritten, a cut at a random length, or a few bytes appended.
inline std::vector<uint8_t> randomlyCorrupted(const std::vector<uint8_t>& original,
                                              Xoshiro256& random) {
  std::vector<uint8_t> bytes = original;
  switch (random.uniformBelow(3)) {
    case 0: {
      const uint64_t changes = 1 + random.uniformBelow(3);
      for (uint64_t i = 0; i < changes && !bytes.empty(); ++i) {
        bytes[random.uniformBelow(bytes.size())] = static_cast<uint8_t>(random.next());
      }
      break;
    }
    case 1:
      bytes.resize(random.uniformBelow(bytes.size()));
      break;
    default:
      for (uint64_t i = 1 + random.uniformBelow(8); i > 0; --i) {
        bytes.push_back(static_cast<uint8_t>(random.next()));
      }
      break;
  }
  return bytes;
}

}  // namespace loom::trainer::testing
