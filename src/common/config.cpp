#include "common/config.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <strings.h>

namespace loom {
namespace {

const char* firstEnv(const char* loomName, const char* ncclName = nullptr) {
  const char* v = std::getenv(loomName);
  if ((v == nullptr || *v == '\0') && ncclName != nullptr) v = std::getenv(ncclName);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

LogLevel parseLevel(const char* v) {
  if (v == nullptr) return LogLevel::kWarn;
  if (strcasecmp(v, "NONE") == 0 || strcasecmp(v, "OFF") == 0) return LogLevel::kNone;
  if (strcasecmp(v, "INFO") == 0) return LogLevel::kInfo;
  if (strcasecmp(v, "TRACE") == 0) return LogLevel::kTrace;
  return LogLevel::kWarn;
}

Config readEnvironment() {
  Config c;
  c.logLevel = parseLevel(firstEnv("LOOM_DEBUG", "NCCL_DEBUG"));
  if (const char* v = firstEnv("LOOM_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS")) c.logSubsystems = v;
  if (const char* v = firstEnv("LOOM_TIMEOUT_S")) {
    double t = std::strtod(v, nullptr);
    if (t > 0) c.timeoutSeconds = t;
  }
  if (const char* v = firstEnv("LOOM_TRANSPORT")) c.transport = v;
  if (const char* v = firstEnv("LOOM_SHM_BUFFER_BYTES")) {
    size_t b = std::strtoull(v, nullptr, 10);
    if (b >= 4096) c.shmBufferBytes = b;
  }
  if (const char* v = firstEnv("LOOM_ONESHOT_BYTES")) c.oneShotBytes = std::strtoull(v, nullptr, 10);
  if (const char* v = firstEnv("LOOM_CHUNK_BYTES")) {
    size_t b = std::strtoull(v, nullptr, 10);
    if (b >= 64) c.chunkBytes = b;
  }
  if (const char* v = firstEnv("LOOM_CHANNELS")) {
    int n = std::atoi(v);
    if (n >= 1 && n <= 64) c.channels = n;
  }
  if (const char* v = firstEnv("LOOM_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME")) c.socketIfname = v;
  if (const char* v = firstEnv("LOOM_SECRET")) c.secret = v;
  if (const char* v = firstEnv("LOOM_ALGO", "NCCL_ALGO")) c.algorithm = v;
  if (const char* v = firstEnv("LOOM_HOST_ID")) c.hostId = v;
  if (const char* v = firstEnv("LOOM_TOPO_FILE", "NCCL_TOPO_FILE")) c.topoFile = v;
  if (const char* v = firstEnv("LOOM_TOPO_DUMP_FILE", "NCCL_TOPO_DUMP_FILE")) c.topoDumpFile = v;
  return c;
}

std::mutex& configMutex() {
  static std::mutex m;
  return m;
}
Config* g_config = nullptr;

}  // namespace

const Config& config() {
  std::lock_guard<std::mutex> lock(configMutex());
  if (g_config == nullptr) g_config = new Config(readEnvironment());
  return *g_config;
}

void reloadConfigForTesting() {
  std::lock_guard<std::mutex> lock(configMutex());
  // The old snapshot is leaked on purpose: references to it may still be held.
  g_config = new Config(readEnvironment());
}

}  // namespace loom
