// Is there an InfiniBand/RoCE device this process could use?
//
// libibverbs is opened with dlopen at run time rather than linked, so libloom
// (and libnccl.so.2) load on machines without rdma-core, and the answer to
// "why not IB?" can be a sentence in the log instead of a loader error. The
// probe runs once per process; connection_table asks it before choosing a
// transport for peers on other hosts and falls back to TCP when !usable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

// Link layers as ibv_port_attr::link_layer reports them.
enum class IbLinkLayer { kUnknown = 0, kInfiniBand = 1, kEthernet = 2 };
const char* ibLinkLayerName(IbLinkLayer layer);

struct IbPortInfo {
  int port = 0;               // 1-based, as verbs numbers ports
  bool active = false;        // IBV_PORT_ACTIVE: the only state that can carry traffic
  IbLinkLayer linkLayer = IbLinkLayer::kUnknown;
  uint16_t lid = 0;           // meaningful on InfiniBand only
  int activeMtuBytes = 0;     // 256..4096
  int gidTableLength = 0;
};

struct IbDeviceInfo {
  std::string name;                // e.g. "mlx5_0"
  std::vector<IbPortInfo> ports;   // empty when ports could not be queried
};

struct IbAvailability {
  bool usable = false;
  // Why not (or, when usable, what was found): a sentence fit for the log.
  std::string reason;
  std::vector<IbDeviceInfo> devices;
};

// The process-wide answer, probed on first call (thread-safe) and logged once
// at INFO under NET. Returns a copy so callers may keep it.
IbAvailability probeIbDevices();

// Probes afresh with `libraryName` instead of "libibverbs.so.1", without
// caching or logging: tests use it to exercise the "library missing" path.
IbAvailability probeIbDevicesUsing(const char* libraryName);

// True when this build saw <infiniband/verbs.h> (LOOM_HAVE_IBVERBS): only then
// can ports be queried and the verbs data path (ib_connection.h) be built.
bool ibVerbsCompiledIn();

}  // namespace loom
