#include <cstring>

#include "loom_perf_backend.h"
#include "loom_perf_pattern.h"

namespace loom::perf {
namespace {

class LoomBackend : public Backend {
 public:
  // `control` (nullptr: `comm` itself) carries the helper calls, so that they
  // do not depend on the algorithm `comm` is forced to use.
  LoomBackend(std::unique_ptr<Communicator> comm, bool blocking, Communicator* control = nullptr,
              std::string rules = "")
      : comm_(std::move(comm)), control_(control != nullptr ? control : comm_.get()), blocking_(blocking),
        rules_(std::move(rules)) {
    if (!blocking) stream_ = std::make_unique<Stream>();
  }

  ~LoomBackend() override {
    // The stream must drain before the communicator it feeds goes away.
    stream_.reset();
    comm_.reset();
  }

  const char* name() const override { return "loom"; }
  std::string description() const override {
    std::string s = stream_ ? "Loom, calls enqueued on one loom::Stream, synchronized after each timed loop"
                            : "Loom, blocking calls (no stream)";
    if (!rules_.empty()) s += "; algorithm rules '" + rules_ + "'";
    return s;
  }
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }

  std::string unsupported(CollectiveKind, DataType, RedOpKind) const override { return ""; }

  Status launch(const CollectiveCall& c) override {
    Stream* s = stream_.get();
    const int rank = comm_->rank();
    const int n = comm_->size();
    const size_t ts = dataTypeSize(c.type);
    char* buf = static_cast<char*>(c.recv);
    RedOp op = RedOp::builtin(c.op);
    if (c.op == RedOpKind::kPreMulSum) op.scalarBits = elementBits(c.type, kPreMulSumScalar);
    switch (c.kind) {
      case CollectiveKind::kAllReduce:
        return comm_->allReduce(c.inPlace ? buf : c.send, buf, c.count, c.type, op, s);
      case CollectiveKind::kBroadcast:
        return comm_->broadcast(c.inPlace ? buf : c.send, buf, c.count, c.type, c.root, s);
      case CollectiveKind::kReduce:
        return comm_->reduce(c.inPlace ? buf : c.send, buf, c.count, c.type, op, c.root, s);
      case CollectiveKind::kAllGather: {
        const void* in = c.inPlace ? buf + static_cast<size_t>(rank) * c.count * ts : c.send;
        return comm_->allGather(in, buf, c.count, c.type, s);
      }
      case CollectiveKind::kReduceScatter: {
        if (c.inPlace) return comm_->reduceScatter(buf, buf + static_cast<size_t>(rank) * c.count * ts, c.count, c.type, op, s);
        return comm_->reduceScatter(c.send, buf, c.count, c.type, op, s);
      }
      case CollectiveKind::kAllToAll:
        return comm_->allToAll(c.inPlace ? buf : c.send, buf, c.count, c.type, s);
      case CollectiveKind::kSendRecv: {
        // A ring shift, as nccl-tests' sendrecv: every rank sends and receives once.
        const int next = (rank + 1) % n;
        const int prev = (rank + n - 1) % n;
        LOOM_RETURN_IF_ERROR(loom::groupStart());
        Status sent = comm_->send(c.inPlace ? buf : c.send, c.count, c.type, next, s);
        Status received = sent.isOk() ? comm_->recv(buf, c.count, c.type, prev, s) : Status::ok();
        Status ended = loom::groupEnd();
        if (!sent.isOk()) return sent;
        if (!received.isOk()) return received;
        return ended;
      }
    }
    return Status::invalidArgument("unknown collective %d", static_cast<int>(c.kind));
  }

  Status groupStart() override { return loom::groupStart(); }
  Status groupEnd() override { return loom::groupEnd(); }

  Status complete() override {
    if (stream_) LOOM_RETURN_IF_ERROR(stream_->synchronize());
    return comm_->asyncError();
  }

  Status barrier() override {
    int32_t one = 1;
    int32_t sum = 0;
    return control_->allReduce(&one, &sum, 1, DataType::kInt32, RedOp::sum(), nullptr);
  }

  Result<double> allReduceDouble(double value, Reduction reduction) override {
    RedOpKind kind = reduction == Reduction::kSum   ? RedOpKind::kSum
                     : reduction == Reduction::kMin ? RedOpKind::kMin
                                                    : RedOpKind::kMax;
    double out = 0;
    LOOM_RETURN_IF_ERROR(control_->allReduce(&value, &out, 1, DataType::kFloat64, RedOp::builtin(kind), nullptr));
    return out;
  }

  Result<int64_t> allReduceSum(int64_t value) override {
    int64_t out = 0;
    LOOM_RETURN_IF_ERROR(control_->allReduce(&value, &out, 1, DataType::kInt64, RedOp::sum(), nullptr));
    return out;
  }

  Status allGatherBytes(const void* mine, size_t bytes, void* all) override {
    return control_->allGather(mine, all, bytes, DataType::kUint8, nullptr);
  }

  void abort() override { comm_->abort(); }

  Result<std::unique_ptr<Backend>> withAlgorithm(const std::string& rules) override {
    // One color for everyone and the rank as key: the same ranks in the same
    // order, with only the algorithm rules changed.
    CommOptions options;
    options.name = "loom-perf " + rules;
    options.algorithm = rules;
    LOOM_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> derived, control_->split(0, control_->rank(), options));
    if (derived == nullptr) return Status::internal("split(0, ...) left rank %d out", control_->rank());
    return std::unique_ptr<Backend>(std::make_unique<LoomBackend>(std::move(derived), blocking_, control_, rules));
  }

 private:
  std::unique_ptr<Communicator> comm_;
  Communicator* control_;  // comm_ itself, or the communicator comm_ was split from
  bool blocking_;
  std::string rules_;
  std::unique_ptr<Stream> stream_;
};

}  // namespace

std::unique_ptr<Backend> makeLoomBackend(std::unique_ptr<Communicator> comm, bool blocking) {
  return std::make_unique<LoomBackend>(std::move(comm), blocking);
}

std::string describeStatus(const Status& status) {
  // Spelled out here rather than via Status::toString so loom-perf needs only
  // the exported C++ API.
  const char* code = "Error";
  switch (status.code()) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kSystemError: code = "System error"; break;
    case StatusCode::kInternalError: code = "Internal error"; break;
    case StatusCode::kInvalidArgument: code = "Invalid argument"; break;
    case StatusCode::kInvalidUsage: code = "Invalid usage"; break;
    case StatusCode::kRemoteError: code = "Remote error"; break;
    case StatusCode::kTimeout: code = "Timeout"; break;
    case StatusCode::kAborted: code = "Aborted"; break;
    case StatusCode::kUnavailable: code = "Unavailable"; break;
  }
  return std::string(code) + ": " + status.message();
}

}  // namespace loom::perf
