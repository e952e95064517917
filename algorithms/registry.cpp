#include "algorithms/registry.h"

#include <strings.h>

#include <cstring>

#include "algorithms/algorithm.h"

namespace loom {
namespace {

using K = CollectiveKind;

std::vector<Algorithm> makeRegistry() {
  std::vector<Algorithm> list;
  list.push_back({"ring", {K::kAllReduce, K::kAllGather, K::kReduceScatter, K::kBroadcast, K::kReduce}, false, false,
                  buildRing});
  list.push_back({"direct", {K::kAllToAll}, false, false, buildAllToAll});
  return list;
}

}  // namespace

bool Algorithm::implements(CollectiveKind kind) const {
  for (CollectiveKind k : collectives) {
    if (k == kind) return true;
  }
  return false;
}

std::string Algorithm::whyNot(CollectiveKind kind, const AlgorithmContext& context) const {
  if (!implements(kind)) return std::string(name) + " does not implement " + collectiveName(kind);
  if (needsDirectReach && !context.directReach) {
    return std::string(name) + " needs every rank to reach every other directly (one host), and this communicator spans hosts";
  }
  if (needsGroups && !context.multipleGroups) {
    return std::string(name) + " needs ranks on more than one host (or NVLink domain)";
  }
  return "";
}

const std::vector<Algorithm>& algorithms() {
  static const std::vector<Algorithm> registry = makeRegistry();
  return registry;
}

const Algorithm* findAlgorithm(std::string_view name) {
  for (const Algorithm& a : algorithms()) {
    if (name.size() == std::strlen(a.name) && strncasecmp(name.data(), a.name, name.size()) == 0) return &a;
  }
  return nullptr;
}

std::string algorithmNames() {
  std::string out;
  for (const Algorithm& a : algorithms()) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return out;
}

const Algorithm& defaultAlgorithm(CollectiveKind kind) {
  return *findAlgorithm(kind == CollectiveKind::kAllToAll ? "direct" : "ring");
}

}  // namespace loom
