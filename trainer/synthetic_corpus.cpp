#include "trainer/synthetic_corpus.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace loom::trainer {

// The chain as integer tables. Contexts are numbered so that generation needs
// no search: context c = a * K + k stands for the pair (a, b) where b is a's
// k-th successor. Only such pairs can ever occur, so there are V * K contexts,
// and after emitting b's j-th successor the new context is simply b * K + j.
struct MarkovTables {
  uint32_t vocabSize = 0;
  uint32_t successorsPerToken = 0;  // K
  uint32_t favouredWeight = 0;
  uint64_t favourSeed = 0;
  std::vector<uint16_t> successors;        // [b * K + j]: S(b), ascending
  std::vector<uint32_t> successorWeights;  // [b * K + j]: weight(b, S(b)[j]), 1 or 2
  std::vector<uint32_t> cumulativeWeights; // [c * K + j]: running sum of context c's weights

  // The coin flip "does token a favour x", as a hash so it needs no V x V table.
  bool favours(uint32_t twoBack, uint32_t next) const {
    return (hashPair(favourSeed, (uint64_t{twoBack} << 16) | next) & 1) != 0;
  }
  // Unnormalised weight of b's j-th successor after the pair (a, b).
  uint32_t weight(uint32_t twoBack, uint32_t previous, uint32_t slot) const {
    const size_t index = size_t{previous} * successorsPerToken + slot;
    return successorWeights[index] * (favours(twoBack, successors[index]) ? favouredWeight : 1);
  }
  size_t contextCount() const { return successors.size(); }
};

namespace {

// Independent generator streams derived from the one user seed.
constexpr uint64_t kChainStream = 0x636861696E;        // "chain"
constexpr uint64_t kFavourStream = 0x6661766F7572;     // "favour"
constexpr uint64_t kFirstTokenStream = 0x73747265616D;  // "stream"; + split

constexpr uint32_t kMaxVocabSize = 65536;
constexpr uint32_t kMaxSuccessorsPerToken = 16;
constexpr uint32_t kMaxFavouredWeight = 1u << 20;
constexpr uint32_t kSuccessorWeightLevels = 2;  // weight(b, x) is 1 or 2

// Power iteration stops when one step moves the distribution by less than this (L1).
constexpr double kStationaryTolerance = 1e-14;
constexpr int kMaxPowerIterations = 200000;

Status validateSpec(const SyntheticCorpusSpec& spec) {
  if (spec.vocabSize < 2 || spec.vocabSize > kMaxVocabSize) {
    return Status::invalidArgument("synthetic corpus: vocabSize %u is outside 2..%u", spec.vocabSize,
                                   kMaxVocabSize);
  }
  const uint32_t maxSuccessors = std::min(spec.vocabSize, kMaxSuccessorsPerToken);
  if (spec.successorsPerToken < 2 || spec.successorsPerToken > maxSuccessors) {
    return Status::invalidArgument(
        "synthetic corpus: successorsPerToken %u is outside 2..%u (at most min(vocabSize %u, %u))",
        spec.successorsPerToken, maxSuccessors, spec.vocabSize, kMaxSuccessorsPerToken);
  }
  if (spec.favouredWeight < 1 || spec.favouredWeight > kMaxFavouredWeight) {
    return Status::invalidArgument("synthetic corpus: favouredWeight %u is outside 1..%u",
                                   spec.favouredWeight, kMaxFavouredWeight);
  }
  return Status::ok();
}

std::shared_ptr<MarkovTables> buildTables(const SyntheticCorpusSpec& spec) {
  auto tables = std::make_shared<MarkovTables>();
  const uint32_t vocab = spec.vocabSize;
  const uint32_t fanOut = spec.successorsPerToken;
  tables->vocabSize = vocab;
  tables->successorsPerToken = fanOut;
  tables->favouredWeight = spec.favouredWeight;
  tables->favourSeed = hashPair(spec.seed, kFavourStream);
  Xoshiro256 random(hashPair(spec.seed, kChainStream));

  // A random cyclic order of all tokens (Fisher-Yates); each token's successor
  // on it is always allowed, which makes the chain irreducible.
  std::vector<uint32_t> cycle(vocab);
  std::iota(cycle.begin(), cycle.end(), 0u);
  for (uint32_t i = vocab - 1; i > 0; --i) {
    std::swap(cycle[i], cycle[random.uniformBelow(i + 1)]);
  }
  std::vector<uint32_t> cycleNext(vocab);
  for (uint32_t i = 0; i < vocab; ++i) cycleNext[cycle[i]] = cycle[(i + 1) % vocab];

  tables->successors.resize(size_t{vocab} * fanOut);
  tables->successorWeights.resize(size_t{vocab} * fanOut);
  std::vector<uint32_t> chosen;
  for (uint32_t token = 0; token < vocab; ++token) {
    chosen.assign(1, cycleNext[token]);
    // A shortcut past one cycle step adds a cycle of length V - 1: aperiodic.
    if (token == cycle[0] && cycleNext[cycleNext[token]] != chosen[0]) {
      chosen.push_back(cycleNext[cycleNext[token]]);
    }
    while (chosen.size() < fanOut) {
      const auto candidate = static_cast<uint32_t>(random.uniformBelow(vocab));
      if (std::find(chosen.begin(), chosen.end(), candidate) == chosen.end()) {
        chosen.push_back(candidate);
      }
    }
    std::sort(chosen.begin(), chosen.end());
    for (uint32_t slot = 0; slot < fanOut; ++slot) {
      const size_t index = size_t{token} * fanOut + slot;
      tables->successors[index] = static_cast<uint16_t>(chosen[slot]);
      tables->successorWeights[index] =
          1 + static_cast<uint32_t>(random.uniformBelow(kSuccessorWeightLevels));
    }
  }

  tables->cumulativeWeights.resize(tables->contextCount() * fanOut);
  for (size_t context = 0; context < tables->contextCount(); ++context) {
    const auto twoBack = static_cast<uint32_t>(context / fanOut);
    const uint32_t previous = tables->successors[context];
    uint32_t running = 0;
    for (uint32_t slot = 0; slot < fanOut; ++slot) {
      running += tables->weight(twoBack, previous, slot);
      tables->cumulativeWeights[context * fanOut + slot] = running;
    }
  }
  return tables;
}

double entropyTerm(double probability) {
  return probability > 0 ? -probability * std::log(probability) : 0.0;
}

}  // namespace

SyntheticTokenStream::SyntheticTokenStream(std::shared_ptr<const MarkovTables> tables,
                                           uint64_t seed)
    : tables_(std::move(tables)), random_(seed) {
  context_ = static_cast<uint32_t>(random_.uniformBelow(tables_->contextCount()));
  for (uint32_t i = 0; i < SyntheticCorpus::kBurnInTokens; ++i) next();
}

uint16_t SyntheticTokenStream::next() {
  const MarkovTables& tables = *tables_;
  const uint32_t fanOut = tables.successorsPerToken;
  const uint32_t* cumulative = &tables.cumulativeWeights[size_t{context_} * fanOut];
  const uint64_t draw = random_.uniformBelow(cumulative[fanOut - 1]);
  uint32_t slot = 0;
  while (draw >= cumulative[slot]) ++slot;
  const uint32_t previous = tables.successors[context_];
  context_ = previous * fanOut + slot;
  return tables.successors[context_];
}

void SyntheticTokenStream::fill(std::span<uint16_t> tokens) {
  for (uint16_t& token : tokens) token = next();
}

Result<SyntheticCorpus> SyntheticCorpus::create(const SyntheticCorpusSpec& spec) {
  LOOM_RETURN_IF_ERROR(validateSpec(spec));
  SyntheticCorpus corpus;
  corpus.spec_ = spec;
  std::shared_ptr<MarkovTables> tables = buildTables(spec);
  corpus.tables_ = tables;

  const uint32_t fanOut = spec.successorsPerToken;
  const size_t contexts = tables->contextCount();
  // probabilities[c * K + j] = P(b's j-th successor | context c)
  std::vector<double> probabilities(contexts * fanOut);
  for (size_t context = 0; context < contexts; ++context) {
    const uint32_t* cumulative = &tables->cumulativeWeights[context * fanOut];
    const double total = cumulative[fanOut - 1];
    uint32_t before = 0;
    for (uint32_t slot = 0; slot < fanOut; ++slot) {
      probabilities[context * fanOut + slot] = (cumulative[slot] - before) / total;
      before = cumulative[slot];
    }
  }

  // Stationary distribution over contexts by power iteration; it converges
  // because the context chain is irreducible and aperiodic (see the header).
  std::vector<double> stationary(contexts, 1.0 / static_cast<double>(contexts));
  std::vector<double> stepped(contexts);
  bool converged = false;
  for (int iteration = 0; iteration < kMaxPowerIterations && !converged; ++iteration) {
    std::fill(stepped.begin(), stepped.end(), 0.0);
    for (size_t context = 0; context < contexts; ++context) {
      const size_t firstNext = size_t{tables->successors[context]} * fanOut;
      for (uint32_t slot = 0; slot < fanOut; ++slot) {
        stepped[firstNext + slot] += stationary[context] * probabilities[context * fanOut + slot];
      }
    }
    double change = 0;
    for (size_t context = 0; context < contexts; ++context) {
      change += std::fabs(stepped[context] - stationary[context]);
    }
    stationary.swap(stepped);
    converged = change < kStationaryTolerance;
  }
  if (!converged) {
    return Status::internal(
        "synthetic corpus: stationary distribution did not converge in %d iterations (vocabSize "
        "%u, successorsPerToken %u, favouredWeight %u, seed %llu)",
        kMaxPowerIterations, spec.vocabSize, fanOut, spec.favouredWeight,
        static_cast<unsigned long long>(spec.seed));
  }
  const double mass = std::accumulate(stationary.begin(), stationary.end(), 0.0);
  for (double& probability : stationary) probability /= mass;

  // H(X | a, b) averaged over contexts; and, pooling contexts by their last
  // token b, the marginal of b and the mixture over b's successors.
  std::vector<double> tokenMarginal(spec.vocabSize, 0.0);
  std::vector<double> successorMixture(size_t{spec.vocabSize} * fanOut, 0.0);
  double entropyRate = 0;
  corpus.stationaryContexts_.reserve(contexts);
  for (size_t context = 0; context < contexts; ++context) {
    const uint32_t previous = tables->successors[context];
    double contextEntropy = 0;
    for (uint32_t slot = 0; slot < fanOut; ++slot) {
      const double probability = probabilities[context * fanOut + slot];
      contextEntropy += entropyTerm(probability);
      successorMixture[size_t{previous} * fanOut + slot] += stationary[context] * probability;
    }
    entropyRate += stationary[context] * contextEntropy;
    tokenMarginal[previous] += stationary[context];
    corpus.stationaryContexts_.push_back({static_cast<uint16_t>(context / fanOut),
                                          static_cast<uint16_t>(previous), stationary[context]});
  }
  double oneTokenConditional = 0;
  double marginal = 0;
  for (uint32_t token = 0; token < spec.vocabSize; ++token) {
    marginal += entropyTerm(tokenMarginal[token]);
    if (tokenMarginal[token] <= 0) continue;
    for (uint32_t slot = 0; slot < fanOut; ++slot) {
      // H(X | b) = sum_b P(b) H(X | B = b) = sum_{b,x} -P(b, x) log(P(b, x) / P(b))
      const double joint = successorMixture[size_t{token} * fanOut + slot];
      if (joint > 0) oneTokenConditional -= joint * std::log(joint / tokenMarginal[token]);
    }
  }
  corpus.entropyRate_ = entropyRate;
  corpus.oneTokenConditionalEntropy_ = oneTokenConditional;
  corpus.marginalEntropy_ = marginal;
  return corpus;
}

SyntheticTokenStream SyntheticCorpus::stream(CorpusSplit split) const {
  return SyntheticTokenStream(
      tables_, hashPair(spec_.seed, kFirstTokenStream + static_cast<uint64_t>(split)));
}

std::vector<uint16_t> SyntheticCorpus::generate(CorpusSplit split, size_t count) const {
  std::vector<uint16_t> tokens(count);
  stream(split).fill(tokens);
  return tokens;
}

std::span<const uint16_t> SyntheticCorpus::successors(uint16_t token) const {
  if (token >= spec_.vocabSize) return {};
  return std::span<const uint16_t>(tables_->successors)
      .subspan(size_t{token} * spec_.successorsPerToken, spec_.successorsPerToken);
}

double SyntheticCorpus::nextTokenProbability(uint16_t twoBack, uint16_t previous,
                                             uint16_t next) const {
  if (twoBack >= spec_.vocabSize || previous >= spec_.vocabSize) return 0;
  const std::span<const uint16_t> allowed = successors(previous);
  const auto found = std::find(allowed.begin(), allowed.end(), next);
  if (found == allowed.end()) return 0;
  double total = 0;
  for (uint32_t slot = 0; slot < spec_.successorsPerToken; ++slot) {
    total += tables_->weight(twoBack, previous, slot);
  }
  const auto slot = static_cast<uint32_t>(found - allowed.begin());
  return tables_->weight(twoBack, previous, slot) / total;
}

double SyntheticCorpus::bestCrossEntropyAtPosition(size_t position) const {
  return position == 0 ? oneTokenConditionalEntropy_ : entropyRate_;
}

double SyntheticCorpus::bestMeanCrossEntropy(size_t sequenceLength) const {
  if (sequenceLength == 0) return 0;
  const double laterPositions = static_cast<double>(sequenceLength - 1);
  return (oneTokenConditionalEntropy_ + laterPositions * entropyRate_) /
         static_cast<double>(sequenceLength);
}

}  // namespace loom::trainer
