#include "trainer/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace loom::trainer {

using Clock = std::chrono::steady_clock;

namespace {
double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Runs `call`, stores its status, returns how long it took.
template <typename Call>
double timedMs(const Call& call, Status* status) {
  const auto start = Clock::now();
  *status = call();
  return msSince(start);
}
}  // namespace

GradientReducer::GradientReducer(Communicator* comm, size_t parameterCount, bool zero, size_t bucketFloats)
    : comm_(comm), parameterCount_(parameterCount), zero_(zero), bucketFloats_(std::max<size_t>(bucketFloats, 1)) {
  if (comm_ != nullptr) {
    ranks_ = comm_->size();
    rank_ = comm_->rank();
  }
  shardEnd_ = parameterCount_;
  if (zero_) {
    shardFloats_ = (parameterCount_ + ranks_ - 1) / ranks_;
    shardBegin_ = std::min(parameterCount_, rank_ * shardFloats_);
    shardEnd_ = std::min(parameterCount_, shardBegin_ + shardFloats_);
    padded_.assign(shardFloats_ * ranks_, 0.0f);
    shardBuffer_.assign(shardFloats_, 0.0f);
  }
  if (overlapsBackward()) thread_ = std::thread([this] { communicationLoop(); });
}

GradientReducer::~GradientReducer() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void GradientReducer::communicationLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Bucket bucket = queue_.front();
    queue_.pop_front();
    busy_ = true;
    const bool skip = !firstError_.isOk();  // after an error the ranks no longer agree on what comes next
    lock.unlock();
    Status s = Status::ok();
    double ms = 0;
    if (!skip) {
      ms = timedMs([&] { return comm_->allReduce(bucket.data, bucket.data, bucket.count, DataType::kFloat32,
                                                 RedOp::sum()); },
                   &s);
    }
    lock.lock();
    times_.totalMs += ms;
    if (!s.isOk() && firstError_.isOk()) firstError_ = s;
    busy_ = false;
    changed_.notify_all();
  }
}

void GradientReducer::enqueue(Bucket bucket) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(bucket);
  }
  changed_.notify_all();
}

void GradientReducer::gradientsReady(float* gradients, size_t offset, size_t count) {
  if (!overlapsBackward() || count == 0) return;
  // Ranges arrive from the top of the array down, each ending where the
  // previous began: extend the pending bucket downwards.
  pendingData_ = gradients + offset;
  pendingCount_ += count;
  if (pendingCount_ >= bucketFloats_) {
    enqueue({pendingData_, pendingCount_});
    pendingCount_ = 0;
  }
}

Status GradientReducer::finishGradients(float* gradients) {
  if (ranks_ == 1) {
    shardGradients_ = gradients;
    return Status::ok();
  }
  if (!zero_) {
    if (pendingCount_ > 0) enqueue({pendingData_, pendingCount_});
    pendingCount_ = 0;
    const auto start = Clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
    times_.exposedMs += msSince(start);  // under the lock
    shardGradients_ = gradients;
    Status s = firstError_;
    firstError_ = Status::ok();
    return s;
  }
  std::memcpy(padded_.data(), gradients, parameterCount_ * sizeof(float));
  Status s = Status::ok();
  const double ms = timedMs([&] { return comm_->reduceScatter(padded_.data(), shardBuffer_.data(), shardFloats_,
                                                                DataType::kFloat32, RedOp::sum()); },
                            &s);
  addExposed(ms);
  shardGradients_ = shardBuffer_.data();
  return s;
}

Status GradientReducer::gatherShards(float* values) {
  if (!zero_ || ranks_ == 1) return Status::ok();
  LOOM_ASSIGN_OR_RETURN(std::vector<float> full,
                        gatherShardArray(std::span<const float>(values + shardBegin_, shardEnd_ - shardBegin_)));
  std::memcpy(values, full.data(), parameterCount_ * sizeof(float));
  return Status::ok();
}

Result<std::vector<float>> GradientReducer::gatherShardArray(std::span<const float> shard) {
  if (!zero_ || ranks_ == 1) return std::vector<float>(shard.begin(), shard.end());
  if (shard.size() != shardEnd_ - shardBegin_) {
    return Status::invalidArgument("shard of %zu floats, expected %zu", shard.size(), shardEnd_ - shardBegin_);
  }
  std::fill(shardBuffer_.begin(), shardBuffer_.end(), 0.0f);
  std::copy(shard.begin(), shard.end(), shardBuffer_.begin());
  Status s = Status::ok();
  const double ms = timedMs(
      [&] { return comm_->allGather(shardBuffer_.data(), padded_.data(), shardFloats_, DataType::kFloat32); }, &s);
  addExposed(ms);
  LOOM_RETURN_IF_ERROR(s);
  return std::vector<float>(padded_.begin(), padded_.begin() + parameterCount_);
}

Result<double> GradientReducer::sumOverRanks(double value) {
  if (ranks_ == 1) return value;
  double sum = 0;
  Status s = Status::ok();
  const double ms = timedMs([&] { return comm_->allReduce(&value, &sum, 1, DataType::kFloat64, RedOp::sum()); }, &s);
  addExposed(ms);
  LOOM_RETURN_IF_ERROR(s);
  return sum;
}

void GradientReducer::addExposed(double ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  times_.totalMs += ms;
  times_.exposedMs += ms;
}

CommTimes GradientReducer::takeTimes() {
  std::lock_guard<std::mutex> lock(mutex_);
  CommTimes t = times_;
  times_ = {};
  return t;
}

}  // namespace loom::trainer
