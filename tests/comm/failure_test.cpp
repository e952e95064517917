// Bad input and failing peers: each ends in a clear error, never a crash or a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "comm/connection_table.h"
#include "common/config.h"
#include "support/multi_rank.h"

namespace loom {
namespace {

using testing::runCommRanks;
using testing::runRanks;

void setTimeout(const char* seconds) {
  setenv("LOOM_TIMEOUT_S", seconds, 1);
  reloadConfigForTesting();
}

bool contains(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST(BadArguments, EachNamesTheBadValue) {
  auto outcomes = runCommRanks(2, [](Communicator& comm) {
    std::vector<float> buf(16);
    Status s = comm.allReduce(nullptr, buf.data(), 4, DataType::kFloat32, RedOp::sum());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(s, "sendbuff is NULL")) << s.toString();

    s = comm.allReduce(buf.data(), nullptr, 4, DataType::kFloat32, RedOp::sum());
    EXPECT_TRUE(contains(s, "recvbuff is NULL")) << s.toString();

    s = comm.allReduce(buf.data(), buf.data(), SIZE_MAX / 2, DataType::kFloat32, RedOp::sum());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(s, "overflows")) << s.toString();

    s = comm.allGather(buf.data(), buf.data(), SIZE_MAX / 8, DataType::kFloat64);
    EXPECT_TRUE(contains(s, "overflows")) << s.toString();

    s = comm.broadcast(buf.data(), buf.data(), 4, DataType::kFloat32, 7);
    EXPECT_TRUE(contains(s, "root=7")) << s.toString();
    s = comm.reduce(buf.data(), buf.data(), 4, DataType::kFloat32, RedOp::sum(), -1);
    EXPECT_TRUE(contains(s, "root=-1")) << s.toString();

    s = comm.send(buf.data(), 4, DataType::kFloat32, 5);
    EXPECT_TRUE(contains(s, "peer=5")) << s.toString();

    s = comm.allReduce(buf.data(), buf.data(), 4, static_cast<DataType>(99), RedOp::sum());
    EXPECT_TRUE(contains(s, "datatype 99")) << s.toString();
    s = comm.allReduce(buf.data(), buf.data(), 4, DataType::kFloat32, RedOp::builtin(static_cast<RedOpKind>(77)));
    EXPECT_TRUE(contains(s, "op 77")) << s.toString();

    // None of the refused calls reached the wire: a real call still works.
    for (int i = 0; i < 16; ++i) buf[i] = static_cast<float>(comm.rank() + 1);
    ASSERT_TRUE(comm.allReduce(buf.data(), buf.data(), 16, DataType::kFloat32, RedOp::sum()).isOk());
    EXPECT_EQ(buf[15], 3.0f);
  });
  EXPECT_RANKS_OK(outcomes);
}

TEST(BadArguments, InvalidRankAndSize) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  auto c = Communicator::create(0, id.value(), 0);
  EXPECT_FALSE(c.isOk());
  EXPECT_TRUE(contains(c.status(), "nranks=0")) << c.status().toString();
  c = Communicator::create(4, id.value(), 4);
  EXPECT_TRUE(contains(c.status(), "rank=4")) << c.status().toString();
  UniqueId garbage;
  std::memset(garbage.bytes, 0x5a, sizeof(garbage.bytes));
  c = Communicator::create(2, garbage, 0);
  EXPECT_TRUE(contains(c.status(), "not a Loom unique id")) << c.status().toString();
}

TEST(Bootstrap, RankThatNeverArrivesTimesOutOnTheOthers) {
  setTimeout("3");  // before forking: the root (in rank 0) reads it too
  auto outcomes = runRanks(3, [](int rank, const UniqueId& id) {
    if (rank == 2) return 0;  // never joins
    auto comm = Communicator::create(3, id, rank);
    EXPECT_FALSE(comm.isOk());
    EXPECT_EQ(comm.status().code(), StatusCode::kTimeout) << comm.status().toString();
    EXPECT_TRUE(contains(comm.status(), "missing rank(s): 2")) << comm.status().toString();
    return 0;
  }, 60);
  setTimeout("300");
  EXPECT_RANKS_OK(outcomes);
}

TEST(Bootstrap, WrongTokenIsRefused) {
  setTimeout("3");
  auto outcomes = runRanks(2, [](int rank, const UniqueId& id) {
    UniqueId mine = id;
    if (rank == 1) mine.bytes[8 + 32] ^= 0xff;  // a byte of the token
    auto comm = Communicator::create(2, mine, rank);
    EXPECT_FALSE(comm.isOk());
    if (rank == 1) {
      EXPECT_TRUE(contains(comm.status(), "wrong secret token")) << comm.status().toString();
    } else {
      EXPECT_TRUE(contains(comm.status(), "missing rank(s): 1")) << comm.status().toString();
    }
    return 0;
  }, 60);
  setTimeout("300");
  EXPECT_RANKS_OK(outcomes);
}

TEST(Failures, MismatchedCountsAreReportedOnBothRanks) {
  auto outcomes = runCommRanks(2, [](Communicator& comm) {
    size_t count = comm.rank() == 0 ? 100 : 200;
    std::vector<float> buf(200, 1.0f);
    Status s = comm.allReduce(buf.data(), buf.data(), count, DataType::kFloat32, RedOp::sum());
    EXPECT_FALSE(s.isOk());
    EXPECT_TRUE(contains(s, "mismatched") || contains(s, "aborted")) << s.toString();
    // The communicator stays failed: later calls are refused at once.
    Status again = comm.allReduce(buf.data(), buf.data(), 4, DataType::kFloat32, RedOp::sum());
    EXPECT_TRUE(contains(again, "failed earlier")) << again.toString();
  });
  EXPECT_RANKS_OK(outcomes);
}

TEST(Failures, PeerKilledMidCollectiveIsAnErrorOnEveryRank) {
  auto outcomes = runRanks(4, [](int rank, const UniqueId& id) {
    setTimeout("60");  // the test must end through detection, far sooner than this
    auto comm = Communicator::create(4, id, rank);
    if (!comm.isOk()) return 2;
    std::vector<float> buf(size_t{4} << 20, 1.0f);
    if (rank == 2) {
      std::thread([] {
        usleep(200 * 1000);
        raise(SIGKILL);
      }).detach();
    }
    auto start = std::chrono::steady_clock::now();
    Status s;
    for (int i = 0; i < 100000 && s.isOk(); ++i) {
      s = comm.value()->allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, RedOp::sum());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(s.isOk());
    EXPECT_NE(s.code(), StatusCode::kTimeout) << s.toString();
    EXPECT_TRUE(contains(s, "died") || contains(s, "aborted") || contains(s, "lost")) << s.toString();
    EXPECT_LT(seconds, 50) << "detection took as long as a timeout";
    comm.value()->abort();
    return 0;
  }, 90);
  // Rank 2 was killed on purpose.
  EXPECT_EQ(outcomes[2].signal, SIGKILL);
  outcomes[2] = {};
  outcomes[2].exitCode = 0;
  EXPECT_RANKS_OK(outcomes);
}

// The same over UCX: forced to every peer on this host (a dead peer is also
// seen through its pid), and between pretend hosts, where only UCX itself
// (its endpoint error callback) can tell.
class UcxPeerKilled : public ::testing::TestWithParam<bool> {};

TEST_P(UcxPeerKilled, IsAnErrorOnEveryRank) {
  if (!ucxBuiltIn()) GTEST_SKIP() << "Loom was built without UCX";
  const bool pretendHosts = GetParam();
  auto outcomes = runRanks(3, [&](int rank, const UniqueId& id) {
    setenv("LOOM_TRANSPORT", pretendHosts ? "auto" : "ucx", 1);
    if (pretendHosts) setenv("LOOM_HOST_ID", ("ucx-host" + std::to_string(rank)).c_str(), 1);
    setTimeout("60");  // the test must end through detection, far sooner than this
    auto comm = Communicator::create(3, id, rank);
    EXPECT_TRUE(comm.isOk()) << comm.status().toString();
    if (!comm.isOk()) return 2;
    std::vector<float> buf(size_t{1} << 20, 1.0f);
    if (rank == 1) {
      std::thread([] {
        usleep(300 * 1000);
        raise(SIGKILL);
      }).detach();
    }
    auto start = std::chrono::steady_clock::now();
    Status s;
    for (int i = 0; i < 100000 && s.isOk(); ++i) {
      s = comm.value()->allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, RedOp::sum());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(s.isOk());
    EXPECT_NE(s.code(), StatusCode::kTimeout) << s.toString();
    EXPECT_TRUE(contains(s, "died") || contains(s, "aborted") || contains(s, "lost")) << s.toString();
    EXPECT_LT(seconds, 50) << "detection took as long as a timeout";
    comm.value()->abort();
    return 0;
  }, 90);
  unsetenv("LOOM_HOST_ID");
  setenv("LOOM_TRANSPORT", "auto", 1);
  setTimeout("300");
  EXPECT_EQ(outcomes[1].signal, SIGKILL);
  outcomes[1] = {};
  outcomes[1].exitCode = 0;
  EXPECT_RANKS_OK(outcomes);
}

INSTANTIATE_TEST_SUITE_P(Failures, UcxPeerKilled, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "AcrossPretendHosts" : "ForcedOnOneHost");
                         });

// An abort reaches peers over UCX as a message, before the aborting process
// is gone.
TEST(Failures, UcxAbortWakesPeersWaitingOnThisRank) {
  if (!ucxBuiltIn()) GTEST_SKIP() << "Loom was built without UCX";
  auto outcomes = runRanks(3, [](int rank, const UniqueId& id) {
    setenv("LOOM_TRANSPORT", "auto", 1);
    setenv("LOOM_HOST_ID", ("ucx-host" + std::to_string(rank)).c_str(), 1);
    reloadConfigForTesting();
    auto comm = Communicator::create(3, id, rank);
    EXPECT_TRUE(comm.isOk()) << comm.status().toString();
    if (!comm.isOk()) return 2;
    std::vector<float> buf(1024, 1.0f);
    if (rank == 1) {
      usleep(100 * 1000);
      comm.value()->abort();
      sleep(5);  // still alive: only the abort message can wake the others now
      return 0;
    }
    auto start = std::chrono::steady_clock::now();
    Status s = comm.value()->allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, RedOp::sum());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(s.isOk());
    EXPECT_TRUE(contains(s, "aborted")) << s.toString();
    EXPECT_LT(seconds, 4) << "the abort was noticed only when the process exited";
    return 0;
  }, 60);
  EXPECT_RANKS_OK(outcomes);
}

TEST(Failures, AbortWakesPeersWaitingOnThisRank) {
  auto outcomes = runCommRanks(3, [](Communicator& comm) {
    std::vector<float> buf(1024, 1.0f);
    if (comm.rank() == 1) {
      usleep(100 * 1000);
      comm.abort();
      return;
    }
    Status s = comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, RedOp::sum());
    EXPECT_FALSE(s.isOk());
    EXPECT_TRUE(contains(s, "aborted")) << s.toString();
  });
  EXPECT_RANKS_OK(outcomes);
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(Bootstrap, FromTorchrunEnvironment) {
  std::string port = std::to_string(freePort());
  auto outcomes = runRanks(3, [&](int rank, const UniqueId&) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", "3", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", port.c_str(), 1);
    setenv("LOOM_SECRET", "test-job-secret", 1);
    reloadConfigForTesting();
    auto comm = Communicator::createFromEnvironment();
    EXPECT_TRUE(comm.isOk()) << comm.status().toString();
    if (!comm.isOk()) return 1;
    EXPECT_EQ(comm.value()->rank(), rank);
    EXPECT_EQ(comm.value()->size(), 3);
    std::vector<int32_t> v(10, rank + 1);
    EXPECT_TRUE(comm.value()->allReduce(v.data(), v.data(), v.size(), DataType::kInt32, RedOp::sum()).isOk());
    EXPECT_EQ(v[9], 6);
    return 0;
  }, 60);
  EXPECT_RANKS_OK(outcomes);
}

TEST(Bootstrap, EnvironmentErrorsNameTheVariable) {
  unsetenv("RANK");
  auto comm = Communicator::createFromEnvironment();
  EXPECT_FALSE(comm.isOk());
  EXPECT_TRUE(contains(comm.status(), "RANK")) << comm.status().toString();
}

}  // namespace
}  // namespace loom
