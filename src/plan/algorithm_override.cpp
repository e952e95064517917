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

}  // namespace

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

Result<const Algorithm*> AlgorithmOverride::choose(CollectiveKind kind, const AlgorithmContext& context) const {
  auto it = perCollective_.find(kind);
  const Rule* rule = it != perCollective_.end() ? &it->second : (everyCollective_ ? &*everyCollective_ : nullptr);
  const Algorithm& preferred = defaultAlgorithm(kind);
  auto valid = [&](const Algorithm* a) { return a->whyNot(kind, context).empty(); };
  auto excluded = [&](const Algorithm* a) {
    return rule != nullptr && rule->exclude &&
           std::find(rule->algorithms.begin(), rule->algorithms.end(), a) != rule->algorithms.end();
  };

  if (rule == nullptr || rule->exclude) {
    if (!excluded(&preferred) && valid(&preferred)) return &preferred;
    for (const Algorithm& a : algorithms()) {
      if (!excluded(&a) && valid(&a)) return &a;
    }
    return Status::invalidArgument("LOOM_ALGO='%s' excludes every algorithm that can run %s here", text_.c_str(),
                                   collectiveName(kind));
  }
  // A rule for all collectives does not apply to one it has nothing for
  // (NCCL_ALGO=Tree still lets all-to-all run).
  bool anyImplements = false;
  std::string reasons;
  for (const Algorithm* a : rule->algorithms) {
    if (valid(a)) return a;
    anyImplements = anyImplements || a->implements(kind);
    reasons += (reasons.empty() ? "" : "; ") + a->whyNot(kind, context);
  }
  if (it == perCollective_.end() && !anyImplements) return &preferred;
  return Status::invalidArgument("LOOM_ALGO='%s' forces %s to an algorithm that cannot run it: %s", text_.c_str(),
                                 collectiveName(kind), reasons.c_str());
}

}  // namespace loom
