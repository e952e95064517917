// File access for the trainer's data and checkpoint files: bounded reads that
// report what went wrong, and crash-safe whole-file writes.
//
// Every error is a Status whose message names the path and the OS's reason.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

// A read-only file opened once and read at explicit offsets (pread), so the
// caller can check the size and the header before reading the bulk of a file.
class InputFile {
 public:
  static Result<InputFile> open(const std::string& path);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  const std::string& path() const { return path_; }
  // The size when the file was opened.
  uint64_t size() const { return size_; }
  // Reads exactly destination.size() bytes at `offset`; a short read is an error
  // (the file shrank underneath us).
  Status readAt(uint64_t offset, std::span<uint8_t> destination) const;

 private:
  InputFile(std::string path, int descriptor, uint64_t size)
      : path_(std::move(path)), descriptor_(descriptor), size_(size) {}

  std::string path_;
  int descriptor_ = -1;
  uint64_t size_ = 0;
};

Result<std::vector<uint8_t>> readWholeFile(const std::string& path);

// Replaces `path` with `bytes` so that a crash at any moment leaves either the
// old file or the complete new one, never a mixture: writes `path`.tmp,
// fflush + fsync, renames it over `path` (atomic within a file system), then
// fsyncs the directory so the rename itself is durable. A failed write removes
// the temporary file. One writer per path at a time (the .tmp name is fixed).
Status writeFileAtomically(const std::string& path, std::span<const uint8_t> bytes);

// The suffix writeFileAtomically uses for its temporary file.
inline constexpr const char* kTemporaryFileSuffix = ".tmp";

// strerror(error) as a std::string, thread-safe.
std::string describeErrno(int error);

}  // namespace loom::trainer
