#include "plan/planner.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "algorithms/ring_orders.h"
#include "plan/bus_bandwidth.h"

namespace loom {
namespace {

// Predictions closer than this ratio count as equal.
constexpr double kModelResolution = 1.02;

bool countIsPerRank(CollectiveKind kind) {
  return kind == CollectiveKind::kAllGather || kind == CollectiveKind::kReduceScatter ||
         kind == CollectiveKind::kAllToAll;
}

size_t bytesForCount(CollectiveKind kind, size_t count, size_t elementBytes, int nranks) {
  return count * elementBytes * (countIsPerRank(kind) ? static_cast<size_t>(nranks) : 1);
}

size_t roundUpToPowerOfTwo(size_t bytes) {
  size_t p = 1;
  while (p < bytes) p <<= 1;
  return bytes == 0 ? 0 : p;
}

std::string formatBytes(size_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

}  // namespace

size_t countForBytes(CollectiveKind kind, size_t bytes, size_t elementBytes, int nranks) {
  size_t perElement = elementBytes * (countIsPerRank(kind) ? static_cast<size_t>(nranks) : 1);
  return bytes / perElement;
}

Planner::Planner(PlannerSetup setup) : setup_(std::move(setup)) {}

BuildOptions Planner::buildOptions(const PlanChoice& choice, size_t elementBytes) const {
  BuildOptions options;
  options.channels = choice.channels;
  options.pipelineElements = choice.chunkBytes == 0 ? 0 : std::max<size_t>(1, choice.chunkBytes / elementBytes);
  options.groupOf = setup_.groupOf;
  if (choice.channels > 1) options.ringOrders = complementaryRingOrders(nranks(), choice.channels);
  return options;
}

Result<double> Planner::predict(CollectiveKind kind, size_t count, size_t elementBytes, const Algorithm& algorithm,
                                const BuildOptions& options) const {
  CollectiveShape shape{kind, nranks(), count, 0};
  std::vector<Schedule> schedules;
  for (int r = 0; r < nranks(); ++r) {
    auto s = algorithm.build(shape, r, options);
    if (!s.isOk()) return s.status();
    schedules.push_back(std::move(s.value()));
  }
  LOOM_ASSIGN_OR_RETURN(CostEstimate cost, predictCost(schedules, elementBytes, setup_.placement, setup_.parameters));
  return cost.timeUs;
}

Result<std::vector<PlanChoice>> Planner::rankCandidates(CollectiveKind kind, size_t bytes, size_t elementBytes,
                                                        bool alwaysPredict) const {
  LOOM_ASSIGN_OR_RETURN(std::vector<const Algorithm*> algorithms, setup_.allowed.candidates(kind, setup_.context));
  size_t count = countForBytes(kind, bytes, elementBytes, nranks());
  std::vector<int> channelChoices;
  for (int c = 1; c < setup_.maxChannels; c *= 2) channelChoices.push_back(c);
  channelChoices.push_back(std::max(1, setup_.maxChannels));

  std::vector<PlanChoice> out;
  if (algorithms.size() == 1 && channelChoices.size() == 1 && setup_.chunkBytesChoices.size() == 1 && !alwaysPredict) {
    // Nothing to choose (a forced algorithm on one channel): no simulation.
    out.push_back({algorithms.front(), channelChoices.front(), setup_.chunkBytesChoices.front(), 0, bytes, 0});
    return out;
  }
  Status lastError;
  for (const Algorithm* algorithm : algorithms) {
    for (int channels : channelChoices) {
      for (size_t chunk : setup_.chunkBytesChoices) {
        PlanChoice c{algorithm, channels, chunk, 0, bytes, 0};
        auto time = predict(kind, count, elementBytes, *algorithm, buildOptions(c, elementBytes));
        if (!time.isOk()) {
          lastError = time.status();
          continue;
        }
        c.predictedUs = time.value();
        double algBwGBs = c.predictedUs > 0 ? static_cast<double>(bytes) / (c.predictedUs * 1e3) : 0;
        c.busBwGBs = algBwGBs * busBandwidthFactor(kind, nranks());
        out.push_back(c);
      }
    }
  }
  if (out.empty()) return lastError.withContext(std::string("planning ") + collectiveName(kind));
  std::stable_sort(out.begin(), out.end(),
                   [](const PlanChoice& a, const PlanChoice& b) { return a.predictedUs < b.predictedUs; });
  // The model cannot tell candidates a few percent apart; among those, the
  // simpler wins: earlier in the registry (ring first), then fewer channels.
  auto simplicity = [](const PlanChoice& c) { return std::make_tuple(c.algorithm - loom::algorithms().data(), c.channels); };
  auto chosen = out.begin();
  for (auto it = out.begin(); it != out.end() && it->predictedUs <= out.front().predictedUs * kModelResolution; ++it) {
    if (simplicity(*it) < simplicity(*chosen)) chosen = it;
  }
  std::rotate(out.begin(), chosen, chosen + 1);
  return out;
}

Result<PlanChoice> Planner::choose(CollectiveKind kind, size_t count, size_t elementBytes) {
  size_t sizeClass = roundUpToPowerOfTwo(bytesForCount(kind, count, elementBytes, nranks()));
  auto key = std::make_tuple(kind, sizeClass, static_cast<int>(elementBytes));
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = decisions_.find(key);
  if (it != decisions_.end()) return it->second;
  LOOM_ASSIGN_OR_RETURN(std::vector<PlanChoice> ranked, rankCandidates(kind, sizeClass, elementBytes, false));
  decisions_.emplace(key, ranked.front());
  return ranked.front();
}

std::string Planner::decisionTable(const std::vector<CollectiveKind>& kinds, const std::vector<size_t>& sizes,
                                   size_t elementBytes) const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-14s %10s  %-9s %3s %8s %12s %12s   %s\n", "collective", "size", "algorithm",
                "ch", "chunk", "time(us)", "busbw(GB/s)", "runner-up");
  out += line;
  for (CollectiveKind kind : kinds) {
    for (size_t bytes : sizes) {
      auto ranked = rankCandidates(kind, bytes, elementBytes);
      if (!ranked.isOk()) {
        out += std::string(collectiveName(kind)) + " " + formatBytes(bytes) + ": " + ranked.status().message() + "\n";
        continue;
      }
      const PlanChoice& best = ranked.value().front();
      std::string runnerUp = "-";
      for (const PlanChoice& c : ranked.value()) {
        if (c.algorithm != best.algorithm) {
          std::snprintf(line, sizeof(line), "%s %.1f us", c.algorithm->name, c.predictedUs);
          runnerUp = line;
          break;
        }
      }
      std::snprintf(line, sizeof(line), "%-14s %10s  %-9s %3d %8s %12.1f %12.2f   %s\n", collectiveName(kind),
                    formatBytes(bytes).c_str(), best.algorithm->name, best.channels,
                    best.chunkBytes == 0 ? "-" : formatBytes(best.chunkBytes).c_str(), best.predictedUs,
                    best.busBwGBs, runnerUp.c_str());
      out += line;
    }
  }
  return out;
}

}  // namespace loom
