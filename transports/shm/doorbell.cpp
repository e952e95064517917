#include "transports/shm/doorbell.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace loom {
namespace {

constexpr size_t kBytes = 64;

Result<void*> mapSegment(const std::string& name, int flags) {
  int fd = shm_open(name.c_str(), flags | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return Status::systemError("shm_open(%s): %s", name.c_str(), strerror(errno));
  if ((flags & O_CREAT) && ftruncate(fd, kBytes) != 0) {
    int err = errno;
    close(fd);
    return Status::systemError("ftruncate(%s): %s", name.c_str(), strerror(err));
  }
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return Status::systemError("mmap(%s): %s", name.c_str(), strerror(errno));
  return p;
}

}  // namespace

Result<std::unique_ptr<Doorbell>> Doorbell::create(const std::string& name) {
  LOOM_ASSIGN_OR_RETURN(void* p, mapSegment(name, O_CREAT | O_EXCL));
  return std::unique_ptr<Doorbell>(new Doorbell(new (p) State{{0}, {0}}, name));
}

Result<std::unique_ptr<Doorbell>> Doorbell::open(const std::string& name) {
  LOOM_ASSIGN_OR_RETURN(void* p, mapSegment(name, 0));
  return std::unique_ptr<Doorbell>(new Doorbell(static_cast<State*>(p), name));
}

Doorbell::~Doorbell() { munmap(state_, kBytes); }

void Doorbell::unlink() { shm_unlink(name_.c_str()); }

void Doorbell::ring() {
  // Sequentially consistent on both sides: either the sleeper sees the new
  // sequence before sleeping, or we see it counted among the sleepers.
  state_->sequence.fetch_add(1);
  if (state_->sleepers.load() > 0) {
    syscall(SYS_futex, &state_->sequence, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

void Doorbell::wait(uint32_t seen, int micros) {
  state_->sleepers.fetch_add(1);
  if (state_->sequence.load() == seen) sleep(seen, micros);
  state_->sleepers.fetch_sub(1);
}

void Doorbell::sleep(uint32_t seen, int micros) {
  timespec timeout{micros / 1000000, (micros % 1000000) * 1000L};
  syscall(SYS_futex, &state_->sequence, FUTEX_WAIT, seen, &timeout, nullptr, 0);
}

}  // namespace loom
