#include "transports/ib/registration_cache.h"

#include <utility>
#include <vector>

namespace loom {

RegistrationCache::RegistrationCache(size_t capacityBytes, RegisterFn registerFn, DeregisterFn deregisterFn,
                                     size_t pageBytes)
    : capacityBytes_(capacityBytes),
      pageBytes_(pageBytes == 0 ? 1 : pageBytes),
      register_(std::move(registerFn)),
      deregister_(std::move(deregisterFn)) {}

RegistrationCache::~RegistrationCache() {
  for (auto& [id, e] : byId_) deregister(e);
}

Result<RegistrationCache::Lease> RegistrationCache::lookup(const void* ptr, size_t bytes) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr);
  if (bytes == 0) return Status::invalidArgument("cannot register an empty range at %p", ptr);
  if (start + bytes < start) return Status::invalidArgument("range %p + %zu bytes wraps the address space", ptr, bytes);
  const uintptr_t end = start + bytes;

  // Live entries are disjoint, so only the entry starting at or before `start`
  // can cover the whole range.
  auto it = byBase_.upper_bound(start);
  if (it != byBase_.begin()) {
    const EntryPtr& e = std::prev(it)->second;
    if (e->reg.base + e->reg.length >= end) {
      ++stats_.hits;
      ++e->leases;
      lru_.splice(lru_.begin(), lru_, e->lru);
      return Lease{e->reg, e->id};
    }
  }
  ++stats_.misses;

  // Page-align, then grow to the union with every live entry that overlaps,
  // so the result replaces them all.
  uintptr_t lo = start - start % pageBytes_;
  uintptr_t hi = end % pageBytes_ == 0 ? end : end + (pageBytes_ - end % pageBytes_);
  if (hi < end) hi = end;  // rounding up wrapped: keep the exact end
  std::vector<EntryPtr> overlapped;
  auto first = byBase_.upper_bound(lo);
  if (first != byBase_.begin()) {
    auto before = std::prev(first);
    if (before->second->reg.base + before->second->reg.length > lo) first = before;
  }
  for (auto o = first; o != byBase_.end() && o->first < hi; ++o) overlapped.push_back(o->second);
  for (const EntryPtr& e : overlapped) {
    lo = std::min(lo, e->reg.base);
    hi = std::max(hi, e->reg.base + e->reg.length);
  }

  // Register before retiring: if registration fails the old entries stay.
  Result<MemoryRegistration> reg = register_(lo, hi - lo);
  if (!reg.isOk()) return reg.status().withContext("registering " + std::to_string(hi - lo) + " bytes");
  ++stats_.registrations;
  for (const EntryPtr& e : overlapped) retire(e);

  auto e = std::make_shared<Entry>();
  e->reg = reg.value();
  e->reg.base = lo;
  e->reg.length = hi - lo;
  e->id = nextId_++;
  e->leases = 1;
  lru_.push_front(e->id);
  e->lru = lru_.begin();
  byBase_[lo] = e;
  byId_[e->id] = e;
  liveBytes_ += e->reg.length;
  evictBeyondCapacity();
  return Lease{e->reg, e->id};
}

void RegistrationCache::release(const Lease& lease) {
  auto it = byId_.find(lease.id);
  if (it == byId_.end()) return;  // already dropped by the destructor path; nothing to do
  EntryPtr e = it->second;
  if (e->leases > 0) --e->leases;
  if (e->retired && e->leases == 0) {
    deregister(e);
    byId_.erase(it);
    return;
  }
  // Releasing may bring an over-capacity cache back within bounds.
  if (e->leases == 0) evictBeyondCapacity();
}

void RegistrationCache::invalidate(const void* ptr, size_t bytes) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr);
  const uintptr_t end = start + bytes < start ? UINTPTR_MAX : start + bytes;
  std::vector<EntryPtr> hit;
  auto first = byBase_.upper_bound(start);
  if (first != byBase_.begin()) {
    auto before = std::prev(first);
    if (before->second->reg.base + before->second->reg.length > start) first = before;
  }
  for (auto o = first; o != byBase_.end() && o->first < end; ++o) hit.push_back(o->second);
  for (const EntryPtr& e : hit) retire(e);
}

// Takes a live entry out of the index; deregisters it now if nobody holds it.
void RegistrationCache::retire(const EntryPtr& e) {
  byBase_.erase(e->reg.base);
  lru_.erase(e->lru);
  liveBytes_ -= e->reg.length;
  e->retired = true;
  if (e->leases == 0) {
    deregister(e);
    byId_.erase(e->id);
  }
}

void RegistrationCache::deregister(const EntryPtr& e) {
  ++stats_.deregistrations;
  if (deregister_) deregister_(e->reg);
}

void RegistrationCache::evictBeyondCapacity() {
  // Oldest first; leased entries are skipped, not waited for.
  for (auto it = lru_.end(); liveBytes_ > capacityBytes_ && it != lru_.begin();) {
    --it;
    EntryPtr e = byId_[*it];
    if (e->leases > 0) continue;
    auto next = it;  // retire() erases `it`; continue from its successor's predecessor
    ++next;
    ++stats_.evictions;
    retire(e);
    it = next;
  }
}

}  // namespace loom
