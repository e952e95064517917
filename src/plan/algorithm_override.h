// LOOM_ALGO (NCCL_ALGO accepted): the user's word on which algorithm runs.
//
// Syntax, as NCCL's:  "ring"  |  "ring,tree"  |  "^tree"  |
// "allreduce:tree;broadcast:ring"  |  "allreduce:^ring,tree". A list allows
// those algorithms (first valid one wins), "^" excludes them, and
// "collective:" limits a rule to one collective. Names are case-insensitive.
// What is left after the rules is the planner's to choose from by cost.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/registry.h"

namespace loom {

// "allreduce", "broadcast", "reduce", "allgather", "reducescatter",
// "alltoall" (case-insensitive), as LOOM_ALGO and loom-topo's --coll spell them.
std::optional<CollectiveKind> collectiveByName(const std::string& name);

class AlgorithmOverride {
 public:
  // An empty text allows everything.
  static Result<AlgorithmOverride> parse(const std::string& text);

  // The algorithms that may run `kind` here, never empty: a list's valid
  // entries in its order, else every valid algorithm not excluded, the
  // default (ring; direct for all-to-all) first. An error names the
  // collective, the forced algorithm and why it cannot run.
  Result<std::vector<const Algorithm*>> candidates(CollectiveKind kind, const AlgorithmContext& context) const;

 private:
  struct Rule {
    bool exclude = false;
    std::vector<const Algorithm*> algorithms;
  };
  const Rule* ruleFor(CollectiveKind kind) const;
  std::optional<Rule> everyCollective_;
  std::map<CollectiveKind, Rule> perCollective_;
  std::string text_;
};

}  // namespace loom
