#include "trainer/checkpoint.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "trainer/byte_codec.h"
#include "trainer/checksum.h"
#include "trainer/file_io.h"

namespace loom::trainer {
namespace {

// Header: magic, version, section count, total length.
constexpr size_t kHeaderBytes = sizeof(kCheckpointMagic) + 4 + 4 + 8;
constexpr size_t kTotalLengthOffset = sizeof(kCheckpointMagic) + 4 + 4;
constexpr size_t kTrailerBytes = 4;  // CRC-32C
constexpr size_t kMaxSectionNameBytes = 64;
constexpr size_t kMaxIntegerNameBytes = 255;

enum class SectionKind : uint32_t { kNamedIntegers = 1, kUint64Array = 2, kFloat32Array = 3 };

constexpr std::string_view kConfigSection = "config";
constexpr std::string_view kStepSection = "step";
constexpr std::string_view kDataPositionSection = "data_position";
constexpr std::string_view kRngStateSection = "rng_state";
constexpr std::string_view kParametersSection = "parameters";
constexpr std::string_view kAdamFirstMomentSection = "adam_m";
constexpr std::string_view kAdamSecondMomentSection = "adam_v";
constexpr std::string_view kExtraSection = "extra";
constexpr uint32_t kSectionCount = 8;

constexpr std::string_view kFileNamePrefix = "ckpt-";
constexpr std::string_view kFileNameSuffix = ".bin";
constexpr size_t kMinStepDigits = 8;
constexpr size_t kMaxStepDigits = 19;  // every 19-digit number fits in uint64

// Status's printf-style factories cut messages at 1 KiB; messages that list
// several files or fields are built as strings and passed through whole.
Status invalidArgumentText(const std::string& message) {
  return Status::invalidArgument(message.c_str());
}

std::span<const uint8_t> asBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::span<const uint8_t> magicBytes() {
  return asBytes(std::string_view(kCheckpointMagic, sizeof(kCheckpointMagic)));
}

std::string baseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- Encoding ----

class SectionWriter {
 public:
  explicit SectionWriter(ByteWriter& writer) : writer_(writer) {}

  void namedIntegers(std::string_view name, const NamedIntegers& values) {
    const size_t payloadStart = begin(name, SectionKind::kNamedIntegers);
    writer_.put(static_cast<uint32_t>(values.size()));
    for (const auto& [key, value] : values) {
      writer_.put(static_cast<uint32_t>(key.size()));
      writer_.putBytes(asBytes(key));
      writer_.put(value);
    }
    end(payloadStart);
  }

  template <typename T>
  void array(std::string_view name, SectionKind kind, std::span<const T> values) {
    const size_t payloadStart = begin(name, kind);
    writer_.putArray(values);
    end(payloadStart);
  }

 private:
  // Writes the section's name and kind and a placeholder payload length.
  size_t begin(std::string_view name, SectionKind kind) {
    writer_.put(static_cast<uint32_t>(name.size()));
    writer_.putBytes(asBytes(name));
    writer_.put(static_cast<uint32_t>(kind));
    writer_.put(uint64_t{0});
    return writer_.size();
  }
  void end(size_t payloadStart) {
    writer_.patch(payloadStart - sizeof(uint64_t), static_cast<uint64_t>(writer_.size() - payloadStart));
  }

  ByteWriter& writer_;
};

Status validateNames(std::string_view section, const NamedIntegers& values) {
  for (const auto& entry : values) {
    if (entry.first.empty() || entry.first.size() > kMaxIntegerNameBytes) {
      return Status::invalidArgument(
          "checkpoint section \"%.*s\": name \"%s\" must be 1..%zu bytes long, not %zu",
          static_cast<int>(section.size()), section.data(), entry.first.c_str(),
          kMaxIntegerNameBytes, entry.first.size());
    }
  }
  return Status::ok();
}

// The moments must match the parameters one to one; checked on both save and load.
Status validateArrayLengths(const TrainingCheckpoint& checkpoint) {
  const size_t parameters = checkpoint.parameters.size();
  if (checkpoint.adamFirstMoment.size() != parameters ||
      checkpoint.adamSecondMoment.size() != parameters) {
    return Status::invalidArgument(
        "checkpoint arrays disagree: parameters has %zu values, adam_m %zu, adam_v %zu (all must "
        "be equal)",
        parameters, checkpoint.adamFirstMoment.size(), checkpoint.adamSecondMoment.size());
  }
  return Status::ok();
}

// ---- Decoding ----

struct RawSection {
  SectionKind kind;
  std::span<const uint8_t> payload;
};
using RawSections = std::map<std::string, RawSection, std::less<>>;

Result<RawSections> splitSections(std::span<const uint8_t> body, uint32_t sectionCount) {
  ByteReader reader(body);
  RawSections sections;
  for (uint32_t index = 0; index < sectionCount; ++index) {
    uint32_t nameLength = 0;
    std::span<const uint8_t> name;
    uint32_t kind = 0;
    uint64_t payloadLength = 0;
    std::span<const uint8_t> payload;
    if (!reader.get(nameLength) || nameLength == 0 || nameLength > kMaxSectionNameBytes ||
        !reader.getBytes(nameLength, name) || !reader.get(kind) || !reader.get(payloadLength) ||
        !reader.getBytes(payloadLength, payload)) {
      return Status::invalidArgument(
          "section %u of %u is malformed at byte %zu (a length runs past the end of the file or "
          "the name length %u is outside 1..%zu)",
          index + 1, sectionCount, kHeaderBytes + reader.offset(), nameLength,
          kMaxSectionNameBytes);
    }
    std::string sectionName(name.begin(), name.end());
    if (sections.count(sectionName) != 0) {
      return Status::invalidArgument("section \"%s\" appears twice", sectionName.c_str());
    }
    sections.emplace(std::move(sectionName), RawSection{static_cast<SectionKind>(kind), payload});
  }
  if (reader.remaining() != 0) {
    return Status::invalidArgument("%zu unexpected bytes after the last of %u sections",
                                   reader.remaining(), sectionCount);
  }
  return sections;
}

Result<std::span<const uint8_t>> requiredPayload(const RawSections& sections, std::string_view name,
                                                 SectionKind kind) {
  const auto found = sections.find(name);
  if (found == sections.end()) {
    return Status::invalidArgument("missing section \"%.*s\"", static_cast<int>(name.size()),
                                   name.data());
  }
  if (found->second.kind != kind) {
    return Status::invalidArgument("section \"%.*s\" has kind %u, expected %u",
                                   static_cast<int>(name.size()), name.data(),
                                   static_cast<unsigned>(found->second.kind),
                                   static_cast<unsigned>(kind));
  }
  return found->second.payload;
}

Result<NamedIntegers> readNamedIntegers(const RawSections& sections, std::string_view name) {
  LOOM_ASSIGN_OR_RETURN(const std::span<const uint8_t> payload,
                        requiredPayload(sections, name, SectionKind::kNamedIntegers));
  const auto malformed = [&](const char* what) {
    return Status::invalidArgument("section \"%.*s\": %s", static_cast<int>(name.size()),
                                   name.data(), what);
  };
  ByteReader reader(payload);
  uint32_t count = 0;
  if (!reader.get(count)) return malformed("too short for its entry count");
  NamedIntegers values;
  for (uint32_t index = 0; index < count; ++index) {
    uint32_t keyLength = 0;
    std::span<const uint8_t> key;
    int64_t value = 0;
    if (!reader.get(keyLength) || keyLength == 0 || keyLength > kMaxIntegerNameBytes ||
        !reader.getBytes(keyLength, key) || !reader.get(value)) {
      return malformed("an entry's name or value is malformed or runs past the section");
    }
    if (!values.emplace(std::string(key.begin(), key.end()), value).second) {
      return malformed("a name appears twice");
    }
  }
  if (reader.remaining() != 0) return malformed("has bytes after its last entry");
  return values;
}

template <typename T>
Result<std::vector<T>> readArray(const RawSections& sections, std::string_view name,
                                 SectionKind kind) {
  LOOM_ASSIGN_OR_RETURN(const std::span<const uint8_t> payload, requiredPayload(sections, name, kind));
  if (payload.size() % sizeof(T) != 0) {
    return Status::invalidArgument("section \"%.*s\": %zu bytes is not a whole number of %zu-byte values",
                                   static_cast<int>(name.size()), name.data(), payload.size(),
                                   sizeof(T));
  }
  std::vector<T> values(payload.size() / sizeof(T));
  decodeLittleEndian(payload.data(), values.size(), values.data());
  return values;
}

Result<uint64_t> readScalar(const RawSections& sections, std::string_view name) {
  LOOM_ASSIGN_OR_RETURN(const std::vector<uint64_t> values,
                        readArray<uint64_t>(sections, name, SectionKind::kUint64Array));
  if (values.size() != 1) {
    return Status::invalidArgument("section \"%.*s\" holds %zu values, expected exactly 1",
                                   static_cast<int>(name.size()), name.data(), values.size());
  }
  return values[0];
}

std::string hexBytes(std::span<const uint8_t> bytes) {
  std::string text;
  char digits[3];
  for (uint8_t byte : bytes) {
    std::snprintf(digits, sizeof(digits), "%02x", byte);
    text += digits;
  }
  return text;
}

// ---- Directory handling ----

// The step in a checkpoint file name, or false for any other file.
bool parseCheckpointFileName(std::string_view name, uint64_t& step) {
  if (!name.starts_with(kFileNamePrefix) || !name.ends_with(kFileNameSuffix)) return false;
  const std::string_view digits =
      name.substr(kFileNamePrefix.size(), name.size() - kFileNamePrefix.size() - kFileNameSuffix.size());
  if (digits.size() < kMinStepDigits || digits.size() > kMaxStepDigits) return false;
  uint64_t value = 0;
  for (char digit : digits) {
    if (digit < '0' || digit > '9') return false;
    value = value * 10 + static_cast<uint64_t>(digit - '0');
  }
  step = value;
  return true;
}

// Deletes checkpoints older than `savedStep` beyond the newest keepLast - 1 of them.
Status pruneOldCheckpoints(const std::string& directory, uint64_t savedStep, size_t keepLast,
                           const std::string& savedPath) {
  LOOM_ASSIGN_OR_RETURN(const std::vector<CheckpointFile> files, listCheckpoints(directory));
  size_t olderKept = 0;
  for (const CheckpointFile& file : files) {  // newest first
    if (file.step >= savedStep) continue;
    if (++olderKept < keepLast) continue;
    std::error_code error;
    std::filesystem::remove(file.path, error);
    if (error) {
      return Status::systemError("checkpoint saved to %s, but cannot delete old %s: %s",
                                 savedPath.c_str(), file.path.c_str(), error.message().c_str());
    }
  }
  return Status::ok();
}

}  // namespace

std::string checkpointFileName(uint64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt-%08" PRIu64 ".bin", step);
  return name;
}

Result<std::vector<uint8_t>> encodeCheckpoint(const TrainingCheckpoint& checkpoint) {
  LOOM_RETURN_IF_ERROR(validateArrayLengths(checkpoint));
  LOOM_RETURN_IF_ERROR(validateNames(kConfigSection, checkpoint.modelConfig));
  LOOM_RETURN_IF_ERROR(validateNames(kExtraSection, checkpoint.extra));

  ByteWriter writer;
  writer.putBytes(magicBytes());
  writer.put(kCheckpointFormatVersion);
  writer.put(kSectionCount);
  writer.put(uint64_t{0});  // total length, patched below

  SectionWriter sections(writer);
  sections.namedIntegers(kConfigSection, checkpoint.modelConfig);
  sections.array<uint64_t>(kStepSection, SectionKind::kUint64Array, std::span(&checkpoint.step, 1));
  sections.array<uint64_t>(kDataPositionSection, SectionKind::kUint64Array,
                           std::span(&checkpoint.dataPosition, 1));
  sections.array<uint64_t>(kRngStateSection, SectionKind::kUint64Array, checkpoint.rngState);
  sections.array<float>(kParametersSection, SectionKind::kFloat32Array, checkpoint.parameters);
  sections.array<float>(kAdamFirstMomentSection, SectionKind::kFloat32Array,
                        checkpoint.adamFirstMoment);
  sections.array<float>(kAdamSecondMomentSection, SectionKind::kFloat32Array,
                        checkpoint.adamSecondMoment);
  sections.namedIntegers(kExtraSection, checkpoint.extra);

  writer.patch(kTotalLengthOffset, static_cast<uint64_t>(writer.size() + kTrailerBytes));
  writer.put(crc32c(writer.bytes()));
  return writer.release();
}

Result<TrainingCheckpoint> decodeCheckpoint(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return Status::invalidArgument(
        "truncated: %zu bytes is shorter than a checkpoint's %zu-byte header and checksum",
        bytes.size(), kHeaderBytes + kTrailerBytes);
  }
  const auto magic = bytes.first(sizeof(kCheckpointMagic));
  if (!std::equal(magic.begin(), magic.end(), magicBytes().begin())) {
    return Status::invalidArgument(
        "bad magic 0x%s (expected 0x%s, \"LOOMCKPT\"); not a Loom checkpoint",
        hexBytes(magic).c_str(), hexBytes(magicBytes()).c_str());
  }
  ByteReader header(bytes.subspan(sizeof(kCheckpointMagic)));
  uint32_t version = 0;
  uint32_t sectionCount = 0;
  uint64_t totalLength = 0;
  // Cannot fail: the size was checked above.
  (void)header.get(version);
  (void)header.get(sectionCount);
  (void)header.get(totalLength);
  if (version != kCheckpointFormatVersion) {
    return Status::invalidArgument("unsupported format version %u (this build reads version %u)",
                                   version, kCheckpointFormatVersion);
  }
  if (bytes.size() < totalLength) {
    return Status::invalidArgument("truncated: the header says %llu bytes but the file has %zu",
                                   static_cast<unsigned long long>(totalLength), bytes.size());
  }
  if (bytes.size() > totalLength) {
    return Status::invalidArgument(
        "%llu extra bytes: the header says %llu bytes but the file has %zu",
        static_cast<unsigned long long>(bytes.size() - totalLength),
        static_cast<unsigned long long>(totalLength), bytes.size());
  }
  const size_t checkedBytes = bytes.size() - kTrailerBytes;
  const uint32_t stored = loadLittleEndian<uint32_t>(bytes.data() + checkedBytes);
  const uint32_t computed = crc32c(bytes.first(checkedBytes));
  if (stored != computed) {
    return Status::invalidArgument("checksum mismatch (stored 0x%08x, computed 0x%08x)", stored,
                                   computed);
  }

  LOOM_ASSIGN_OR_RETURN(const RawSections sections,
                        splitSections(bytes.subspan(kHeaderBytes, checkedBytes - kHeaderBytes),
                                      sectionCount));
  TrainingCheckpoint checkpoint;
  LOOM_ASSIGN_OR_RETURN(checkpoint.modelConfig, readNamedIntegers(sections, kConfigSection));
  LOOM_ASSIGN_OR_RETURN(checkpoint.step, readScalar(sections, kStepSection));
  LOOM_ASSIGN_OR_RETURN(checkpoint.dataPosition, readScalar(sections, kDataPositionSection));
  LOOM_ASSIGN_OR_RETURN(checkpoint.rngState,
                        readArray<uint64_t>(sections, kRngStateSection, SectionKind::kUint64Array));
  LOOM_ASSIGN_OR_RETURN(checkpoint.parameters,
                        readArray<float>(sections, kParametersSection, SectionKind::kFloat32Array));
  LOOM_ASSIGN_OR_RETURN(
      checkpoint.adamFirstMoment,
      readArray<float>(sections, kAdamFirstMomentSection, SectionKind::kFloat32Array));
  LOOM_ASSIGN_OR_RETURN(
      checkpoint.adamSecondMoment,
      readArray<float>(sections, kAdamSecondMomentSection, SectionKind::kFloat32Array));
  LOOM_ASSIGN_OR_RETURN(checkpoint.extra, readNamedIntegers(sections, kExtraSection));
  LOOM_RETURN_IF_ERROR(validateArrayLengths(checkpoint));
  return checkpoint;
}

Status checkModelConfig(const NamedIntegers& checkpointConfig, const NamedIntegers& runConfig) {
  std::string differences;
  const auto note = [&](const std::string& text) {
    differences += differences.empty() ? "" : "; ";
    differences += text;
  };
  for (const auto& [name, value] : checkpointConfig) {
    const auto run = runConfig.find(name);
    if (run == runConfig.end()) {
      note(name + " is " + std::to_string(value) + " in the checkpoint but not set in this run");
    } else if (run->second != value) {
      note(name + " is " + std::to_string(value) + " in the checkpoint but " +
           std::to_string(run->second) + " in this run");
    }
  }
  for (const auto& [name, value] : runConfig) {
    if (checkpointConfig.count(name) == 0) {
      note(name + " is " + std::to_string(value) + " in this run but missing from the checkpoint");
    }
  }
  if (differences.empty()) return Status::ok();
  return invalidArgumentText("checkpoint model config does not match this run: " + differences);
}

Result<std::string> saveCheckpoint(const std::string& directory, const TrainingCheckpoint& checkpoint,
                                   const CheckpointSaveOptions& options) {
  LOOM_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, encodeCheckpoint(checkpoint));
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return Status::systemError("cannot create checkpoint directory %s: %s", directory.c_str(),
                               error.message().c_str());
  }
  const std::string path = directory + "/" + checkpointFileName(checkpoint.step);
  LOOM_RETURN_IF_ERROR(writeFileAtomically(path, bytes).withContext("saving checkpoint"));
  if (options.keepLast > 0) {
    LOOM_RETURN_IF_ERROR(pruneOldCheckpoints(directory, checkpoint.step, options.keepLast, path));
  }
  return path;
}

Result<TrainingCheckpoint> loadCheckpoint(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, readWholeFile(path));
  auto checkpoint = decodeCheckpoint(bytes);
  if (!checkpoint.isOk()) return checkpoint.status().withContext("checkpoint " + path);
  return checkpoint;
}

Result<std::vector<CheckpointFile>> listCheckpoints(const std::string& directory) {
  std::error_code error;
  std::filesystem::directory_iterator entries(directory, error);
  if (error == std::errc::no_such_file_or_directory) {
    return Status::unavailable("checkpoint directory %s does not exist", directory.c_str());
  }
  std::vector<CheckpointFile> files;
  for (; !error && entries != std::filesystem::directory_iterator(); entries.increment(error)) {
    const std::string name = entries->path().filename().string();
    uint64_t step = 0;
    if (parseCheckpointFileName(name, step)) files.push_back({step, entries->path().string()});
  }
  if (error) {
    return Status::systemError("cannot list checkpoint directory %s: %s", directory.c_str(),
                               error.message().c_str());
  }
  std::sort(files.begin(), files.end(), [](const CheckpointFile& a, const CheckpointFile& b) {
    return a.step != b.step ? a.step > b.step : a.path < b.path;
  });
  return files;
}

std::string LoadedCheckpoint::summary() const {
  std::string text;
  for (const std::string& reason : rejected) text += reason + "; ";
  return text + "using " + baseName(path);
}

Result<LoadedCheckpoint> loadLatestCheckpoint(const std::string& directory) {
  LOOM_ASSIGN_OR_RETURN(const std::vector<CheckpointFile> files, listCheckpoints(directory));
  if (files.empty()) {
    return Status::unavailable("no checkpoint files (ckpt-<step>.bin) in %s", directory.c_str());
  }
  std::vector<std::string> rejected;
  for (const CheckpointFile& file : files) {
    const std::string name = baseName(file.path);
    auto bytes = readWholeFile(file.path);
    if (!bytes.isOk()) {
      rejected.push_back(name + ": " + bytes.status().message());
      continue;
    }
    auto checkpoint = decodeCheckpoint(bytes.value());
    if (!checkpoint.isOk()) {
      rejected.push_back(name + ": " + checkpoint.status().message());
      continue;
    }
    if (checkpoint->step != file.step) {
      rejected.push_back(name + ": holds step " + std::to_string(checkpoint->step) +
                         ", not the step its name says");
      continue;
    }
    return LoadedCheckpoint{std::move(checkpoint).value(), file.path, std::move(rejected)};
  }
  std::string reasons;
  for (const std::string& reason : rejected) reasons += "; " + reason;
  return invalidArgumentText("no valid checkpoint in " + directory + reasons);
}

}  // namespace loom::trainer
