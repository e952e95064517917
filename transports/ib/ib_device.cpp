#ifdef LOOM_HAVE_IBVERBS

#include "transports/ib/ib_device.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "common/logging.h"

namespace loom {
namespace {

// Registrations kept cached beyond current use. Ring buffers are leased for a
// connection's lifetime, so this mostly bounds future zero-copy user buffers.
constexpr size_t kCacheCapacityBytes = size_t{1} << 30;

uint32_t mtuBytesOf(ibv_mtu mtu) {
  return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128u << static_cast<int>(mtu) : 0;
}

IbLinkLayer linkLayerOf(uint8_t layer) {
  if (layer == IBV_LINK_LAYER_ETHERNET) return IbLinkLayer::kEthernet;
  return IbLinkLayer::kInfiniBand;  // UNSPECIFIED is what old InfiniBand providers say
}

GidType gidTypeOf(uint32_t type) {
  if (type == IBV_GID_TYPE_ROCE_V2) return GidType::kRoceV2;
  if (type == IBV_GID_TYPE_ROCE_V1) return GidType::kRoceV1;
  return GidType::kIb;
}

}  // namespace

Result<std::shared_ptr<IbDevice>> IbDevice::open(const std::string& name, int port, std::optional<int> gidIndex) {
  // One context per port and process: a context holds device resources and
  // every queue pair on the port can share it and its protection domain.
  static std::mutex mutex;
  static auto* devices = new std::map<std::string, std::weak_ptr<IbDevice>>();
  std::lock_guard<std::mutex> lock(mutex);
  std::string key = name + ":" + std::to_string(port) + ":" + (gidIndex ? std::to_string(*gidIndex) : "auto");
  if (auto existing = (*devices)[key].lock()) return existing;
  std::shared_ptr<IbDevice> d(new IbDevice());
  LOOM_RETURN_IF_ERROR(d->init(name, port, gidIndex));
  (*devices)[key] = d;
  return d;
}

Status IbDevice::init(const std::string& wantedName, int wantedPort, std::optional<int> gidIndex) {
  LOOM_ASSIGN_OR_RETURN(api_, ibVerbsApi());
  int count = 0;
  ibv_device** list = api_->getDeviceList(&count);
  if (list == nullptr || count == 0) {
    if (list) api_->freeDeviceList(list);
    return Status::unavailable("no InfiniBand/RoCE device (ibv_get_device_list: %s)", strerror(errno));
  }
  // First (device, port) that matches the request and is ACTIVE.
  for (int i = 0; i < count && context_ == nullptr; ++i) {
    std::string devName = api_->getDeviceName(list[i]);
    if (!wantedName.empty() && devName != wantedName) continue;
    ibv_context* ctx = api_->openDevice(list[i]);
    if (ctx == nullptr) continue;
    ibv_device_attr devAttr{};
    if (api_->queryDevice(ctx, &devAttr) == 0) {
      for (int p = 1; p <= devAttr.phys_port_cnt; ++p) {
        if (wantedPort != 0 && p != wantedPort) continue;
        ibv_port_attr portAttr{};
        if (api_->queryPort(ctx, static_cast<uint8_t>(p), &portAttr) != 0) continue;
        if (portAttr.state != IBV_PORT_ACTIVE) continue;
        context_ = ctx;
        name_ = devName;
        port_ = p;
        linkLayer_ = linkLayerOf(portAttr.link_layer);
        lid_ = portAttr.lid;
        mtuBytes_ = mtuBytesOf(portAttr.active_mtu);
        // Read the GID table while we have the port attributes at hand.
        std::vector<GidCandidate> gids;
        for (int g = 0; g < portAttr.gid_tbl_len; ++g) {
          GidCandidate c;
          c.index = g;
          ibv_gid_entry entry{};
          if (api_->queryGidEx && api_->queryGidEx(ctx, p, g, &entry, 0, sizeof(entry)) == 0) {
            std::memcpy(c.gid.data(), entry.gid.raw, 16);
            c.type = gidTypeOf(entry.gid_type);
          } else {
            ibv_gid gid{};
            if (api_->queryGid(ctx, static_cast<uint8_t>(p), g, &gid) != 0) continue;
            std::memcpy(c.gid.data(), gid.raw, 16);
            // Without the type query, guess: an IPv4-mapped GID is normally v2.
            c.type = linkLayer_ != IbLinkLayer::kEthernet ? GidType::kIb
                     : isIpv4MappedGid(c.gid)             ? GidType::kRoceV2
                                                          : GidType::kRoceV1;
          }
          gids.push_back(c);
        }
        Result<GidCandidate> chosen = chooseGid(linkLayer_, gids, gidIndex);
        if (!chosen.isOk()) {
          api_->freeDeviceList(list);
          return chosen.status().withContext(devName + " port " + std::to_string(p));
        }
        gid_ = chosen.value();
        break;
      }
    }
    if (context_ == nullptr) api_->closeDevice(ctx);
  }
  api_->freeDeviceList(list);
  if (context_ == nullptr) {
    return Status::unavailable("no ACTIVE port on %s%s%s", wantedName.empty() ? "any InfiniBand/RoCE device" : wantedName.c_str(),
                               wantedPort ? " port " : "", wantedPort ? std::to_string(wantedPort).c_str() : "");
  }
  pd_ = api_->allocPd(context_);
  if (pd_ == nullptr) return Status::systemError("ibv_alloc_pd on %s failed: %s", name_.c_str(), strerror(errno));

  const IbVerbsApi* api = api_;
  ibv_pd* pd = pd_;
  cache_ = std::make_unique<RegistrationCache>(
      kCacheCapacityBytes,
      [api, pd](uintptr_t base, size_t length) -> Result<MemoryRegistration> {
        ibv_mr* mr = api->regMr(pd, reinterpret_cast<void*>(base), length,
                                IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
        if (mr == nullptr) {
          return Status::systemError("ibv_reg_mr of %zu bytes at 0x%llx failed: %s (locked-memory limit? see ulimit -l)",
                                     length, static_cast<unsigned long long>(base), strerror(errno));
        }
        MemoryRegistration r;
        r.lkey = mr->lkey;
        r.rkey = mr->rkey;
        r.handle = mr;
        return r;
      },
      [api](const MemoryRegistration& r) { api->deregMr(static_cast<ibv_mr*>(r.handle)); });
  LOOM_INFO(kNet, "IB device %s port %d (%s, MTU %u, LID 0x%x, GID index %d)", name_.c_str(), port_,
            ibLinkLayerName(linkLayer_), mtuBytes_, lid_, gid_.index);
  return Status::ok();
}

IbDevice::~IbDevice() {
  cache_.reset();  // deregisters before the protection domain goes
  if (pd_) api_->deallocPd(pd_);
  if (context_) api_->closeDevice(context_);
}

Result<RegistrationCache::Lease> IbDevice::registerMemory(const void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_->lookup(ptr, bytes);
}

void IbDevice::unregister(const RegistrationCache::Lease& lease, const void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_->release(lease);
  cache_->invalidate(ptr, bytes);
}

}  // namespace loom

#endif  // LOOM_HAVE_IBVERBS
