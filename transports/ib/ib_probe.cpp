#include "transports/ib/ib_probe.h"

#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/logging.h"
#include "transports/ib/ib_verbs_api.h"

namespace loom {

const char* ibLinkLayerName(IbLinkLayer layer) {
  switch (layer) {
    case IbLinkLayer::kInfiniBand: return "InfiniBand";
    case IbLinkLayer::kEthernet: return "Ethernet (RoCE)";
    case IbLinkLayer::kUnknown: break;
  }
  return "unknown";
}

bool ibVerbsCompiledIn() {
#ifdef LOOM_HAVE_IBVERBS
  return true;
#else
  return false;
#endif
}

namespace {

constexpr const char* kFallback = "using TCP across hosts";

#ifdef LOOM_HAVE_IBVERBS
int mtuBytes(ibv_mtu mtu) {
  // The enum counts from IBV_MTU_256 = 1 in powers of two.
  return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128 << static_cast<int>(mtu) : 0;
}

// Fills in ports; a device that cannot be opened is listed without ports (the
// reason is in the log at TRACE), since another device may still be usable.
void queryPorts(const IbVerbsApi& api, ibv_device* device, IbDeviceInfo& info) {
  ibv_context* context = api.openDevice(device);
  if (context == nullptr) {
    LOOM_TRACE(kNet, "ibv_open_device(%s) failed: %s", info.name.c_str(), strerror(errno));
    return;
  }
  ibv_device_attr deviceAttr{};
  if (api.queryDevice(context, &deviceAttr) == 0) {
    for (int p = 1; p <= deviceAttr.phys_port_cnt; ++p) {
      ibv_port_attr portAttr{};
      if (api.queryPort(context, static_cast<uint8_t>(p), &portAttr) != 0) continue;
      IbPortInfo port;
      port.port = p;
      port.active = portAttr.state == IBV_PORT_ACTIVE;
      port.linkLayer = portAttr.link_layer == IBV_LINK_LAYER_ETHERNET ? IbLinkLayer::kEthernet
                       : portAttr.link_layer == IBV_LINK_LAYER_INFINIBAND ? IbLinkLayer::kInfiniBand
                                                                          : IbLinkLayer::kUnknown;
      // Old providers report 0 (unspecified) for InfiniBand ports.
      if (portAttr.link_layer == IBV_LINK_LAYER_UNSPECIFIED) port.linkLayer = IbLinkLayer::kInfiniBand;
      port.lid = portAttr.lid;
      port.activeMtuBytes = mtuBytes(portAttr.active_mtu);
      port.gidTableLength = portAttr.gid_tbl_len;
      info.ports.push_back(port);
    }
  }
  api.closeDevice(context);
}
#endif

std::string describeDevices(const std::vector<IbDeviceInfo>& devices) {
  std::string s;
  for (const IbDeviceInfo& d : devices) {
    if (!s.empty()) s += ", ";
    s += d.name;
    for (const IbPortInfo& p : d.ports) {
      char buf[128];
      std::snprintf(buf, sizeof(buf), " port %d %s %s mtu %d", p.port, p.active ? "ACTIVE" : "down",
                    ibLinkLayerName(p.linkLayer), p.activeMtuBytes);
      s += buf;
    }
  }
  return s;
}

}  // namespace

IbAvailability probeIbDevicesUsing(const char* libraryName) {
  IbAvailability a;
  Result<IbVerbsApi> loaded = loadIbVerbsApi(libraryName);
  if (!loaded.isOk()) {
    a.reason = loaded.status().message() + "; " + kFallback;
    return a;
  }
  const IbVerbsApi& api = loaded.value();
  int count = 0;
  errno = 0;
  ibv_device** list = api.getDeviceList(&count);
  if (list == nullptr) {
    // ENOSYS: no RDMA support in the kernel (no /sys/class/infiniband_verbs),
    // which is what a machine without any RDMA hardware reports.
    int err = errno;
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "no InfiniBand/RoCE device (ibv_get_device_list failed: %s%s); %s", strerror(err),
                  err == ENOSYS ? ", no RDMA support in the kernel" : "", kFallback);
    a.reason = buf;
    return a;
  }
  for (int i = 0; i < count; ++i) {
    IbDeviceInfo info;
    const char* name = api.getDeviceName(list[i]);
    info.name = name ? name : "?";
#ifdef LOOM_HAVE_IBVERBS
    queryPorts(api, list[i], info);
#endif
    a.devices.push_back(std::move(info));
  }
  api.freeDeviceList(list);

  if (a.devices.empty()) {
    a.reason = std::string("no InfiniBand/RoCE device (ibv_get_device_list found 0 devices); ") + kFallback;
    return a;
  }
  if (!ibVerbsCompiledIn()) {
    a.reason = "found " + describeDevices(a.devices) +
               " but Loom was built without <infiniband/verbs.h> (install libibverbs-dev and rebuild); " + kFallback;
    return a;
  }
  bool anyActive = false;
  for (const IbDeviceInfo& d : a.devices) {
    for (const IbPortInfo& p : d.ports) anyActive |= p.active;
  }
  if (!anyActive) {
    a.reason = "no active InfiniBand/RoCE port (" + describeDevices(a.devices) + "); " + kFallback;
    return a;
  }
  a.usable = true;
  a.reason = "InfiniBand/RoCE available: " + describeDevices(a.devices);
  return a;
}

IbAvailability probeIbDevices() {
  // Opening every device is slow (milliseconds each) and the answer cannot
  // change for a running job, so it is computed and logged once.
  static std::once_flag once;
  static IbAvailability* cached = nullptr;
  std::call_once(once, [] {
    cached = new IbAvailability(probeIbDevicesUsing("libibverbs.so.1"));
    LOOM_INFO(kNet, "%s", cached->reason.c_str());
  });
  return *cached;
}

}  // namespace loom
