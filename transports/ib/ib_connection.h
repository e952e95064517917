// InfiniBand/RoCE transport: one reliable-connected queue pair per (pair of
// ranks, channel), carrying both directions, as the TCP transport does with
// one socket.
//
// UNTESTED ON HARDWARE. This file compiles against <infiniband/verbs.h> when
// CMake finds it (LOOM_HAVE_IBVERBS) but the machine it was written on has no
// RDMA device, so the data path has never run. The device-independent pieces
// it is built from (credit_flow.h, qp_state_machine.h, registration_cache.h)
// are unit-tested; this file only glues them to verbs calls.
//
// Data path: each side owns a receive ring of `slots` x `slotBytes` registered
// for remote write. write() copies into a registered staging slot and posts
// RDMA-write-with-immediate into the peer's matching ring slot; the immediate
// (payload length) completes a posted receive on the peer, which is how it
// learns the slot is full. The reader hands the slot to the executor in place
// through peek() (no copy on the receive side) and, once consumed, returns
// credit by RDMA-writing its cumulative release counter into a word on the
// sender. See credit_flow.h for why that can neither overrun nor deadlock.
//
// The bootstrap socket used to exchange queue-pair info stays open: its
// closing is how each side learns that the other died or aborted, which RDMA
// alone would only report after retry timeouts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/socket.h"
#include "transports/connection.h"

namespace loom {

struct IbOptions {
  std::string device;           // e.g. "mlx5_0"; empty: the first device with an active port
  int port = 0;                 // 0: the first active port of that device
  std::optional<int> gidIndex;  // RoCE: overrides chooseGid()
  uint32_t slots = 32;          // receive ring depth (credits)
  uint32_t slotBytes = 1u << 17;  // payload per RDMA write
};

// Brings up a queue pair towards `peerRank` over `socket` (connected to that
// rank; both sides call this) and splits it into its two directions.
// Unavailable when Loom was built without <infiniband/verbs.h>.
Result<std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>>> makeIbConnections(
    Socket socket, int peerRank, const IbOptions& options);

}  // namespace loom
