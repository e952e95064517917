// The one-shot slots (src/exec/one_shot_slots.h): small all-reduces on one
// host that bypass schedules. The collective matrix checks their results for
// every type, op and rank count; these tests check what is particular to
// them: the size boundary, slot reuse among other calls, bitwise-equal
// results on every rank, and failures (mismatched calls, a dead peer).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "common/config.h"
#include "support/multi_rank.h"

namespace loom {
namespace {

using testing::runCommRanks;
using testing::runRanks;

bool contains(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

// Sets environment variables for the ranks forked next (they inherit them).
void setEnvironment(const char* oneShotBytes, const char* algorithm = "") {
  setenv("LOOM_TRANSPORT", "auto", 1);
  setenv("LOOM_ALGO", algorithm, 1);
  setenv("LOOM_ONESHOT_BYTES", oneShotBytes, 1);
  setenv("LOOM_TIMEOUT_S", "60", 1);
  reloadConfigForTesting();
}

class OneShot : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("LOOM_ONESHOT_BYTES");
    setenv("LOOM_TIMEOUT_S", "300", 1);
    reloadConfigForTesting();
  }
};

// Sums of rank-dependent integers: exact in float, so any order gives them.
void expectSummed(const std::vector<float>& out, int nranks, size_t count, const char* what) {
  for (size_t i = 0; i < count; ++i) {
    float want = 0;
    for (int r = 0; r < nranks; ++r) want += static_cast<float>((r + 1) * (i % 13));
    ASSERT_EQ(out[i], want) << what << ": element " << i << " of " << count;
  }
}

std::vector<float> inputOf(int rank, size_t count) {
  std::vector<float> in(count);
  for (size_t i = 0; i < count; ++i) in[i] = static_cast<float>((rank + 1) * (i % 13));
  return in;
}

TEST_F(OneShot, SizesAroundTheSlotBoundary) {
  // 1000 bytes round up to a 1024-byte slot: 256 floats fit, 257 do not.
  setEnvironment("1000");
  auto outcomes = runCommRanks(3, [](Communicator& comm) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{255}, size_t{256}, size_t{257}, size_t{1000}}) {
      for (bool inPlace : {false, true}) {
        std::vector<float> in = inputOf(comm.rank(), count), out(count + 1, -1.0f);
        float* dst = inPlace ? in.data() : out.data();
        ASSERT_TRUE(comm.allReduce(in.data(), dst, count, DataType::kFloat32, RedOp::sum()).isOk());
        std::vector<float> result(dst, dst + count);
        expectSummed(result, comm.size(), count, inPlace ? "in-place" : "out-of-place");
        if (!inPlace) {
          EXPECT_EQ(out[count], -1.0f) << "wrote past the end at count " << count;
        }
      }
    }
  });
  EXPECT_RANKS_OK(outcomes);
}

TEST_F(OneShot, SwitchedOffBySizeZeroOrByLoomAlgo) {
  for (const char* setting : {"0", "ring"}) {
    if (std::string(setting) == "ring") {
      setEnvironment("16384", "allreduce:ring");
    } else {
      setEnvironment(setting);
    }
    auto outcomes = runCommRanks(2, [](Communicator& comm) {
      std::vector<float> in = inputOf(comm.rank(), 100), out(100);
      ASSERT_TRUE(comm.allReduce(in.data(), out.data(), 100, DataType::kFloat32, RedOp::sum()).isOk());
      expectSummed(out, comm.size(), 100, "without slots");
    });
    EXPECT_RANKS_OK(outcomes) << "setting " << setting;
  }
}

// A slot is reused two calls later. A broadcast in between runs as a
// schedule and lets its root run ahead of the others, so without the reuse
// rule the root would overwrite its slot while a slower rank still reduces it.
// With more ranks than cores, some rank is descheduled mid-reduction often.
TEST_F(OneShot, SlotsAreReusedSafelyAmongOtherCalls) {
  setEnvironment("16384");
  auto outcomes = runCommRanks(4, [](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    const size_t count = 4096;
    std::vector<float> in(count), out(count), small(2);
    for (int round = 0; round < 1500; ++round) {
      std::fill(in.begin(), in.end(), static_cast<float>(r + round));
      ASSERT_TRUE(comm.allReduce(in.data(), out.data(), count, DataType::kFloat32, RedOp::sum()).isOk());
      const float want = static_cast<float>(n * round + n * (n - 1) / 2);
      for (size_t i = 0; i < count; i += 97) ASSERT_EQ(out[i], want) << "round " << round << " element " << i;
      ASSERT_EQ(out[count - 1], want) << "round " << round;
      small[0] = r == 0 ? static_cast<float>(round) : -1.0f;
      ASSERT_TRUE(comm.broadcast(small.data(), small.data(), 2, DataType::kFloat32, 0).isOk());
      ASSERT_EQ(small[0], static_cast<float>(round));
    }
  });
  EXPECT_RANKS_OK(outcomes);
}

// Rounding depends on the order of a float sum; every rank reduces the slots in
// rank order, so all ranks get the same bits.
TEST_F(OneShot, EveryRankGetsTheSameBits) {
  setEnvironment("16384");
  auto outcomes = runCommRanks(5, [](Communicator& comm) {
    const size_t count = 1000;
    std::mt19937 random(99 + comm.rank());
    std::uniform_real_distribution<float> value(-1e3f, 1e3f);
    std::vector<float> in(count), out(count);
    for (float& v : in) v = value(random) * 1.0001f;
    ASSERT_TRUE(comm.allReduce(in.data(), out.data(), count, DataType::kFloat32, RedOp::sum()).isOk());
    std::vector<float> all(count * comm.size());
    ASSERT_TRUE(comm.allGather(out.data(), all.data(), count, DataType::kFloat32).isOk());
    for (int q = 0; q < comm.size(); ++q) {
      EXPECT_EQ(std::memcmp(all.data() + q * count, out.data(), count * sizeof(float)), 0)
          << "rank " << q << " got other bits than rank " << comm.rank();
    }
  });
  EXPECT_RANKS_OK(outcomes);
}

// One rank's call fits a slot and the other's does not: different paths, but
// both ranks end with an error rather than waiting for each other.
TEST_F(OneShot, MismatchedPathsFailOnBothRanks) {
  setEnvironment("4096");
  auto start = std::chrono::steady_clock::now();
  auto outcomes = runCommRanks(2, [](Communicator& comm) {
    size_t count = comm.rank() == 0 ? 8 : 100000;
    std::vector<float> buf(100000, 1.0f);
    Status s = comm.allReduce(buf.data(), buf.data(), count, DataType::kFloat32, RedOp::sum());
    EXPECT_FALSE(s.isOk());
    // Rank 1 hears of the failure as rank 0's abort or, when rank 0 has
    // already exited by the time it looks, as rank 0's death.
    EXPECT_TRUE(contains(s, "mismatched") || contains(s, "aborted") || contains(s, "died")) << s.toString();
  }, 90);
  EXPECT_RANKS_OK(outcomes);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 50) << "the mismatch was found only by the 60 s timeout";
}

TEST_F(OneShot, DeadPeerIsAnError) {
  setEnvironment("4096");
  auto outcomes = runRanks(3, [](int rank, const UniqueId& id) {
    auto comm = Communicator::create(3, id, rank);
    if (!comm.isOk()) return 2;
    if (rank == 1) raise(SIGKILL);
    std::vector<float> buf(8, 1.0f);
    Status s = comm.value()->allReduce(buf.data(), buf.data(), 8, DataType::kFloat32, RedOp::sum());
    EXPECT_FALSE(s.isOk());
    EXPECT_NE(s.code(), StatusCode::kTimeout) << s.toString();
    EXPECT_TRUE(contains(s, "died") || contains(s, "aborted")) << s.toString();
    comm.value()->abort();
    return 0;
  }, 90);
  EXPECT_EQ(outcomes[1].signal, SIGKILL);
  outcomes[1] = {};
  outcomes[1].exitCode = 0;
  EXPECT_RANKS_OK(outcomes);
}

}  // namespace
}  // namespace loom
