// A synthetic training corpus with a known answer: tokens from a seeded
// order-2 Markov chain whose entropy rate is computed exactly, so a training
// run can be judged against the best loss any model could reach.
//
// The chain. Each next token x depends on the previous token b and the one
// before it, a:
//
//   P(x | a, b)  proportional to  weight(b, x) * (favoured(a, x) ? F : 1)   for x in S(b)
//                = 0                                                         otherwise
//
//   S(b)            the successors of b: K distinct tokens (default 6), drawn at random
//   weight(b, x)    1 or 2, drawn at random per successor
//   favoured(a, x)  a fair coin per token pair (a, x): the token two back
//                   favours about half of the vocabulary
//   F               the favoured weight (default 64)
//
// So after b only K tokens can follow, and the token two back decides which
// of them are likely: a context (a, b) has on average 2-4 likely successors
// (its perplexity is about 3 by default) and never a certain one.
//
// Why this shape. A tiny GPT (2 layers, 64 channels, context 64) has to be able
// to learn it in a few hundred steps, yet it must not be learnable by a bigram
// model alone, or "close to the entropy rate" would prove nothing about
// attention. A chain with an independent random table per context (a, b) would
// have V^2 = 4096 unrelated distributions to memorise, far too many for such a
// model in so few steps. Here log P(x | a, b) is a sum of a term in (b, x) and
// a term in (a, x): exactly what a transformer represents with its direct path
// (embedding of b to logits) plus one attention head that looks one position
// back (the "skip-trigram" a 1-layer model learns early). With the defaults
// (V = 64, K = 6, F = 64, seed 1): log V = 4.159 nats, the best unigram model
// gets 4.061, the best bigram model 1.639, and the entropy rate is 1.154
// (1.161 averaged over a window of T = 64), so reaching within 10% of the
// rate needs the order-2 term. V = 64 keeps the embedding
// tables small while leaving the unigram baseline far above the target.
//
// Guarantees. S(b) always contains b's successor on a random cyclic order of
// all V tokens, and one token's set also contains the token two steps along
// that cycle, giving cycles of length V and V - 1: the chain over contexts is
// irreducible and aperiodic, so it has one stationary distribution and the
// stream forgets its start. Generation uses integer arithmetic only (cumulative
// integer weights, Xoshiro256, unbiased bounded integers), so a seed gives the
// same tokens on every machine and compiler. Only the reported entropies use
// floating point.
//
// Streams. The chain is fixed by the seed; the train and validation splits are
// different generator streams over the same chain. Each stream starts from a
// seeded context and discards kBurnInTokens tokens first, so its output is
// stationary from the first token on (the burn-in is far longer than the
// chain's mixing time).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "loom/status.h"
#include "trainer/random.h"

namespace loom::trainer {

struct SyntheticCorpusSpec {
  // Tokens 0 .. vocabSize - 1; at least 2, at most 65536 (token files hold uint16).
  uint32_t vocabSize = 64;
  // K: how many tokens may follow a given token; 2 .. min(vocabSize, 16).
  uint32_t successorsPerToken = 6;
  // F: how much more likely a successor is when the token two back favours it;
  // 1 makes the chain order-1. At most 2^20 (keeps the integer weights small).
  uint32_t favouredWeight = 64;
  // Fixes the chain and both streams.
  uint64_t seed = 1;
};

enum class CorpusSplit : uint32_t { kTrain = 0, kValidation = 1 };

// A context that can occur (b is a successor of a) and its stationary probability.
struct ContextProbability {
  uint16_t twoBack = 0;   // a
  uint16_t previous = 0;  // b
  double probability = 0;
};

struct MarkovTables;  // the chain's integer tables, shared by the corpus and its streams

// An endless stream of tokens from the chain. Cheap to copy; a copy continues
// independently from the same point.
class SyntheticTokenStream {
 public:
  uint16_t next();
  void fill(std::span<uint16_t> tokens);

 private:
  friend class SyntheticCorpus;
  SyntheticTokenStream(std::shared_ptr<const MarkovTables> tables, uint64_t seed);

  std::shared_ptr<const MarkovTables> tables_;
  Xoshiro256 random_;
  uint32_t context_ = 0;  // index of the current (twoBack, previous) pair, see synthetic_corpus.cpp
};

class SyntheticCorpus {
 public:
  static constexpr uint32_t kBurnInTokens = 1024;

  // Builds the chain and computes its stationary distribution and entropies
  // (power iteration over the V*K contexts that can occur; milliseconds for
  // the defaults). Refuses out-of-range spec values, naming them.
  static Result<SyntheticCorpus> create(const SyntheticCorpusSpec& spec = {});

  const SyntheticCorpusSpec& spec() const { return spec_; }
  uint32_t vocabSize() const { return spec_.vocabSize; }

  SyntheticTokenStream stream(CorpusSplit split) const;
  // The first `count` tokens of stream(split); 10M tokens take about 0.25 s.
  std::vector<uint16_t> generate(CorpusSplit split, size_t count) const;

  // The tokens that may follow `token`, ascending (empty if token >= vocabSize).
  std::span<const uint16_t> successors(uint16_t token) const;
  // P(next | twoBack, previous), exactly as the generator samples it (defined
  // for every pair, including pairs the chain never produces); 0 for ids out of range.
  double nextTokenProbability(uint16_t twoBack, uint16_t previous, uint16_t next) const;
  // Every context that can occur, with its stationary probability (sums to 1).
  const std::vector<ContextProbability>& stationaryContexts() const { return stationaryContexts_; }

  // Entropies in nats under the stationary distribution:
  //   entropyRate()                 H(X_t | X_t-1, X_t-2): the best loss per token
  //                                 with two or more tokens of context
  //   oneTokenConditionalEntropy()  H(X_t | X_t-1): the best loss with one token
  //                                 of context (and of any bigram model)
  //   marginalEntropy()             H(X_t): the best loss with no context (and of any unigram model)
  double entropyRate() const { return entropyRate_; }
  double oneTokenConditionalEntropy() const { return oneTokenConditionalEntropy_; }
  double marginalEntropy() const { return marginalEntropy_; }

  // The best achievable expected cross-entropy of the prediction at `position`
  // of a training window: the model reads inputs 0..position and predicts the
  // token after them. Position 0 has one token of context, so it costs
  // oneTokenConditionalEntropy(); every later position costs entropyRate().
  // (No position costs marginalEntropy(): a GPT never predicts its first input.)
  double bestCrossEntropyAtPosition(size_t position) const;
  // The mean of bestCrossEntropyAtPosition over the T positions of a window of
  // T inputs: the honest "trained as well as possible" loss for context T,
  // (H(X_t | X_t-1) + (T - 1) * entropy rate) / T. 0 for T = 0.
  double bestMeanCrossEntropy(size_t sequenceLength) const;

 private:
  SyntheticCorpus() = default;

  SyntheticCorpusSpec spec_;
  std::shared_ptr<const MarkovTables> tables_;
  std::vector<ContextProbability> stationaryContexts_;
  double entropyRate_ = 0;
  double oneTokenConditionalEntropy_ = 0;
  double marginalEntropy_ = 0;
};

}  // namespace loom::trainer
