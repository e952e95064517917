#include "trainer/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace loom::trainer {
namespace {

Status systemFailure(const char* action, const std::string& path, int error) {
  return Status::systemError("cannot %s %s: %s", action, path.c_str(), describeErrno(error).c_str());
}

std::string parentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a completed rename durable: the directory entry lives in the directory.
Status syncDirectory(const std::string& directory) {
  const int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return systemFailure("open directory", directory, errno);
  const int result = ::fsync(descriptor);
  const int error = errno;
  ::close(descriptor);
  // Some file systems cannot fsync a directory (EINVAL); the rename is still atomic.
  if (result != 0 && error != EINVAL) return systemFailure("fsync directory", directory, error);
  return Status::ok();
}

}  // namespace

std::string describeErrno(int error) {
  char buffer[256];
  // GNU strerror_r may return a static string instead of filling the buffer.
  return std::string(strerror_r(error, buffer, sizeof(buffer)));
}

Result<InputFile> InputFile::open(const std::string& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return systemFailure("open", path, errno);
  struct stat info {};
  if (::fstat(descriptor, &info) != 0) {
    const int error = errno;
    ::close(descriptor);
    return systemFailure("stat", path, error);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(descriptor);
    return Status::invalidArgument("cannot read %s: not a regular file", path.c_str());
  }
  return InputFile(path, descriptor, static_cast<uint64_t>(info.st_size));
}

InputFile::InputFile(InputFile&& other) noexcept
    : path_(std::move(other.path_)), descriptor_(std::exchange(other.descriptor_, -1)),
      size_(other.size_) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    path_ = std::move(other.path_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    size_ = other.size_;
  }
  return *this;
}

InputFile::~InputFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

Status InputFile::readAt(uint64_t offset, std::span<uint8_t> destination) const {
  size_t done = 0;
  while (done < destination.size()) {
    const ssize_t got = ::pread(descriptor_, destination.data() + done, destination.size() - done,
                                static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return systemFailure("read", path_, errno);
    }
    if (got == 0) {
      return Status::systemError("cannot read %s: file ended at byte %llu, expected %llu bytes",
                                 path_.c_str(), static_cast<unsigned long long>(offset + done),
                                 static_cast<unsigned long long>(offset + destination.size()));
    }
    done += static_cast<size_t>(got);
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> readWholeFile(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  std::vector<uint8_t> bytes(file.size());
  LOOM_RETURN_IF_ERROR(file.readAt(0, bytes));
  return bytes;
}

Status writeFileAtomically(const std::string& path, std::span<const uint8_t> bytes) {
  const std::string temporary = path + kTemporaryFileSuffix;
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) return systemFailure("create", temporary, errno);

  Status status;
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    status = systemFailure("write", temporary, errno);
  } else if (std::fflush(file) != 0) {
    status = systemFailure("flush", temporary, errno);
  } else if (::fsync(::fileno(file)) != 0) {
    status = systemFailure("fsync", temporary, errno);
  }
  // fclose can report a deferred write error, so its result counts too.
  if (std::fclose(file) != 0 && status.isOk()) status = systemFailure("close", temporary, errno);
  if (status.isOk() && std::rename(temporary.c_str(), path.c_str()) != 0) {
    status = Status::systemError("cannot rename %s to %s: %s", temporary.c_str(), path.c_str(),
                                 describeErrno(errno).c_str());
  }
  if (!status.isOk()) {
    std::remove(temporary.c_str());
    return status;
  }
  return syncDirectory(parentDirectory(path));
}

}  // namespace loom::trainer
