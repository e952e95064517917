#include "trainer/token_file.h"

#include <array>
#include <limits>

#include "trainer/byte_codec.h"
#include "trainer/file_io.h"

namespace loom::trainer {
namespace {

// Checks the header against the file's real size; returns the token count.
Result<uint64_t> validateHeader(const std::string& path, std::span<const uint8_t> header,
                                uint64_t fileSize) {
  const int32_t magic = loadLittleEndian<int32_t>(header.data());
  const int32_t version = loadLittleEndian<int32_t>(header.data() + 4);
  const int32_t declaredTokens = loadLittleEndian<int32_t>(header.data() + 8);
  if (magic != kTokenFileMagic) {
    return Status::invalidArgument(
        "token file %s: bad magic number %d (expected %d); not a token file in llm.c's format",
        path.c_str(), magic, kTokenFileMagic);
  }
  if (version != kTokenFileVersion) {
    return Status::invalidArgument("token file %s: unsupported version %d (this reader supports %d)",
                                   path.c_str(), version, kTokenFileVersion);
  }
  if (declaredTokens < 0) {
    return Status::invalidArgument("token file %s: header declares a negative token count %d",
                                   path.c_str(), declaredTokens);
  }
  const uint64_t tokenCount = static_cast<uint64_t>(declaredTokens);
  const uint64_t expectedSize = kTokenFileHeaderBytes + tokenCount * sizeof(uint16_t);
  if (fileSize < expectedSize) {
    return Status::invalidArgument(
        "token file %s: truncated: header declares %llu tokens (%llu bytes in all) but the file "
        "has %llu bytes, room for %llu tokens",
        path.c_str(), static_cast<unsigned long long>(tokenCount),
        static_cast<unsigned long long>(expectedSize), static_cast<unsigned long long>(fileSize),
        static_cast<unsigned long long>((fileSize - kTokenFileHeaderBytes) / sizeof(uint16_t)));
  }
  if (fileSize > expectedSize) {
    return Status::invalidArgument(
        "token file %s: %llu extra bytes after the %llu tokens the header declares (file has "
        "%llu bytes, expected %llu)",
        path.c_str(), static_cast<unsigned long long>(fileSize - expectedSize),
        static_cast<unsigned long long>(tokenCount), static_cast<unsigned long long>(fileSize),
        static_cast<unsigned long long>(expectedSize));
  }
  return tokenCount;
}

Status checkVocabulary(const std::string& path, std::span<const uint16_t> tokens,
                       uint32_t vocabSize) {
  for (size_t position = 0; position < tokens.size(); ++position) {
    if (tokens[position] >= vocabSize) {
      return Status::invalidArgument(
          "token file %s: vocabulary mismatch: token id %u at position %zu is not below the "
          "model's vocabulary size %u",
          path.c_str(), static_cast<unsigned>(tokens[position]), position, vocabSize);
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<uint16_t>> readTokenFile(const std::string& path,
                                            const TokenFileRequirements& requirements) {
  auto opened = InputFile::open(path);
  if (!opened.isOk()) return opened.status().withContext("token file");
  const InputFile& file = opened.value();
  if (file.size() < kTokenFileHeaderBytes) {
    return Status::invalidArgument(
        "token file %s: %llu bytes is shorter than the %zu-byte header (truncated, or not a token "
        "file)",
        path.c_str(), static_cast<unsigned long long>(file.size()), kTokenFileHeaderBytes);
  }
  std::array<uint8_t, kTokenFileHeaderBytes> header;
  LOOM_RETURN_IF_ERROR(file.readAt(0, header));
  LOOM_ASSIGN_OR_RETURN(const uint64_t tokenCount, validateHeader(path, header, file.size()));

  const uint64_t minTokens = requirements.minTokens > 0 ? requirements.minTokens : 1;
  if (tokenCount < minTokens) {
    return Status::invalidArgument(
        "token file %s: holds %llu tokens but at least %llu are needed (one sequence of inputs "
        "plus its shifted target)",
        path.c_str(), static_cast<unsigned long long>(tokenCount),
        static_cast<unsigned long long>(minTokens));
  }

  std::vector<uint16_t> tokens(tokenCount);
  std::span<uint8_t> body(reinterpret_cast<uint8_t*>(tokens.data()), tokenCount * sizeof(uint16_t));
  LOOM_RETURN_IF_ERROR(file.readAt(kTokenFileHeaderBytes, body));
  littleEndianToHost(std::span<uint16_t>(tokens));
  LOOM_RETURN_IF_ERROR(checkVocabulary(path, tokens, requirements.vocabSize));
  return tokens;
}

Status writeTokenFile(const std::string& path, std::span<const uint16_t> tokens) {
  if (tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Status::invalidArgument(
        "token file %s: %zu tokens do not fit the header's int32 count (at most %d)", path.c_str(),
        tokens.size(), std::numeric_limits<int32_t>::max());
  }
  std::array<int32_t, kTokenFileHeaderInts> header{};
  header[0] = kTokenFileMagic;
  header[1] = kTokenFileVersion;
  header[2] = static_cast<int32_t>(tokens.size());
  ByteWriter writer;
  writer.putArray<int32_t>(header);
  writer.putArray(tokens);
  return writeFileAtomically(path, writer.bytes()).withContext("token file");
}

}  // namespace loom::trainer
