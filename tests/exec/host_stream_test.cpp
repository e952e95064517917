// Host streams and events: in-order execution, errors reported once at
// synchronize, events ordering work across streams.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "exec/host_stream.h"
#include "support/multi_rank.h"

namespace loom {
namespace {

TEST(HostStream, RunsWorkInOrderAndReportsTheFirstError) {
  Stream stream;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) {
    stream.impl()->enqueue([&order, i] {
      order.push_back(i);
      return i == 50 ? Status::internal("item %d failed", i) : Status::ok();
    });
  }
  Status s = stream.synchronize();
  EXPECT_EQ(s.code(), StatusCode::kInternalError);
  EXPECT_NE(s.message().find("item 50"), std::string::npos);
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(stream.synchronize().isOk()) << "the error is reported once";
  EXPECT_TRUE(stream.query());
}

TEST(HostEvent, OrdersWorkAcrossStreams) {
  Stream producer, consumer;
  std::atomic<int> value{0};
  std::atomic<bool> release{false};
  producer.impl()->enqueue([&] {
    while (!release.load()) std::this_thread::yield();
    value.store(42);
    return Status::ok();
  });
  Event ready;
  ready.record(producer);
  EXPECT_FALSE(ready.query());
  ready.enqueueWait(consumer);
  int seen = -1;
  consumer.impl()->enqueue([&] {
    seen = value.load();
    return Status::ok();
  });
  release.store(true);
  ASSERT_TRUE(consumer.synchronize().isOk());
  EXPECT_EQ(seen, 42);
  ready.synchronize();
  EXPECT_TRUE(ready.query());
}

TEST(HostStream, CollectivesOnAStreamAreAsynchronous) {
  auto outcomes = testing::runCommRanks(3, [](Communicator& comm) {
    Stream stream;
    std::vector<std::vector<int32_t>> bufs(8, std::vector<int32_t>(1000));
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (auto& x : bufs[k]) x = static_cast<int32_t>(comm.rank() + k);
      ASSERT_TRUE(comm.allReduce(bufs[k].data(), bufs[k].data(), 1000, DataType::kInt32, RedOp::sum(), &stream).isOk());
    }
    // A synchronous call issued after the queued ones runs after them.
    std::vector<int32_t> last(10, 1);
    ASSERT_TRUE(comm.allReduce(last.data(), last.data(), 10, DataType::kInt32, RedOp::sum()).isOk());
    ASSERT_TRUE(stream.synchronize().isOk());
    for (size_t k = 0; k < bufs.size(); ++k) EXPECT_EQ(bufs[k][999], static_cast<int32_t>(3 + 3 * k));
    EXPECT_EQ(last[0], 3);
  });
  EXPECT_RANKS_OK(outcomes);
}

}  // namespace
}  // namespace loom
