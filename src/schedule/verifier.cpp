#include "schedule/verifier.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
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
    if (id == all_ && nranks_ > 1) return "all " + std::to_string(nranks_) + " ranks";
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

// One rank's memory region as sorted, non-overlapping runs; gaps are
// uninitialised. A region holds few runs (about one per chunk a schedule
// moves), so a vector beats a tree.
class RunMap {
 public:
  void read(size_t off, size_t len, std::vector<Piece>* out) const {
    out->clear();
    size_t pos = off;
    const size_t end = off + len;
    auto it = firstEndingAfter(pos);
    while (pos < end) {
      if (it == runs_.end() || it->start >= end) {
        out->push_back({end - pos, kUninit, 0});
        break;
      }
      if (it->start > pos) {
        out->push_back({it->start - pos, kUninit, 0});
        pos = it->start;
      }
      const size_t skip = pos - it->start;
      const size_t take = std::min(it->len - skip, end - pos);
      out->push_back({take, it->set, it->base + skip});
      pos += take;
      ++it;
    }
  }

  void write(size_t off, std::span<const Piece> pieces) {
    size_t len = 0;
    for (const Piece& p : pieces) len += p.len;
    if (len == 0) return;
    const size_t end = off + len;
    // Runs [first, last) overlap the write; their neighbours join the
    // rebuilt stretch so that compatible runs merge across its edges.
    auto first = firstEndingAfter(off);
    auto last = first;
    while (last != runs_.end() && last->start < end) ++last;
    if (first != runs_.begin()) --first;
    if (last != runs_.end()) ++last;
    repl_.clear();
    for (auto it = first; it != last; ++it) {
      if (it->start < off) append({it->start, std::min(it->len, off - it->start), it->set, it->base});
    }
    size_t pos = off;
    for (const Piece& p : pieces) {
      if (p.set != kUninit && p.len > 0) append({pos, p.len, p.set, p.base});
      pos += p.len;
    }
    for (auto it = first; it != last; ++it) {
      const size_t runEnd = it->start + it->len;
      if (runEnd <= end) continue;
      const size_t from = std::max(it->start, end);
      append({from, runEnd - from, it->set, it->base + (from - it->start)});
    }
    const size_t at = static_cast<size_t>(first - runs_.begin());
    runs_.erase(first, last);
    runs_.insert(runs_.begin() + static_cast<long>(at), repl_.begin(), repl_.end());
  }

 private:
  struct Run {
    size_t start;
    size_t len;
    uint32_t set;
    size_t base;
  };

  std::vector<Run>::const_iterator firstEndingAfter(size_t pos) const {
    return std::upper_bound(runs_.begin(), runs_.end(), pos,
                            [](size_t p, const Run& r) { return p < r.start + r.len; });
  }
  std::vector<Run>::iterator firstEndingAfter(size_t pos) {
    return std::upper_bound(runs_.begin(), runs_.end(), pos,
                            [](size_t p, const Run& r) { return p < r.start + r.len; });
  }

  void append(const Run& r) {
    if (!repl_.empty()) {
      Run& b = repl_.back();
      if (b.start + b.len == r.start && b.set == r.set && b.base + b.len == r.base) {
        b.len += r.len;
        return;
      }
    }
    repl_.push_back(r);
  }

  std::vector<Run> runs_;
  std::vector<Run> repl_;
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
  size_t step;  // the sender's step, for error messages
  uint64_t id;
  int space;  // where the sender's pending entry is filed
  size_t lo;
  size_t count;
  size_t firstPiece;  // in Simulation::piecePool_
  size_t pieceCount;
};

// One connection's messages in flight; a vector with a read position costs
// far less than a deque when there are thousands of connections.
struct Fifo {
  std::vector<Message> items;
  size_t head = 0;
  bool empty() const { return head == items.size(); }
  size_t size() const { return items.size() - head; }
  const Message& front() const { return items[head]; }
  void pop() {
    if (++head == items.size()) {
      items.clear();
      head = 0;
    }
  }
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
  // Posted and not yet received, by (space, first element): every write looks
  // here, and all-to-all posts hundreds of sends before its first receive.
  std::multimap<std::pair<int, size_t>, PendingSend> pending;
  size_t longestPending = 0;  // bounds how far left of a write an overlap can start
};

class Simulation {
 public:
  Simulation(const CollectiveShape& shape, const std::vector<Schedule>& schedules, bool inPlace)
      : shape_(shape), scheds_(schedules), inPlace_(inPlace), n_(shape.nranks), sets_(shape.nranks) {}

  Status run() {
    LOOM_RETURN_IF_ERROR(checkStatically());
    memory_.assign(static_cast<size_t>(n_), std::vector<RunMap>(kNumBuffers));
    state_.resize(static_cast<size_t>(n_));
    inboxes_.resize(static_cast<size_t>(n_));
    for (int r = 0; r < n_; ++r) {
      const Region in = locate(r, Slice{BufferId::kInput, 0, shape_.inputCount()});
      const Piece input{shape_.inputCount(), sets_.single(r), 0};
      memory_[idx(r)][static_cast<size_t>(in.space)].write(in.lo, std::span<const Piece>(&input, 1));
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
      const bool multi = sched.channels.size() > 1;
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
            if (multi && s.src.count > 0) touched.push_back({locate(r, s.src), c});
          }
          if (writesDst(s.kind)) {
            LOOM_RETURN_IF_ERROR(checkSlice(r, c, i, s, s.dst, "destination"));
            if (multi && s.dst.count > 0) touched.push_back({locate(r, s.dst), c});
          }
          if (readsSrc(s.kind) && writesDst(s.kind) && s.src.count != s.dst.count)
            return Status::invalidArgument("%s: source has %zu elements but destination %zu",
                                           where(r, c, i, s).c_str(), s.src.count, s.dst.count);
        }
      }
      if (multi) LOOM_RETURN_IF_ERROR(checkChannelsDisjoint(r, std::move(touched)));
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

  // Messages from src to dst on channel c. A sender may name a channel the
  // receiver lacks; its messages then wait here and are reported unreceived.
  Fifo& inbox(int dst, size_t c, int src) {
    std::vector<std::vector<Fifo>>& byChannel = inboxes_[idx(dst)];
    if (byChannel.size() <= c) byChannel.resize(c + 1);
    std::vector<Fifo>& bySender = byChannel[c];
    if (bySender.empty()) bySender.resize(idx(n_));
    return bySender[idx(src)];
  }

  const PendingSend* hazard(int r, size_t c, const Region& dst) const {
    const ChannelState& cs = state_[idx(r)][c];
    if (dst.lo == dst.hi || cs.pending.empty()) return nullptr;
    const size_t from = dst.lo > cs.longestPending ? dst.lo - cs.longestPending : 0;
    for (auto it = cs.pending.lower_bound({dst.space, from}); it != cs.pending.end(); ++it) {
      const Region& p = it->second.region;
      if (p.space != dst.space || p.lo >= dst.hi) break;
      if (p.lo < p.hi && dst.lo < p.hi) return &it->second;  // an empty send reads nothing
    }
    return nullptr;
  }

  void readSlice(int r, const Slice& s, std::vector<Piece>* out) const {
    const Region reg = locate(r, s);
    memory_[idx(r)][static_cast<size_t>(reg.space)].read(reg.lo, s.count, out);
  }

  void writeSlice(int r, const Slice& s, std::span<const Piece> pieces) {
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
  Status combine(const At& at, const Slice& aSlice, std::span<const Piece> a, std::span<const Piece> b,
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
        const Region region = locate(r, s.src);
        cs.pending.emplace(std::make_pair(region.space, region.lo), PendingSend{region, id, step, s.peer});
        cs.longestPending = std::max(cs.longestPending, region.hi - region.lo);
        inbox(s.peer, c, r).items.push_back(
            Message{step, id, region.space, region.lo, s.src.count, piecePool_.size(), bufA_.size()});
        piecePool_.insert(piecePool_.end(), bufA_.begin(), bufA_.end());
        wake(s.peer, c);
        return Status::ok();
      }
      case StepKind::kRecv:
      case StepKind::kRecvReduce: {
        Fifo& q = inbox(r, c, s.peer);
        if (q.empty() || hazard(r, c, locate(r, s.dst)) != nullptr) {
          *blocked = true;
          return Status::ok();
        }
        const Message m = q.front();
        const std::span<const Piece> pieces(piecePool_.data() + m.firstPiece, m.pieceCount);
        if (m.count != s.dst.count)
          return Status::invalidArgument(
              "%s expects %zu elements but the matching message (rank %d channel %zu step %zu) has %zu",
              where(r, c, step, s).c_str(), s.dst.count, s.peer, c, m.step, m.count);
        if (s.kind == StepKind::kRecv) {
          writeSlice(r, s.dst, pieces);
        } else {
          readSlice(r, s.src, &bufA_);
          LOOM_RETURN_IF_ERROR(combine(at, s.src, bufA_, pieces, s.dst, &bufOut_));
          writeSlice(r, s.dst, bufOut_);
        }
        auto& pending = state_[idx(s.peer)][c].pending;
        for (auto [it, end] = pending.equal_range({m.space, m.lo}); it != end; ++it) {
          if (it->second.id == m.id) {
            pending.erase(it);
            break;
          }
        }
        q.pop();
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
        // Status messages are bounded, so only the first few are spelled out.
        if (nstuck++ >= 6) continue;
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
                                     nstuck > 6 ? "; ..." : "");
    for (int dst = 0; dst < n_; ++dst) {
      const std::vector<std::vector<Fifo>>& byChannel = inboxes_[idx(dst)];
      for (size_t c = 0; c < byChannel.size(); ++c) {
        for (size_t src = 0; src < byChannel[c].size(); ++src) {
          const Fifo& q = byChannel[c][src];
          if (q.empty()) continue;
          return Status::invalidArgument(
              "rank %zu channel %zu sent %zu message(s) to rank %d that were never received; the first is its step "
              "%zu",
              src, c, q.size(), dst, q.front().step);
        }
      }
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
  std::vector<std::vector<std::vector<Fifo>>> inboxes_;  // [receiver][channel][sender]
  std::vector<Piece> piecePool_;  // every message's data, by position
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
