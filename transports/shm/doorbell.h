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
  void unlink();

 private:
  struct State {
    std::atomic<uint32_t> sequence;
    std::atomic<uint32_t> sleepers;
  };
  Doorbell(State* state, std::string name) : state_(state), name_(std::move(name)) {}
  State* state_;
  std::string name_;
};

}  // namespace loom
