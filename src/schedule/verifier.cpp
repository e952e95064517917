#include "schedule/verifier.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

namespace loom {
namespace {

constexpr uint32_t kUninit = UINT32_MAX;

// Contributor sets, interned so that a symbol is a pair of integers and equal
// sets compare by id. Bitsets are sized for the rank count, whatever it is.
class SetTable {
 public:
  explicit SetTable(int nranks) : nranks_(nranks), words_((static_cast<size_t>(nranks) + 63) / 64) {
    for (int r = 0; r < nranks; ++r) {
      std::vector<uint64_t> bits(words_, 0);
      bits[static_cast<size_t>(r) / 64] |= uint64_t{1} << (r % 64);
      intern(bits);
    }
    std::vector<uint64_t> full(words_, 0);
    for (int r = 0; r < nranks; ++r) full[static_cast<size_t>(r) / 64] |= uint64_t{1} << (r % 64);
    all_ = intern(full);
  }

  uint32_t single(int rank) const { return static_cast<uint32_t>(rank); }
  uint32_t all() const { return all_; }

  // The union of two disjoint sets; when they share a rank, returns false and
  // the lowest shared rank.
  bool unite(uint32_t a, uint32_t b, uint32_t* result, int* shared) {
    if (a > b) std::swap(a, b);
    const uint64_t key = (static_cast<uint64_t>(a) << 32) | b;
    auto it = unions_.find(key);
    if (it != unions_.end()) {
      *result = it->second;
      return true;
    }
    const uint64_t* x = word(a);
    const uint64_t* y = word(b);
    std::vector<uint64_t> bits(words_);
    for (size_t w = 0; w < words_; ++w) {
      if (x[w] & y[w]) {
        *shared = static_cast<int>(w * 64 + static_cast<size_t>(__builtin_ctzll(x[w] & y[w])));
        return false;
      }
      bits[w] = x[w] | y[w];
    }
    *result = intern(bits);
    unions_.emplace(key, *result);
    return true;
  }

  // "{0-3,7}" or "all 8 ranks"; long sets are cut short.
  std::string describe(uint32_t id) const {
    if (id == kUninit) return "uninitialised";
    if (id == all_) return "all " + std::to_string(nranks_) + " ranks";
    const uint64_t* bits = word(id);
    auto has = [&](int r) { return (bits[static_cast<size_t>(r) / 64] >> (r % 64)) & 1; };
    std::string out = "ranks {";
    int ranges = 0;
    for (int r = 0; r < nranks_; ++r) {
      if (!has(r)) continue;
      int end = r;
      while (end + 1 < nranks_ && has(end + 1)) ++end;
      if (ranges++ > 0) out += ",";
      if (ranges > 8) {
        out += "...";
        break;
      }
      out += std::to_string(r);
      if (end > r) out += "-" + std::to_string(end);
      r = end;
    }
    return out + "}";
  }

 private:
  const uint64_t* word(uint32_t id) const { return &bits_[static_cast<size_t>(id) * words_]; }

  uint32_t intern(const std::vector<uint64_t>& bits) {
    std::string key(reinterpret_cast<const char*>(bits.data()), bits.size() * sizeof(uint64_t));
    auto [it, inserted] = ids_.emplace(std::move(key), static_cast<uint32_t>(ids_.size()));
    if (inserted) bits_.insert(bits_.end(), bits.begin(), bits.end());
    return it->second;
  }

  int nranks_;
  size_t words_;
  uint32_t all_ = 0;
  std::vector<uint64_t> bits_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::unordered_map<uint64_t, uint32_t> unions_;
};

// `len` consecutive elements holding index base, base+1, ... of `set`.
struct Piece {
  size_t len;
  uint32_t set;
  size_t base;
};

// One rank's memory region as a sparse map of runs; gaps are uninitialised.
class RunMap {
 public:
  void read(size_t off, size_t len, std::vector<Piece>* out) const {
    out->clear();
    size_t pos = off;
    const size_t end = off + len;
    auto it = runs_.upper_bound(pos);
    if (it != runs_.begin()) {
      auto p = std::prev(it);
      if (p->first + p->second.len > pos) it = p;
    }
    while (pos < end) {
      if (it == runs_.end() || it->first >= end) {
        out->push_back({end - pos, kUninit, 0});
        break;
      }
      if (it->first > pos) {
        out->push_back({it->first - pos, kUninit, 0});
        pos = it->first;
      }
      const size_t skip = pos - it->first;
      const size_t take = std::min(it->second.len - skip, end - pos);
      out->push_back({take, it->second.set, it->second.base + skip});
      pos += take;
      ++it;
    }
  }

  void write(size_t off, const std::vector<Piece>& pieces) {
    size_t len = 0;
    for (const Piece& p : pieces) len += p.len;
    if (len == 0) return;
    split(off);
    split(off + len);
    runs_.erase(runs_.lower_bound(off), runs_.lower_bound(off + len));
    size_t pos = off;
    auto last = runs_.end();
    for (const Piece& p : pieces) {
      if (p.set != kUninit && p.len > 0) {
        if (last != runs_.end() && last->first + last->second.len == pos && last->second.set == p.set &&
            last->second.base + last->second.len == p.base) {
          last->second.len += p.len;
        } else {
          last = runs_.emplace_hint(runs_.lower_bound(pos), pos, Run{p.len, p.set, p.base});
        }
      }
      pos += p.len;
    }
    coalesceAt(off);
    coalesceAt(off + len);
  }

 private:
  struct Run {
    size_t len;
    uint32_t set;
    size_t base;
  };

  // Makes `pos` a run boundary if a run straddles it.
  void split(size_t pos) {
    auto it = runs_.upper_bound(pos);
    if (it == runs_.begin()) return;
    --it;
    const size_t start = it->first;
    Run& run = it->second;
    if (start < pos && pos < start + run.len) {
      const size_t left = pos - start;
      runs_.emplace_hint(std::next(it), pos, Run{run.len - left, run.set, run.base + left});
      run.len = left;
    }
  }

  void coalesceAt(size_t pos) {
    auto right = runs_.find(pos);
    if (right == runs_.end() || right == runs_.begin()) return;
    auto left = std::prev(right);
    if (left->first + left->second.len == pos && left->second.set == right->second.set &&
        left->second.base + left->second.len == right->second.base) {
      left->second.len += right->second.len;
      runs_.erase(right);
    }
  }

  std::map<size_t, Run> runs_;
};

const char* bufferName(BufferId id) {
  switch (id) {
    case BufferId::kInput: return "input";
    case BufferId::kOutput: return "output";
    case BufferId::kScratch: return "scratch";
  }
  return "invalid";
}

bool isComm(StepKind k) { return k == StepKind::kSend || k == StepKind::kRecv || k == StepKind::kRecvReduce; }
bool readsSrc(StepKind k) { return k != StepKind::kRecv; }
bool writesDst(StepKind k) { return k != StepKind::kSend; }

// Physical location of a slice: in-place calls alias kInput and kOutput.
struct Region {
  int space;
  size_t lo;
  size_t hi;
};

struct Message {
  size_t step;  // sender's step index, for messages
  uint64_t id;
  size_t count;
  std::vector<Piece> pieces;
};

struct PendingSend {
  Region region;
  uint64_t id;
  size_t step;
  int peer;
};

struct ChannelState {
  size_t pc = 0;
  bool queued = false;
  std::vector<PendingSend> pending;  // posted, not yet received
};

class Simulation {
 public:
  Simulation(const CollectiveShape& shape, const std::vector<Schedule>& schedules, bool inPlace)
      : shape_(shape), scheds_(schedules), inPlace_(inPlace), n_(shape.nranks), sets_(shape.nranks) {}

  Status run() {
    LOOM_RETURN_IF_ERROR(checkStatically());
    memory_.assign(static_cast<size_t>(n_), std::vector<RunMap>(kNumBuffers));
    state_.resize(static_cast<size_t>(n_));
    for (int r = 0; r < n_; ++r) {
      const Region in = locate(r, Slice{BufferId::kInput, 0, shape_.inputCount()});
      memory_[idx(r)][static_cast<size_t>(in.space)].write(in.lo, {{shape_.inputCount(), sets_.single(r), 0}});
      state_[idx(r)].resize(scheds_[idx(r)].channels.size());
      for (size_t c = 0; c < state_[idx(r)].size(); ++c) wake(r, c);
    }
    while (!work_.empty()) {
      auto [r, c] = work_.front();
      work_.pop_front();
      ChannelState& cs = state_[idx(r)][c];
      cs.queued = false;
      const std::vector<Step>& steps = scheds_[idx(r)].channels[c].steps;
      while (cs.pc < steps.size()) {
        bool blocked = false;
        LOOM_RETURN_IF_ERROR(execute(r, c, steps[cs.pc], &blocked));
        if (blocked) break;
        ++cs.pc;
      }
    }
    LOOM_RETURN_IF_ERROR(checkFinished());
    return checkResult();
  }

 private:
  static size_t idx(int r) { return static_cast<size_t>(r); }

  size_t bufferCount(int rank, BufferId b) const {
    switch (b) {
      case BufferId::kInput: return shape_.inputCount();
      case BufferId::kOutput: return shape_.outputCount();
      case BufferId::kScratch: return scheds_[idx(rank)].scratchCount;
    }
    return 0;
  }

  Region locate(int rank, const Slice& s) const {
    if (s.buffer == BufferId::kScratch) return {2, s.offset, s.offset + s.count};
    if (!inPlace_) {
      const int space = s.buffer == BufferId::kInput ? 0 : 1;
      return {space, s.offset, s.offset + s.count};
    }
    const size_t base =
        s.buffer == BufferId::kInput ? inPlaceInputOffset(shape_, rank) : inPlaceOutputOffset(shape_, rank);
    return {1, base + s.offset, base + s.offset + s.count};
  }

  std::string where(int r, size_t c, size_t i, const Step& s) const {
    std::string w = "rank " + std::to_string(r) + " channel " + std::to_string(c) + " step " + std::to_string(i) +
                    " (" + stepKindName(s.kind);
    if (s.kind == StepKind::kSend) w += " to rank " + std::to_string(s.peer);
    if (s.kind == StepKind::kRecv || s.kind == StepKind::kRecvReduce) w += " from rank " + std::to_string(s.peer);
    return w + ")";
  }

  Status checkSlice(int r, size_t c, size_t i, const Step& s, const Slice& sl, const char* role) const {
    const int b = static_cast<int>(sl.buffer);
    if (b < 0 || b >= kNumBuffers)
      return Status::invalidArgument("%s: %s names buffer %d, which does not exist", where(r, c, i, s).c_str(), role,
                                     b);
    const size_t limit = bufferCount(r, sl.buffer);
    if (sl.offset > limit || sl.count > limit - sl.offset)
      return Status::invalidArgument("%s: %s slice %s[%zu, %zu) is out of bounds of the %s buffer of %zu elements",
                                     where(r, c, i, s).c_str(), role, bufferName(sl.buffer), sl.offset,
                                     sl.offset + sl.count, bufferName(sl.buffer), limit);
    // NCCL lets these buffers be null, so touching them is a bug even when
    // the result happens to be right.
    if (shape_.kind == CollectiveKind::kReduce && r != shape_.root && sl.buffer == BufferId::kOutput)
      return Status::invalidArgument("%s: non-root rank of Reduce (root %d) uses its output buffer, which may be null",
                                     where(r, c, i, s).c_str(), shape_.root);
    if (shape_.kind == CollectiveKind::kBroadcast && r != shape_.root && sl.buffer == BufferId::kInput)
      return Status::invalidArgument("%s: non-root rank of Broadcast (root %d) uses its input buffer, which may be null",
                                     where(r, c, i, s).c_str(), shape_.root);
    return Status::ok();
  }

  Status checkStatically() const {
    for (int r = 0; r < n_; ++r) {
      const Schedule& sched = scheds_[idx(r)];
      if (sched.rank != r || sched.nranks != n_)
        return Status::invalidArgument("schedule %d says it is rank %d of %d, expected rank %d of %d", r, sched.rank,
                                       sched.nranks, r, n_);
      // Per channel, the physical intervals it touches, to prove channels disjoint.
      std::vector<std::pair<Region, size_t>> touched;
      for (size_t c = 0; c < sched.channels.size(); ++c) {
        const std::vector<Step>& steps = sched.channels[c].steps;
        for (size_t i = 0; i < steps.size(); ++i) {
          const Step& s = steps[i];
          const int kind = static_cast<int>(s.kind);
          if (kind < 0 || kind > static_cast<int>(StepKind::kReduce))
            return Status::invalidArgument("rank %d channel %zu step %zu has invalid kind %d", r, c, i, kind);
          if (isComm(s.kind)) {
            if (s.peer < 0 || s.peer >= n_)
              return Status::invalidArgument("%s: peer %d is outside [0, %d)", where(r, c, i, s).c_str(), s.peer, n_);
            if (s.peer == r)
              return Status::invalidArgument("%s: peer %d is the rank itself", where(r, c, i, s).c_str(), s.peer);
          }
          if (readsSrc(s.kind)) {
            LOOM_RETURN_IF_ERROR(checkSlice(r, c, i, s, s.src, "source"));
            if (s.src.count > 0) touched.push_back({locate(r, s.src), c});
          }
          if (writesDst(s.kind)) {
            LOOM_RETURN_IF_ERROR(checkSlice(r, c, i, s, s.dst, "destination"));
            if (s.dst.count > 0) touched.push_back({locate(r, s.dst), c});
          }
          if (readsSrc(s.kind) && writesDst(s.kind) && s.src.count != s.dst.count)
            return Status::invalidArgument("%s: source has %zu elements but destination %zu",
                                           where(r, c, i, s).c_str(), s.src.count, s.dst.count);
        }
      }
      LOOM_RETURN_IF_ERROR(checkChannelsDisjoint(r, std::move(touched)));
    }
    return Status::ok();
  }

  Status checkChannelsDisjoint(int r, std::vector<std::pair<Region, size_t>> touched) const {
    std::sort(touched.begin(), touched.end(), [](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second < b.second;
      if (a.first.space != b.first.space) return a.first.space < b.first.space;
      return a.first.lo < b.first.lo;
    });
    // Merge each channel's own intervals, so any overlap left is between channels.
    std::vector<std::pair<Region, size_t>> merged;
    for (const auto& t : touched) {
      if (!merged.empty() && merged.back().second == t.second && merged.back().first.space == t.first.space &&
          t.first.lo <= merged.back().first.hi) {
        merged.back().first.hi = std::max(merged.back().first.hi, t.first.hi);
      } else {
        merged.push_back(t);
      }
    }
    std::sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
      if (a.first.space != b.first.space) return a.first.space < b.first.space;
      return a.first.lo < b.first.lo;
    });
    for (size_t i = 1, widest = 0; i < merged.size(); ++i) {
      const auto& a = merged[widest];
      const auto& b = merged[i];
      if (a.first.space == b.first.space && b.first.lo < a.first.hi)
        return Status::invalidArgument(
            "rank %d: channels %zu and %zu both touch memory element %zu of %s; channels must use disjoint memory", r,
            a.second, b.second, b.first.lo, b.first.space == 2 ? "scratch" : inPlace_ ? "the in-place buffer"
                                                                 : b.first.space == 0 ? "input" : "output");
      if (b.first.space != a.first.space || b.first.hi > a.first.hi) widest = i;
    }
    return Status::ok();
  }

  void wake(int r, size_t c) {
    if (c >= state_[idx(r)].size()) return;
    ChannelState& cs = state_[idx(r)][c];
    if (cs.queued || cs.pc >= scheds_[idx(r)].channels[c].steps.size()) return;
    cs.queued = true;
    work_.emplace_back(r, c);
  }

  uint64_t queueKey(int src, int dst, size_t c) const {
    return (static_cast<uint64_t>(c) * static_cast<uint64_t>(n_) + static_cast<uint64_t>(src)) *
               static_cast<uint64_t>(n_) +
           static_cast<uint64_t>(dst);
  }

  const PendingSend* hazard(int r, size_t c, const Region& dst) const {
    for (const PendingSend& p : state_[idx(r)][c].pending) {
      if (p.region.space == dst.space && p.region.lo < dst.hi && dst.lo < p.region.hi) return &p;
    }
    return nullptr;
  }

  void readSlice(int r, const Slice& s, std::vector<Piece>* out) const {
    const Region reg = locate(r, s);
    memory_[idx(r)][static_cast<size_t>(reg.space)].read(reg.lo, s.count, out);
  }

  void writeSlice(int r, const Slice& s, const std::vector<Piece>& pieces) {
    const Region reg = locate(r, s);
    memory_[idx(r)][static_cast<size_t>(reg.space)].write(reg.lo, pieces);
  }

  // Where a step is, kept as numbers so that the text is built only on error.
  struct At {
    int r;
    size_t c;
    size_t step;
    const Step& s;
  };
  std::string text(const At& at) const { return where(at.r, at.c, at.step, at.s); }

  Status checkInitialised(const At& at, const Slice& s, const std::vector<Piece>& pieces) const {
    size_t pos = s.offset;
    for (const Piece& p : pieces) {
      if (p.set == kUninit)
        return Status::invalidArgument("%s reads uninitialised %s element %zu", text(at).c_str(),
                                       bufferName(s.buffer), pos);
      pos += p.len;
    }
    return Status::ok();
  }

  // out = a ⊕ b elementwise, where `a` came from `aSlice` (named in errors)
  // and the result goes to `dst`.
  Status combine(const At& at, const Slice& aSlice, const std::vector<Piece>& a, const std::vector<Piece>& b,
                 const Slice& dst, std::vector<Piece>* out) {
    out->clear();
    size_t i = 0, j = 0, ai = 0, bj = 0, pos = 0;
    while (i < a.size() && j < b.size()) {
      const size_t len = std::min(a[i].len - ai, b[j].len - bj);
      if (a[i].set == kUninit)
        return Status::invalidArgument("%s reads uninitialised %s element %zu", text(at).c_str(), bufferName(aSlice.buffer),
                                       aSlice.offset + pos);
      const size_t ia = a[i].base + ai;
      const size_t ib = b[j].base + bj;
      if (ia != ib)
        return Status::invalidArgument("%s reduces %s element %zu but mixes indices %zu and %zu", text(at).c_str(),
                                       bufferName(dst.buffer), dst.offset + pos, ia, ib);
      uint32_t set = 0;
      int shared = -1;
      if (!sets_.unite(a[i].set, b[j].set, &set, &shared))
        return Status::invalidArgument("%s reduces %s element %zu (index %zu) twice from rank %d (%s with %s)",
                                       text(at).c_str(), bufferName(dst.buffer), dst.offset + pos, ia, shared,
                                       sets_.describe(a[i].set).c_str(), sets_.describe(b[j].set).c_str());
      if (!out->empty() && out->back().set == set && out->back().base + out->back().len == ia) {
        out->back().len += len;
      } else {
        out->push_back({len, set, ia});
      }
      pos += len;
      ai += len;
      bj += len;
      if (ai == a[i].len) ++i, ai = 0;
      if (bj == b[j].len) ++j, bj = 0;
    }
    return Status::ok();
  }

  Status execute(int r, size_t c, const Step& s, bool* blocked) {
    ChannelState& cs = state_[idx(r)][c];
    const size_t step = cs.pc;
    const At at{r, c, step, s};
    switch (s.kind) {
      case StepKind::kSend: {
        readSlice(r, s.src, &bufA_);
        LOOM_RETURN_IF_ERROR(checkInitialised(at, s.src, bufA_));
        const uint64_t id = nextId_++;
        queues_[queueKey(r, s.peer, c)].push_back(Message{step, id, s.src.count, bufA_});
        cs.pending.push_back({locate(r, s.src), id, step, s.peer});
        wake(s.peer, c);
        return Status::ok();
      }
      case StepKind::kRecv:
      case StepKind::kRecvReduce: {
        auto q = queues_.find(queueKey(s.peer, r, c));
        if (q == queues_.end() || q->second.empty() || hazard(r, c, locate(r, s.dst)) != nullptr) {
          *blocked = true;
          return Status::ok();
        }
        Message& m = q->second.front();
        if (m.count != s.dst.count)
          return Status::invalidArgument(
              "%s expects %zu elements but the matching message (rank %d channel %zu step %zu) has %zu",
              where(r, c, step, s).c_str(), s.dst.count, s.peer, c, m.step, m.count);
        if (s.kind == StepKind::kRecv) {
          writeSlice(r, s.dst, m.pieces);
        } else {
          readSlice(r, s.src, &bufA_);
          LOOM_RETURN_IF_ERROR(combine(at, s.src, bufA_, m.pieces, s.dst, &bufOut_));
          writeSlice(r, s.dst, bufOut_);
        }
        std::vector<PendingSend>& pending = state_[idx(s.peer)][c].pending;
        const uint64_t id = m.id;
        pending.erase(std::find_if(pending.begin(), pending.end(), [&](const PendingSend& p) { return p.id == id; }));
        q->second.pop_front();
        wake(s.peer, c);
        return Status::ok();
      }
      case StepKind::kCopy:
      case StepKind::kReduce: {
        if (hazard(r, c, locate(r, s.dst)) != nullptr) {
          *blocked = true;
          return Status::ok();
        }
        readSlice(r, s.src, &bufA_);
        LOOM_RETURN_IF_ERROR(checkInitialised(at, s.src, bufA_));
        if (s.kind == StepKind::kCopy) {
          writeSlice(r, s.dst, bufA_);
        } else {
          readSlice(r, s.dst, &bufB_);
          LOOM_RETURN_IF_ERROR(combine(at, s.dst, bufB_, bufA_, s.dst, &bufOut_));
          writeSlice(r, s.dst, bufOut_);
        }
        return Status::ok();
      }
    }
    return Status::internal("%s: unknown step kind", where(r, c, step, s).c_str());
  }

  Status checkFinished() const {
    std::string stuck;
    int nstuck = 0;
    for (int r = 0; r < n_; ++r) {
      for (size_t c = 0; c < state_[idx(r)].size(); ++c) {
        const ChannelState& cs = state_[idx(r)][c];
        const std::vector<Step>& steps = scheds_[idx(r)].channels[c].steps;
        if (cs.pc >= steps.size()) continue;
        if (nstuck++ >= 8) continue;
        const Step& s = steps[cs.pc];
        stuck += (nstuck > 1 ? "; " : "") + where(r, c, cs.pc, s);
        const PendingSend* h = writesDst(s.kind) ? hazard(r, c, locate(r, s.dst)) : nullptr;
        if (h != nullptr) {
          stuck += " waits for its step " + std::to_string(h->step) + " to be received by rank " +
                   std::to_string(h->peer);
        } else {
          stuck += " waits for a message";
        }
      }
    }
    if (nstuck > 0)
      return Status::invalidArgument("deadlock: %d channel(s) cannot progress: %s%s", nstuck, stuck.c_str(),
                                     nstuck > 8 ? "; ..." : "");
    for (const auto& [key, q] : queues_) {
      if (q.empty()) continue;
      const uint64_t n = static_cast<uint64_t>(n_);
      const int dst = static_cast<int>(key % n);
      const int src = static_cast<int>((key / n) % n);
      const size_t c = static_cast<size_t>(key / n / n);
      return Status::invalidArgument(
          "rank %d channel %zu sent %zu message(s) to rank %d that were never received; the first is its step %zu",
          src, c, q.size(), dst, q.front().step);
    }
    return Status::ok();
  }

  // What rank r's output must hold, as runs, or empty when it is don't-care.
  std::vector<Piece> expected(int r) const {
    const size_t count = shape_.count;
    const size_t n = idx(n_);
    std::vector<Piece> e;
    switch (shape_.kind) {
      case CollectiveKind::kAllReduce: e.push_back({count, sets_.all(), 0}); break;
      case CollectiveKind::kReduce:
        if (r == shape_.root) e.push_back({count, sets_.all(), 0});
        break;
      case CollectiveKind::kBroadcast: e.push_back({count, sets_.single(shape_.root), 0}); break;
      case CollectiveKind::kAllGather:
        for (size_t p = 0; p < n; ++p) e.push_back({count, sets_.single(static_cast<int>(p)), 0});
        break;
      case CollectiveKind::kReduceScatter: e.push_back({count, sets_.all(), idx(r) * count}); break;
      case CollectiveKind::kAllToAll:
        for (size_t p = 0; p < n; ++p) e.push_back({count, sets_.single(static_cast<int>(p)), idx(r) * count});
        break;
      case CollectiveKind::kSendRecv: break;
    }
    return e;
  }

  Status checkResult() {
    for (int r = 0; r < n_; ++r) {
      const std::vector<Piece> want = expected(r);
      if (want.empty()) continue;
      readSlice(r, Slice{BufferId::kOutput, 0, shape_.outputCount()}, &bufA_);
      const std::vector<Piece>& got = bufA_;
      size_t i = 0, j = 0, gi = 0, wj = 0, pos = 0;
      while (i < got.size() && j < want.size()) {
        const size_t len = std::min(got[i].len - gi, want[j].len - wj);
        const size_t gotIndex = got[i].base + gi;
        const size_t wantIndex = want[j].base + wj;
        if (got[i].set != want[j].set || (got[i].set != kUninit && gotIndex != wantIndex)) {
          std::string found = got[i].set == kUninit
                                  ? std::string("uninitialised")
                                  : sets_.describe(got[i].set) + " of index " + std::to_string(gotIndex);
          return Status::invalidArgument("%s: rank %d output element %zu should be %s of index %zu but is %s",
                                         collectiveName(shape_.kind), r, pos, sets_.describe(want[j].set).c_str(),
                                         wantIndex, found.c_str());
        }
        pos += len;
        gi += len;
        wj += len;
        if (gi == got[i].len) ++i, gi = 0;
        if (wj == want[j].len) ++j, wj = 0;
      }
    }
    return Status::ok();
  }

  const CollectiveShape& shape_;
  const std::vector<Schedule>& scheds_;
  const bool inPlace_;
  const int n_;
  SetTable sets_;
  std::vector<std::vector<RunMap>> memory_;        // [rank][space]
  std::vector<std::vector<ChannelState>> state_;  // [rank][channel]
  std::unordered_map<uint64_t, std::deque<Message>> queues_;
  std::deque<std::pair<int, size_t>> work_;
  uint64_t nextId_ = 0;
  std::vector<Piece> bufA_, bufB_, bufOut_;
};

}  // namespace

Status verifySchedules(const CollectiveShape& shape, const std::vector<Schedule>& schedules, bool inPlace) {
  if (shape.nranks < 1) return Status::invalidArgument("verifier: nranks %d is invalid; need at least 1", shape.nranks);
  if (shape.kind == CollectiveKind::kSendRecv)
    return Status::invalidArgument("verifier: collective %s has no single expected result to check",
                                   collectiveName(shape.kind));
  if ((shape.kind == CollectiveKind::kBroadcast || shape.kind == CollectiveKind::kReduce) &&
      (shape.root < 0 || shape.root >= shape.nranks))
    return Status::invalidArgument("verifier: root %d is outside [0, %d)", shape.root, shape.nranks);
  if (schedules.size() != static_cast<size_t>(shape.nranks))
    return Status::invalidArgument("verifier: got %zu schedules for %d ranks", schedules.size(), shape.nranks);
  Simulation sim(shape, schedules, inPlace);
  return sim.run();
}

}  // namespace loom
