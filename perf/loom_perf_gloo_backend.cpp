#if defined(LOOM_HAVE_GLOO)
#include "loom_perf_gloo_backend.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/reduce.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/types.h>

namespace loom::perf {
namespace {

// Gloo matches messages by slot, built from a per-collective prefix and a
// tag. The measured calls and the sweep's helper calls (barrier, time and
// #wrong reductions) use different tags so they can never match each other.
constexpr uint32_t kDataTag = 1;
constexpr uint32_t kHelperTag = 2;
// Gloo has no sendrecv collective; the ring shift uses unbound buffers on a
// slot prefix none of Gloo's collectives uses (theirs are 0x01..0x08).
constexpr uint8_t kSendRecvSlotPrefix = 0x40;

using ReduceFn = void (*)(void*, const void*, const void*, size_t);

template <typename T>
ReduceFn reduceFunction(RedOpKind op) {
  switch (op) {
    case RedOpKind::kProd: return static_cast<ReduceFn>(&gloo::product<T>);
    case RedOpKind::kMax: return static_cast<ReduceFn>(&gloo::max<T>);
    case RedOpKind::kMin: return static_cast<ReduceFn>(&gloo::min<T>);
    default: return static_cast<ReduceFn>(&gloo::sum<T>);
  }
}

template <typename T>
const gloo::ReductionFunction<T>* reductionFunction(RedOpKind op) {
  switch (op) {
    case RedOpKind::kProd: return gloo::ReductionFunction<T>::product;
    case RedOpKind::kMax: return gloo::ReductionFunction<T>::max;
    case RedOpKind::kMin: return gloo::ReductionFunction<T>::min;
    default: return gloo::ReductionFunction<T>::sum;
  }
}

// Gloo's element types: its templates take any arithmetic type and its own
// float16; this Gloo has no bfloat16 and no fp8.
bool glooHasType(DataType type) {
  switch (type) {
    case DataType::kInt8:
    case DataType::kUint8:
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kInt64:
    case DataType::kUint64:
    case DataType::kFloat16:
    case DataType::kFloat32:
    case DataType::kFloat64: return true;
    default: return false;
  }
}

bool glooHasOp(RedOpKind op) {
  return op == RedOpKind::kSum || op == RedOpKind::kProd || op == RedOpKind::kMax || op == RedOpKind::kMin;
}

// Calls fn.template operator()<T>() with T the C++ type Gloo uses for `type`.
template <typename Fn>
Status withGlooType(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8: return fn.template operator()<int8_t>();
    case DataType::kUint8: return fn.template operator()<uint8_t>();
    case DataType::kInt32: return fn.template operator()<int32_t>();
    case DataType::kUint32: return fn.template operator()<uint32_t>();
    case DataType::kInt64: return fn.template operator()<int64_t>();
    case DataType::kUint64: return fn.template operator()<uint64_t>();
    case DataType::kFloat16: return fn.template operator()<gloo::float16>();
    case DataType::kFloat32: return fn.template operator()<float>();
    case DataType::kFloat64: return fn.template operator()<double>();
    default: return Status::unavailable("Gloo has no %s type", dataTypeName(type));
  }
}

// Gloo reports every failure (a timeout, a dead peer, a violated
// precondition) by throwing; loom-perf reports Status. This is the one place
// the two meet: nothing thrown gets past it.
template <typename Fn>
Status guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::systemError("%s failed: %s", what, e.what());
  } catch (...) {
    return Status::systemError("%s failed with an unknown exception", what);
  }
}

// Gloo's reduce-scatter is an algorithm object (ReduceScatterHalvingDoubling)
// that binds its buffer, count and reduction when it is built: building it
// allocates its staging buffers and registers them with every peer pair. So
// it is built once per buffer and size, outside the timed loop (prepare), and
// reused for every call with the same arguments.
struct ReduceScatterPlan {
  void* data = nullptr;
  size_t count = 0;  // per rank
  DataType type = DataType::kFloat32;
  RedOpKind op = RedOpKind::kSum;
  std::unique_ptr<gloo::Algorithm> algorithm;
};

class GlooBackend : public Backend {
 public:
  GlooBackend(std::shared_ptr<gloo::Context> context, std::shared_ptr<gloo::transport::Device> device)
      : device_(std::move(device)), context_(std::move(context)) {}

  ~GlooBackend() override {
    // Plans hold buffers registered with the context's pairs; they go first.
    plans_.clear();
    context_.reset();
  }

  const char* name() const override { return "gloo"; }
  std::string description() const override {
    return "Gloo (libgloo, TCP transport on 127.0.0.1), blocking collectives: gloo::allreduce, broadcast, reduce, "
           "allgather, alltoall, ReduceScatterHalvingDoubling; in-place alltoall and sendrecv and out-of-place "
           "reducescatter copy through a scratch buffer, timed, because Gloo has no such form";
  }
  int rank() const override { return context_->rank; }
  int size() const override { return context_->size; }

  std::string unsupported(CollectiveKind kind, DataType type, RedOpKind op) const override {
    if (!glooHasType(type)) return std::string("Gloo has no ") + dataTypeName(type) + " type";
    if (isReducing(kind) && !glooHasOp(op)) return std::string("Gloo has no ") + redOpName(op) + " reduction";
    return "";
  }

  // ReduceScatterHalvingDoubling leaves each rank's block at the start of the buffer.
  size_t inPlaceResultOffset(CollectiveKind kind, const CollectiveLayout& layout, int rank) const override {
    if (kind == CollectiveKind::kReduceScatter) return 0;
    return Backend::inPlaceResultOffset(kind, layout, rank);
  }

  Status prepare(const CollectiveCall& c) override {
    return guarded("preparing a Gloo call", [&] {
      LOOM_RETURN_IF_ERROR(reserveScratch(c));
      if (c.kind == CollectiveKind::kReduceScatter && c.count > 0) return findPlan(c, nullptr);
      return Status::ok();
    });
  }

  Status launch(const CollectiveCall& c) override {
    if (!glooHasType(c.type)) return Status::unavailable("Gloo has no %s type", dataTypeName(c.type));
    // Every collective with nothing to move is complete; Gloo's ring
    // algorithms refuse zero elements instead.
    if (c.count == 0) return Status::ok();
    return guarded(glooCallName(c.kind), [&] {
      return withGlooType(c.type, [&]<typename T>() { return launchTyped<T>(c); });
    });
  }

  Status complete() override { return Status::ok(); }

  Status barrier() override {
    return guarded("gloo::barrier", [&] {
      gloo::BarrierOptions opts(context_);
      opts.setTag(kHelperTag);
      gloo::barrier(opts);
      return Status::ok();
    });
  }

  Result<double> allReduceDouble(double value, Reduction reduction) override {
    RedOpKind op = reduction == Reduction::kSum ? RedOpKind::kSum
                   : reduction == Reduction::kMin ? RedOpKind::kMin
                                                  : RedOpKind::kMax;
    double out = value;
    LOOM_RETURN_IF_ERROR(helperAllReduce(&out, op));
    return out;
  }

  Result<int64_t> allReduceSum(int64_t value) override {
    int64_t out = value;
    LOOM_RETURN_IF_ERROR(helperAllReduce(&out, RedOpKind::kSum));
    return out;
  }

  Status allGatherBytes(const void* mine, size_t bytes, void* all) override {
    return guarded("gloo::allgather", [&] {
      gloo::AllgatherOptions opts(context_);
      // Gloo's options take mutable pointers; it only reads the input.
      opts.setInput(static_cast<uint8_t*>(const_cast<void*>(mine)), bytes);
      opts.setOutput(static_cast<uint8_t*>(all), bytes * static_cast<size_t>(size()));
      opts.setTag(kHelperTag);
      gloo::allgather(opts);
      return Status::ok();
    });
  }

 private:
  static const char* glooCallName(CollectiveKind kind) {
    switch (kind) {
      case CollectiveKind::kAllReduce: return "gloo::allreduce";
      case CollectiveKind::kBroadcast: return "gloo::broadcast";
      case CollectiveKind::kReduce: return "gloo::reduce";
      case CollectiveKind::kAllGather: return "gloo::allgather";
      case CollectiveKind::kReduceScatter: return "gloo::ReduceScatterHalvingDoubling";
      case CollectiveKind::kAllToAll: return "gloo::alltoall";
      case CollectiveKind::kSendRecv: return "Gloo send/recv";
    }
    return "Gloo call";
  }

  template <typename T>
  Status helperAllReduce(T* value, RedOpKind op) {
    return guarded("gloo::allreduce", [&] {
      gloo::AllreduceOptions opts(context_);
      opts.setOutput(value, 1);
      opts.setReduceFunction(reduceFunction<T>(op));
      opts.setTag(kHelperTag);
      gloo::allreduce(opts);
      return Status::ok();
    });
  }

  // Bytes of scratch a call needs: the forms Gloo lacks are built from a copy.
  static size_t scratchBytes(const CollectiveCall& c, int nranks) {
    const size_t ts = dataTypeSize(c.type);
    const size_t n = static_cast<size_t>(nranks);
    switch (c.kind) {
      case CollectiveKind::kAllToAll: return c.inPlace ? c.count * n * ts : 0;
      case CollectiveKind::kReduceScatter: return c.inPlace ? 0 : c.count * n * ts;
      case CollectiveKind::kSendRecv: return c.inPlace ? c.count * ts : 0;
      default: return 0;
    }
  }

  // Grows the scratch buffer. The sweep warms up at its largest size first,
  // so this allocates once, before anything is timed. Plans built on the old
  // scratch would point at freed memory, so they are dropped with it.
  Status reserveScratch(const CollectiveCall& c) {
    const size_t bytes = scratchBytes(c, size());
    if (bytes <= scratch_.size()) return Status::ok();
    LOOM_RETURN_IF_ERROR(dropPlans());
    scratch_.assign(bytes, 0);
    return Status::ok();
  }

  Status dropPlans() {
    if (plans_.empty()) return Status::ok();
    // A plan's last sends may still be completing on a peer's side; once
    // every rank is past this barrier they are all done with it.
    LOOM_RETURN_IF_ERROR(barrier());
    plans_.clear();
    return Status::ok();
  }

  void* reduceScatterData(const CollectiveCall& c) { return c.inPlace ? c.recv : static_cast<void*>(scratch_.data()); }

  // The plan for `c`, built when missing. At most two are kept (the sweep
  // alternates out of place, on scratch, and in place, on the output), which
  // bounds the memory their staging buffers take at any size.
  Status findPlan(const CollectiveCall& c, gloo::Algorithm** out) {
    void* data = reduceScatterData(c);
    for (ReduceScatterPlan& p : plans_) {
      if (p.data == data && p.count == c.count && p.type == c.type && p.op == c.op) {
        if (out != nullptr) *out = p.algorithm.get();
        return Status::ok();
      }
    }
    const size_t total = c.count * static_cast<size_t>(size());
    if (total > static_cast<size_t>(INT_MAX)) {
      return Status::invalidArgument("count %zu exceeds Gloo's int counts for reduce-scatter; lower -e", total);
    }
    if (plans_.size() >= 2) {
      // Every rank sees the same sequence of calls, so every rank evicts
      // here, and the barrier in between matches.
      LOOM_RETURN_IF_ERROR(barrier());
      plans_.erase(plans_.begin());
    }
    ReduceScatterPlan plan;
    plan.data = data;
    plan.count = c.count;
    plan.type = c.type;
    plan.op = c.op;
    LOOM_RETURN_IF_ERROR(withGlooType(c.type, [&]<typename T>() {
      std::vector<T*> ptrs{static_cast<T*>(data)};
      std::vector<int> recvElems(static_cast<size_t>(size()), static_cast<int>(c.count));
      plan.algorithm = std::make_unique<gloo::ReduceScatterHalvingDoubling<T>>(
          context_, ptrs, static_cast<int>(total), recvElems, reductionFunction<T>(c.op));
      return Status::ok();
    }));
    plans_.push_back(std::move(plan));
    if (out != nullptr) *out = plans_.back().algorithm.get();
    return Status::ok();
  }

  template <typename T>
  Status launchTyped(const CollectiveCall& c) {
    const int n = size();
    const int me = rank();
    const size_t count = c.count;
    const size_t bytes = count * sizeof(T);
    T* in = static_cast<T*>(c.send);
    T* buf = static_cast<T*>(c.recv);
    switch (c.kind) {
      case CollectiveKind::kAllReduce: {
        gloo::AllreduceOptions opts(context_);
        if (!c.inPlace) opts.setInput(in, count);
        opts.setOutput(buf, count);
        opts.setReduceFunction(reduceFunction<T>(c.op));
        opts.setTag(kDataTag);
        gloo::allreduce(opts);
        return Status::ok();
      }
      case CollectiveKind::kBroadcast: {
        gloo::BroadcastOptions opts(context_);
        // Only the root may name an input; out of place it also fills its
        // output, as NCCL's broadcast does.
        if (!c.inPlace && me == c.root) opts.setInput(in, count);
        opts.setOutput(buf, count);
        opts.setRoot(c.root);
        opts.setTag(kDataTag);
        gloo::broadcast(opts);
        return Status::ok();
      }
      case CollectiveKind::kReduce: {
        gloo::ReduceOptions opts(context_);
        if (!c.inPlace) opts.setInput(in, count);
        opts.setOutput(buf, count);
        opts.setRoot(c.root);
        opts.setReduceFunction(reduceFunction<T>(c.op));
        opts.setTag(kDataTag);
        gloo::reduce(opts);
        return Status::ok();
      }
      case CollectiveKind::kAllGather: {
        // In place the input already sits at rank * count of the output,
        // which is what Gloo's allgather without an input expects.
        gloo::AllgatherOptions opts(context_);
        if (!c.inPlace) opts.setInput(in, count);
        opts.setOutput(buf, count * static_cast<size_t>(n));
        opts.setTag(kDataTag);
        gloo::allgather(opts);
        return Status::ok();
      }
      case CollectiveKind::kReduceScatter: {
        LOOM_RETURN_IF_ERROR(reserveScratch(c));
        if (!c.inPlace) std::memcpy(scratch_.data(), in, bytes * static_cast<size_t>(n));
        gloo::Algorithm* algorithm = nullptr;
        LOOM_RETURN_IF_ERROR(findPlan(c, &algorithm));
        algorithm->run();
        if (!c.inPlace) std::memcpy(static_cast<void*>(buf), scratch_.data(), bytes);
        return Status::ok();
      }
      case CollectiveKind::kAllToAll: {
        // Gloo's alltoall sends from its input while it receives into its
        // output, so they must differ: in place goes through a copy.
        LOOM_RETURN_IF_ERROR(reserveScratch(c));
        const size_t total = count * static_cast<size_t>(n);
        T* src = in;
        if (c.inPlace) {
          std::memcpy(scratch_.data(), buf, bytes * static_cast<size_t>(n));
          src = reinterpret_cast<T*>(scratch_.data());
        }
        gloo::AlltoallOptions opts(context_);
        opts.setInput(src, total);
        opts.setOutput(buf, total);
        opts.setTag(kDataTag);
        gloo::alltoall(opts);
        return Status::ok();
      }
      case CollectiveKind::kSendRecv: {
        // A ring shift, as nccl-tests' sendrecv: send to rank + 1, receive
        // from rank - 1, both posted before either is waited for.
        LOOM_RETURN_IF_ERROR(reserveScratch(c));
        void* src = in;
        if (c.inPlace) {
          std::memcpy(scratch_.data(), buf, bytes);
          src = scratch_.data();
        }
        auto sendBuffer = context_->createUnboundBuffer(src, bytes);
        auto recvBuffer = context_->createUnboundBuffer(buf, bytes);
        const uint64_t slot = gloo::Slot::build(kSendRecvSlotPrefix, kDataTag);
        sendBuffer->send((me + 1) % n, slot);
        recvBuffer->recv((me + n - 1) % n, slot);
        const auto timeout = context_->getTimeout();
        recvBuffer->waitRecv(timeout);
        sendBuffer->waitSend(timeout);
        return Status::ok();
      }
    }
    return Status::invalidArgument("unknown collective %d", static_cast<int>(c.kind));
  }

  std::shared_ptr<gloo::transport::Device> device_;  // outlives the context that uses it
  std::shared_ptr<gloo::Context> context_;
  std::vector<char> scratch_;
  std::vector<ReduceScatterPlan> plans_;
};

// Fixed-size records for allGatherBytes: every rank sends the same number of bytes.
struct HostRecord {
  char host[256];
};
struct PathRecord {
  char text[1024];  // rank 0's directory, or "!" and why it has none
};

// Rank 0 makes the directory and the others learn its path (or why it failed).
Result<std::string> shareRendezvousDirectory(Backend& control) {
  PathRecord mine{};
  if (control.rank() == 0) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/loom-perf-gloo-XXXXXX";
    std::vector<char> path(pattern.begin(), pattern.end());
    path.push_back('\0');
    if (pattern.size() + 1 >= sizeof(mine.text)) {
      std::snprintf(mine.text, sizeof(mine.text), "!TMPDIR is too long for a rendezvous path");
    } else if (mkdtemp(path.data()) == nullptr) {
      std::snprintf(mine.text, sizeof(mine.text), "!cannot create %s: %s", pattern.c_str(), std::strerror(errno));
    } else {
      std::snprintf(mine.text, sizeof(mine.text), "%s", path.data());
    }
  }
  std::vector<PathRecord> all(static_cast<size_t>(control.size()));
  LOOM_RETURN_IF_ERROR(control.allGatherBytes(&mine, sizeof(mine), all.data()));
  all[0].text[sizeof(all[0].text) - 1] = '\0';
  std::string path = all[0].text;
  if (path.empty() || path[0] == '!') {
    return Status::systemError("rank 0 has no directory for Gloo's rendezvous: %s",
                               path.empty() ? "(none)" : path.c_str() + 1);
  }
  return path;
}

// Gloo's TCP device listens on 127.0.0.1 and its FileStore needs a directory
// every rank sees, so the comparison runs only when all ranks share a host.
Status requireOneHost(Backend& control) {
  HostRecord mine{};
  gethostname(mine.host, sizeof(mine.host) - 1);
  std::vector<HostRecord> all(static_cast<size_t>(control.size()));
  LOOM_RETURN_IF_ERROR(control.allGatherBytes(&mine, sizeof(mine), all.data()));
  for (HostRecord& h : all) h.host[sizeof(h.host) - 1] = '\0';
  for (const HostRecord& h : all) {
    if (std::strcmp(h.host, all[0].host) != 0) {
      return Status::invalidArgument(
          "--compare gloo needs every rank on one host (its rendezvous is a FileStore in a local directory and "
          "its TCP device listens on 127.0.0.1); ranks are on %s and %s",
          all[0].host, h.host);
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> makeGlooBackend(Backend& control, int timeoutSeconds) {
  if (control.size() < 2) {
    return Status::invalidArgument("--compare gloo needs 2 or more ranks: Gloo's collectives need a peer");
  }
  LOOM_RETURN_IF_ERROR(requireOneHost(control));
  LOOM_ASSIGN_OR_RETURN(std::string directory, shareRendezvousDirectory(control));

  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  Status connected = guarded("connecting Gloo's full mesh", [&] {
    gloo::transport::tcp::attr attr;
    attr.hostname = "127.0.0.1";
    device = gloo::transport::tcp::CreateDevice(attr);
    context = std::make_shared<gloo::rendezvous::Context>(control.rank(), control.size());
    context->setTimeout(std::chrono::seconds(timeoutSeconds));
    gloo::rendezvous::FileStore store(directory);
    context->connectFullMesh(store, device);
    return Status::ok();
  });
  // Every rank learns whether all connected, so they succeed or fail
  // together rather than some waiting for peers that gave up.
  LOOM_ASSIGN_OR_RETURN(int64_t failures, control.allReduceSum(connected.isOk() ? 0 : 1));
  if (control.rank() == 0) {
    // Everyone is past the store (connected, or failed and counted); the
    // directory has served its purpose.
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  if (!connected.isOk()) return connected;
  if (failures > 0) {
    return Status::remoteError("%lld rank(s) could not connect Gloo's full mesh (their messages say why)",
                               static_cast<long long>(failures));
  }
  return std::unique_ptr<Backend>(std::make_unique<GlooBackend>(std::move(context), std::move(device)));
}

}  // namespace loom::perf
#endif
