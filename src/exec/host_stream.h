// The implementation behind loom::Stream (include/loom/communicator.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "loom/communicator.h"

namespace loom {

struct Stream::Impl {
  ~Impl();
  void enqueue(std::function<Status()> work);
  Status synchronize();
  bool idle() const;
  void stop();

 private:
  void serve();
  mutable std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<std::function<Status()>> queue_;
  uint64_t enqueued_ = 0, completed_ = 0;
  Status firstError_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace loom
