// Checkpoints: bit-exact round trip, every kind of damage refused with its
// reason, fallback to the previous valid file, pruning, and fuzzing.
#include "trainer/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "trainer/byte_codec.h"
#include "trainer/checksum.h"
#include "trainer_test_files.h"

namespace loom::trainer {
namespace {

using testing::ScopedTempDir;

// A checkpoint with awkward floats (NaN payloads, -0, denormals, infinities)
// that a lossy format would change.
TrainingCheckpoint sampleCheckpoint(uint64_t step, size_t parameterCount = 1000) {
  TrainingCheckpoint checkpoint;
  checkpoint.modelConfig = {{"vocab_size", 64}, {"n_layer", 2}, {"n_head", 4}, {"channels", 64},
                            {"max_seq_len", 64}};
  checkpoint.step = step;
  checkpoint.dataPosition = step * 16 + 3;
  checkpoint.rngState = {0x0123456789ABCDEFULL, step, ~0ULL, 42};
  Xoshiro256 random(step + 1);
  for (size_t i = 0; i < parameterCount; ++i) {
    checkpoint.parameters.push_back(static_cast<float>(random.uniformUnit() - 0.5));
    checkpoint.adamFirstMoment.push_back(static_cast<float>(random.uniformUnit() * 1e-3));
    checkpoint.adamSecondMoment.push_back(static_cast<float>(random.uniformUnit() * 1e-6));
  }
  uint32_t nanWithPayload = 0x7FC01234;
  std::memcpy(&checkpoint.parameters[0], &nanWithPayload, sizeof(float));
  checkpoint.parameters[1] = -0.0f;
  checkpoint.parameters[2] = std::numeric_limits<float>::denorm_min();
  checkpoint.parameters[3] = -std::numeric_limits<float>::infinity();
  checkpoint.extra = {{"tokens_seen", static_cast<int64_t>(step) * 4096}, {"negative", -7}};
  return checkpoint;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool bitIdentical(const TrainingCheckpoint& a, const TrainingCheckpoint& b) {
  return a.modelConfig == b.modelConfig && a.step == b.step && a.dataPosition == b.dataPosition &&
         a.rngState == b.rngState && sameBits(a.parameters, b.parameters) &&
         sameBits(a.adamFirstMoment, b.adamFirstMoment) &&
         sameBits(a.adamSecondMoment, b.adamSecondMoment) && a.extra == b.extra;
}

std::vector<uint8_t> encoded(const TrainingCheckpoint& checkpoint) {
  auto bytes = encodeCheckpoint(checkpoint);
  EXPECT_TRUE(bytes.isOk()) << bytes.status().toString();
  return std::move(bytes).value();
}

// The status message of loading `bytes` from a file (which must fail).
std::string loadFailure(const ScopedTempDir& directory, const std::vector<uint8_t>& bytes) {
  const std::string path = directory.file(checkpointFileName(5));
  testing::writeBytes(path, bytes);
  const auto loaded = loadCheckpoint(path);
  EXPECT_FALSE(loaded.isOk());
  if (loaded.isOk()) return "";
  EXPECT_NE(loaded.status().message().find(path), std::string::npos) << loaded.status().message();
  return loaded.status().message();
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

#define EXPECT_MENTIONS(message, fragment) \
  EXPECT_NE((message).find(fragment), std::string::npos) << "lacks \"" << (fragment) << "\": " << (message)

TEST(CheckpointTest, Crc32cMatchesTheStandardCheckValue) {
  const std::string text = "123456789";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  EXPECT_EQ(crc32c(bytes), 0xE3069283u);
  EXPECT_EQ(crc32c(bytes.subspan(4), crc32c(bytes.first(4))), 0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
}

TEST(CheckpointTest, FileNamesCarryTheStepInEightDigits) {
  EXPECT_EQ(checkpointFileName(20), "ckpt-00000020.bin");
  EXPECT_EQ(checkpointFileName(0), "ckpt-00000000.bin");
  EXPECT_EQ(checkpointFileName(123456789), "ckpt-123456789.bin");
}

TEST(CheckpointTest, SaveAndLoadAreBitExact) {
  ScopedTempDir directory;
  const TrainingCheckpoint original = sampleCheckpoint(20);
  const auto path = saveCheckpoint(directory.file("run"), original);  // creates the directory
  ASSERT_TRUE(path.isOk()) << path.status().toString();
  EXPECT_EQ(path.value(), directory.file("run/ckpt-00000020.bin"));
  EXPECT_FALSE(std::filesystem::exists(path.value() + ".tmp"));

  auto loaded = loadCheckpoint(path.value());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_TRUE(bitIdentical(loaded.value(), original));
  EXPECT_TRUE(std::isnan(loaded->parameters[0]));
  EXPECT_TRUE(std::signbit(loaded->parameters[1]));
  // Saving what was loaded writes the same bytes: the format is canonical.
  EXPECT_EQ(encoded(loaded.value()), testing::readBytes(path.value()));
}

// A run stores its generator's state and, after a restart, continues the
// exact random sequence it would have drawn.
TEST(CheckpointTest, RandomStateResumesTheSameSequence) {
  Xoshiro256 running(31337);
  for (int i = 0; i < 100; ++i) running.next();
  TrainingCheckpoint checkpoint;
  checkpoint.rngState.assign(running.state().begin(), running.state().end());
  const auto decoded = decodeCheckpoint(encoded(checkpoint));
  ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
  auto restored = Xoshiro256::fromState(decoded.value().rngState);
  ASSERT_TRUE(restored.isOk()) << restored.status().toString();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(restored->next(), running.next());

  EXPECT_FALSE(Xoshiro256::fromState(std::vector<uint64_t>{1, 2, 3}).isOk());
  EXPECT_FALSE(Xoshiro256::fromState(std::vector<uint64_t>{0, 0, 0, 0}).isOk());
}

TEST(CheckpointTest, EmptyArraysAndConfigsRoundTrip) {
  TrainingCheckpoint empty;
  const auto decoded = decodeCheckpoint(encoded(empty));
  ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
  EXPECT_TRUE(bitIdentical(decoded.value(), empty));
}

TEST(CheckpointTest, MismatchedArraysAndBadNamesAreNotSaved) {
  TrainingCheckpoint checkpoint = sampleCheckpoint(1);
  checkpoint.adamSecondMoment.pop_back();
  auto bytes = encodeCheckpoint(checkpoint);
  ASSERT_FALSE(bytes.isOk());
  EXPECT_MENTIONS(bytes.status().message(), "parameters has 1000 values, adam_m 1000, adam_v 999");

  checkpoint = sampleCheckpoint(1);
  checkpoint.extra[""] = 1;
  bytes = encodeCheckpoint(checkpoint);
  ASSERT_FALSE(bytes.isOk());
  EXPECT_MENTIONS(bytes.status().message(), "extra");
}

TEST(CheckpointTest, TruncatedFileIsRefused) {
  ScopedTempDir directory;
  const std::vector<uint8_t> bytes = encoded(sampleCheckpoint(5));
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2));
  const std::string message = loadFailure(directory, cut);
  EXPECT_MENTIONS(message, "truncated");
  EXPECT_MENTIONS(message, std::to_string(bytes.size()));
  EXPECT_MENTIONS(message, std::to_string(cut.size()));
  EXPECT_MENTIONS(loadFailure(directory, std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10)),
                  "truncated: 10 bytes");
}

TEST(CheckpointTest, ExtraBytesAreRefused) {
  ScopedTempDir directory;
  std::vector<uint8_t> bytes = encoded(sampleCheckpoint(5));
  bytes.insert(bytes.end(), {1, 2, 3});
  EXPECT_MENTIONS(loadFailure(directory, bytes), "3 extra bytes");
}

TEST(CheckpointTest, FlippedByteIsAChecksumMismatchWithBothValues) {
  ScopedTempDir directory;
  std::vector<uint8_t> bytes = encoded(sampleCheckpoint(5));
  const uint32_t stored = loadLittleEndian<uint32_t>(bytes.data() + bytes.size() - 4);
  bytes[bytes.size() / 2] ^= 0x10;
  const uint32_t computed = crc32c(std::span(bytes).first(bytes.size() - 4));
  const std::string message = loadFailure(directory, bytes);
  EXPECT_MENTIONS(message, "checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) + ")");
}

TEST(CheckpointTest, WrongMagicShowsTheBytesFound) {
  ScopedTempDir directory;
  std::vector<uint8_t> bytes = encoded(sampleCheckpoint(5));
  std::memcpy(bytes.data(), "GPT2CKPT", 8);
  const std::string message = loadFailure(directory, bytes);
  EXPECT_MENTIONS(message, "bad magic 0x47505432434b5054");
  EXPECT_MENTIONS(message, "LOOMCKPT");
}

TEST(CheckpointTest, UnsupportedVersionIsRefused) {
  ScopedTempDir directory;
  std::vector<uint8_t> bytes = encoded(sampleCheckpoint(5));
  bytes[8] = 2;
  EXPECT_MENTIONS(loadFailure(directory, bytes), "unsupported format version 2");
}

TEST(CheckpointTest, ConfigMismatchNamesEveryDifferingField) {
  const NamedIntegers saved = sampleCheckpoint(1).modelConfig;
  EXPECT_TRUE(checkModelConfig(saved, saved).isOk());
  NamedIntegers run = saved;
  run["n_layer"] = 4;
  run.erase("channels");
  run["dropout_permille"] = 0;
  const Status status = checkModelConfig(saved, run);
  ASSERT_FALSE(status.isOk());
  EXPECT_MENTIONS(status.message(), "n_layer is 2 in the checkpoint but 4 in this run");
  EXPECT_MENTIONS(status.message(), "channels is 64 in the checkpoint but not set in this run");
  EXPECT_MENTIONS(status.message(), "dropout_permille is 0 in this run but missing from the checkpoint");
}

class CheckpointDirectoryTest : public ::testing::Test {
 protected:
  std::string save(uint64_t step, const CheckpointSaveOptions& options = {}) {
    const auto path = saveCheckpoint(directory_.path(), sampleCheckpoint(step, 100), options);
    EXPECT_TRUE(path.isOk()) << path.status().toString();
    return path.isOk() ? path.value() : "";
  }
  void corrupt(const std::string& path) {
    std::vector<uint8_t> bytes = testing::readBytes(path);
    bytes[bytes.size() / 2] ^= 0xFF;
    testing::writeBytes(path, bytes);
  }

  ScopedTempDir directory_;
};

TEST_F(CheckpointDirectoryTest, LoadLatestPicksTheHighestStep) {
  save(10);
  save(200);  // numerically, not alphabetically, newest
  save(30);
  auto loaded = loadLatestCheckpoint(directory_.path());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_EQ(loaded->checkpoint.step, 200u);
  EXPECT_TRUE(loaded->rejected.empty());
  EXPECT_EQ(loaded->summary(), "using ckpt-00000200.bin");
}

TEST_F(CheckpointDirectoryTest, CorruptNewestFallsBackToThePreviousAndSaysWhy) {
  save(10);
  corrupt(save(20));
  auto loaded = loadLatestCheckpoint(directory_.path());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_EQ(loaded->checkpoint.step, 10u);
  EXPECT_TRUE(bitIdentical(loaded->checkpoint, sampleCheckpoint(10, 100)));
  ASSERT_EQ(loaded->rejected.size(), 1u);
  EXPECT_EQ(loaded->rejected[0].rfind("ckpt-00000020.bin: checksum mismatch (stored 0x", 0), 0u)
      << loaded->rejected[0];
  EXPECT_MENTIONS(loaded->summary(), "ckpt-00000020.bin: checksum mismatch");
  EXPECT_MENTIONS(loaded->summary(), "; using ckpt-00000010.bin");
}

TEST_F(CheckpointDirectoryTest, TruncatedAndMisnamedFilesAreSkipped) {
  save(10);
  const std::string newest = save(30);
  std::filesystem::resize_file(newest, 100);
  std::filesystem::copy_file(directory_.file("ckpt-00000010.bin"), directory_.file("ckpt-00000040.bin"));
  auto loaded = loadLatestCheckpoint(directory_.path());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_EQ(loaded->checkpoint.step, 10u);
  ASSERT_EQ(loaded->rejected.size(), 2u);
  EXPECT_MENTIONS(loaded->rejected[0], "ckpt-00000040.bin: holds step 10");
  EXPECT_MENTIONS(loaded->rejected[1], "ckpt-00000030.bin: truncated");
}

TEST_F(CheckpointDirectoryTest, NoValidCheckpointIsAnErrorListingEveryReason) {
  corrupt(save(10));
  corrupt(save(20));
  auto loaded = loadLatestCheckpoint(directory_.path());
  ASSERT_FALSE(loaded.isOk());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_MENTIONS(loaded.status().message(), "no valid checkpoint in " + directory_.path());
  EXPECT_MENTIONS(loaded.status().message(), "ckpt-00000020.bin: checksum mismatch");
  EXPECT_MENTIONS(loaded.status().message(), "ckpt-00000010.bin: checksum mismatch");
}

TEST_F(CheckpointDirectoryTest, NothingToResumeFromIsUnavailable) {
  testing::writeBytes(directory_.file("notes.txt"), {1, 2, 3});
  testing::writeBytes(directory_.file("ckpt-00000050.bin.tmp"), {1, 2, 3});  // an interrupted save
  testing::writeBytes(directory_.file("ckpt-12.bin"), {1, 2, 3});            // too few digits
  auto loaded = loadLatestCheckpoint(directory_.path());
  ASSERT_FALSE(loaded.isOk());
  EXPECT_EQ(loaded.status().code(), StatusCode::kUnavailable);
  EXPECT_MENTIONS(loaded.status().message(), "no checkpoint files");

  loaded = loadLatestCheckpoint(directory_.file("missing"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_EQ(loaded.status().code(), StatusCode::kUnavailable);
  EXPECT_MENTIONS(loaded.status().message(), "does not exist");
}

TEST_F(CheckpointDirectoryTest, KeepLastDeletesOnlyOlderCheckpoints) {
  save(90);  // left by an abandoned run that got further: never pruned
  for (uint64_t step : {10, 20, 30, 40}) save(step, {.keepLast = 2});
  const auto files = listCheckpoints(directory_.path());
  ASSERT_TRUE(files.isOk());
  std::vector<uint64_t> steps;
  for (const CheckpointFile& file : files.value()) steps.push_back(file.step);
  EXPECT_EQ(steps, (std::vector<uint64_t>{90, 40, 30}));
}

// Random damage to a valid checkpoint must never crash the reader, and must
// never be accepted: every outcome is an error or the original, bit for bit.
TEST(CheckpointFuzzTest, DamagedCheckpointsLoadIdenticallyOrFail) {
  const TrainingCheckpoint original = sampleCheckpoint(7, 64);
  const std::vector<uint8_t> bytes = encoded(original);
  Xoshiro256 random(99);
  int refused = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    const std::vector<uint8_t> damaged = testing::randomlyCorrupted(bytes, random);
    const auto decoded = decodeCheckpoint(damaged);
    if (decoded.isOk()) {
      ASSERT_EQ(damaged, bytes) << "trial " << trial << " accepted a changed file";
      ASSERT_TRUE(bitIdentical(decoded.value(), original)) << "trial " << trial;
    } else {
      ASSERT_FALSE(decoded.status().message().empty());
      ++refused;
    }
  }
  EXPECT_GT(refused, 4900);  // only byte overwrites with the same value survive
}

// Damage behind a recomputed, valid checksum exercises the section parser
// itself: it must refuse inconsistent lengths without reading out of bounds
// (run under LOOM_SANITIZE=ON to check the "without"), and whatever it
// accepts must be a consistent checkpoint.
TEST(CheckpointFuzzTest, ParserSurvivesDamageBehindAValidChecksum) {
  const std::vector<uint8_t> bytes = encoded(sampleCheckpoint(7, 16));
  Xoshiro256 random(123);
  int accepted = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<uint8_t> damaged = testing::randomlyCorrupted(bytes, random);
    if (damaged.size() < 28) continue;
    // Restore the magic and version so the damage reaches the sections, then
    // make the length and checksum agree with the damaged contents.
    std::copy(bytes.begin(), bytes.begin() + 12, damaged.begin());
    ByteWriter fixed;
    fixed.putBytes(std::span(damaged).first(damaged.size() - 4));
    fixed.patch<uint64_t>(16, damaged.size());
    fixed.put(crc32c(fixed.bytes()));
    auto decoded = decodeCheckpoint(fixed.bytes());
    if (decoded.isOk()) {
      ++accepted;
      ASSERT_EQ(decoded->adamFirstMoment.size(), decoded->parameters.size());
      ASSERT_EQ(decoded->adamSecondMoment.size(), decoded->parameters.size());
    } else {
      ASSERT_FALSE(decoded.status().message().empty());
    }
  }
  EXPECT_GT(accepted, 0);  // e.g. changed parameter values are legal contents
}

}  // namespace
}  // namespace loom::trainer
