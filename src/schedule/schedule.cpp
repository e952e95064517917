#include "schedule/schedule.h"

#include <cstdio>

namespace loom {

const char* stepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kSend: return "send";
    case StepKind::kRecv: return "recv";
    case StepKind::kRecvReduce: return "recvReduce";
    case StepKind::kCopy: return "copy";
    case StepKind::kReduce: return "reduce";
  }
  return "invalid";
}

namespace {

const char* bufferName(BufferId id) {
  switch (id) {
    case BufferId::kInput: return "input";
    case BufferId::kOutput: return "output";
    case BufferId::kScratch: return "scratch";
  }
  return "invalid";
}

std::string sliceText(const Slice& s) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s[%zu..%zu)", bufferName(s.buffer), s.offset, s.offset + s.count);
  return buf;
}

}  // namespace

size_t Schedule::stepCount() const {
  size_t n = 0;
  for (const Channel& c : channels) n += c.steps.size();
  return n;
}

std::string Schedule::toString() const {
  char head[128];
  std::snprintf(head, sizeof(head), "rank %d of %d, scratch %zu, %zu channel(s), %zu step(s)\n", rank, nranks,
                scratchCount, channels.size(), stepCount());
  std::string out = head;
  for (size_t c = 0; c < channels.size(); ++c) {
    const std::vector<Step>& steps = channels[c].steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& s = steps[i];
      char prefix[64];
      std::snprintf(prefix, sizeof(prefix), "  ch%zu #%zu %s", c, i, stepKindName(s.kind));
      out += prefix;
      switch (s.kind) {
        case StepKind::kSend: out += " " + sliceText(s.src) + " -> rank " + std::to_string(s.peer); break;
        case StepKind::kRecv: out += " rank " + std::to_string(s.peer) + " -> " + sliceText(s.dst); break;
        case StepKind::kRecvReduce:
          out += " rank " + std::to_string(s.peer) + " + " + sliceText(s.src) + " -> " + sliceText(s.dst);
          break;
        case StepKind::kCopy:
        case StepKind::kReduce: out += " " + sliceText(s.src) + " -> " + sliceText(s.dst); break;
      }
      out += "\n";
    }
  }
  return out;
}

size_t CollectiveShape::inputCount() const {
  const size_t n = nranks > 0 ? static_cast<size_t>(nranks) : 0;
  switch (kind) {
    case CollectiveKind::kAllReduce:
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
    case CollectiveKind::kAllGather: return count;
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return n * count;
    case CollectiveKind::kSendRecv: return 0;
  }
  return 0;
}

size_t CollectiveShape::outputCount() const {
  const size_t n = nranks > 0 ? static_cast<size_t>(nranks) : 0;
  switch (kind) {
    case CollectiveKind::kAllReduce:
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
    case CollectiveKind::kReduceScatter: return count;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kAllToAll: return n * count;
    case CollectiveKind::kSendRecv: return 0;
  }
  return 0;
}

bool CollectiveShape::reduces() const {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduce ||
         kind == CollectiveKind::kReduceScatter;
}

size_t inPlaceInputOffset(const CollectiveShape& shape, int rank) {
  if (shape.kind == CollectiveKind::kAllGather && rank > 0) return static_cast<size_t>(rank) * shape.count;
  return 0;
}

size_t inPlaceOutputOffset(const CollectiveShape& shape, int rank) {
  if (shape.kind == CollectiveKind::kReduceScatter && rank > 0) return static_cast<size_t>(rank) * shape.count;
  return 0;
}

}  // namespace loom
