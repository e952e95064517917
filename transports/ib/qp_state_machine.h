// The reliable-connected (RC) queue pair's connection state machine, the
// endpoint description the two sides exchange, and the choice of GID.
//
// A verbs QP must be walked RESET -> INIT -> RTR (ready to receive: needs the
// peer's QPN, PSN, address and MTU) -> RTS (ready to send: needs its own PSN
// and retry limits). Any state may fall into ERROR (a failed work request
// does that) and a QP in ERROR can only go back to RESET. Mirroring this here
// lets the transport refuse an out-of-order modify with a message naming both
// states instead of the device's bare EINVAL, and keeps the rules testable
// without a device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "loom/status.h"
#include "transports/ib/ib_probe.h"

namespace loom {

enum class QpState { kReset, kInit, kRtr, kRts, kError };
const char* qpStateName(QpState state);

class QpStateMachine {
 public:
  QpState state() const { return state_; }
  static bool isLegal(QpState from, QpState to);
  // Moves to `to` if legal; otherwise invalidUsage naming both states.
  Status transition(QpState to);
  // Any state -> ERROR (a completion failed or the peer aborted).
  void fail() { state_ = QpState::kError; }

 private:
  QpState state_ = QpState::kReset;
};

using Gid = std::array<uint8_t, 16>;

// Everything the peer needs to bring its QP to RTR towards ours. Sent as
// fixed-size little-endian bytes (serialize/deserialize) so that ranks built
// by different compilers agree on the layout.
struct QpEndpointInfo {
  uint32_t qpn = 0;        // 24 bits
  uint32_t psn = 0;        // 24 bits: first packet sequence number this side sends
  uint16_t lid = 0;        // InfiniBand only
  uint8_t port = 0;        // 1-based
  uint8_t gidIndex = 0;
  Gid gid{};               // RoCE (and routed InfiniBand)
  uint32_t mtuBytes = 0;   // active MTU of the port: 256..4096, a power of two
  IbLinkLayer linkLayer = IbLinkLayer::kUnknown;
  // The receive ring the peer writes into and the credit word it returns to.
  uint64_t ringAddress = 0;
  uint32_t ringRkey = 0;
  uint32_t ringSlots = 0;
  uint32_t slotBytes = 0;
  uint64_t creditAddress = 0;
  uint32_t creditRkey = 0;
};

constexpr size_t kQpEndpointInfoBytes = 80;
std::array<uint8_t, kQpEndpointInfoBytes> serialize(const QpEndpointInfo& info);
Result<QpEndpointInfo> deserializeQpEndpointInfo(std::span<const uint8_t> bytes);

// Checks what the peer sent before any of it reaches the device; every error
// names the offending value. `local` supplies what must match (link layer).
Status validatePeerInfo(const QpEndpointInfo& peer, const QpEndpointInfo& local);

// The MTU both sides can use (the smaller).
uint32_t negotiatedMtu(const QpEndpointInfo& a, const QpEndpointInfo& b);
// 256 -> 1 ... 4096 -> 5, the values of enum ibv_mtu; 0 for anything else.
int mtuEnumValue(uint32_t mtuBytes);

enum class GidType { kIb, kRoceV1, kRoceV2 };
struct GidCandidate {
  int index = 0;
  Gid gid{};
  GidType type = GidType::kIb;
};

// Picks the GID index to address the peer with. InfiniBand routes by LID
// within a subnet, so index 0 (the port GID) serves. RoCE routes by GID: a
// RoCE v2 GID is routable over IP and an IPv4-mapped one (::ffff:a.b.c.d)
// matches the address the hosts already reach each other on, so the order of
// preference is v2 IPv4-mapped, v2 other (not link-local), v2 link-local, v1.
// Zero GIDs are empty table entries and never chosen. `forcedIndex` (a user
// setting) wins if present in the table.
Result<GidCandidate> chooseGid(IbLinkLayer linkLayer, const std::vector<GidCandidate>& candidates,
                               std::optional<int> forcedIndex = std::nullopt);

bool isIpv4MappedGid(const Gid& gid);
bool isLinkLocalGid(const Gid& gid);
bool isZeroGid(const Gid& gid);

}  // namespace loom
