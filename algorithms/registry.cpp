#include "algorithms/registry.h"

#include <strings.h>

#include <cstring>

#include "algorithms/algorithm.h"
#include "algorithms/all_to_all.h"
#include "algorithms/direct.h"
#include "algorithms/halving_doubling.h"
#include "algorithms/hierarchical.h"
#include "algorithms/tree.h"

namespace loom {
namespace {

using K = CollectiveKind;

// One name for two-level schedules: all-to-all aggregates per host, the
// others reduce or gather inside hosts and exchange across them.
Result<Schedule> buildHier(const CollectiveShape& shape, int rank, const BuildOptions& options) {
  if (shape.kind == K::kAllToAll) return buildHierarchicalAllToAll(shape, rank, options);
  return buildHierarchical(shape, rank, options);
}

std::vector<Algorithm> makeRegistry() {
  std::vector<Algorithm> list;
  list.push_back({"ring", {K::kAllReduce, K::kAllGather, K::kReduceScatter, K::kBroadcast, K::kReduce}, false, false,
                  buildRing});
  list.push_back({"tree", {K::kAllReduce, K::kBroadcast, K::kReduce}, false, false, buildDoubleBinaryTree});
  list.push_back({"hier", {K::kAllReduce, K::kAllGather, K::kReduceScatter, K::kBroadcast, K::kReduce, K::kAllToAll},
                  false, true, buildHier});
  list.push_back({"rhd", {K::kAllReduce}, false, false, buildHalvingDoubling});
  list.push_back({"oneshot", {K::kAllReduce}, true, false, buildOneShot});
  list.push_back({"twoshot", {K::kAllReduce}, true, false, buildTwoShot});
  list.push_back({"direct", {K::kAllToAll}, false, false, buildAllToAll});
  list.push_back({"pairwise", {K::kAllToAll}, false, false, buildPairwiseAllToAll});
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
