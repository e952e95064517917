// A cache of memory registrations keyed by address range.
//
// Registering memory with an RDMA device pins its pages and costs tens of
// microseconds per call, so a transport registers each buffer once and reuses
// the registration while the buffer lives. The cache hands out a registration
// covering a requested range, registering (through an injected function, so
// tests need no device) only on a miss.
//
// Invariants:
//  * Live entries never overlap: a miss whose range overlaps live entries
//    registers the union once and retires them, so the same page is never
//    pinned by two live registrations and later lookups hit a single entry.
//  * Registrations are page-aligned, so neighbouring small buffers share one.
//  * An entry in use (acquired and not yet released) is never deregistered:
//    an RDMA operation may still reference its keys. Eviction skips it, and a
//    merge or invalidate that retires it defers deregistration to release().
//  * Beyond `capacityBytes` of live registrations, the least recently used
//    idle entries are deregistered first. A single request larger than the
//    capacity is still served (the cache is a cache, not a quota).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>

#include "loom/status.h"

namespace loom {

struct MemoryRegistration {
  uintptr_t base = 0;  // what was registered: page-aligned [base, base + length)
  size_t length = 0;
  uint32_t lkey = 0;   // keys the device returned
  uint32_t rkey = 0;
  void* handle = nullptr;  // the device's object (an ibv_mr*), opaque here
};

class RegistrationCache {
 public:
  // Registers [base, base + length); returns the keys and handle.
  using RegisterFn = std::function<Result<MemoryRegistration>(uintptr_t base, size_t length)>;
  using DeregisterFn = std::function<void(const MemoryRegistration&)>;

  // What lookup() returns: the registration, plus the ticket to release it.
  struct Lease {
    MemoryRegistration registration;
    uint64_t id = 0;
  };
  struct Stats {
    uint64_t hits = 0, misses = 0, registrations = 0, deregistrations = 0, evictions = 0;
  };

  RegistrationCache(size_t capacityBytes, RegisterFn registerFn, DeregisterFn deregisterFn,
                    size_t pageBytes = 4096);
  // Deregisters everything, including entries still leased (the owner is
  // going away, so nothing can be in flight any more).
  ~RegistrationCache();
  RegistrationCache(const RegistrationCache&) = delete;
  RegistrationCache& operator=(const RegistrationCache&) = delete;

  // A registration covering [ptr, ptr + bytes), leased until release(). Fails
  // only if the register function fails (or bytes == 0 / the range wraps).
  Result<Lease> lookup(const void* ptr, size_t bytes);
  void release(const Lease& lease);

  // The memory in [ptr, ptr + bytes) was freed (or remapped): every entry
  // touching it is dropped now, or when released if leased.
  void invalidate(const void* ptr, size_t bytes);

  size_t registeredBytes() const { return liveBytes_; }  // live entries only
  size_t liveEntries() const { return byBase_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Entry {
    MemoryRegistration reg;
    uint64_t id = 0;
    int leases = 0;
    bool retired = false;  // no longer findable; deregister at last release
    std::list<uint64_t>::iterator lru;  // valid while live
  };
  using EntryPtr = std::shared_ptr<Entry>;

  void retire(const EntryPtr& e);
  void deregister(const EntryPtr& e);
  void evictBeyondCapacity();

  size_t capacityBytes_;
  size_t pageBytes_;
  RegisterFn register_;
  DeregisterFn deregister_;
  std::map<uintptr_t, EntryPtr> byBase_;     // live entries by start address
  std::map<uint64_t, EntryPtr> byId_;        // live and retired-but-leased
  std::list<uint64_t> lru_;                  // live ids, most recently used first
  size_t liveBytes_ = 0;
  uint64_t nextId_ = 1;
  Stats stats_;
};

}  // namespace loom
