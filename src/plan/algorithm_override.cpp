#include "plan/algorithm_override.h"

#include <strings.h>

#include <algorithm>

#include "common/string_list.h"

namespace loom {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::optional<CollectiveKind> collectiveByName(const std::string& name) {
  static const std::pair<const char*, CollectiveKind> names[] = {
      {"allreduce", CollectiveKind::kAllReduce},         {"broadcast", CollectiveKind::kBroadcast},
      {"reduce", CollectiveKind::kReduce},               {"allgather", CollectiveKind::kAllGather},
      {"reducescatter", CollectiveKind::kReduceScatter}, {"alltoall", CollectiveKind::kAllToAll}};
  for (const auto& [text, kind] : names) {
    if (strcasecmp(name.c_str(), text) == 0) return kind;
  }
  return std::nullopt;
}

Result<AlgorithmOverride> AlgorithmOverride::parse(const std::string& text) {
  AlgorithmOverride o;
  o.text_ = text;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string clause = trim(text.substr(start, end - start));
    start = end + 1;
    if (clause.empty()) continue;

    std::optional<CollectiveKind> kind;
    size_t colon = clause.find(':');
    if (colon != std::string::npos) {
      std::string collective = trim(clause.substr(0, colon));
      kind = collectiveByName(collective);
      if (!kind) {
        return Status::invalidArgument("LOOM_ALGO='%s': unknown collective '%s' (known: allreduce, broadcast, reduce, "
                                       "allgather, reducescatter, alltoall)", text.c_str(), collective.c_str());
      }
      clause = trim(clause.substr(colon + 1));
    }
    Rule rule;
    if (!clause.empty() && clause[0] == '^') {
      rule.exclude = true;
      clause = clause.substr(1);
    }
    for (const std::string& item : splitCommaList(clause)) {
      std::string name = trim(item);
      const Algorithm* a = findAlgorithm(name);
      if (a == nullptr) {
        return Status::invalidArgument("LOOM_ALGO='%s': unknown algorithm '%s' (known: %s)", text.c_str(),
                                       name.c_str(), algorithmNames().c_str());
      }
      rule.algorithms.push_back(a);
    }
    if (rule.algorithms.empty()) {
      return Status::invalidArgument("LOOM_ALGO='%s': a rule names no algorithm", text.c_str());
    }
    if (kind) {
      o.perCollective_[*kind] = rule;
    } else {
      o.everyCollective_ = rule;
    }
  }
  return o;
}

const AlgorithmOverride::Rule* AlgorithmOverride::ruleFor(CollectiveKind kind) const {
  auto it = perCollective_.find(kind);
  if (it != perCollective_.end()) return &it->second;
  if (!everyCollective_) return nullptr;
  // A rule for all collectives does not apply to one it has nothing for
  // (NCCL_ALGO=Tree still lets all-to-all run).
  if (!everyCollective_->exclude &&
      std::none_of(everyCollective_->algorithms.begin(), everyCollective_->algorithms.end(),
                   [&](const Algorithm* a) { return a->implements(kind); })) {
    return nullptr;
  }
  return &*everyCollective_;
}

Result<std::vector<const Algorithm*>> AlgorithmOverride::candidates(CollectiveKind kind,
                                                                    const AlgorithmContext& context) const {
  const Rule* rule = ruleFor(kind);
  auto valid = [&](const Algorithm* a) { return a->whyNot(kind, context).empty(); };
  std::vector<const Algorithm*> out;
  if (rule == nullptr || rule->exclude) {
    auto excluded = [&](const Algorithm* a) {
      return rule != nullptr && std::find(rule->algorithms.begin(), rule->algorithms.end(), a) != rule->algorithms.end();
    };
    const Algorithm* preferred = &defaultAlgorithm(kind);
    if (!excluded(preferred) && valid(preferred)) out.push_back(preferred);
    for (const Algorithm& a : algorithms()) {
      if (&a != preferred && !excluded(&a) && valid(&a)) out.push_back(&a);
    }
    if (out.empty()) {
      return Status::invalidArgument("LOOM_ALGO='%s' excludes every algorithm that can run %s here", text_.c_str(),
                                     collectiveName(kind));
    }
    return out;
  }
  std::string reasons;
  for (const Algorithm* a : rule->algorithms) {
    if (valid(a)) {
      out.push_back(a);
    } else {
      reasons += (reasons.empty() ? "" : "; ") + a->whyNot(kind, context);
    }
  }
  if (out.empty()) {
    return Status::invalidArgument("LOOM_ALGO='%s' forces %s to an algorithm that cannot run it: %s", text_.c_str(),
                                   collectiveName(kind), reasons.c_str());
  }
  return out;
}

}  // namespace loom
