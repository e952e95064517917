// What the benchmark needs from a communication library, so one sweep drives
// Loom and, for comparison, MPI and Gloo with the same sizes, data and checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "loom/communicator.h"
#include "loom_perf_layout.h"

namespace loom::perf {

struct CollectiveCall {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  DataType type = DataType::kFloat32;
  RedOpKind op = RedOpKind::kSum;
  int root = 0;
  size_t count = 0;  // the call's count argument (CollectiveLayout::paramCount)
  bool inPlace = false;
  void* send = nullptr;  // out-of-place input
  void* recv = nullptr;  // out-of-place output, or the single buffer in place
};

class Backend {
 public:
  enum class Reduction { kSum, kMin, kMax };

  virtual ~Backend() = default;
  virtual const char* name() const = 0;  // "loom", "mpi", "gloo"
  virtual std::string description() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Empty when the backend can run this combination, else why not.
  virtual std::string unsupported(CollectiveKind kind, DataType type, RedOpKind op) const = 0;

  // In-place calls share one buffer; the input sits where nccl-tests puts it
  // (allgather: at rank * count). The output's place differs between APIs.
  virtual size_t inPlaceResultOffset(CollectiveKind /*kind*/, const CollectiveLayout& layout, int rank) const {
    return layout.recvInPlaceOffset * static_cast<size_t>(rank);
  }

  // Called before the timed loop of `call` (and its checks): a library whose
  // calls need per-buffer setup (Gloo's reduce-scatter object) does it here,
  // so that it is not timed. Not collective unless the backend makes it so;
  // every rank calls it at the same point of the sweep.
  virtual Status prepare(const CollectiveCall& /*call*/) { return Status::ok(); }

  // Starts one collective; it may still be running when this returns.
  virtual Status launch(const CollectiveCall& call) = 0;
  virtual Status groupStart() { return Status::ok(); }
  virtual Status groupEnd() { return Status::ok(); }
  // Waits for everything launched so far.
  virtual Status complete() = 0;

  virtual Status barrier() = 0;
  virtual Result<double> allReduceDouble(double value, Reduction reduction) = 0;
  virtual Result<int64_t> allReduceSum(int64_t value) = 0;
  virtual Status allGatherBytes(const void* mine, size_t bytes, void* all) = 0;

  // Called on a fatal error so that peers fail fast instead of timing out.
  virtual void abort() {}

  // A backend whose measured collectives use the algorithm rules `rules`
  // (LOOM_ALGO syntax). Every rank calls it, in the same order. The result's
  // helper calls (barrier, time and #wrong reductions, allGatherBytes) stay
  // on this backend, so they work whatever algorithm is forced, and it must
  // be destroyed before this one.
  virtual Result<std::unique_ptr<Backend>> withAlgorithm(const std::string& rules) {
    return Status::invalidArgument("%s cannot force an algorithm ('%s')", name(), rules.c_str());
  }
};

// `blocking` (-z 1) passes no stream, so each call returns when it is done;
// otherwise calls are enqueued on one loom::Stream, as nccl-tests does with a
// CUDA stream, and complete() synchronizes it.
std::unique_ptr<Backend> makeLoomBackend(std::unique_ptr<Communicator> comm, bool blocking);

// Human-readable Status, including the code ("Timeout: ...").
std::string describeStatus(const Status& status);

}  // namespace loom::perf
