// The bootstrap's messages and the UniqueId's layout. Fixed-size structs, each
// starting with a magic number; every field is validated on receipt, since
// anything may connect to a listening port.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "common/socket.h"
#include "loom/communicator.h"

namespace loom {

constexpr size_t kTokenBytes = 16;
constexpr size_t kHostIdBytes = 64;

struct Token {
  uint8_t bytes[kTokenBytes] = {};
  bool operator==(const Token& o) const { return std::memcmp(bytes, o.bytes, kTokenBytes) == 0; }
};

// A token from the kernel's random source.
Result<Token> randomToken();
// A token derived from a shared secret string (torchrun-style bootstrap).
Token tokenFromSecret(const std::string& secret);

// Flat form of a SocketAddress for messages.
struct WireAddress {
  uint8_t storage[sizeof(sockaddr_in6)] = {};
  uint32_t length = 0;

  static WireAddress from(const SocketAddress& a);
  Result<SocketAddress> toAddress() const;  // rejects lengths and families it does not know
};

// What a UniqueId's 128 bytes hold.
struct UniqueIdFields {
  static constexpr uint32_t kMagic = 0x4c4f4f4d;  // "LOOM"
  uint32_t magic = kMagic;
  uint32_t version = 1;
  WireAddress root;
  Token token;
  uint64_t jobId = 0;  // names this job's shared-memory segments
};
static_assert(sizeof(UniqueIdFields) <= kUniqueIdBytes);

UniqueId encodeUniqueId(const UniqueIdFields& fields);
Result<UniqueIdFields> decodeUniqueId(const UniqueId& id);

// rank -> root: "I am rank R of N, reach me at ADDRESS".
struct HelloMessage {
  static constexpr uint32_t kMagic = 0x4c4d4248;
  uint32_t magic = kMagic;
  Token token;
  int32_t rank = 0;
  int32_t nranks = 0;
  int32_t pid = 0;
  WireAddress address;
  char hostId[kHostIdBytes] = {};
};

// root -> rank: OK and the table of every rank, or an error text.
struct RootReply {
  static constexpr uint32_t kMagic = 0x4c4d5252;
  uint32_t magic = kMagic;
  int32_t statusCode = 0;  // StatusCode; kOk means a table of nranks PeerRecords follows
  char message[512] = {};
};

struct PeerRecord {
  int32_t pid = 0;
  WireAddress address;
  char hostId[kHostIdBytes] = {};
};

// rank -> rank when opening a bootstrap or data connection.
enum class ConnectionPurpose : int32_t { kRing = 1, kData = 2 };
struct PeerHandshake {
  static constexpr uint32_t kMagic = 0x4c4d5048;
  uint32_t magic = kMagic;
  Token token;
  int32_t fromRank = 0;
  ConnectionPurpose purpose = ConnectionPurpose::kRing;
  int32_t channel = 0;
};

// This process's host identity: LOOM_HOST_ID, else hostname + network
// namespace, so ranks in different namespaces count as different hosts.
std::string localHostId();

}  // namespace loom
