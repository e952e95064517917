// An opened RDMA device port: context, protection domain, addressing (LID or
// GID) and a registration cache, shared by every queue pair on that port.
//
// UNTESTED ON HARDWARE (see ib_connection.h). Exists only when Loom is built
// with <infiniband/verbs.h> (LOOM_HAVE_IBVERBS).
#pragma once

#ifdef LOOM_HAVE_IBVERBS

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "transports/ib/ib_probe.h"
#include "transports/ib/ib_verbs_api.h"
#include "transports/ib/qp_state_machine.h"
#include "transports/ib/registration_cache.h"

namespace loom {

class IbDevice {
 public:
  // The process-wide device for (name, port), opened on first use; empty name
  // or port 0 pick the first active one. Queue pairs keep it alive.
  static Result<std::shared_ptr<IbDevice>> open(const std::string& name, int port, std::optional<int> gidIndex);
  ~IbDevice();
  IbDevice(const IbDevice&) = delete;
  IbDevice& operator=(const IbDevice&) = delete;

  const IbVerbsApi& api() const { return *api_; }
  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  const std::string& name() const { return name_; }
  int port() const { return port_; }
  IbLinkLayer linkLayer() const { return linkLayer_; }
  uint16_t lid() const { return lid_; }
  uint32_t mtuBytes() const { return mtuBytes_; }
  const GidCandidate& gid() const { return gid_; }

  // Registers through the cache (thread-safe). Keep the lease while any work
  // request may use the memory; call unregister() before freeing it.
  Result<RegistrationCache::Lease> registerMemory(const void* ptr, size_t bytes);
  void unregister(const RegistrationCache::Lease& lease, const void* ptr, size_t bytes);

 private:
  IbDevice() = default;
  Status init(const std::string& name, int port, std::optional<int> gidIndex);

  const IbVerbsApi* api_ = nullptr;
  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  std::string name_;
  int port_ = 0;
  IbLinkLayer linkLayer_ = IbLinkLayer::kUnknown;
  uint16_t lid_ = 0;
  uint32_t mtuBytes_ = 0;
  GidCandidate gid_;
  std::mutex mutex_;  // guards cache_
  std::unique_ptr<RegistrationCache> cache_;
};

}  // namespace loom

#endif  // LOOM_HAVE_IBVERBS
