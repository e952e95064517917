// loom::Stream: an in-order work queue served by one thread.
#include "exec/host_stream.h"

namespace loom {

Stream::Stream() : impl_(std::make_unique<Impl>()) {}
Stream::~Stream() { (void)impl_->synchronize(); impl_->stop(); }
Status Stream::synchronize() { return impl_->synchronize(); }
bool Stream::query() const { return impl_->idle(); }

Stream::Impl::~Impl() { stop(); }

void Stream::Impl::enqueue(std::function<Status()> work) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(work));
  ++enqueued_;
  if (!worker_.joinable()) worker_ = std::thread([this] { serve(); });
  wake_.notify_one();
}

Status Stream::Impl::synchronize() {
  std::unique_lock<std::mutex> lock(mutex_);
  // No timeout of our own: every queued operation ends by itself (success,
  // error, or LOOM_TIMEOUT_S inside the executor).
  done_.wait(lock, [&] { return completed_ == enqueued_; });
  Status s = firstError_;
  firstError_ = Status::ok();
  return s;
}

bool Stream::Impl::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_ == enqueued_;
}

void Stream::Impl::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void Stream::Impl::serve() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    auto work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Status s = work();
    lock.lock();
    if (!s.isOk() && firstError_.isOk()) firstError_ = s;
    ++completed_;
    // Waking synchronize() after every item would cost a context switch per
    // operation; it only needs to hear about an empty queue.
    if (completed_ == enqueued_) done_.notify_all();
  }
}

}  // namespace loom
