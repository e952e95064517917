// A per-rank wake-up word in shared memory, so that a rank with nothing to do
// sleeps in the kernel (futex) instead of polling, and a peer that gives it
// something to do (writes to it, or frees room it was waiting for) wakes it.
// With more ranks than cores this is what lets the ranks that can run, run.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "loom/status.h"

namespace loom {

class Doorbell {
 public:
  // Creates (owner) or opens (peer) the segment `name`.
  static Result<std::unique_ptr<Doorbell>> create(const std::string& name);
  static Result<std::unique_ptr<Doorbell>> open(const std::string& name);
  ~Doorbell();

  // Called after making progress possible for the owner.
  void ring();
  // The value to pass to wait(); read it before checking for work.
  uint32_t snapshot() const { return state_->sequence.load(); }
  // Sleeps until ring() after `seen`, or `micros` pass.
  void wait(uint32_t seen, int micros);

  // A cheaper pair for waiters that can re-check their condition: the waker
  // pays one read of a shared line instead of a read-modify-write, and no
  // system call while nobody sleeps. The waker publishes its work with a
  // sequentially consistent store, then calls ringIfWaiting().
  void ringIfWaiting() {
    if (state_->sleepers.load() > 0) ring();
  }
  // Sleeps unless ready() holds once this waiter is counted among the
  // sleepers (so either the waker sees it, or it sees the waker's work).
  template <typename Ready>
  void waitUnless(Ready ready, int micros) {
    const uint32_t seen = state_->sequence.load();
    state_->sleepers.fetch_add(1);
    if (!ready()) sleep(seen, micros);
    state_->sleepers.fetch_sub(1);
  }
  void unlink();

 private:
  struct State {
    std::atomic<uint32_t> sequence;
    std::atomic<uint32_t> sleepers;
  };
  Doorbell(State* state, std::string name) : state_(state), name_(std::move(name)) {}
  void sleep(uint32_t seen, int micros);  // futex wait while the sequence is `seen`
  State* state_;
  std::string name_;
};

}  // namespace loom
