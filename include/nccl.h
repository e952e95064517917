/*
 * nccl.h — Loom's NCCL-compatible C interface.
 *
 * Programs written against NCCL 2.28 compile against this header and link with
 * -lnccl to run on Loom (Loom builds libnccl.so.2 from the same objects as
 * libloom.so). Types, enum values and struct layouts match NCCL 2.28.9 so that
 * a binary built against NVIDIA's header also runs on Loom's library.
 *
 * What differs: this build moves host memory. A cudaStream_t argument is
 * either NULL (the call is synchronous) or a host stream made by
 * loomHostStreamCreate (the call is queued on that stream); any other stream
 * is refused with ncclInvalidArgument. See docs/C_API.md.
 *
 * Every function returns an ncclResult_t; after a failure ncclGetLastError
 * gives a sentence naming the offending value. No function throws or aborts
 * the process on bad input.
 */
#ifndef NCCL_H_
#define NCCL_H_

#include <limits.h>
#include <stddef.h>

/*
 * cudaStream_t. NCCL's header pulls in the CUDA runtime; some programs rely
 * on that, so when the CUDA headers are on the include path we do the same
 * (define LOOM_NCCL_NO_CUDA_RUNTIME to prevent it). Without them we declare
 * the handle type exactly as CUDA's driver_types.h does, and only if that
 * header has not been seen, so either include order compiles.
 */
#if !defined(LOOM_NCCL_NO_CUDA_RUNTIME) && defined(__has_include)
#if __has_include(<cuda_runtime.h>)
#include <cuda_runtime.h>
#endif
#endif
#if !defined(__DRIVER_TYPES_H__) && !defined(LOOM_NCCL_CUDA_STREAM_DECLARED)
#define LOOM_NCCL_CUDA_STREAM_DECLARED 1
typedef struct CUstream_st* cudaStream_t;
#endif

/* Version. NCCL_VERSION encodes 2.8.x and older as X*1000+Y*100+Z and newer
 * releases as X*10000+Y*100+Z; ncclGetVersion reports NCCL_VERSION_CODE. */
#define NCCL_MAJOR 2
#define NCCL_MINOR 28
#define NCCL_PATCH 9
#define NCCL_SUFFIX ""
#define NCCL_VERSION(X, Y, Z) \
  (((X) <= 2 && (Y) <= 8) ? (X) * 1000 + (Y) * 100 + (Z) : (X) * 10000 + (Y) * 100 + (Z))
#define NCCL_VERSION_CODE 22809

/* Every function below is exported from libloom.so and libnccl.so.2 even
 * though the library is compiled with hidden visibility. */
#if defined(__GNUC__)
#define LOOM_NCCL_EXPORT __attribute__((visibility("default")))
#else
#define LOOM_NCCL_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Handles and results                                                       */
/* ------------------------------------------------------------------------ */

/* One rank's membership in a communicator. */
typedef struct ncclComm* ncclComm_t;
#define NCCL_COMM_NULL NULL

/* Produced once by ncclGetUniqueId and handed to every rank; opaque. */
#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1, /* never returned by the host build */
  ncclSystemError = 2,        /* the OS or a library call failed */
  ncclInternalError = 3,      /* a bug in the library */
  ncclInvalidArgument = 4,    /* a bad value was passed */
  ncclInvalidUsage = 5,       /* a valid call at the wrong time */
  ncclRemoteError = 6,        /* a peer failed, timed out or the comm was aborted */
  ncclInProgress = 7,         /* a non-blocking operation has not finished */
  ncclNumResults = 8
} ncclResult_t;

/* ------------------------------------------------------------------------ */
/* Communicator configuration                                                */
/* ------------------------------------------------------------------------ */

#define NCCL_CONFIG_UNDEF_INT INT_MIN
#define NCCL_CONFIG_UNDEF_PTR NULL
#define NCCL_SPLIT_NOCOLOR -1
#define NCCL_UNDEF_FLOAT -1.0f

/* Values for ncclConfig_t.CTAPolicy (accepted, no effect on host). */
#define NCCL_CTA_POLICY_DEFAULT 0x00
#define NCCL_CTA_POLICY_EFFICIENCY 0x01
#define NCCL_CTA_POLICY_ZERO 0x02

/* Field order and types are NCCL 2.28's; only size, magic, blocking and
 * commName mean anything to Loom, the rest are accepted and ignored. */
typedef struct ncclConfig_v22800 {
  size_t size;           /* sizeof(ncclConfig_t) of the caller's header */
  unsigned int magic;    /* LOOM_NCCL_CONFIG_MAGIC */
  unsigned int version;  /* NCCL_VERSION_CODE of the caller's header */
  int blocking;          /* 0: init may return before it completes */
  int cgaClusterSize;
  int minCTAs;
  int maxCTAs;
  const char* netName;
  int splitShare;
  int trafficClass;
  const char* commName;  /* shown in Loom's logs */
  int collnetEnable;
  int CTAPolicy;
  int shrinkShare;
  int nvlsCTAs;
  int nChannelsPerNetPeer;
  int nvlinkCentricSched;
} ncclConfig_t;

/* Loom's name for the value NCCL_CONFIG_INITIALIZER stores in .magic. */
#define LOOM_NCCL_CONFIG_MAGIC 0xcafebeef

/* Every ncclConfig_t must start from this value. */
#define NCCL_CONFIG_INITIALIZER                              \
  {                                                          \
    sizeof(ncclConfig_t),                                    \
    LOOM_NCCL_CONFIG_MAGIC,                                     \
    NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH),        \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,            \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,            \
    NCCL_CONFIG_UNDEF_PTR,                                   \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,            \
    NCCL_CONFIG_UNDEF_PTR,                                   \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,            \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,            \
    NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT             \
  }

/* ------------------------------------------------------------------------ */
/* Element types and reduction operators                                     */
/* ------------------------------------------------------------------------ */

typedef enum {
  ncclInt8 = 0,
  ncclChar = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclInt = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclHalf = 6,
  ncclFloat32 = 7,
  ncclFloat = 7,
  ncclFloat64 = 8,
  ncclDouble = 8,
  ncclBfloat16 = 9,
  ncclFloat8e4m3 = 10,
  ncclFloat8e5m2 = 11,
  ncclNumTypes = 12
} ncclDataType_t;

/* Sizes ncclRedOp_t like any plain enum, so ncclMaxRedOp below is the largest
 * value that keeps sizeof(ncclRedOp_t) what it always was. */
typedef enum { ncclNumOps_dummy = 5 } ncclRedOp_dummy_t;

typedef enum {
  ncclSum = 0,
  ncclProd = 1,
  ncclMax = 2,
  ncclMin = 3,
  ncclAvg = 4,
  /* Built-ins are below ncclNumOps; ops made by ncclRedOpCreatePreMulSum get
   * ids from ncclNumOps up, valid only on the communicator that made them. */
  ncclNumOps = 5,
  ncclMaxRedOp = 0x7fffffff >> (32 - 8 * sizeof(ncclRedOp_dummy_t))
} ncclRedOp_t;

/* Where ncclRedOpCreatePreMulSum's scalar lives. On host both are read when
 * the op is created. */
typedef enum {
  ncclScalarDevice = 0,
  ncclScalarHostImmediate = 1
} ncclScalarResidence_t;

/* ------------------------------------------------------------------------ */
/* Library and communicator lifetime                                         */
/* ------------------------------------------------------------------------ */

/* *version = NCCL_VERSION_CODE of the library (22809). */
LOOM_NCCL_EXPORT ncclResult_t ncclGetVersion(int* version);
LOOM_NCCL_EXPORT ncclResult_t pncclGetVersion(int* version);

/* Makes the id for a new communicator and starts its rendezvous point in this
 * process; call once, then give the id to every rank. */
LOOM_NCCL_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId);
LOOM_NCCL_EXPORT ncclResult_t pncclGetUniqueId(ncclUniqueId* uniqueId);

/* Joins communicator commId as rank of nranks; blocks until all ranks joined.
 * Between ncclGroupStart and ncclGroupEnd the joins are deferred to
 * ncclGroupEnd, so one thread can initialise several ranks. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId,
                                               int rank);
LOOM_NCCL_EXPORT ncclResult_t pncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId,
                                                int rank);

/* As ncclCommInitRank, with a configuration (may be NULL). */
LOOM_NCCL_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks,
                                                     ncclUniqueId commId, int rank,
                                                     ncclConfig_t* config);
LOOM_NCCL_EXPORT ncclResult_t pncclCommInitRankConfig(ncclComm_t* comm, int nranks,
                                                      ncclUniqueId commId, int rank,
                                                      ncclConfig_t* config);

/* Creates ndev ranks of one communicator in this process; comm must hold ndev
 * handles. devlist is accepted and ignored on host. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t* comm, int ndev, const int* devlist);
LOOM_NCCL_EXPORT ncclResult_t pncclCommInitAll(ncclComm_t* comm, int ndev, const int* devlist);

/* Ranks passing the same color form a new communicator ordered by key;
 * color NCCL_SPLIT_NOCOLOR gives *newcomm = NULL. All ranks must call. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key,
                                            ncclComm_t* newcomm, ncclConfig_t* config);
LOOM_NCCL_EXPORT ncclResult_t pncclCommSplit(ncclComm_t comm, int color, int key,
                                             ncclComm_t* newcomm, ncclConfig_t* config);

/* Waits for all queued work; collectives are refused afterwards. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommFinalize(ncclComm_t comm);
LOOM_NCCL_EXPORT ncclResult_t pncclCommFinalize(ncclComm_t comm);

/* Frees the handle (finalizing first if needed). NULL is accepted. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm);
LOOM_NCCL_EXPORT ncclResult_t pncclCommDestroy(ncclComm_t comm);

/* Stops all work at once (peers get an error rather than a hang) and frees
 * the handle. NULL is accepted. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm);
LOOM_NCCL_EXPORT ncclResult_t pncclCommAbort(ncclComm_t comm);

/* ------------------------------------------------------------------------ */
/* Queries and errors                                                        */
/* ------------------------------------------------------------------------ */

LOOM_NCCL_EXPORT ncclResult_t ncclCommCount(const ncclComm_t comm, int* count);
LOOM_NCCL_EXPORT ncclResult_t pncclCommCount(const ncclComm_t comm, int* count);

LOOM_NCCL_EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank);
LOOM_NCCL_EXPORT ncclResult_t pncclCommUserRank(const ncclComm_t comm, int* rank);

/* A host communicator has no CUDA device: *device = -1 (CUDA's
 * cudaCpuDeviceId) with ncclSuccess. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device);
LOOM_NCCL_EXPORT ncclResult_t pncclCommCuDevice(const ncclComm_t comm, int* device);

/* A fixed description of a result code. */
LOOM_NCCL_EXPORT const char* ncclGetErrorString(ncclResult_t result);
LOOM_NCCL_EXPORT const char* pncclGetErrorString(ncclResult_t result);

/* The message of the last failure: comm's own last failure when comm is a
 * live communicator that had one, otherwise this thread's ("" if none). The
 * string stays valid until this thread calls ncclGetLastError again. */
LOOM_NCCL_EXPORT const char* ncclGetLastError(ncclComm_t comm);
LOOM_NCCL_EXPORT const char* pncclGetLastError(ncclComm_t comm);

/* The first error hit by work that ran after its call returned (queued on a
 * host stream, or a peer's failure); ncclSuccess if none. */
LOOM_NCCL_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError);
LOOM_NCCL_EXPORT ncclResult_t pncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError);

/* ------------------------------------------------------------------------ */
/* Custom reduction operators                                                */
/* ------------------------------------------------------------------------ */

/* A sum that first multiplies each rank's input by *scalar (of datatype);
 * usable only with comm and datatype. */
LOOM_NCCL_EXPORT ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar,
                                                       ncclDataType_t datatype,
                                                       ncclScalarResidence_t residence,
                                                       ncclComm_t comm);
LOOM_NCCL_EXPORT ncclResult_t pncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar,
                                                        ncclDataType_t datatype,
                                                        ncclScalarResidence_t residence,
                                                        ncclComm_t comm);

LOOM_NCCL_EXPORT ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm);
LOOM_NCCL_EXPORT ncclResult_t pncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm);

/* ------------------------------------------------------------------------ */
/* Collectives                                                               */
/*                                                                           */
/* Every rank of comm makes the same calls in the same order. With stream   */
/* NULL a call returns when this rank's part is done; with a host stream it */
/* returns at once and the work runs in order on that stream. Passing the   */
/* same pointer as send and receive buffer runs in place.                   */
/* ------------------------------------------------------------------------ */

/* recvbuff on every rank = op over all ranks' sendbuff (count elements). */
LOOM_NCCL_EXPORT ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                            ncclDataType_t datatype, ncclRedOp_t op,
                                            ncclComm_t comm, cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                             ncclDataType_t datatype, ncclRedOp_t op,
                                             ncclComm_t comm, cudaStream_t stream);

/* recvbuff on every rank = sendbuff of root (read on root only). */
LOOM_NCCL_EXPORT ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                            ncclDataType_t datatype, int root, ncclComm_t comm,
                                            cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                             ncclDataType_t datatype, int root, ncclComm_t comm,
                                             cudaStream_t stream);

/* The older in-place broadcast: buff is both source (on root) and target. */
LOOM_NCCL_EXPORT ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root,
                                        ncclComm_t comm, cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclBcast(void* buff, size_t count, ncclDataType_t datatype,
                                         int root, ncclComm_t comm, cudaStream_t stream);

/* recvbuff on root = op over all ranks' sendbuff; recvbuff may be NULL
 * elsewhere. */
LOOM_NCCL_EXPORT ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count,
                                         ncclDataType_t datatype, ncclRedOp_t op, int root,
                                         ncclComm_t comm, cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclReduce(const void* sendbuff, void* recvbuff, size_t count,
                                          ncclDataType_t datatype, ncclRedOp_t op, int root,
                                          ncclComm_t comm, cudaStream_t stream);

/* recvbuff (nranks * sendcount elements) holds rank i's sendbuff at
 * i * sendcount. */
LOOM_NCCL_EXPORT ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                            ncclDataType_t datatype, ncclComm_t comm,
                                            cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclAllGather(const void* sendbuff, void* recvbuff,
                                             size_t sendcount, ncclDataType_t datatype,
                                             ncclComm_t comm, cudaStream_t stream);

/* sendbuff holds nranks * recvcount elements; rank i's recvbuff gets block i
 * of the reduction. */
LOOM_NCCL_EXPORT ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff,
                                                size_t recvcount, ncclDataType_t datatype,
                                                ncclRedOp_t op, ncclComm_t comm,
                                                cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclReduceScatter(const void* sendbuff, void* recvbuff,
                                                 size_t recvcount, ncclDataType_t datatype,
                                                 ncclRedOp_t op, ncclComm_t comm,
                                                 cudaStream_t stream);

/* Block j of sendbuff (count elements each) goes to rank j; block i of
 * recvbuff comes from rank i. */
LOOM_NCCL_EXPORT ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                                           ncclDataType_t datatype, ncclComm_t comm,
                                           cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                                            ncclDataType_t datatype, ncclComm_t comm,
                                            cudaStream_t stream);

/* ------------------------------------------------------------------------ */
/* Point to point: each ncclSend is matched by an ncclRecv on the peer with */
/* the same count and datatype. Put sends and receives that must progress   */
/* together in one group.                                                   */
/* ------------------------------------------------------------------------ */

LOOM_NCCL_EXPORT ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype,
                                       int peer, ncclComm_t comm, cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclSend(const void* sendbuff, size_t count,
                                        ncclDataType_t datatype, int peer, ncclComm_t comm,
                                        cudaStream_t stream);

LOOM_NCCL_EXPORT ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype,
                                       int peer, ncclComm_t comm, cudaStream_t stream);
LOOM_NCCL_EXPORT ncclResult_t pncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype,
                                        int peer, ncclComm_t comm, cudaStream_t stream);

/* ------------------------------------------------------------------------ */
/* Groups: calls between ncclGroupStart and ncclGroupEnd (nestable, per     */
/* thread) are launched together at the outermost ncclGroupEnd. Use them    */
/* to drive several ranks from one thread or to pair sends with receives.   */
/* ------------------------------------------------------------------------ */

LOOM_NCCL_EXPORT ncclResult_t ncclGroupStart(void);
LOOM_NCCL_EXPORT ncclResult_t pncclGroupStart(void);

LOOM_NCCL_EXPORT ncclResult_t ncclGroupEnd(void);
LOOM_NCCL_EXPORT ncclResult_t pncclGroupEnd(void);

/* ------------------------------------------------------------------------ */
/* Loom extensions (not in NCCL)                                             */
/*                                                                           */
/* A host stream: an in-order work queue served by its own thread, handed   */
/* around as a cudaStream_t so the collectives above can run asynchronously */
/* on host buffers. It is not a CUDA stream: never pass it to the CUDA      */
/* runtime.                                                                 */
/* ------------------------------------------------------------------------ */

#define LOOM_HAS_HOST_STREAMS 1

/* Creates a host stream. */
LOOM_NCCL_EXPORT ncclResult_t loomHostStreamCreate(cudaStream_t* stream);

/* Waits until everything queued on stream has run; returns the first error
 * any of it hit (and clears it). */
LOOM_NCCL_EXPORT ncclResult_t loomHostStreamSynchronize(cudaStream_t stream);

/* Waits for queued work, then frees the stream. */
LOOM_NCCL_EXPORT ncclResult_t loomHostStreamDestroy(cudaStream_t stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NCCL_H_ */
