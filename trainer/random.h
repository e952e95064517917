// Pseudo-random numbers that are identical on every machine.
//
// The trainer's synthetic corpus (and anything else that must be reproducible
// from a seed) cannot use the std:: distributions: their algorithms are
// implementation-defined, so libstdc++ and libc++ give different numbers for the
// same engine state. Floating-point sampling is not safe either, because a
// compiler may fuse multiply-adds on one architecture and not on another. So the
// rule is: draw 64-bit integers from Xoshiro256 and derive everything that
// affects a generated value with integer arithmetic.
//
// Algorithms: SplitMix64 and xoshiro256** by Blackman and Vigna (public domain
// reference descriptions at prng.di.unimi.it); unbiased bounded integers by
// Lemire's multiply-and-reject method ("Fast Random Integer Generation in an
// Interval", 2019).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "loom/status.h"

namespace loom::trainer {

// SplitMix64's output function: a bijective mix of 64 bits. Used to hash small
// integers (seeds, stream ids, token pairs) into well-spread 64-bit values.
inline uint64_t mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

// A hash of two values, for deriving independent seeds: (seed, stream) -> seed'.
inline uint64_t hashPair(uint64_t first, uint64_t second) {
  return mix64(first ^ mix64(second + 0x9E3779B97F4A7C15ULL));
}

// xoshiro256**: 256 bits of state, period 2^256 - 1, fast and statistically
// strong enough for sampling data. Its state is exposed so a training run can
// store it in a checkpoint and continue the exact sequence after a restart.
class Xoshiro256 {
 public:
  using State = std::array<uint64_t, 4>;
  static constexpr size_t kStateWords = 4;

  // Expands a 64-bit seed with SplitMix64, as the authors recommend; the
  // resulting state is never all zero.
  explicit Xoshiro256(uint64_t seed) {
    uint64_t sequence = seed;
    for (uint64_t& word : state_) {
      sequence += 0x9E3779B97F4A7C15ULL;
      word = mix64(sequence);
    }
  }

  // Restores a state saved with state(), e.g. from a checkpoint. Refuses a
  // wrong word count and the all-zero state (the generator would emit only zeros).
  static Result<Xoshiro256> fromState(std::span<const uint64_t> words) {
    if (words.size() != kStateWords) {
      return Status::invalidArgument("xoshiro256 state has %zu words, expected %zu", words.size(),
                                     kStateWords);
    }
    if ((words[0] | words[1] | words[2] | words[3]) == 0) {
      return Status::invalidArgument("xoshiro256 state is all zero, which is not a valid state");
    }
    Xoshiro256 generator(0);
    for (size_t i = 0; i < kStateWords; ++i) generator.state_[i] = words[i];
    return generator;
  }

  const State& state() const { return state_; }

  uint64_t next() {
    const uint64_t result = rotateLeft(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotateLeft(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), exactly unbiased; bound 0 returns 0.
  uint64_t uniformBelow(uint64_t bound) {
    if (bound == 0) return 0;
    unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(product);
    if (low < bound) {
      // Reject the few low words that would over-represent small results.
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

  // Uniform in [0, 1) with 53 random bits. The integer-to-double conversion and
  // the scaling by a power of two are exact, so this is machine-independent too.
  double uniformUnit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotateLeft(uint64_t value, int bits) {
    return (value << bits) | (value >> (64 - bits));
  }

  State state_{};
};

}  // namespace loom::trainer
