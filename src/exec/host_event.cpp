// loom::Event: a marker in a host stream's queue.
#include <condition_variable>
#include <mutex>

#include "exec/host_stream.h"

namespace loom {

struct Event::State {
  std::mutex mutex;
  std::condition_variable reached;
  uint64_t recorded = 0;  // how many times record() was called
  uint64_t completed = 0;  // how many of those markers the stream has passed
};

Event::Event() : state_(std::make_shared<State>()) {}
Event::~Event() = default;

void Event::record(Stream& stream) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    generation = ++state_->recorded;
  }
  // The marker holds the state alive, so destroying the Event early is safe.
  stream.impl()->enqueue([state = state_, generation] {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->completed = std::max(state->completed, generation);
    state->reached.notify_all();
    return Status::ok();
  });
}

bool Event::query() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->completed == state_->recorded;
}

void Event::synchronize() const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  uint64_t target = state_->recorded;
  state_->reached.wait(lock, [&] { return state_->completed >= target; });
}

void Event::enqueueWait(Stream& stream) const {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    target = state_->recorded;
  }
  stream.impl()->enqueue([state = state_, target] {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->reached.wait(lock, [&] { return state->completed >= target; });
    return Status::ok();
  });
}

}  // namespace loom
