// Which algorithms `-a all` measures for each collective, and how `-a`'s
// value is read: a number (time aggregation), "all" or a comma list (one
// section per algorithm), or LOOM_ALGO rules for the whole run.
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"
#include "loom/types.h"

namespace loom::perf {

// The section that runs with no algorithm forced: what the planner picks.
inline constexpr const char* kPlannerSection = "auto";

// The algorithms that implement `kind`, in the order `-a all` runs them.
// Empty for sendrecv, which has no algorithm to choose.
const std::vector<std::string>& algorithmsFor(CollectiveKind kind);

// Every algorithm name any collective has, for messages ("ring, tree, ...").
const std::vector<std::string>& allAlgorithmNames();

// True when `text` names one algorithm (case-insensitive).
bool isKnownAlgorithm(const std::string& text);

// What `-a NAME` / `--algo NAME` asks for, once the collective is known.
struct AlgorithmSelection {
  std::vector<std::string> perSection;  // -a all / -a a,b,c: one section each
  std::string rules;                    // otherwise: LOOM_ALGO for the whole run
};

// `flag` is how the user spelled it, for messages.
Result<AlgorithmSelection> parseAlgorithmSelection(const std::string& flag, const std::string& text,
                                                   CollectiveKind kind);

}  // namespace loom::perf
