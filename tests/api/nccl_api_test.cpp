// The NCCL-compatible C API: argument checking with its messages, and
// collectives through the C entry points on 1..4 forked ranks, on several
// ranks of one process (ncclCommInitAll, grouped ncclCommInitRank), after a
// split, with PreMulSum ops and on host streams.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nccl.h"
#include "support/multi_rank.h"

namespace {

using loom::testing::describeFailures;
using loom::testing::RankOutcome;

// ---------------------------------------------------------------------------
// Harness: forked ranks whose rank 0 makes the id with ncclGetUniqueId, as a
// C program would, and shares it through an anonymous shared page.
// ---------------------------------------------------------------------------

// Forks nranks processes running fn(rank, id); kills them after timeoutSeconds.
std::vector<RankOutcome> runNcclRanks(int nranks, const std::function<void(int, const ncclUniqueId&)>& fn,
                                      double timeoutSeconds = 120) {
  return loom::testing::runRanksWithId<ncclUniqueId>(
      nranks,
      [](ncclUniqueId& id) {
        if (ncclGetUniqueId(&id) != ncclSuccess) {
          std::fprintf(stderr, "rank 0: ncclGetUniqueId: %s\n", ncclGetLastError(nullptr));
          return false;
        }
        return true;
      },
      [&](int rank, const ncclUniqueId& id) {
        fn(rank, id);
        return 0;
      },
      timeoutSeconds);
}

// Runs fn(comm) on each of nranks forked ranks with a communicator made by
// ncclCommInitRank, destroying it afterwards.
std::vector<RankOutcome> runWithComms(int nranks, const std::function<void(ncclComm_t, int rank)>& fn) {
  return runNcclRanks(nranks, [&](int rank, const ncclUniqueId& id) {
    ncclComm_t comm = nullptr;
    ncclResult_t r = ncclCommInitRank(&comm, nranks, id, rank);
    ASSERT_EQ(r, ncclSuccess) << "rank " << rank << ": " << ncclGetLastError(nullptr);
    ASSERT_NE(comm, nullptr);
    fn(comm, rank);
    EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess) << ncclGetLastError(comm);
  });
}

std::string lastError(ncclComm_t comm = nullptr) { return ncclGetLastError(comm); }

#define EXPECT_RANKS_PASS(outcomes) EXPECT_EQ(describeFailures(outcomes), "")

// Asserts that `call` returns `code` and that the last error mentions `text`.
#define EXPECT_NCCL_ERROR(call, code, text)                                      \
  do {                                                                           \
    ncclResult_t result_ = (call);                                               \
    EXPECT_EQ(result_, code) << #call;                                           \
    EXPECT_NE(lastError().find(text), std::string::npos)                         \
        << #call << ": last error \"" << lastError() << "\" lacks \"" << text << "\""; \
  } while (0)

// ---------------------------------------------------------------------------
// Calls that need no communicator
// ---------------------------------------------------------------------------

TEST(NcclApiBasics, VersionIs2_28_9) {
  int version = 0;
  ASSERT_EQ(ncclGetVersion(&version), ncclSuccess);
  EXPECT_EQ(version, 22809);
  EXPECT_EQ(version, NCCL_VERSION_CODE);
  EXPECT_EQ(NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH), 22809);
  EXPECT_EQ(NCCL_VERSION(2, 8, 4), 2804);  // the old encoding for 2.8 and earlier
  EXPECT_NCCL_ERROR(ncclGetVersion(nullptr), ncclInvalidArgument, "version");
  EXPECT_EQ(pncclGetVersion(&version), ncclSuccess);  // the profiling alias
}

TEST(NcclApiBasics, AbiFacts) {
  EXPECT_EQ(sizeof(ncclUniqueId), 128u);
  EXPECT_EQ(sizeof(ncclConfig_t), 80u);
  EXPECT_EQ(sizeof(ncclRedOp_t), sizeof(int));
  EXPECT_EQ(static_cast<int>(ncclMaxRedOp), 0x7fffffff);
  EXPECT_EQ(ncclFloat, ncclFloat32);
  EXPECT_EQ(ncclNumTypes, 12);
  EXPECT_EQ(ncclNumOps, 5);
  EXPECT_EQ(ncclRemoteError, 6);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  EXPECT_EQ(config.size, sizeof(ncclConfig_t));
  EXPECT_EQ(config.magic, 0xcafebeefu);
  EXPECT_EQ(config.version, 22809u);
  EXPECT_EQ(config.blocking, NCCL_CONFIG_UNDEF_INT);
  EXPECT_EQ(config.commName, nullptr);
  EXPECT_EQ(config.nvlinkCentricSched, NCCL_CONFIG_UNDEF_INT);
}

TEST(NcclApiBasics, ErrorStringsAreDistinct) {
  std::vector<std::string> seen;
  for (int r = 0; r < ncclNumResults; ++r) {
    std::string s = ncclGetErrorString(static_cast<ncclResult_t>(r));
    EXPECT_FALSE(s.empty());
    for (const auto& other : seen) EXPECT_NE(s, other);
    seen.push_back(s);
  }
  EXPECT_NE(std::string(ncclGetErrorString(static_cast<ncclResult_t>(1234))).find("unknown"),
            std::string::npos);
}

TEST(NcclApiBasics, BadInitArguments) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  ncclComm_t comm = nullptr;
  EXPECT_NCCL_ERROR(ncclGetUniqueId(nullptr), ncclInvalidArgument, "uniqueId");
  EXPECT_NCCL_ERROR(ncclCommInitRank(nullptr, 2, id, 0), ncclInvalidArgument, "comm");
  EXPECT_NCCL_ERROR(ncclCommInitRank(&comm, 0, id, 0), ncclInvalidArgument, "nranks 0");
  EXPECT_NCCL_ERROR(ncclCommInitRank(&comm, 2, id, 5), ncclInvalidArgument, "rank 5");
  EXPECT_NCCL_ERROR(ncclCommInitRank(&comm, 2, id, -1), ncclInvalidArgument, "rank -1");
  EXPECT_EQ(comm, nullptr);
  ncclConfig_t config;
  std::memset(&config, 0, sizeof(config));  // not from NCCL_CONFIG_INITIALIZER
  EXPECT_NCCL_ERROR(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument,
                    "NCCL_CONFIG_INITIALIZER");
  config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 7;
  EXPECT_NCCL_ERROR(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument,
                    "blocking is 7");
  EXPECT_NCCL_ERROR(ncclCommInitAll(nullptr, 2, nullptr), ncclInvalidArgument, "comm");
  EXPECT_NCCL_ERROR(ncclCommInitAll(&comm, 0, nullptr), ncclInvalidArgument, "ndev 0");
}

TEST(NcclApiBasics, NullAndStaleCommunicators) {
  float buf[4] = {};
  int value = 0;
  EXPECT_NCCL_ERROR(ncclAllReduce(buf, buf, 4, ncclFloat, ncclSum, nullptr, nullptr),
                    ncclInvalidArgument, "comm is NULL");
  EXPECT_NCCL_ERROR(ncclSend(buf, 4, ncclFloat, 0, nullptr, nullptr), ncclInvalidArgument,
                    "comm is NULL");
  EXPECT_NCCL_ERROR(ncclCommCount(nullptr, &value), ncclInvalidArgument, "comm is NULL");
  EXPECT_NCCL_ERROR(ncclCommFinalize(nullptr), ncclInvalidArgument, "comm is NULL");
  // A pointer that never was a communicator is refused without being read.
  auto stale = reinterpret_cast<ncclComm_t>(static_cast<uintptr_t>(0xdead0));
  EXPECT_NCCL_ERROR(ncclBroadcast(buf, buf, 4, ncclFloat, 0, stale, nullptr), ncclInvalidArgument,
                    "not a live communicator");
  EXPECT_NCCL_ERROR(ncclCommDestroy(stale), ncclInvalidArgument, "not a live communicator");
  // As NCCL: destroying or aborting NULL is a no-op.
  EXPECT_EQ(ncclCommDestroy(nullptr), ncclSuccess);
  EXPECT_EQ(ncclCommAbort(nullptr), ncclSuccess);
  EXPECT_NCCL_ERROR(ncclGroupEnd(), ncclInvalidUsage, "without a matching ncclGroupStart");
}

TEST(NcclApiBasics, HostStreamLifecycle) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(loomHostStreamCreate(&stream), ncclSuccess);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(loomHostStreamSynchronize(stream), ncclSuccess);
  EXPECT_EQ(loomHostStreamDestroy(stream), ncclSuccess);
  EXPECT_NCCL_ERROR(loomHostStreamSynchronize(stream), ncclInvalidArgument, "not a live host stream");
  EXPECT_NCCL_ERROR(loomHostStreamDestroy(stream), ncclInvalidArgument, "not a live host stream");
  EXPECT_NCCL_ERROR(loomHostStreamCreate(nullptr), ncclInvalidArgument, "stream");
}

// ---------------------------------------------------------------------------
// Bad arguments on a live (1-rank) communicator
// ---------------------------------------------------------------------------

TEST(NcclApiChecks, BadDatatypeOpAndBuffersNameTheValue) {
  auto outcomes = runWithComms(1, [](ncclComm_t comm, int) {
    std::vector<float> send(8, 1.0f), recv(8, -7.0f);
    EXPECT_NCCL_ERROR(ncclAllReduce(send.data(), recv.data(), 8, static_cast<ncclDataType_t>(99),
                                    ncclSum, comm, nullptr),
                      ncclInvalidArgument, "datatype 99");
    EXPECT_NCCL_ERROR(ncclAllReduce(send.data(), recv.data(), 8, ncclFloat,
                                    static_cast<ncclRedOp_t>(77), comm, nullptr),
                      ncclInvalidArgument, "op 77");
    EXPECT_NCCL_ERROR(ncclAllReduce(send.data(), recv.data(), 8, ncclFloat,
                                    static_cast<ncclRedOp_t>(-3), comm, nullptr),
                      ncclInvalidArgument, "op -3");
    EXPECT_NCCL_ERROR(ncclAllReduce(nullptr, recv.data(), 8, ncclFloat, ncclSum, comm, nullptr),
                      ncclInvalidArgument, "sendbuff is NULL but count is 8");
    EXPECT_NCCL_ERROR(ncclAllReduce(send.data(), nullptr, 8, ncclFloat, ncclSum, comm, nullptr),
                      ncclInvalidArgument, "recvbuff is NULL but count is 8");
    EXPECT_NCCL_ERROR(ncclAllGather(nullptr, recv.data(), 8, ncclFloat, comm, nullptr),
                      ncclInvalidArgument, "sendbuff");
    EXPECT_NCCL_ERROR(ncclRecv(nullptr, 3, ncclInt32, 0, comm, nullptr), ncclInvalidArgument,
                      "recvbuff is NULL but count is 3");
    // The communicator keeps its own last error too.
    EXPECT_NE(lastError(comm).find("recvbuff"), std::string::npos) << lastError(comm);
    // A refused call touches no buffer.
    for (float v : recv) EXPECT_EQ(v, -7.0f);
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiChecks, CountOverflowIsRefused) {
  auto outcomes = runWithComms(1, [](ncclComm_t comm, int) {
    float x = 0;
    size_t huge = SIZE_MAX / 2;  // * 4 bytes overflows size_t
    EXPECT_NCCL_ERROR(ncclAllReduce(&x, &x, huge, ncclFloat, ncclSum, comm, nullptr),
                      ncclInvalidArgument, std::to_string(huge));
    EXPECT_NCCL_ERROR(ncclAllReduce(&x, &x, huge, ncclFloat, ncclSum, comm, nullptr),
                      ncclInvalidArgument, "overflows");
    size_t tooBig = static_cast<size_t>(PTRDIFF_MAX) / 4 + 1;  // fits size_t, exceeds PTRDIFF_MAX
    EXPECT_NCCL_ERROR(ncclBroadcast(&x, &x, tooBig, ncclFloat, 0, comm, nullptr),
                      ncclInvalidArgument, "PTRDIFF_MAX");
    EXPECT_NCCL_ERROR(ncclSend(&x, SIZE_MAX, ncclFloat64, 0, comm, nullptr), ncclInvalidArgument,
                      "overflows");
    EXPECT_NCCL_ERROR(ncclAlltoAll(&x, &x, SIZE_MAX, ncclInt8, comm, nullptr), ncclInvalidArgument,
                      std::to_string(SIZE_MAX));
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiChecks, BadRootPeerAndStream) {
  auto outcomes = runWithComms(1, [](ncclComm_t comm, int) {
    float x[2] = {1, 2};
    EXPECT_NCCL_ERROR(ncclBroadcast(x, x, 2, ncclFloat, 1, comm, nullptr), ncclInvalidArgument,
                      "root 1 is out of range");
    EXPECT_NCCL_ERROR(ncclBcast(x, 2, ncclFloat, -2, comm, nullptr), ncclInvalidArgument, "root -2");
    EXPECT_NCCL_ERROR(ncclReduce(x, x, 2, ncclFloat, ncclSum, 4, comm, nullptr), ncclInvalidArgument,
                      "root 4");
    EXPECT_NCCL_ERROR(ncclSend(x, 2, ncclFloat, 3, comm, nullptr), ncclInvalidArgument,
                      "peer 3 is out of range");
    EXPECT_NCCL_ERROR(ncclRecv(x, 2, ncclFloat, -1, comm, nullptr), ncclInvalidArgument, "peer -1");
    auto fakeCudaStream = reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(0x1234));
    EXPECT_NCCL_ERROR(ncclAllReduce(x, x, 2, ncclFloat, ncclSum, comm, fakeCudaStream),
                      ncclInvalidArgument, "no usable GPU");
    EXPECT_NCCL_ERROR(ncclAllReduce(x, x, 2, ncclFloat, ncclSum, comm, fakeCudaStream),
                      ncclInvalidArgument, "loomHostStreamCreate");
    EXPECT_EQ(x[0], 1.0f);
    EXPECT_EQ(x[1], 2.0f);
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiChecks, QueriesOnOneRank) {
  auto outcomes = runWithComms(1, [](ncclComm_t comm, int) {
    int count = 0, rank = -5, device = 5;
    EXPECT_EQ(ncclCommCount(comm, &count), ncclSuccess);
    EXPECT_EQ(count, 1);
    EXPECT_EQ(ncclCommUserRank(comm, &rank), ncclSuccess);
    EXPECT_EQ(rank, 0);
    EXPECT_EQ(ncclCommCuDevice(comm, &device), ncclSuccess);
    EXPECT_EQ(device, -1);  // cudaCpuDeviceId: no CUDA device behind a host communicator
    EXPECT_NCCL_ERROR(ncclCommCount(comm, nullptr), ncclInvalidArgument, "count");
    ncclResult_t async = ncclInternalError;
    EXPECT_EQ(ncclCommGetAsyncError(comm, &async), ncclSuccess);
    EXPECT_EQ(async, ncclSuccess);
    // A one-rank all-reduce is a copy.
    double in[3] = {1.5, -2, 4}, out[3] = {};
    ASSERT_EQ(ncclAllReduce(in, out, 3, ncclDouble, ncclSum, comm, nullptr), ncclSuccess)
        << lastError(comm);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], in[i]);
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiChecks, ConfigIsHonoured) {
  auto outcomes = runNcclRanks(1, [](int, const ncclUniqueId& id) {
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    config.commName = "config-test";
    ncclComm_t comm = nullptr;
    ASSERT_EQ(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclSuccess) << lastError();
    ncclResult_t async = ncclInProgress;
    EXPECT_EQ(ncclCommGetAsyncError(comm, &async), ncclSuccess);
    EXPECT_EQ(async, ncclSuccess);  // non-blocking init completed before returning
    EXPECT_EQ(ncclCommFinalize(comm), ncclSuccess) << lastError(comm);
    EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess) << lastError(comm);
  });
  EXPECT_RANKS_PASS(outcomes);
}

// ---------------------------------------------------------------------------
// Collectives on 1..4 forked ranks
// ---------------------------------------------------------------------------

class NcclApiRanks : public ::testing::TestWithParam<int> {};

TEST_P(NcclApiRanks, AllReduceBroadcastAndGroupedSendRecv) {
  const int n = GetParam();
  auto outcomes = runWithComms(n, [n](ncclComm_t comm, int rank) {
    const size_t count = 1000 + 7;
    // All-reduce, float sum, out of place: element i is sum over r of (r+1)*(i%13).
    std::vector<float> send(count), recv(count, -1.0f);
    for (size_t i = 0; i < count; ++i) send[i] = static_cast<float>((rank + 1) * (i % 13));
    ASSERT_EQ(ncclAllReduce(send.data(), recv.data(), count, ncclFloat, ncclSum, comm, nullptr),
              ncclSuccess)
        << lastError(comm);
    const float rankSum = static_cast<float>(n * (n + 1) / 2);
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(recv[i], rankSum * static_cast<float>(i % 13)) << "element " << i;
    }
    // In place, int32 max.
    std::vector<int32_t> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = static_cast<int32_t>((rank * 31 + i) % 97);
    ASSERT_EQ(ncclAllReduce(values.data(), values.data(), count, ncclInt32, ncclMax, comm, nullptr),
              ncclSuccess)
        << lastError(comm);
    for (size_t i = 0; i < count; ++i) {
      int32_t expected = 0;
      for (int r = 0; r < n; ++r) expected = std::max<int32_t>(expected, (r * 31 + i) % 97);
      ASSERT_EQ(values[i], expected) << "element " << i;
    }

    // Broadcast from the last rank; only the root's sendbuff is read.
    const int root = n - 1;
    std::vector<double> bsend(count), brecv(count, 0.0);
    for (size_t i = 0; i < count; ++i) bsend[i] = rank == root ? 0.25 * i + 3 : -1;
    ASSERT_EQ(ncclBroadcast(rank == root ? bsend.data() : nullptr, brecv.data(), count, ncclDouble,
                            root, comm, nullptr),
              ncclSuccess)
        << lastError(comm);
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(brecv[i], 0.25 * i + 3) << "element " << i;

    // A ring exchange in one group: send to the next rank, receive from the previous.
    const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    std::vector<int64_t> out(count), in(count, -1);
    for (size_t i = 0; i < count; ++i) out[i] = rank * 1000000 + static_cast<int64_t>(i);
    ASSERT_EQ(ncclGroupStart(), ncclSuccess);
    ASSERT_EQ(ncclSend(out.data(), count, ncclInt64, next, comm, nullptr), ncclSuccess) << lastError(comm);
    ASSERT_EQ(ncclRecv(in.data(), count, ncclInt64, prev, comm, nullptr), ncclSuccess) << lastError(comm);
    ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << lastError(comm);
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(in[i], prev * 1000000 + static_cast<int64_t>(i)) << i;
  });
  EXPECT_RANKS_PASS(outcomes);
}

INSTANTIATE_TEST_SUITE_P(RankCounts, NcclApiRanks, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ranks";
                         });

TEST(NcclApiCollectives, ReduceAllGatherReduceScatterAllToAll) {
  const int n = 3;
  auto outcomes = runWithComms(n, [n](ncclComm_t comm, int rank) {
    const size_t count = 50;
    // Reduce to rank 1: recvbuff may be NULL elsewhere.
    std::vector<int32_t> send(count), recv(count, 0);
    for (size_t i = 0; i < count; ++i) send[i] = rank + static_cast<int32_t>(i);
    ASSERT_EQ(ncclReduce(send.data(), rank == 1 ? recv.data() : nullptr, count, ncclInt32, ncclSum,
                         1, comm, nullptr),
              ncclSuccess)
        << lastError(comm);
    if (rank == 1) {
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(recv[i], 3 + 3 * static_cast<int32_t>(i)) << i;
    }
    // All-gather: block r holds rank r's data.
    std::vector<float> gathered(count * n, -1.0f);
    std::vector<float> mine(count);
    for (size_t i = 0; i < count; ++i) mine[i] = rank * 100.0f + i;
    ASSERT_EQ(ncclAllGather(mine.data(), gathered.data(), count, ncclFloat, comm, nullptr), ncclSuccess)
        << lastError(comm);
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(gathered[r * count + i], r * 100.0f + i);
    }
    // Reduce-scatter: block `rank` of the sum.
    std::vector<float> scattered(count, -1.0f);
    ASSERT_EQ(ncclReduceScatter(gathered.data(), scattered.data(), count, ncclFloat, ncclSum, comm,
                                nullptr),
              ncclSuccess)
        << lastError(comm);
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(scattered[i], n * (rank * 100.0f + i));
    // All-to-all: block j of sendbuff goes to rank j.
    std::vector<int32_t> a2aSend(count * n), a2aRecv(count * n, -1);
    for (int j = 0; j < n; ++j) {
      for (size_t i = 0; i < count; ++i) a2aSend[j * count + i] = rank * 10000 + j * 100 + static_cast<int32_t>(i);
    }
    ASSERT_EQ(ncclAlltoAll(a2aSend.data(), a2aRecv.data(), count, ncclInt32, comm, nullptr), ncclSuccess)
        << lastError(comm);
    for (int src = 0; src < n; ++src) {
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(a2aRecv[src * count + i], src * 10000 + rank * 100 + static_cast<int32_t>(i));
      }
    }
  });
  EXPECT_RANKS_PASS(outcomes);
}

// ---------------------------------------------------------------------------
// Several ranks in one process
// ---------------------------------------------------------------------------

void expectGroupedAllReduce(ncclComm_t* comms, int n) {
  const size_t count = 333;
  std::vector<std::vector<float>> bufs(n, std::vector<float>(count));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) bufs[r][i] = static_cast<float>(r * 2 + i % 5);
  }
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(ncclAllReduce(bufs[r].data(), bufs[r].data(), count, ncclFloat, ncclSum, comms[r], nullptr),
              ncclSuccess)
        << lastError(comms[r]);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << lastError();
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(bufs[r][i], static_cast<float>(n * (n - 1) + n * (i % 5))) << "rank " << r << " element " << i;
    }
  }
}

TEST(NcclApiSingleProcess, InitAllThenGroupedAllReduceFromOneThread) {
  // In a forked child so this process stays free of the ranks' threads.
  auto outcomes = runNcclRanks(1, [](int, const ncclUniqueId&) {
    ncclComm_t comms[3] = {};
    ASSERT_EQ(ncclCommInitAll(comms, 3, nullptr), ncclSuccess) << lastError();
    for (int r = 0; r < 3; ++r) {
      int rank = -1, count = 0;
      ASSERT_EQ(ncclCommUserRank(comms[r], &rank), ncclSuccess);
      ASSERT_EQ(ncclCommCount(comms[r], &count), ncclSuccess);
      EXPECT_EQ(rank, r);
      EXPECT_EQ(count, 3);
    }
    expectGroupedAllReduce(comms, 3);
    for (auto comm : comms) EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess) << lastError();
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiSingleProcess, GroupedInitRankFromOneThread) {
  auto outcomes = runNcclRanks(1, [](int, const ncclUniqueId& id) {
    ncclComm_t comms[2] = {};
    ASSERT_EQ(ncclGroupStart(), ncclSuccess);
    for (int r = 0; r < 2; ++r) ASSERT_EQ(ncclCommInitRank(&comms[r], 2, id, r), ncclSuccess) << lastError();
    // Before ncclGroupEnd the communicators are not usable yet.
    int count = 0;
    EXPECT_NCCL_ERROR(ncclCommCount(comms[0], &count), ncclInvalidUsage, "ncclGroupEnd");
    ncclResult_t async = ncclSuccess;
    EXPECT_EQ(ncclCommGetAsyncError(comms[1], &async), ncclSuccess);
    EXPECT_EQ(async, ncclInProgress);
    ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << lastError();
    expectGroupedAllReduce(comms, 2);
    for (auto comm : comms) EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess) << lastError();
  });
  EXPECT_RANKS_PASS(outcomes);
}

// ---------------------------------------------------------------------------
// Split, PreMulSum, host streams
// ---------------------------------------------------------------------------

TEST(NcclApiSplit, EvenAndOddRanks) {
  auto outcomes = runWithComms(4, [](ncclComm_t comm, int rank) {
    ncclComm_t half = nullptr;
    // Reverse order inside each half: key = -rank.
    ASSERT_EQ(ncclCommSplit(comm, rank % 2, -rank, &half, nullptr), ncclSuccess) << lastError(comm);
    ASSERT_NE(half, nullptr);
    int newRank = -1, newCount = 0;
    ASSERT_EQ(ncclCommUserRank(half, &newRank), ncclSuccess);
    ASSERT_EQ(ncclCommCount(half, &newCount), ncclSuccess);
    EXPECT_EQ(newCount, 2);
    EXPECT_EQ(newRank, rank < 2 ? 1 : 0);
    int value = rank, sum = -1;
    ASSERT_EQ(ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, half, nullptr), ncclSuccess)
        << lastError(half);
    EXPECT_EQ(sum, rank % 2 == 0 ? 0 + 2 : 1 + 3);
    EXPECT_EQ(ncclCommDestroy(half), ncclSuccess);

    // NCCL_SPLIT_NOCOLOR leaves rank 0 out with a NULL communicator.
    ncclComm_t rest = reinterpret_cast<ncclComm_t>(static_cast<uintptr_t>(0x1));
    ASSERT_EQ(ncclCommSplit(comm, rank == 0 ? NCCL_SPLIT_NOCOLOR : 0, rank, &rest, nullptr), ncclSuccess)
        << lastError(comm);
    if (rank == 0) {
      EXPECT_EQ(rest, nullptr);
    } else {
      ASSERT_NE(rest, nullptr);
      int count = 0;
      EXPECT_EQ(ncclCommCount(rest, &count), ncclSuccess);
      EXPECT_EQ(count, 3);
      EXPECT_EQ(ncclCommDestroy(rest), ncclSuccess);
    }
    EXPECT_NCCL_ERROR(ncclCommSplit(comm, -5, 0, &rest, nullptr), ncclInvalidArgument, "color -5");
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiRedOp, PreMulSumScalesEachRanksInput) {
  const int n = 3;
  auto outcomes = runWithComms(n, [n](ncclComm_t comm, int rank) {
    // Each rank scales by its own scalar, rank + 1.
    double scalar = rank + 1.0;
    ncclRedOp_t op;
    ASSERT_EQ(ncclRedOpCreatePreMulSum(&op, &scalar, ncclDouble, ncclScalarHostImmediate, comm), ncclSuccess)
        << lastError(comm);
    EXPECT_GE(static_cast<int>(op), static_cast<int>(ncclNumOps));
    scalar = 1000;  // read at creation: later changes do not matter
    const size_t count = 64;
    std::vector<double> in(count), out(count, 0);
    for (size_t i = 0; i < count; ++i) in[i] = 0.5 * i + rank;
    ASSERT_EQ(ncclAllReduce(in.data(), out.data(), count, ncclDouble, op, comm, nullptr), ncclSuccess)
        << lastError(comm);
    for (size_t i = 0; i < count; ++i) {
      double expected = 0;
      for (int r = 0; r < n; ++r) expected += (r + 1.0) * (0.5 * i + r);
      ASSERT_DOUBLE_EQ(out[i], expected) << "element " << i;
    }
    // Bound to its datatype.
    EXPECT_NCCL_ERROR(ncclAllReduce(in.data(), out.data(), count, ncclFloat, op, comm, nullptr),
                      ncclInvalidArgument, "datatype");
    // A float op with device residence (host memory here) works the same way.
    float fscalar = 0.5f;
    ncclRedOp_t fop;
    ASSERT_EQ(ncclRedOpCreatePreMulSum(&fop, &fscalar, ncclFloat, ncclScalarDevice, comm), ncclSuccess);
    EXPECT_NE(fop, op);
    float fin = 2.0f * (rank + 1), fout = 0;
    ASSERT_EQ(ncclAllReduce(&fin, &fout, 1, ncclFloat, fop, comm, nullptr), ncclSuccess) << lastError(comm);
    EXPECT_EQ(fout, static_cast<float>(n * (n + 1) / 2));
    EXPECT_EQ(ncclRedOpDestroy(fop, comm), ncclSuccess);

    ASSERT_EQ(ncclRedOpDestroy(op, comm), ncclSuccess);
    const int destroyed = static_cast<int>(op);
    EXPECT_NCCL_ERROR(ncclAllReduce(in.data(), out.data(), count, ncclDouble, op, comm, nullptr),
                      ncclInvalidArgument, "op " + std::to_string(destroyed));
    EXPECT_NCCL_ERROR(ncclRedOpDestroy(op, comm), ncclInvalidArgument, "not a live op");
    EXPECT_NCCL_ERROR(ncclRedOpDestroy(ncclSum, comm), ncclInvalidArgument, "built-in");
    EXPECT_NCCL_ERROR(ncclRedOpCreatePreMulSum(&op, &scalar, static_cast<ncclDataType_t>(42),
                                               ncclScalarHostImmediate, comm),
                      ncclInvalidArgument, "datatype 42");
    EXPECT_NCCL_ERROR(ncclRedOpCreatePreMulSum(&op, nullptr, ncclDouble, ncclScalarHostImmediate, comm),
                      ncclInvalidArgument, "scalar");
  });
  EXPECT_RANKS_PASS(outcomes);
}

TEST(NcclApiStreams, AsyncCollectivesOnHostStream) {
  const int n = 2;
  auto outcomes = runWithComms(n, [n](ncclComm_t comm, int rank) {
    cudaStream_t stream = nullptr;
    ASSERT_EQ(loomHostStreamCreate(&stream), ncclSuccess);
    const size_t count = 4096;
    const int rounds = 4;
    std::vector<std::vector<float>> bufs(rounds, std::vector<float>(count));
    for (int k = 0; k < rounds; ++k) {
      for (size_t i = 0; i < count; ++i) bufs[k][i] = static_cast<float>(k + rank + (i % 3));
    }
    // Queue several in-place all-reduces, then a broadcast, and only then wait.
    for (int k = 0; k < rounds; ++k) {
      ASSERT_EQ(ncclAllReduce(bufs[k].data(), bufs[k].data(), count, ncclFloat, ncclSum, comm, stream),
                ncclSuccess)
          << lastError(comm);
    }
    std::vector<int32_t> b(16, rank == 0 ? 9 : 0);
    ASSERT_EQ(ncclBcast(b.data(), b.size(), ncclInt32, 0, comm, stream), ncclSuccess) << lastError(comm);
    ASSERT_EQ(loomHostStreamSynchronize(stream), ncclSuccess) << lastError();
    for (int k = 0; k < rounds; ++k) {
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(bufs[k][i], static_cast<float>(n * (k + (i % 3)) + n * (n - 1) / 2)) << k << "," << i;
      }
    }
    for (int v : b) EXPECT_EQ(v, 9);
    ncclResult_t async = ncclInternalError;
    EXPECT_EQ(ncclCommGetAsyncError(comm, &async), ncclSuccess);
    EXPECT_EQ(async, ncclSuccess);
    EXPECT_EQ(loomHostStreamDestroy(stream), ncclSuccess);
  });
  EXPECT_RANKS_PASS(outcomes);
}

}  // namespace
