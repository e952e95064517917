#include "transports/ib/qp_state_machine.h"

#include <cstring>

namespace loom {

const char* qpStateName(QpState state) {
  switch (state) {
    case QpState::kReset: return "RESET";
    case QpState::kInit: return "INIT";
    case QpState::kRtr: return "RTR";
    case QpState::kRts: return "RTS";
    case QpState::kError: return "ERROR";
  }
  return "?";
}

bool QpStateMachine::isLegal(QpState from, QpState to) {
  if (to == QpState::kError) return true;   // the device may fail a QP at any time
  if (to == QpState::kReset) return true;   // the only way out of ERROR; also allowed from others by verbs
  switch (from) {
    case QpState::kReset: return to == QpState::kInit;
    case QpState::kInit: return to == QpState::kRtr;
    case QpState::kRtr: return to == QpState::kRts;
    case QpState::kRts: return false;
    case QpState::kError: return false;
  }
  return false;
}

Status QpStateMachine::transition(QpState to) {
  if (!isLegal(state_, to)) {
    return Status::invalidUsage("queue pair cannot go from %s to %s (order is RESET, INIT, RTR, RTS)",
                                qpStateName(state_), qpStateName(to));
  }
  state_ = to;
  return Status::ok();
}

namespace {

// Little-endian field writer/reader over a fixed buffer.
struct Writer {
  uint8_t* p;
  template <typename T>
  void put(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) *p++ = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
  }
};
struct Reader {
  const uint8_t* p;
  template <typename T>
  T get() {
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(*p++) << (8 * i);
    return static_cast<T>(v);
  }
};

// Guards against a peer running another Loom version or a stray connection.
constexpr uint32_t kMagic = 0x4C4D4951;  // "LMIQ"

}  // namespace

std::array<uint8_t, kQpEndpointInfoBytes> serialize(const QpEndpointInfo& info) {
  std::array<uint8_t, kQpEndpointInfoBytes> out{};
  Writer w{out.data()};
  w.put<uint32_t>(kMagic);
  w.put<uint32_t>(info.qpn);
  w.put<uint32_t>(info.psn);
  w.put<uint16_t>(info.lid);
  w.put<uint8_t>(info.port);
  w.put<uint8_t>(info.gidIndex);
  std::memcpy(w.p, info.gid.data(), 16);
  w.p += 16;
  w.put<uint32_t>(info.mtuBytes);
  w.put<uint32_t>(static_cast<uint32_t>(info.linkLayer));
  w.put<uint64_t>(info.ringAddress);
  w.put<uint32_t>(info.ringRkey);
  w.put<uint32_t>(info.ringSlots);
  w.put<uint32_t>(info.slotBytes);
  w.put<uint64_t>(info.creditAddress);
  w.put<uint32_t>(info.creditRkey);
  return out;  // 76 bytes used; the rest is zero padding for later fields
}

Result<QpEndpointInfo> deserializeQpEndpointInfo(std::span<const uint8_t> bytes) {
  if (bytes.size() != kQpEndpointInfoBytes) {
    return Status::remoteError("queue pair info is %zu bytes, expected %zu", bytes.size(), kQpEndpointInfoBytes);
  }
  Reader r{bytes.data()};
  uint32_t magic = r.get<uint32_t>();
  if (magic != kMagic) {
    return Status::remoteError("queue pair info starts with 0x%08x, not Loom's 0x%08x (another program or version?)",
                               magic, kMagic);
  }
  QpEndpointInfo info;
  info.qpn = r.get<uint32_t>();
  info.psn = r.get<uint32_t>();
  info.lid = r.get<uint16_t>();
  info.port = r.get<uint8_t>();
  info.gidIndex = r.get<uint8_t>();
  std::memcpy(info.gid.data(), r.p, 16);
  r.p += 16;
  info.mtuBytes = r.get<uint32_t>();
  uint32_t layer = r.get<uint32_t>();
  info.linkLayer = layer <= 2 ? static_cast<IbLinkLayer>(layer) : IbLinkLayer::kUnknown;
  info.ringAddress = r.get<uint64_t>();
  info.ringRkey = r.get<uint32_t>();
  info.ringSlots = r.get<uint32_t>();
  info.slotBytes = r.get<uint32_t>();
  info.creditAddress = r.get<uint64_t>();
  info.creditRkey = r.get<uint32_t>();
  return info;
}

int mtuEnumValue(uint32_t mtuBytes) {
  switch (mtuBytes) {
    case 256: return 1;
    case 512: return 2;
    case 1024: return 3;
    case 2048: return 4;
    case 4096: return 5;
    default: return 0;
  }
}

uint32_t negotiatedMtu(const QpEndpointInfo& a, const QpEndpointInfo& b) {
  return a.mtuBytes < b.mtuBytes ? a.mtuBytes : b.mtuBytes;
}

bool isZeroGid(const Gid& gid) {
  for (uint8_t b : gid) {
    if (b != 0) return false;
  }
  return true;
}

bool isIpv4MappedGid(const Gid& gid) {
  for (int i = 0; i < 10; ++i) {
    if (gid[i] != 0) return false;
  }
  return gid[10] == 0xff && gid[11] == 0xff;
}

bool isLinkLocalGid(const Gid& gid) { return gid[0] == 0xfe && (gid[1] & 0xc0) == 0x80; }

Status validatePeerInfo(const QpEndpointInfo& peer, const QpEndpointInfo& local) {
  if (peer.qpn == 0 || peer.qpn > 0xFFFFFF) {
    return Status::remoteError("peer sent queue pair number %u; valid RC QPNs are 1..16777215 (0 is reserved)",
                               peer.qpn);
  }
  if (peer.psn > 0xFFFFFF) return Status::remoteError("peer sent packet sequence number %u, beyond 24 bits", peer.psn);
  if (mtuEnumValue(peer.mtuBytes) == 0) {
    return Status::remoteError("peer sent MTU %u bytes; must be 256, 512, 1024, 2048 or 4096", peer.mtuBytes);
  }
  if (peer.port == 0) return Status::remoteError("peer sent port 0; verbs ports count from 1");
  if (peer.linkLayer != local.linkLayer) {
    return Status::remoteError("peer's port is %s but ours is %s; both ends of a queue pair need the same fabric",
                               ibLinkLayerName(peer.linkLayer), ibLinkLayerName(local.linkLayer));
  }
  if (peer.linkLayer == IbLinkLayer::kInfiniBand && (peer.lid == 0 || peer.lid >= 0xC000)) {
    return Status::remoteError("peer sent LID 0x%04x; a unicast LID is 0x0001..0xBFFF (is the subnet manager running?)",
                               peer.lid);
  }
  if (peer.linkLayer == IbLinkLayer::kEthernet && isZeroGid(peer.gid)) {
    return Status::remoteError("peer sent an all-zero GID (index %u); RoCE needs a configured GID", peer.gidIndex);
  }
  if (peer.ringSlots == 0 || peer.slotBytes == 0) {
    return Status::remoteError("peer's receive ring has %u slot(s) of %u bytes; both must be positive", peer.ringSlots,
                               peer.slotBytes);
  }
  if (peer.ringSlots >= 0x80000000u) {
    return Status::remoteError("peer's receive ring has %u slots; at most 2^31-1 keep sequence numbers unambiguous",
                               peer.ringSlots);
  }
  if (peer.ringAddress == 0 || peer.creditAddress == 0) {
    return Status::remoteError("peer sent a null ring (0x%llx) or credit (0x%llx) address",
                               static_cast<unsigned long long>(peer.ringAddress),
                               static_cast<unsigned long long>(peer.creditAddress));
  }
  return Status::ok();
}

Result<GidCandidate> chooseGid(IbLinkLayer linkLayer, const std::vector<GidCandidate>& candidates,
                               std::optional<int> forcedIndex) {
  if (forcedIndex) {
    for (const GidCandidate& c : candidates) {
      if (c.index == *forcedIndex && !isZeroGid(c.gid)) return c;
    }
    return Status::invalidArgument("GID index %d was requested but is not a configured GID on this port (%zu entries)",
                                   *forcedIndex, candidates.size());
  }
  if (linkLayer != IbLinkLayer::kEthernet) {
    for (const GidCandidate& c : candidates) {
      if (c.index == 0) return c;
    }
    return Status::unavailable("InfiniBand port has no GID at index 0");
  }
  // Lower rank is better; ties keep the lowest table index (stable ordering).
  auto rank = [](const GidCandidate& c) {
    if (c.type == GidType::kRoceV2) {
      if (isIpv4MappedGid(c.gid)) return 0;
      return isLinkLocalGid(c.gid) ? 2 : 1;
    }
    return c.type == GidType::kRoceV1 ? 3 : 4;
  };
  const GidCandidate* best = nullptr;
  for (const GidCandidate& c : candidates) {
    if (isZeroGid(c.gid)) continue;
    if (best == nullptr || rank(c) < rank(*best) || (rank(c) == rank(*best) && c.index < best->index)) best = &c;
  }
  if (best == nullptr) {
    return Status::unavailable("RoCE port has no configured GID (%zu table entries, all empty); is an IP address "
                               "assigned to its network interface?",
                               candidates.size());
  }
  return *best;
}

}  // namespace loom
