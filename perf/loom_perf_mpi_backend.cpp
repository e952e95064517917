#if defined(LOOM_HAVE_MPI)
#include "loom_perf_mpi_backend.h"

#include <climits>
#include <cstring>
#include <string>

namespace loom::perf {
namespace {

// MPI has no 16-bit or 8-bit floating types, hence no mapping for them.
bool mpiTypeOf(DataType type, MPI_Datatype* out) {
  switch (type) {
    case DataType::kInt8: *out = MPI_INT8_T; return true;
    case DataType::kUint8: *out = MPI_UINT8_T; return true;
    case DataType::kInt32: *out = MPI_INT32_T; return true;
    case DataType::kUint32: *out = MPI_UINT32_T; return true;
    case DataType::kInt64: *out = MPI_INT64_T; return true;
    case DataType::kUint64: *out = MPI_UINT64_T; return true;
    case DataType::kFloat32: *out = MPI_FLOAT; return true;
    case DataType::kFloat64: *out = MPI_DOUBLE; return true;
    default: return false;
  }
}

bool mpiOpOf(RedOpKind op, MPI_Op* out) {
  switch (op) {
    case RedOpKind::kSum: *out = MPI_SUM; return true;
    case RedOpKind::kProd: *out = MPI_PROD; return true;
    case RedOpKind::kMax: *out = MPI_MAX; return true;
    case RedOpKind::kMin: *out = MPI_MIN; return true;
    default: return false;
  }
}

Status mpiStatus(int err, const char* what) {
  if (err == MPI_SUCCESS) return Status::ok();
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(err, text, &len);
  return Status::systemError("%s failed: %s", what, text);
}

class MpiBackend : public Backend {
 public:
  explicit MpiBackend(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  const char* name() const override { return "mpi"; }
  std::string description() const override { return mpiLibraryName() + ", blocking MPI collectives"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::string unsupported(CollectiveKind kind, DataType type, RedOpKind op) const override {
    MPI_Datatype dt;
    MPI_Op mop;
    if (!mpiTypeOf(type, &dt)) return std::string("MPI has no ") + dataTypeName(type) + " type";
    bool reducing = kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduce ||
                    kind == CollectiveKind::kReduceScatter;
    if (reducing && !mpiOpOf(op, &mop)) return std::string("MPI has no ") + redOpName(op) + " reduction";
    return "";
  }

  // MPI_Reduce_scatter_block in place leaves each rank's block at the start.
  size_t inPlaceResultOffset(CollectiveKind kind, const CollectiveLayout& layout, int rank) const override {
    if (kind == CollectiveKind::kReduceScatter) return 0;
    return Backend::inPlaceResultOffset(kind, layout, rank);
  }

  Status launch(const CollectiveCall& c) override {
    MPI_Datatype dt;
    MPI_Op op = MPI_SUM;
    if (!mpiTypeOf(c.type, &dt)) return Status::unavailable("MPI has no %s type", dataTypeName(c.type));
    mpiOpOf(c.op, &op);
    if (c.count > static_cast<size_t>(INT_MAX)) {
      return Status::invalidArgument("count %zu exceeds MPI's int counts; lower -e", c.count);
    }
    const int count = static_cast<int>(c.count);
    void* buf = c.recv;
    void* in = c.inPlace ? MPI_IN_PLACE : c.send;
    switch (c.kind) {
      case CollectiveKind::kAllReduce:
        return mpiStatus(MPI_Allreduce(in, buf, count, dt, op, comm_), "MPI_Allreduce");
      case CollectiveKind::kAllGather:
        return mpiStatus(MPI_Allgather(in, count, dt, buf, count, dt, comm_), "MPI_Allgather");
      case CollectiveKind::kReduceScatter:
        return mpiStatus(MPI_Reduce_scatter_block(in, buf, count, dt, op, comm_), "MPI_Reduce_scatter_block");
      case CollectiveKind::kAllToAll:
        return mpiStatus(MPI_Alltoall(in, count, dt, buf, count, dt, comm_), "MPI_Alltoall");
      case CollectiveKind::kBroadcast:
        // MPI_Bcast has one buffer. Out of place, the root sends from its
        // input and copies it to its output, which NCCL's broadcast also fills.
        if (!c.inPlace && rank_ == c.root) {
          LOOM_RETURN_IF_ERROR(mpiStatus(MPI_Bcast(c.send, count, dt, c.root, comm_), "MPI_Bcast"));
          std::memcpy(buf, c.send, c.count * dataTypeSize(c.type));
          return Status::ok();
        }
        return mpiStatus(MPI_Bcast(buf, count, dt, c.root, comm_), "MPI_Bcast");
      case CollectiveKind::kReduce: {
        // MPI_IN_PLACE is only legal at the root.
        void* sendArg = c.inPlace ? (rank_ == c.root ? MPI_IN_PLACE : buf) : c.send;
        return mpiStatus(MPI_Reduce(sendArg, buf, count, dt, op, c.root, comm_), "MPI_Reduce");
      }
      case CollectiveKind::kSendRecv: {
        const int next = (rank_ + 1) % size_;
        const int prev = (rank_ + size_ - 1) % size_;
        if (c.inPlace) {
          return mpiStatus(MPI_Sendrecv_replace(buf, count, dt, next, 0, prev, 0, comm_, MPI_STATUS_IGNORE),
                           "MPI_Sendrecv_replace");
        }
        return mpiStatus(MPI_Sendrecv(c.send, count, dt, next, 0, buf, count, dt, prev, 0, comm_, MPI_STATUS_IGNORE),
                         "MPI_Sendrecv");
      }
    }
    return Status::invalidArgument("unknown collective %d", static_cast<int>(c.kind));
  }

  Status complete() override { return Status::ok(); }

  Status barrier() override { return mpiStatus(MPI_Barrier(comm_), "MPI_Barrier"); }

  Result<double> allReduceDouble(double value, Reduction reduction) override {
    MPI_Op op = reduction == Reduction::kSum ? MPI_SUM : reduction == Reduction::kMin ? MPI_MIN : MPI_MAX;
    double out = 0;
    LOOM_RETURN_IF_ERROR(mpiStatus(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, op, comm_), "MPI_Allreduce"));
    return out;
  }

  Result<int64_t> allReduceSum(int64_t value) override {
    int64_t out = 0;
    LOOM_RETURN_IF_ERROR(mpiStatus(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Allreduce"));
    return out;
  }

  Status allGatherBytes(const void* mine, size_t bytes, void* all) override {
    return mpiStatus(MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all, static_cast<int>(bytes), MPI_BYTE, comm_),
                     "MPI_Allgather");
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Backend> makeMpiBackend(MPI_Comm comm) { return std::make_unique<MpiBackend>(comm); }

std::string mpiLibraryName() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "MPI";
  std::string s(text, len);
  size_t cut = s.find_first_of(",\n");
  if (cut != std::string::npos) s.resize(cut);
  return s;
}

}  // namespace loom::perf
#endif
