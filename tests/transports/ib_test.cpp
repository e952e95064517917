// The InfiniBand transport's device-independent parts: probing (on this
// machine: the fallback message), the registration cache, credit flow and the
// queue-pair state machine. The verbs data path itself needs hardware.
#include <gtest/gtest.h>

#include "support/run_command.h"
#include <sys/stat.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "transports/ib/credit_flow.h"
#include "transports/ib/ib_probe.h"
#include "transports/ib/qp_state_machine.h"
#include "transports/ib/registration_cache.h"

namespace loom {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------- probe

bool hostHasRdmaDevices() {
  struct stat st;
  return stat("/sys/class/infiniband", &st) == 0;
}

TEST(IbProbe, ReportsWhyNotUsableOnThisMachine) {
  IbAvailability a = probeIbDevices();
  ASSERT_FALSE(a.reason.empty());
  if (hostHasRdmaDevices()) GTEST_SKIP() << "this host has RDMA devices: " << a.reason;
  EXPECT_FALSE(a.usable);
  EXPECT_TRUE(a.devices.empty());
  // Either the library is missing or it found no device; both say so and name the fallback.
  EXPECT_TRUE(contains(a.reason, "no InfiniBand/RoCE device") || contains(a.reason, "libibverbs.so.1 not found"))
      << a.reason;
  EXPECT_TRUE(contains(a.reason, "using TCP across hosts")) << a.reason;
}

TEST(IbProbe, IsProbedOncePerProcess) {
  IbAvailability first = probeIbDevices();
  IbAvailability second = probeIbDevices();
  EXPECT_EQ(first.usable, second.usable);
  EXPECT_EQ(first.reason, second.reason);
}

TEST(IbProbe, MissingLibraryIsNamed) {
  IbAvailability a = probeIbDevicesUsing("libloom-no-such-verbs.so.1");
  EXPECT_FALSE(a.usable);
  EXPECT_TRUE(contains(a.reason, "libloom-no-such-verbs.so.1 not found")) << a.reason;
  EXPECT_TRUE(contains(a.reason, "using TCP across hosts")) << a.reason;
}

TEST(IbProbe, LinkLayerNames) {
  EXPECT_STREQ(ibLinkLayerName(IbLinkLayer::kInfiniBand), "InfiniBand");
  EXPECT_STREQ(ibLinkLayerName(IbLinkLayer::kEthernet), "Ethernet (RoCE)");
}

// ---------------------------------------------------------------- registration cache

constexpr size_t kPage = 4096;

// Stands in for ibv_reg_mr/ibv_dereg_mr: hands out increasing keys and
// records every call. Addresses are never dereferenced, so fake ones serve.
struct FakeDevice {
  std::vector<std::pair<uintptr_t, size_t>> registered;
  std::vector<std::pair<uintptr_t, size_t>> deregistered;
  uint32_t nextKey = 100;
  bool failNext = false;

  RegistrationCache makeCache(size_t capacity) {
    return RegistrationCache(
        capacity,
        [this](uintptr_t base, size_t length) -> Result<MemoryRegistration> {
          if (failNext) {
            failNext = false;
            return Status::systemError("fake ibv_reg_mr refused");
          }
          registered.push_back({base, length});
          MemoryRegistration r;
          r.lkey = nextKey;
          r.rkey = nextKey + 1;
          nextKey += 2;
          return r;
        },
        [this](const MemoryRegistration& r) { deregistered.push_back({r.base, r.length}); }, kPage);
  }
};

const void* at(uintptr_t address) { return reinterpret_cast<const void*>(address); }
constexpr uintptr_t kBase = 0x10000000;

TEST(RegistrationCache, HitInsideRegisteredPages) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  auto a = cache.lookup(at(kBase + 100), 200);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  // Registered page-aligned.
  EXPECT_EQ(a->registration.base, kBase);
  EXPECT_EQ(a->registration.length, kPage);
  auto b = cache.lookup(at(kBase + 1000), 3000);
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(b->registration.lkey, a->registration.lkey);
  EXPECT_EQ(dev.registered.size(), 1u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  cache.release(*a);
  cache.release(*b);
}

TEST(RegistrationCache, OverlapRegistersTheUnionAndRetiresTheOld) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  auto a = cache.lookup(at(kBase), 2 * kPage);
  ASSERT_TRUE(a.isOk());
  cache.release(*a);
  auto b = cache.lookup(at(kBase + kPage), 3 * kPage);  // overlaps a's second page
  ASSERT_TRUE(b.isOk());
  cache.release(*b);
  EXPECT_EQ(b->registration.base, kBase);
  EXPECT_EQ(b->registration.length, 4 * kPage);
  ASSERT_EQ(dev.deregistered.size(), 1u);
  EXPECT_EQ(dev.deregistered[0], std::make_pair(kBase, 2 * kPage));
  EXPECT_EQ(cache.liveEntries(), 1u);
  EXPECT_EQ(cache.registeredBytes(), 4 * kPage);
  // Anything inside the union now hits.
  auto c = cache.lookup(at(kBase + 10), 4 * kPage - 20);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->registration.lkey, b->registration.lkey);
  EXPECT_EQ(dev.registered.size(), 2u);
  cache.release(*c);
}

TEST(RegistrationCache, SpanningSeveralEntriesMergesThemAll) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  for (uintptr_t off : {uintptr_t{0}, 4 * kPage, 8 * kPage}) {
    auto r = cache.lookup(at(kBase + off), kPage);
    ASSERT_TRUE(r.isOk());
    cache.release(*r);
  }
  EXPECT_EQ(cache.liveEntries(), 3u);
  auto big = cache.lookup(at(kBase + 100), 8 * kPage);  // touches all three
  ASSERT_TRUE(big.isOk());
  cache.release(*big);
  EXPECT_EQ(big->registration.base, kBase);
  EXPECT_EQ(big->registration.length, 9 * kPage);
  EXPECT_EQ(dev.deregistered.size(), 3u);
  EXPECT_EQ(cache.liveEntries(), 1u);
}

TEST(RegistrationCache, AdjacentRangesStaySeparate) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  auto a = cache.lookup(at(kBase), kPage);
  auto b = cache.lookup(at(kBase + kPage), kPage);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_NE(a->registration.lkey, b->registration.lkey);
  EXPECT_EQ(cache.liveEntries(), 2u);
  EXPECT_TRUE(dev.deregistered.empty());
  cache.release(*a);
  cache.release(*b);
}

TEST(RegistrationCache, EvictsLeastRecentlyUsedBeyondCapacity) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(3 * kPage);
  const uintptr_t A = kBase, B = kBase + 10 * kPage, C = kBase + 20 * kPage, D = kBase + 30 * kPage,
                  E = kBase + 40 * kPage;
  for (uintptr_t p : {A, B, C}) {
    auto r = cache.lookup(at(p), kPage);
    ASSERT_TRUE(r.isOk());
    cache.release(*r);
  }
  auto touch = cache.lookup(at(A), 1);  // A becomes most recent: B is now the oldest
  ASSERT_TRUE(touch.isOk());
  cache.release(*touch);
  auto d = cache.lookup(at(D), kPage);
  ASSERT_TRUE(d.isOk());
  cache.release(*d);
  ASSERT_EQ(dev.deregistered.size(), 1u);
  EXPECT_EQ(dev.deregistered[0].first, B);
  auto e = cache.lookup(at(E), kPage);
  ASSERT_TRUE(e.isOk());
  cache.release(*e);
  ASSERT_EQ(dev.deregistered.size(), 2u);
  EXPECT_EQ(dev.deregistered[1].first, C);
  EXPECT_EQ(cache.registeredBytes(), 3 * kPage);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(RegistrationCache, LeasedEntriesAreNotEvictedUntilReleased) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(kPage);
  auto a = cache.lookup(at(kBase), kPage);
  ASSERT_TRUE(a.isOk());
  auto b = cache.lookup(at(kBase + 10 * kPage), kPage);  // over capacity, but a is in use
  ASSERT_TRUE(b.isOk());
  EXPECT_TRUE(dev.deregistered.empty());
  EXPECT_EQ(cache.registeredBytes(), 2 * kPage);
  cache.release(*a);  // now a is idle and the oldest: evicted
  ASSERT_EQ(dev.deregistered.size(), 1u);
  EXPECT_EQ(dev.deregistered[0].first, kBase);
  cache.release(*b);
  EXPECT_EQ(cache.registeredBytes(), kPage);
}

TEST(RegistrationCache, InvalidateDropsOverlappingEntries) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  for (uintptr_t off : {uintptr_t{0}, 4 * kPage, 8 * kPage}) {
    auto r = cache.lookup(at(kBase + off), kPage);
    ASSERT_TRUE(r.isOk());
    cache.release(*r);
  }
  cache.invalidate(at(kBase + 4 * kPage + 100), 1);  // "free" a byte inside the second
  ASSERT_EQ(dev.deregistered.size(), 1u);
  EXPECT_EQ(dev.deregistered[0].first, kBase + 4 * kPage);
  EXPECT_EQ(cache.liveEntries(), 2u);
  // The same address registers afresh (the memory may be new).
  auto again = cache.lookup(at(kBase + 4 * kPage), kPage);
  ASSERT_TRUE(again.isOk());
  cache.release(*again);
  EXPECT_EQ(dev.registered.size(), 4u);
  cache.invalidate(at(kBase), 16 * kPage);
  EXPECT_EQ(dev.deregistered.size(), 4u);
  EXPECT_EQ(cache.liveEntries(), 0u);
  EXPECT_EQ(cache.registeredBytes(), 0u);
}

TEST(RegistrationCache, InvalidatingALeasedEntryDefersDeregistration) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  auto a = cache.lookup(at(kBase), kPage);
  ASSERT_TRUE(a.isOk());
  cache.invalidate(at(kBase), kPage);
  EXPECT_TRUE(dev.deregistered.empty());  // a work request may still use it
  EXPECT_EQ(cache.liveEntries(), 0u);     // but it is no longer found
  auto b = cache.lookup(at(kBase), kPage);
  ASSERT_TRUE(b.isOk());
  EXPECT_NE(b->registration.lkey, a->registration.lkey);
  cache.release(*a);
  EXPECT_EQ(dev.deregistered.size(), 1u);
  cache.release(*b);
  EXPECT_EQ(dev.deregistered.size(), 1u);
}

TEST(RegistrationCache, FailedRegistrationKeepsExistingEntries) {
  FakeDevice dev;
  RegistrationCache cache = dev.makeCache(1 << 20);
  auto a = cache.lookup(at(kBase), kPage);
  ASSERT_TRUE(a.isOk());
  cache.release(*a);
  dev.failNext = true;
  auto b = cache.lookup(at(kBase), 2 * kPage);
  ASSERT_FALSE(b.isOk());
  EXPECT_TRUE(contains(b.status().message(), "fake ibv_reg_mr refused")) << b.status().toString();
  EXPECT_TRUE(dev.deregistered.empty());
  auto c = cache.lookup(at(kBase), kPage);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->registration.lkey, a->registration.lkey);
  cache.release(*c);
}

TEST(RegistrationCache, RejectsEmptyRangeAndDeregistersEverythingAtTheEnd) {
  FakeDevice dev;
  {
    RegistrationCache cache = dev.makeCache(1 << 20);
    auto empty = cache.lookup(at(kBase), 0);
    EXPECT_FALSE(empty.isOk());
    EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
    auto a = cache.lookup(at(kBase), kPage);
    auto b = cache.lookup(at(kBase + 8 * kPage), kPage);
    ASSERT_TRUE(a.isOk() && b.isOk());
    cache.release(*a);  // b stays leased: still deregistered at destruction
  }
  EXPECT_EQ(dev.registered.size(), 2u);
  EXPECT_EQ(dev.deregistered.size(), 2u);
}

// ---------------------------------------------------------------- credit flow

TEST(CreditFlow, SenderStopsWhenRingIsFull) {
  CreditSender s(4);
  for (uint32_t i = 0; i < 4; ++i) {
    auto g = s.acquire();
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->seq, i);
    EXPECT_EQ(g->slot, i);
  }
  EXPECT_FALSE(s.acquire().has_value());
  EXPECT_EQ(s.credits(), 0u);
  ASSERT_TRUE(s.onCreditReturn(2).isOk());
  EXPECT_EQ(s.credits(), 2u);
  auto g = s.acquire();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->slot, 0u);  // the ring wraps
}

TEST(CreditFlow, ReceiverReturnsInBatches) {
  CreditReceiver r(8);  // batch defaults to half the ring
  EXPECT_EQ(r.batch(), 4u);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(r.onArrival().isOk());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(r.release().isOk());
  EXPECT_FALSE(r.creditToReturn().has_value());
  ASSERT_TRUE(r.release().isOk());
  auto c = r.creditToReturn();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, 4u);
  r.markReturned(*c);
  EXPECT_EQ(r.pendingCredits(), 0u);
  ASSERT_TRUE(r.release().isOk());
  EXPECT_FALSE(r.creditToReturn().has_value());
  // A write to the peer is leaving anyway: one credit rides along.
  auto p = r.creditToReturn(/*piggyback=*/true);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, 5u);
  EXPECT_EQ(*r.creditToReturn(false, /*force=*/true), 5u);
}

TEST(CreditFlow, OverrunIsDetected) {
  CreditReceiver r(2);
  ASSERT_TRUE(r.onArrival().isOk());
  ASSERT_TRUE(r.onArrival().isOk());
  ASSERT_TRUE(r.release().isOk());  // released but the credit never went back
  auto third = r.onArrival();
  ASSERT_FALSE(third.isOk());
  EXPECT_TRUE(contains(third.status().message(), "overrun")) << third.status().toString();
}

TEST(CreditFlow, ReleaseBeforeArrivalIsAnError) {
  CreditReceiver r(2);
  EXPECT_FALSE(r.release().isOk());
}

TEST(CreditFlow, CreditBeyondWhatWasSentIsRejectedAndStaleIsIgnored) {
  CreditSender s(8);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.acquire().has_value());
  Status bad = s.onCreditReturn(5);
  ASSERT_FALSE(bad.isOk());
  EXPECT_TRUE(contains(bad.message(), "slot 5")) << bad.toString();
  ASSERT_TRUE(s.onCreditReturn(3).isOk());
  EXPECT_EQ(s.credits(), 8u);
  ASSERT_TRUE(s.onCreditReturn(1).isOk());  // an old counter arriving late changes nothing
  EXPECT_EQ(s.credits(), 8u);
}

TEST(CreditFlow, SequenceNumbersWrapPast2To32) {
  const uint32_t first = 0xFFFFFFFEu;
  CreditSender s(3, first);
  CreditReceiver r(3, 1, first);
  // 3 does not divide 2^32, so slots must not be seq % 3: check the cursor runs 0,1,2,0,1,2.
  for (uint32_t i = 0; i < 12; ++i) {
    auto g = s.acquire();
    ASSERT_TRUE(g.has_value()) << i;
    EXPECT_EQ(g->seq, first + i);
    EXPECT_EQ(g->slot, i % 3);
    auto a = r.onArrival();
    ASSERT_TRUE(a.isOk()) << a.status().toString();
    EXPECT_EQ(a->seq, g->seq);
    EXPECT_EQ(a->slot, g->slot);
    ASSERT_TRUE(r.release().isOk());
    auto c = r.creditToReturn();
    ASSERT_TRUE(c.has_value());
    r.markReturned(*c);
    ASSERT_TRUE(s.onCreditReturn(*c).isOk());
    EXPECT_EQ(s.credits(), 3u);
  }
  EXPECT_EQ(s.nextSeq(), first + 12);  // 10 after the wrap
  EXPECT_LT(s.nextSeq(), first);
}

// A model of the wire: RDMA writes and credit writes each travel in order on
// the RC queue pair but take arbitrarily long; the credit lands in a word the
// sender reads whenever it likes. Every step picks a random enabled action; if
// none is enabled before everything is delivered, that is a deadlock.
struct Simulation {
  uint32_t slots, batch, first;
  uint64_t total;  // slots to transfer
  std::mt19937_64 rng;

  void run() {
    CreditSender sender(slots, first);
    CreditReceiver receiver(slots, batch, first);
    std::vector<int64_t> ring(slots, -1);            // payload id in each slot, -1 empty
    std::deque<std::pair<uint32_t, int64_t>> wire;   // (slot, payload id) written, not landed
    std::deque<uint32_t> creditWire;                  // counters written, not landed
    uint32_t creditWord = first;                      // the sender's credit word
    int64_t sent = 0, read = 0;
    uint64_t steps = 0;
    while (read < static_cast<int64_t>(total)) {
      ASSERT_LT(++steps, total * 100 + 10000) << "no progress";
      std::vector<int> enabled;
      if (sent < static_cast<int64_t>(total) && sender.credits() > 0) enabled.push_back(0);
      if (!wire.empty()) enabled.push_back(1);
      if (receiver.unread() > 0) enabled.push_back(2);
      if (receiver.creditToReturn().has_value()) enabled.push_back(3);
      if (!creditWire.empty()) enabled.push_back(4);
      if (creditWord != sender.nextSeq() - sender.outstanding()) enabled.push_back(5);
      ASSERT_FALSE(enabled.empty()) << "deadlock: sent " << sent << " read " << read << " credits "
                                    << sender.credits() << " pending " << receiver.pendingCredits();
      switch (enabled[rng() % enabled.size()]) {
        case 0: {  // sender writes a slot; sometimes credit piggybacks on it
          auto g = sender.acquire();
          ASSERT_TRUE(g.has_value());
          wire.push_back({g->slot, sent++});
          if (rng() % 4 == 0) {
            if (auto c = receiver.creditToReturn(/*piggyback=*/true)) {
              creditWire.push_back(*c);
              receiver.markReturned(*c);
            }
          }
          break;
        }
        case 1: {  // the write lands: the slot must be free (no overrun)
          auto [slot, id] = wire.front();
          wire.pop_front();
          ASSERT_EQ(ring[slot], -1) << "overran slot " << slot << " with payload " << id;
          ring[slot] = id;
          auto a = receiver.onArrival();
          ASSERT_TRUE(a.isOk()) << a.status().toString();
          ASSERT_EQ(a->slot, slot);
          break;
        }
        case 2: {  // the reader consumes the oldest slot, in order
          uint32_t slot = receiver.readSlot();
          ASSERT_EQ(ring[slot], read) << "out of order";
          ring[slot] = -1;
          ++read;
          ASSERT_TRUE(receiver.release().isOk());
          break;
        }
        case 3: {
          uint32_t c = *receiver.creditToReturn();
          creditWire.push_back(c);
          receiver.markReturned(c);
          break;
        }
        case 4:
          creditWord = creditWire.front();
          creditWire.pop_front();
          break;
        case 5: {
          Status s = sender.onCreditReturn(creditWord);
          ASSERT_TRUE(s.isOk()) << s.toString();
          break;
        }
      }
      ASSERT_LE(sender.outstanding(), slots);
    }
    EXPECT_EQ(sent, static_cast<int64_t>(total));
    EXPECT_TRUE(wire.empty());
  }
};

TEST(CreditFlow, RandomInterleavingsNeverOverrunAndAlwaysDrain) {
  const uint32_t firsts[] = {0u, 0xFFFFFF00u, 0x7FFFFFF0u};
  uint64_t seed = 1;
  for (uint32_t slots : {1u, 2u, 3u, 5u, 8u, 16u}) {
    for (uint32_t batch : {1u, slots / 2, slots}) {
      for (uint32_t first : firsts) {
        SCOPED_TRACE(::testing::Message() << "slots " << slots << " batch " << batch << " first " << first);
        Simulation sim{slots, batch, first, 2000, std::mt19937_64(seed++)};
        sim.run();
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(CreditFlow, SlotImmediateCarriesTheLength) {
  auto ok = decodeSlotImmediate(encodeSlotImmediate(100), 4096);
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, 100u);
  auto tooBig = decodeSlotImmediate(5000, 4096);
  ASSERT_FALSE(tooBig.isOk());
  EXPECT_TRUE(contains(tooBig.status().message(), "5000")) << tooBig.status().toString();
  EXPECT_FALSE(decodeSlotImmediate(0, 4096).isOk());
}

// ---------------------------------------------------------------- queue-pair state machine

TEST(QpStateMachine, WalksResetInitRtrRts) {
  QpStateMachine m;
  EXPECT_EQ(m.state(), QpState::kReset);
  ASSERT_TRUE(m.transition(QpState::kInit).isOk());
  ASSERT_TRUE(m.transition(QpState::kRtr).isOk());
  ASSERT_TRUE(m.transition(QpState::kRts).isOk());
  EXPECT_EQ(m.state(), QpState::kRts);
}

TEST(QpStateMachine, IllegalTransitionsAreRejectedByName) {
  QpStateMachine m;
  Status skip = m.transition(QpState::kRtr);
  ASSERT_FALSE(skip.isOk());
  EXPECT_EQ(skip.code(), StatusCode::kInvalidUsage);
  EXPECT_TRUE(contains(skip.message(), "from RESET to RTR")) << skip.toString();
  EXPECT_EQ(m.state(), QpState::kReset);  // unchanged
  ASSERT_TRUE(m.transition(QpState::kInit).isOk());
  Status again = m.transition(QpState::kInit);
  EXPECT_TRUE(contains(again.message(), "from INIT to INIT")) << again.toString();
  ASSERT_TRUE(m.transition(QpState::kRtr).isOk());
  ASSERT_TRUE(m.transition(QpState::kRts).isOk());
  Status back = m.transition(QpState::kInit);
  EXPECT_TRUE(contains(back.message(), "from RTS to INIT")) << back.toString();
}

TEST(QpStateMachine, ErrorIsReachableFromAnywhereAndLeftOnlyThroughReset) {
  for (QpState reached : {QpState::kReset, QpState::kInit, QpState::kRtr, QpState::kRts}) {
    QpStateMachine m;
    for (QpState s : {QpState::kInit, QpState::kRtr, QpState::kRts}) {
      if (m.state() == reached) break;
      ASSERT_TRUE(m.transition(s).isOk());
    }
    m.fail();
    EXPECT_EQ(m.state(), QpState::kError);
    Status s = m.transition(QpState::kRts);
    EXPECT_TRUE(contains(s.message(), "from ERROR to RTS")) << s.toString();
    EXPECT_FALSE(m.transition(QpState::kInit).isOk());
    ASSERT_TRUE(m.transition(QpState::kReset).isOk());
    ASSERT_TRUE(m.transition(QpState::kInit).isOk());
  }
}

QpEndpointInfo goodInfo(IbLinkLayer layer) {
  QpEndpointInfo i;
  i.qpn = 0x1234;
  i.psn = 0xABCDE;
  i.lid = layer == IbLinkLayer::kInfiniBand ? 7 : 0;
  i.port = 1;
  i.gidIndex = 3;
  i.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
  i.mtuBytes = 4096;
  i.linkLayer = layer;
  i.ringAddress = 0x7f0000001000ull;
  i.ringRkey = 0x55;
  i.ringSlots = 32;
  i.slotBytes = 1 << 17;
  i.creditAddress = 0x7f0000100000ull;
  i.creditRkey = 0x66;
  return i;
}

TEST(QpEndpointInfo, RoundTripsThroughBytes) {
  QpEndpointInfo in = goodInfo(IbLinkLayer::kEthernet);
  auto bytes = serialize(in);
  auto out = deserializeQpEndpointInfo(bytes);
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(out->qpn, in.qpn);
  EXPECT_EQ(out->psn, in.psn);
  EXPECT_EQ(out->port, in.port);
  EXPECT_EQ(out->gidIndex, in.gidIndex);
  EXPECT_EQ(out->gid, in.gid);
  EXPECT_EQ(out->mtuBytes, in.mtuBytes);
  EXPECT_EQ(out->linkLayer, in.linkLayer);
  EXPECT_EQ(out->ringAddress, in.ringAddress);
  EXPECT_EQ(out->ringRkey, in.ringRkey);
  EXPECT_EQ(out->ringSlots, in.ringSlots);
  EXPECT_EQ(out->slotBytes, in.slotBytes);
  EXPECT_EQ(out->creditAddress, in.creditAddress);
  EXPECT_EQ(out->creditRkey, in.creditRkey);

  bytes[0] ^= 0xff;
  auto bad = deserializeQpEndpointInfo(bytes);
  ASSERT_FALSE(bad.isOk());
  EXPECT_TRUE(contains(bad.status().message(), "not Loom's")) << bad.status().toString();
  auto shortInfo = deserializeQpEndpointInfo(std::span<const uint8_t>(bytes.data(), 10));
  EXPECT_FALSE(shortInfo.isOk());
}

TEST(QpEndpointInfo, ValidationNamesTheBadValue) {
  const QpEndpointInfo local = goodInfo(IbLinkLayer::kInfiniBand);
  EXPECT_TRUE(validatePeerInfo(goodInfo(IbLinkLayer::kInfiniBand), local).isOk());
  EXPECT_TRUE(validatePeerInfo(goodInfo(IbLinkLayer::kEthernet), goodInfo(IbLinkLayer::kEthernet)).isOk());

  auto expectError = [&](QpEndpointInfo peer, const QpEndpointInfo& mine, const std::string& needle) {
    Status s = validatePeerInfo(peer, mine);
    ASSERT_FALSE(s.isOk()) << needle;
    EXPECT_EQ(s.code(), StatusCode::kRemoteError);
    EXPECT_TRUE(contains(s.message(), needle)) << s.toString();
  };
  QpEndpointInfo p = goodInfo(IbLinkLayer::kInfiniBand);
  p.qpn = 0;
  expectError(p, local, "queue pair number 0");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.qpn = 0x1000000;
  expectError(p, local, "queue pair number 16777216");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.mtuBytes = 1500;
  expectError(p, local, "MTU 1500");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.psn = 0x1000000;
  expectError(p, local, "packet sequence number 16777216");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.port = 0;
  expectError(p, local, "port 0");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.lid = 0;
  expectError(p, local, "LID 0x0000");
  p = goodInfo(IbLinkLayer::kEthernet);
  expectError(p, local, "peer's port is Ethernet (RoCE) but ours is InfiniBand");
  p = goodInfo(IbLinkLayer::kEthernet);
  p.gid = {};
  expectError(p, goodInfo(IbLinkLayer::kEthernet), "all-zero GID (index 3)");
  p = goodInfo(IbLinkLayer::kInfiniBand);
  p.ringSlots = 0;
  expectError(p, local, "0 slot(s)");
}

TEST(QpEndpointInfo, MtuNegotiationAndEnum) {
  QpEndpointInfo a = goodInfo(IbLinkLayer::kInfiniBand), b = a;
  b.mtuBytes = 1024;
  EXPECT_EQ(negotiatedMtu(a, b), 1024u);
  EXPECT_EQ(mtuEnumValue(256), 1);
  EXPECT_EQ(mtuEnumValue(4096), 5);
  EXPECT_EQ(mtuEnumValue(9000), 0);
}

Gid ipv4Mapped(uint8_t last) { return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, last}; }
Gid linkLocal(uint8_t last) { return {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, last}; }
Gid global(uint8_t last) { return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}; }

TEST(GidChoice, RocePrefersV2Ipv4Mapped) {
  std::vector<GidCandidate> table = {
      {0, linkLocal(1), GidType::kRoceV1}, {1, linkLocal(1), GidType::kRoceV2}, {2, ipv4Mapped(5), GidType::kRoceV1},
      {3, ipv4Mapped(5), GidType::kRoceV2}, {4, Gid{}, GidType::kRoceV2},        {5, global(9), GidType::kRoceV2},
  };
  auto c = chooseGid(IbLinkLayer::kEthernet, table);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->index, 3);
  // Without it: a routable v2 GID, then a link-local v2, then v1.
  table.erase(table.begin() + 3);
  EXPECT_EQ(chooseGid(IbLinkLayer::kEthernet, table)->index, 5);
  table.pop_back();
  EXPECT_EQ(chooseGid(IbLinkLayer::kEthernet, table)->index, 1);
  table.erase(table.begin() + 1);
  EXPECT_EQ(chooseGid(IbLinkLayer::kEthernet, table)->index, 0);
}

TEST(GidChoice, InfiniBandUsesIndexZero) {
  std::vector<GidCandidate> table = {{0, linkLocal(1), GidType::kIb}, {1, global(2), GidType::kIb}};
  auto c = chooseGid(IbLinkLayer::kInfiniBand, table);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->index, 0);
}

TEST(GidChoice, ForcedIndexAndEmptyTables) {
  std::vector<GidCandidate> table = {{0, linkLocal(1), GidType::kRoceV1}, {1, Gid{}, GidType::kRoceV2},
                                     {2, ipv4Mapped(3), GidType::kRoceV2}};
  EXPECT_EQ(chooseGid(IbLinkLayer::kEthernet, table, 0)->index, 0);
  auto empty = chooseGid(IbLinkLayer::kEthernet, table, 1);
  ASSERT_FALSE(empty.isOk());
  EXPECT_TRUE(contains(empty.status().message(), "GID index 1")) << empty.status().toString();
  auto missing = chooseGid(IbLinkLayer::kEthernet, table, 7);
  EXPECT_TRUE(contains(missing.status().message(), "GID index 7")) << missing.status().toString();
  std::vector<GidCandidate> zeros = {{0, Gid{}, GidType::kRoceV2}, {1, Gid{}, GidType::kRoceV1}};
  auto none = chooseGid(IbLinkLayer::kEthernet, zeros);
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(contains(none.status().message(), "no configured GID")) << none.status().toString();
}

TEST(GidChoice, Classification) {
  EXPECT_TRUE(isIpv4MappedGid(ipv4Mapped(1)));
  EXPECT_FALSE(isIpv4MappedGid(linkLocal(1)));
  EXPECT_TRUE(isLinkLocalGid(linkLocal(1)));
  EXPECT_FALSE(isLinkLocalGid(global(1)));
  EXPECT_TRUE(isZeroGid(Gid{}));
  EXPECT_STREQ(qpStateName(QpState::kRtr), "RTR");
}

}  // namespace
}  // namespace loom

namespace {

// LOOM_TRANSPORT=ib on a machine without RDMA: the communicator still comes
// up (over shared memory here), and the log says why ibverbs is not used.
TEST(IbFallback, ForcedIbFallsBackWithTheReasonAtInfo) {
  loom::testing::CommandResult r = loom::testing::runCommand(
      "LOOM_TRANSPORT=ib LOOM_DEBUG=INFO LOOM_DEBUG_SUBSYS=INIT,NET timeout 120 " +
      loom::testing::builtProgramPath("loom-perf") + " --ranks 2 -b 1K -e 1K -n 1 -w 0");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("LOOM_TRANSPORT=ib"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("falling back to auto"), std::string::npos) << r.output;
  // The probe's reason: no device, or no libibverbs at all.
  EXPECT_TRUE(r.output.find("no InfiniBand/RoCE device") != std::string::npos ||
              r.output.find("libibverbs.so.1 not found") != std::string::npos)
      << r.output;
}

}  // namespace
