// The C API's collectives and point-to-point calls: check every argument,
// then hand the call to the rank's loom::Communicator.
#include "api/api_error.h"
#include "api/argument_checks.h"
#include "api/comm_handle.h"

namespace loom::api {
namespace {

// What every call needs once its common arguments passed their checks.
struct CallTarget {
  ncclComm* handle = nullptr;
  Communicator* comm = nullptr;
  DataType type = DataType::kInt8;
};

Result<CallTarget> resolveTarget(ncclComm_t comm, int datatype) {
  CallTarget target;
  LOOM_ASSIGN_OR_RETURN(target.handle, requireReadyComm(comm));
  target.comm = target.handle->comm.get();
  LOOM_ASSIGN_OR_RETURN(target.type, checkDataType(datatype));
  return target;
}

}  // namespace
}  // namespace loom::api

using loom::Status;
using loom::api::CallTarget;
using loom::api::checkBuffer;
using loom::api::checkCount;
using loom::api::checkRank;
using loom::api::checkRedOp;
using loom::api::checkStream;
using loom::api::guardedCall;
using loom::api::passedValue;
using loom::api::resolveTarget;

namespace {

Status broadcastImpl(const void* sendbuff, void* recvbuff, size_t count, int datatype, int root,
                     ncclComm_t comm, cudaStream_t stream) {
  LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, datatype));
  LOOM_RETURN_IF_ERROR(checkCount("buffer", count, 1, t.type));
  LOOM_RETURN_IF_ERROR(checkRank("root", root, t.comm->size()));
  // sendbuff is read on the root only; elsewhere it may be NULL.
  if (t.comm->rank() == root) LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff (on the root)", sendbuff, count));
  LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, count));
  LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
  return t.comm->broadcast(sendbuff, recvbuff, count, t.type, root, s);
}

}  // namespace

extern "C" {

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  return guardedCall("ncclAllReduce", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_ASSIGN_OR_RETURN(loom::RedOp redOp, checkRedOp(t.handle, passedValue(op), t.type));
    LOOM_RETURN_IF_ERROR(checkCount("buffer", count, 1, t.type));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, count));
    LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, count));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->allReduce(sendbuff, recvbuff, count, t.type, redOp, s);
  });
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  return guardedCall("ncclBroadcast", comm, [&]() -> Status {
    return broadcastImpl(sendbuff, recvbuff, count, passedValue(datatype), root, comm, stream);
  });
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root,
                       ncclComm_t comm, cudaStream_t stream) {
  return guardedCall("ncclBcast", comm, [&]() -> Status {
    return broadcastImpl(buff, buff, count, passedValue(datatype), root, comm, stream);
  });
}

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count,
                        ncclDataType_t datatype, ncclRedOp_t op, int root, ncclComm_t comm,
                        cudaStream_t stream) {
  return guardedCall("ncclReduce", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_ASSIGN_OR_RETURN(loom::RedOp redOp, checkRedOp(t.handle, passedValue(op), t.type));
    LOOM_RETURN_IF_ERROR(checkCount("buffer", count, 1, t.type));
    LOOM_RETURN_IF_ERROR(checkRank("root", root, t.comm->size()));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, count));
    // recvbuff is written on the root only and may be NULL elsewhere.
    if (t.comm->rank() == root) LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff (on the root)", recvbuff, count));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->reduce(sendbuff, recvbuff, count, t.type, redOp, root, s);
  });
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return guardedCall("ncclAllGather", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_RETURN_IF_ERROR(checkCount("recvbuff", sendcount,
                                    static_cast<size_t>(t.comm->size()), t.type));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, sendcount));
    LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, sendcount));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->allGather(sendbuff, recvbuff, sendcount, t.type, s);
  });
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  return guardedCall("ncclReduceScatter", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_ASSIGN_OR_RETURN(loom::RedOp redOp, checkRedOp(t.handle, passedValue(op), t.type));
    LOOM_RETURN_IF_ERROR(checkCount("sendbuff", recvcount,
                                    static_cast<size_t>(t.comm->size()), t.type));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, recvcount));
    LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, recvcount));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->reduceScatter(sendbuff, recvbuff, recvcount, t.type, redOp, s);
  });
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                          ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return guardedCall("ncclAlltoAll", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_RETURN_IF_ERROR(checkCount("each buffer", count,
                                    static_cast<size_t>(t.comm->size()), t.type));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, count));
    LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, count));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->allToAll(sendbuff, recvbuff, count, t.type, s);
  });
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return guardedCall("ncclSend", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_RETURN_IF_ERROR(checkCount("buffer", count, 1, t.type));
    LOOM_RETURN_IF_ERROR(checkRank("peer", peer, t.comm->size()));
    LOOM_RETURN_IF_ERROR(checkBuffer("sendbuff", sendbuff, count));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->send(sendbuff, count, t.type, peer, s);
  });
}

ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return guardedCall("ncclRecv", comm, [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(CallTarget t, resolveTarget(comm, passedValue(datatype)));
    LOOM_RETURN_IF_ERROR(checkCount("buffer", count, 1, t.type));
    LOOM_RETURN_IF_ERROR(checkRank("peer", peer, t.comm->size()));
    LOOM_RETURN_IF_ERROR(checkBuffer("recvbuff", recvbuff, count));
    LOOM_ASSIGN_OR_RETURN(loom::Stream * s, checkStream(stream));
    return t.comm->recv(recvbuff, count, t.type, peer, s);
  });
}

}  // extern "C"

LOOM_NCCL_PROFILING_ALIAS(ncclAllReduce)
LOOM_NCCL_PROFILING_ALIAS(ncclBroadcast)
LOOM_NCCL_PROFILING_ALIAS(ncclBcast)
LOOM_NCCL_PROFILING_ALIAS(ncclReduce)
LOOM_NCCL_PROFILING_ALIAS(ncclAllGather)
LOOM_NCCL_PROFILING_ALIAS(ncclReduceScatter)
LOOM_NCCL_PROFILING_ALIAS(ncclAlltoAll)
LOOM_NCCL_PROFILING_ALIAS(ncclSend)
LOOM_NCCL_PROFILING_ALIAS(ncclRecv)
