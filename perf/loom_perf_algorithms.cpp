#include "loom_perf_algorithms.h"

#include <algorithm>
#include <cctype>

#include "loom_perf_options.h"

namespace loom::perf {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

// This table mirrors the library's algorithm registry (algorithms/registry.cpp:
// each algorithm's `collectives`). loom-perf cannot ask the registry: its
// symbols are internal to libloom.so. tests/perf/loom_perf_test.cpp compares
// the two (through `loom-perf -h`), so a new algorithm there fails a test until
// it is added here.
const std::vector<std::string>& algorithmsFor(CollectiveKind kind) {
  static const std::vector<std::string> kAllReduce{"ring", "tree", "rhd", "oneshot", "twoshot", "hier"};
  static const std::vector<std::string> kRooted{"ring", "tree", "hier"};
  static const std::vector<std::string> kGatherScatter{"ring", "hier"};
  static const std::vector<std::string> kAllToAll{"direct", "pairwise", "hier"};
  static const std::vector<std::string> kNone;
  switch (kind) {
    case CollectiveKind::kAllReduce: return kAllReduce;
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce: return kRooted;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter: return kGatherScatter;
    case CollectiveKind::kAllToAll: return kAllToAll;
    case CollectiveKind::kSendRecv: return kNone;
  }
  return kNone;
}

const std::vector<std::string>& allAlgorithmNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kBroadcast, CollectiveKind::kReduce,
                                CollectiveKind::kAllGather, CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll}) {
      for (const std::string& name : algorithmsFor(kind)) {
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
      }
    }
    return out;
  }();
  return names;
}

bool isKnownAlgorithm(const std::string& text) {
  const auto& names = allAlgorithmNames();
  return lower(text) == kPlannerSection || std::find(names.begin(), names.end(), lower(text)) != names.end();
}

Result<AlgorithmSelection> parseAlgorithmSelection(const std::string& flag, const std::string& text,
                                                   CollectiveKind kind) {
  AlgorithmSelection selection;
  const std::vector<std::string>& available = algorithmsFor(kind);
  const std::string collective = collectiveFlagName(kind);
  const bool isRules = text.find_first_of(":;^") != std::string::npos;
  if (lower(trimmed(text)) == "all") {
    if (available.empty()) {
      return Status::invalidArgument("%s all: %s has no algorithms to choose from; drop %s", flag.c_str(),
                                     collective.c_str(), flag.c_str());
    }
    selection.perSection = available;
    selection.perSection.push_back(kPlannerSection);
    return selection;
  }
  if (isRules) {
    // LOOM_ALGO syntax ("allreduce:tree;broadcast:ring", "^ring"): the
    // library checks it when the communicator is created.
    selection.rules = text;
    return selection;
  }
  const bool isList = text.find(',') != std::string::npos;
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string name = lower(trimmed(text.substr(start, end - start)));
    start = end + 1;
    if (name.empty()) {
      return Status::invalidArgument("%s '%s': an empty algorithm name; separate names with single commas",
                                     flag.c_str(), text.c_str());
    }
    if (!isKnownAlgorithm(name)) {
      return Status::invalidArgument("%s '%s': unknown algorithm '%s'; known: %s, or 'all' for every algorithm of "
                                     "the collective (a number 0-3 sets the time aggregation)",
                                     flag.c_str(), text.c_str(), name.c_str(), joined(allAlgorithmNames()).c_str());
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (!isList) {
    // One name: forced for the whole run, as LOOM_ALGO (an algorithm that
    // does not implement the collective leaves it to the default, as there).
    selection.rules = text;
    return selection;
  }
  for (const std::string& name : names) {
    if (name != kPlannerSection && std::find(available.begin(), available.end(), name) == available.end()) {
      if (available.empty()) {
        return Status::invalidArgument("%s '%s': %s has no algorithms to choose from; drop %s", flag.c_str(),
                                       text.c_str(), collective.c_str(), flag.c_str());
      }
      return Status::invalidArgument("%s '%s': %s does not implement %s; %s's algorithms: %s", flag.c_str(),
                                     text.c_str(), name.c_str(), collective.c_str(), collective.c_str(),
                                     joined(available).c_str());
    }
  }
  selection.perSection = names;
  return selection;
}

}  // namespace loom::perf
