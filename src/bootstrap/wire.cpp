#include "bootstrap/wire.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/config.h"

namespace loom {

Result<Token> randomToken() {
  Token t;
  size_t got = 0;
  while (got < kTokenBytes) {
    ssize_t n = getrandom(t.bytes + got, kTokenBytes - got, 0);
    if (n < 0 && errno != EINTR) return Status::systemError("getrandom: %s", strerror(errno));
    if (n > 0) got += n;
  }
  return t;
}

Token tokenFromSecret(const std::string& secret) {
  // Two independent 64-bit FNV-1a passes; enough to tell jobs apart. The secret
  // itself never travels.
  Token t;
  uint64_t h1 = 1469598103934665603ull, h2 = 0x9e3779b97f4a7c15ull;
  for (unsigned char c : secret) {
    h1 = (h1 ^ c) * 1099511628211ull;
    h2 = (h2 ^ c) * 0x100000001b3ull + 0x632be59bd9b4e019ull;
  }
  std::memcpy(t.bytes, &h1, 8);
  std::memcpy(t.bytes + 8, &h2, 8);
  return t;
}

WireAddress WireAddress::from(const SocketAddress& a) {
  WireAddress w;
  w.length = std::min<uint32_t>(a.length, sizeof(w.storage));
  std::memcpy(w.storage, &a.storage, w.length);
  return w;
}

Result<SocketAddress> WireAddress::toAddress() const {
  SocketAddress a;
  if (length != sizeof(sockaddr_in) && length != sizeof(sockaddr_in6)) {
    return Status::invalidArgument("malformed address: length %u", length);
  }
  std::memcpy(&a.storage, storage, length);
  a.length = length;
  int family = a.storage.ss_family;
  if ((family == AF_INET && length != sizeof(sockaddr_in)) || (family == AF_INET6 && length != sizeof(sockaddr_in6)) ||
      (family != AF_INET && family != AF_INET6)) {
    return Status::invalidArgument("malformed address: family %d with length %u", family, length);
  }
  return a;
}

UniqueId encodeUniqueId(const UniqueIdFields& fields) {
  UniqueId id;
  std::memcpy(id.bytes, &fields, sizeof(fields));
  return id;
}

Result<UniqueIdFields> decodeUniqueId(const UniqueId& id) {
  UniqueIdFields f;
  std::memcpy(&f, id.bytes, sizeof(f));
  if (f.magic != UniqueIdFields::kMagic) {
    return Status::invalidArgument("not a Loom unique id (magic 0x%08x); create it with ncclGetUniqueId/createUniqueId",
                                   f.magic);
  }
  if (f.version != 1) return Status::invalidArgument("unique id version %u is not supported (expected 1)", f.version);
  auto address = f.root.toAddress();
  if (!address.isOk()) return address.status().withContext("unique id");
  return f;
}

std::string localHostId() {
  if (!config().hostId.empty()) return config().hostId.substr(0, kHostIdBytes - 1);
  char host[64] = "";
  gethostname(host, sizeof(host) - 1);
  struct stat st{};
  unsigned long netns = stat("/proc/self/ns/net", &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
  std::string id = std::string(host).substr(0, 40) + "/net:" + std::to_string(netns);
  return id.substr(0, kHostIdBytes - 1);
}

}  // namespace loom
