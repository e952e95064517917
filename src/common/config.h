// Every environment variable Loom reads, as fields of one struct.
//
// The environment is read once (the first time config() is called) so that a
// job's behaviour cannot change halfway through. LOOM_* names come first; the
// NCCL_* name is accepted where the meaning is the same.
#pragma once

#include <cstddef>
#include <string>

namespace loom {

enum class LogLevel { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };

struct Config {
  // LOOM_DEBUG / NCCL_DEBUG: NONE, WARN, INFO or TRACE (default WARN).
  LogLevel logLevel = LogLevel::kWarn;
  // LOOM_DEBUG_SUBSYS / NCCL_DEBUG_SUBSYS: comma list of INIT, BOOTSTRAP, NET,
  // SHM, COLL, EXEC, API, TUNING (the planner's decision table), GRAPH
  // (topology discovery), ALL; a leading ^ excludes. Empty means all.
  std::string logSubsystems;
  // LOOM_TIMEOUT_S: every wait (bootstrap, peers, streams) ends with an error
  // after this many seconds without progress. Default 300.
  double timeoutSeconds = 300;
  // LOOM_TRANSPORT: how ranks reach each other (src/comm/connection_table.h).
  //   auto: shared memory within a host, TCP across hosts (UCX is not the
  //         default yet: with more ranks than cores it reported false
  //         endpoint timeouts); an INFO line in INIT says so.
  //   shm:  shared memory only (every rank on one host).
  //   tcp:  TCP sockets to every other rank, same host included.
  //   ucx:  UCX to every other rank, same host included (UCX then picks its
  //         own shared-memory or network transports; UCX_TLS and
  //         UCX_NET_DEVICES steer it). An error when Loom was built without
  //         UCX or UCX does not start.
  //   ib:   asks for ibverbs: probes the devices and says at INFO why it is
  //         not used (no device here; on hardware, the verbs data path in
  //         transports/ib/ is not enabled yet), then behaves as auto.
  std::string transport = "auto";
  // LOOM_SHM_BUFFER_BYTES: ring size of each shared-memory connection.
  size_t shmBufferBytes = size_t{1} << 22;
  // LOOM_ONESHOT_BYTES: all-reduces up to this size on one host run as a
  // one-shot through shared slots (src/exec/one_shot_slots.h) unless LOOM_ALGO
  // excludes oneshot; 0 turns them off.
  size_t oneShotBytes = 16384;
  // LOOM_CHUNK_BYTES: pipeline slice size used by the schedule builders.
  size_t chunkBytes = size_t{1} << 19;
  // LOOM_CHANNELS: independent channels per collective (default 1).
  int channels = 1;
  // LOOM_SOCKET_IFNAME / NCCL_SOCKET_IFNAME: interface whose address this rank
  // advertises (prefix match; ^ excludes; = exact). Default: the first non-
  // loopback interface that is up, else loopback.
  std::string socketIfname;
  // LOOM_SECRET: the job's token for env (torchrun-style) bootstrap; ranks
  // with another token are refused.
  std::string secret;
  // LOOM_ALGO / NCCL_ALGO: which algorithms may run (src/plan/algorithm_override.h).
  std::string algorithm;
  // LOOM_HOST_ID: overrides host identity (ranks with equal ids share memory).
  std::string hostId;
  // LOOM_TOPO_FILE / NCCL_TOPO_FILE: NCCL topology XML or hwloc XML describing
  // this host, used instead of discovering it (src/topo/local_discovery.h).
  std::string topoFile;
  // LOOM_TOPO_DUMP_FILE / NCCL_TOPO_DUMP_FILE: where to write this host's
  // topology as NCCL topology XML once it is known. Empty: not written.
  std::string topoDumpFile;
};

// The snapshot, read on first use.
const Config& config();

// Reads the environment again (tests that change variables call this).
void reloadConfigForTesting();

}  // namespace loom
