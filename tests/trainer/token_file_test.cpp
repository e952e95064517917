// Token files in llm.c's format: round trip and every way a file can be wrong.
#include "trainer/token_file.h"

#include <gtest/gtest.h>

#include <array>
#include <numeric>

#include "trainer/byte_codec.h"
#include "trainer_test_files.h"

namespace loom::trainer {
namespace {

using testing::ScopedTempDir;

// The bytes of a token file with a chosen header, for building bad files.
std::vector<uint8_t> tokenFileBytes(int32_t magic, int32_t version, int32_t declaredTokens,
                                    const std::vector<uint16_t>& tokens) {
  std::array<int32_t, kTokenFileHeaderInts> header{};
  header[0] = magic;
  header[1] = version;
  header[2] = declaredTokens;
  ByteWriter writer;
  writer.putArray<int32_t>(header);
  writer.putArray<uint16_t>(tokens);
  return writer.release();
}

std::vector<uint16_t> countingTokens(size_t count, uint16_t modulo) {
  std::vector<uint16_t> tokens(count);
  for (size_t i = 0; i < count; ++i) tokens[i] = static_cast<uint16_t>(i % modulo);
  return tokens;
}

// Expects `result` to be an error whose message contains every fragment.
template <typename T>
void expectErrorMentions(const Result<T>& result, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(result.isOk()) << "expected an error mentioning " << fragments.front();
  const std::string message = result.status().message();
  for (const std::string& fragment : fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "message lacks \"" << fragment << "\": " << message;
  }
}

class TokenFileTest : public ::testing::Test {
 protected:
  // Writes raw bytes to a file and reads it back as tokens.
  Result<std::vector<uint16_t>> readRaw(const std::vector<uint8_t>& bytes,
                                        TokenFileRequirements requirements = {}) {
    testing::writeBytes(path_, bytes);
    return readTokenFile(path_, requirements);
  }

  ScopedTempDir directory_;
  std::string path_ = directory_.file("tokens.bin");
};

TEST_F(TokenFileTest, RoundTripKeepsEveryTokenAndTheLlmcLayout) {
  std::vector<uint16_t> tokens = countingTokens(5000, 50257);
  tokens.push_back(65535);  // the largest id a uint16 file can hold
  ASSERT_TRUE(writeTokenFile(path_, tokens).isOk());

  const std::vector<uint8_t> bytes = testing::readBytes(path_);
  ASSERT_EQ(bytes.size(), kTokenFileHeaderBytes + 2 * tokens.size());
  EXPECT_EQ(loadLittleEndian<int32_t>(bytes.data()), 20240520);
  EXPECT_EQ(loadLittleEndian<int32_t>(bytes.data() + 4), 1);
  EXPECT_EQ(loadLittleEndian<int32_t>(bytes.data() + 8), static_cast<int32_t>(tokens.size()));
  EXPECT_EQ(loadLittleEndian<uint16_t>(bytes.data() + kTokenFileHeaderBytes + 2 * 7), 7);

  const auto read = readTokenFile(path_, {.minTokens = tokens.size(), .vocabSize = 65536});
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_EQ(read.value(), tokens);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(TokenFileTest, MissingFileNamesThePath) {
  const auto read = readTokenFile(directory_.file("absent.bin"), {});
  expectErrorMentions(read, {"absent.bin", "No such file"});
  EXPECT_EQ(read.status().code(), StatusCode::kSystemError);
}

TEST_F(TokenFileTest, FileShorterThanTheHeaderIsRefused) {
  expectErrorMentions(readRaw(std::vector<uint8_t>(100, 0)),
                      {"tokens.bin", "100 bytes", "shorter than the 1024-byte header"});
}

TEST_F(TokenFileTest, WrongMagicShowsFoundAndExpected) {
  expectErrorMentions(readRaw(tokenFileBytes(12345, 1, 4, countingTokens(4, 10))),
                      {"tokens.bin", "magic", "12345", "20240520"});
}

TEST_F(TokenFileTest, UnsupportedVersionIsRefused) {
  expectErrorMentions(readRaw(tokenFileBytes(kTokenFileMagic, 2, 4, countingTokens(4, 10))),
                      {"unsupported version 2", "supports 1"});
}

TEST_F(TokenFileTest, TruncatedBodyIsReportedWithDeclaredAndActualSize) {
  // Declares 100 tokens, holds 60.
  expectErrorMentions(readRaw(tokenFileBytes(kTokenFileMagic, 1, 100, countingTokens(60, 10))),
                      {"truncated", "declares 100 tokens", "1224 bytes", "1144 bytes", "60 tokens"});
}

TEST_F(TokenFileTest, ExtraBytesAfterTheTokensAreRefused) {
  std::vector<uint8_t> bytes = tokenFileBytes(kTokenFileMagic, 1, 10, countingTokens(10, 10));
  bytes.push_back(0);
  bytes.push_back(0);
  bytes.push_back(0);
  expectErrorMentions(readRaw(bytes), {"3 extra bytes", "10 tokens"});
}

TEST_F(TokenFileTest, NegativeTokenCountIsRefused) {
  expectErrorMentions(readRaw(tokenFileBytes(kTokenFileMagic, 1, -5, {})), {"negative", "-5"});
}

TEST_F(TokenFileTest, ZeroTokensAreRefusedEvenWithoutAMinimum) {
  ASSERT_TRUE(writeTokenFile(path_, {}).isOk());
  expectErrorMentions(readTokenFile(path_, {.minTokens = 0, .vocabSize = 64}),
                      {"holds 0 tokens", "at least 1"});
}

TEST_F(TokenFileTest, FewerTokensThanOneSequenceAreRefused) {
  ASSERT_TRUE(writeTokenFile(path_, countingTokens(64, 10)).isOk());
  // A context of 64 needs 65 tokens.
  expectErrorMentions(readTokenFile(path_, {.minTokens = 65, .vocabSize = 64}),
                      {"holds 64 tokens", "at least 65"});
  EXPECT_TRUE(readTokenFile(path_, {.minTokens = 64, .vocabSize = 64}).isOk());
}

TEST_F(TokenFileTest, TokenIdAtOrAboveTheVocabularyIsAVocabularyMismatch) {
  std::vector<uint16_t> tokens = countingTokens(300, 64);
  tokens[123] = 64;  // the first id outside a 64-token vocabulary
  tokens[200] = 1000;
  ASSERT_TRUE(writeTokenFile(path_, tokens).isOk());
  expectErrorMentions(readTokenFile(path_, {.minTokens = 1, .vocabSize = 64}),
                      {"vocabulary mismatch", "token id 64", "position 123", "vocabulary size 64"});
  EXPECT_TRUE(readTokenFile(path_, {.minTokens = 1, .vocabSize = 1001}).isOk());
}

TEST_F(TokenFileTest, WriteIntoAMissingDirectoryFails) {
  const Status status = writeTokenFile(directory_.file("no/such/dir/tokens.bin"), countingTokens(4, 4));
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("no/such/dir"), std::string::npos) << status.message();
}

// Random damage to a valid file must never crash the reader: each damaged file
// either fails with a message or loads exactly the tokens its bytes hold.
TEST_F(TokenFileTest, FuzzedFilesLoadConsistentlyOrFailCleanly) {
  constexpr uint32_t kVocab = 64;
  const std::vector<uint16_t> tokens = countingTokens(200, kVocab);
  ASSERT_TRUE(writeTokenFile(path_, tokens).isOk());
  const std::vector<uint8_t> original = testing::readBytes(path_);
  Xoshiro256 random(2024);
  int loaded = 0;
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const std::vector<uint8_t> damaged = testing::randomlyCorrupted(original, random);
    const auto read = readRaw(damaged, {.minTokens = 1, .vocabSize = kVocab});
    if (!read.isOk()) {
      EXPECT_FALSE(read.status().message().empty());
      ++refused;
      continue;
    }
    ++loaded;
    // Loading succeeded, so the file must be exactly a header plus its tokens.
    ASSERT_EQ(damaged.size(), kTokenFileHeaderBytes + 2 * read.value().size()) << "trial " << trial;
    for (size_t i = 0; i < read.value().size(); ++i) {
      ASSERT_EQ(read.value()[i], loadLittleEndian<uint16_t>(damaged.data() + kTokenFileHeaderBytes + 2 * i))
          << "trial " << trial << " token " << i;
      ASSERT_LT(read.value()[i], kVocab);
    }
  }
  // Both outcomes occur: damage to unused header words or low token bits is legal.
  EXPECT_GT(loaded, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace loom::trainer
