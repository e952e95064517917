// Conversions and arithmetic of the narrow float types, checked against
// references that share no code with kernels/numeric.h: GCC's own _Float16 for
// binary16, and for every format a decoder written from the format's formula
// plus a rounder that picks the nearest value from a table of all of them.
#include "kernels/numeric.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace loom {
namespace {

// A binary float format described by its field widths, decoded by formula
// and rounded by search: no bit tricks, so it cannot share a bug with the
// codec under test.
class RefFormat {
 public:
  RefFormat(int expBits, int fracBits, bool ieeeSpecials)
      : expBits_(expBits), fracBits_(fracBits), ieee_(ieeeSpecials) {
    const uint32_t allOnesExp = (1u << expBits) - 1;
    maxFinite_ = ieee_ ? (allOnesExp << fracBits) - 1 : (allOnesExp << fracBits) | (fracMask() - 1);
    for (uint32_t code = 0; code <= maxFinite_; ++code) values_.push_back(formula(code));
    // The value the next code would have if the exponent range went on; a
    // value rounding to it has overflowed.
    values_.push_back(formula(maxFinite_ + 1));
  }

  uint32_t signBit() const { return 1u << (expBits_ + fracBits_); }
  uint32_t fracMask() const { return (1u << fracBits_) - 1; }
  int bias() const { return (1 << (expBits_ - 1)) - 1; }
  uint32_t maxFinite() const { return maxFinite_; }
  uint32_t codeCount() const { return 1u << (1 + expBits_ + fracBits_); }

  bool isNan(uint32_t code) const {
    const uint32_t mag = code & ~signBit();
    const uint32_t expField = mag >> fracBits_;
    const uint32_t allOnesExp = (1u << expBits_) - 1;
    if (ieee_) return expField == allOnesExp && (mag & fracMask()) != 0;
    return mag == ((allOnesExp << fracBits_) | fracMask());
  }
  bool isInf(uint32_t code) const {
    return ieee_ && (code & ~signBit()) == ((1u << expBits_) - 1) << fracBits_;
  }

  double decode(uint32_t code) const {
    const bool negative = (code & signBit()) != 0;
    double magnitude;
    if (isNan(code)) {
      magnitude = std::numeric_limits<double>::quiet_NaN();
    } else if (isInf(code)) {
      magnitude = std::numeric_limits<double>::infinity();
    } else {
      magnitude = formula(code & ~signBit());
    }
    return negative ? -magnitude : magnitude;
  }

  // Nearest representable value, ties to the even code; overflow gives Inf
  // for IEEE-like formats and NaN for E4M3. NaN in gives some NaN code.
  uint32_t round(double x) const {
    const uint32_t sign = std::signbit(x) ? signBit() : 0;
    if (std::isnan(x)) return sign | nanCode();
    const double a = std::fabs(x);
    const uint32_t overflow = sign | (ieee_ ? infCode() : nanCode());
    if (std::isinf(a) || a > values_.back()) return overflow;
    // values_[hi] is the first value >= a.
    const uint32_t hi = static_cast<uint32_t>(std::lower_bound(values_.begin(), values_.end(), a) - values_.begin());
    uint32_t pick = hi;
    if (values_[hi] != a) {
      const uint32_t lo = hi - 1;
      const double below = a - values_[lo];
      const double above = values_[hi] - a;
      pick = below < above ? lo : above < below ? hi : ((lo & 1u) == 0 ? lo : hi);
    }
    if (pick > maxFinite_) return overflow;
    return sign | pick;
  }

  uint32_t nanCode() const {
    const uint32_t allOnesExp = (1u << expBits_) - 1;
    return ieee_ ? (allOnesExp << fracBits_) | (1u << (fracBits_ - 1)) : (allOnesExp << fracBits_) | fracMask();
  }
  uint32_t infCode() const { return ((1u << expBits_) - 1) << fracBits_; }

 private:
  // (-1)^0 * 2^(e - bias) * (1 + f / 2^fracBits), or the subnormal form.
  double formula(uint32_t magnitudeCode) const {
    const int e = static_cast<int>(magnitudeCode >> fracBits_);
    const double f = static_cast<double>(magnitudeCode & fracMask());
    if (e == 0) return std::ldexp(f, 1 - bias() - fracBits_);
    return std::ldexp(1.0 + std::ldexp(f, -fracBits_), e - bias());
  }

  int expBits_;
  int fracBits_;
  bool ieee_;
  uint32_t maxFinite_ = 0;
  std::vector<double> values_;
};

const RefFormat& refHalf() {
  static const RefFormat f(5, 10, true);
  return f;
}
const RefFormat& refBfloat16() {
  static const RefFormat f(8, 7, true);
  return f;
}
const RefFormat& refE4m3() {
  static const RefFormat f(4, 3, false);
  return f;
}
const RefFormat& refE5m2() {
  static const RefFormat f(5, 2, true);
  return f;
}

uint16_t bitsOfHalf(_Float16 h) {
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}
_Float16 halfOfBits(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof h);
  return h;
}

float nextUp(float x) { return std::nextafter(x, std::numeric_limits<float>::infinity()); }
float nextDown(float x) { return std::nextafter(x, -std::numeric_limits<float>::infinity()); }

// Floats where rounding to `ref` is hard: every exact midpoint between two
// neighbouring codes (all are exact in float for these formats), the floats
// on either side of it, and each representable value with its neighbours.
std::vector<float> edgeFloats(const RefFormat& ref) {
  std::vector<float> out;
  for (uint32_t code = 0; code <= ref.maxFinite(); ++code) {
    const float value = static_cast<float>(ref.decode(code));
    out.insert(out.end(), {value, nextUp(value), nextDown(value)});
    // The midpoint above the largest finite value is the overflow threshold.
    const double upper = code == ref.maxFinite() ? 2 * ref.decode(code) - ref.decode(code - 1) : ref.decode(code + 1);
    const float mid = static_cast<float>((ref.decode(code) + upper) / 2);
    EXPECT_EQ(static_cast<double>(mid), (ref.decode(code) + upper) / 2) << "midpoint not exact in float";
    out.insert(out.end(), {mid, nextUp(mid), nextDown(mid)});
  }
  const float specials[] = {0.0f,
                            std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::signaling_NaN(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::denorm_min(),
                            1e30f,
                            1e-30f};
  out.insert(out.end(), std::begin(specials), std::end(specials));
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) out.push_back(-out[i]);
  return out;
}

// Random bit patterns (every exponent, NaNs included) and a sweep across the
// whole float space with a prime stride.
std::vector<float> sampleFloats(size_t randomCount, uint32_t seed) {
  std::vector<float> out;
  std::mt19937 rng(seed);
  for (size_t i = 0; i < randomCount; ++i) out.push_back(floatOfBits(rng()));
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 4093) out.push_back(floatOfBits(static_cast<uint32_t>(bits)));
  return out;
}

// Checks a float -> narrow conversion against the reference rounder; NaN
// only needs to come out as some NaN with the input's sign.
template <typename Convert>
void expectRoundsLikeReference(const RefFormat& ref, const std::vector<float>& inputs, Convert convert) {
  int failures = 0;
  for (float x : inputs) {
    const uint32_t got = convert(x);
    const uint32_t want = ref.round(static_cast<double>(x));
    if (std::isnan(x) ? (ref.isNan(got) && (got & ref.signBit()) == (want & ref.signBit())) : got == want) continue;
    ADD_FAILURE() << "input " << x << " (bits 0x" << std::hex << bitsOfFloat(x) << ") gave 0x" << got
                  << ", want 0x" << want;
    if (++failures > 10) return;
  }
}

// ---------------------------------------------------------------- binary16

TEST(Float16Test, EveryBitPatternDecodesLikeCompilerFloat16) {
  for (uint32_t code = 0; code < 0x10000; ++code) {
    const float want = static_cast<float>(halfOfBits(static_cast<uint16_t>(code)));
    const float got = halfBitsToFloat(static_cast<uint16_t>(code));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << code;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << code;
      // Payloads too: both quiet the NaN and keep the fraction on top.
      ASSERT_EQ(bitsOfFloat(got), bitsOfFloat(want)) << std::hex << code;
    } else {
      ASSERT_EQ(bitsOfFloat(got), bitsOfFloat(want)) << std::hex << code;
      ASSERT_EQ(static_cast<double>(got), refHalf().decode(code)) << std::hex << code;
    }
  }
}

TEST(Float16Test, RoundingMatchesCompilerFloat16) {
  std::vector<float> inputs = edgeFloats(refHalf());
  const std::vector<float> sampled = sampleFloats(1 << 20, 1);
  inputs.insert(inputs.end(), sampled.begin(), sampled.end());
  // Dense coverage of binary16's own range, subnormals to overflow.
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  for (int i = 0; i < (1 << 20); ++i) {
    const float x = std::exp2(exponent(rng));
    inputs.push_back((rng() & 1) ? x : -x);
  }
  int failures = 0;
  for (float x : inputs) {
    const uint16_t want = bitsOfHalf(static_cast<_Float16>(x));
    const uint16_t got = floatToHalfBits(x);
    if (std::isnan(x)) {
      if (refHalf().isNan(got) && (got & 0x8000) == (want & 0x8000)) continue;
    } else if (got == want) {
      continue;
    }
    ADD_FAILURE() << "input " << x << " (bits 0x" << std::hex << bitsOfFloat(x) << ") gave 0x" << got
                  << ", want 0x" << want;
    if (++failures > 10) break;
  }
  expectRoundsLikeReference(refHalf(), inputs, floatToHalfBits);
}

TEST(Float16Test, NamedEdgeCases) {
  EXPECT_EQ(floatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalfBits(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7c00);  // the tie goes to the even "next binade": Inf
  EXPECT_EQ(floatToHalfBits(-1e9f), 0xfc00);
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0: even
  EXPECT_EQ(floatToHalfBits(nextUp(std::ldexp(1.0f, -25))), 0x0001);
  EXPECT_EQ(floatToHalfBits(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp ties to 2
  EXPECT_EQ(floatToHalfBits(std::ldexp(1023.5f, -24)), 0x0400);  // largest subnormal rounds up into normals
  EXPECT_EQ(floatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalfBits(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalfBits(2.0f - std::ldexp(1.0f, -12)), 0x4000);  // rounding carries into the exponent
  EXPECT_EQ(floatToHalfBits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(floatToHalfBits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToHalfBits(-std::numeric_limits<float>::denorm_min()), 0x8000);
  // A NaN whose payload lives only in low bits must stay NaN, not become Inf.
  EXPECT_TRUE(refHalf().isNan(floatToHalfBits(floatOfBits(0x7f800001u))));
  EXPECT_TRUE(refHalf().isNan(floatToHalfBits(floatOfBits(0xff800001u))));
  EXPECT_EQ(floatToHalfBits(floatOfBits(0xff800001u)) & 0x8000, 0x8000);
}

TEST(Float16Test, ArithmeticIsCorrectlyRounded) {
  std::mt19937 rng(3);
  int failures = 0;
  for (int i = 0; i < (1 << 20) && failures < 10; ++i) {
    const Float16 a{static_cast<uint16_t>(rng())};
    const Float16 b{static_cast<uint16_t>(rng())};
    const double x = halfOfBits(a.bits);
    const double y = halfOfBits(b.bits);
    // The exact result (or, for /, its double rounding, which 53 >= 2*11+2
    // makes innocuous) rounded once by the compiler's double -> _Float16.
    const struct {
      const char* name;
      uint16_t got;
      double exact;
    } cases[] = {{"+", (a + b).bits, x + y}, {"-", (a - b).bits, x - y}, {"*", (a * b).bits, x * y}, {"/", (a / b).bits, x / y}};
    for (const auto& c : cases) {
      const uint16_t want = bitsOfHalf(static_cast<_Float16>(c.exact));
      const bool ok = std::isnan(c.exact) ? refHalf().isNan(c.got) : c.got == want;
      if (!ok) {
        ADD_FAILURE() << std::hex << "0x" << a.bits << " " << c.name << " 0x" << b.bits << " gave 0x" << c.got
                      << ", want 0x" << want;
        ++failures;
      }
    }
  }
}

// ---------------------------------------------------------------- bfloat16

TEST(Bfloat16Test, EveryBitPatternDecodesByFormula) {
  for (uint32_t code = 0; code < 0x10000; ++code) {
    const double want = refBfloat16().decode(code);
    const float got = bfloat16BitsToFloat(static_cast<uint16_t>(code));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << code;
      ASSERT_EQ(std::signbit(got), (code & 0x8000) != 0) << std::hex << code;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << code;
      ASSERT_EQ(std::signbit(got), (code & 0x8000) != 0) << std::hex << code;
    }
  }
}

TEST(Bfloat16Test, RoundingMatchesReference) {
  std::vector<float> inputs = edgeFloats(refBfloat16());
  const std::vector<float> sampled = sampleFloats(1 << 21, 4);
  inputs.insert(inputs.end(), sampled.begin(), sampled.end());
  expectRoundsLikeReference(refBfloat16(), inputs, floatToBfloat16Bits);
}

TEST(Bfloat16Test, NamedEdgeCases) {
  EXPECT_EQ(floatToBfloat16Bits(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x3f808000u)), 0x3f80);  // tie, even below
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x3f818000u)), 0x3f82);  // tie, even above
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(floatToBfloat16Bits(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest bfloat16
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(floatToBfloat16Bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x00008000u)), 0x0000);  // subnormal tie to even zero
  EXPECT_EQ(floatToBfloat16Bits(floatOfBits(0x80018000u)), 0x8002);
  EXPECT_TRUE(refBfloat16().isNan(floatToBfloat16Bits(floatOfBits(0x7f800001u))));
  EXPECT_TRUE(refBfloat16().isNan(floatToBfloat16Bits(floatOfBits(0xffc00000u))));
}

TEST(Bfloat16Test, SumDifferenceAndProductAreCorrectlyRounded) {
  std::mt19937 rng(5);
  const RefFormat& ref = refBfloat16();
  int failures = 0;
  auto check = [&](Bfloat16 a, Bfloat16 b) {
    const double x = ref.decode(a.bits);
    const double y = ref.decode(b.bits);
    // Products are exact in double; sums may not be, but 53 >= 2*8+2 makes
    // the extra rounding innocuous.
    const struct {
      const char* name;
      uint16_t got;
      double exact;
    } cases[] = {{"+", (a + b).bits, x + y}, {"-", (a - b).bits, x - y}, {"*", (a * b).bits, x * y}};
    for (const auto& c : cases) {
      const uint32_t want = ref.round(c.exact);
      const bool ok = std::isnan(c.exact) ? ref.isNan(c.got) : c.got == want;
      if (!ok && failures++ < 10) {
        ADD_FAILURE() << std::hex << "0x" << a.bits << " " << c.name << " 0x" << b.bits << " gave 0x" << c.got
                      << ", want 0x" << want;
      }
    }
  };
  for (int i = 0; i < (1 << 20); ++i) check({static_cast<uint16_t>(rng())}, {static_cast<uint16_t>(rng())});
  // Products whose float value is subnormal, where float's own rounding
  // could in principle interfere: both factors near 2^-67.
  for (uint32_t ea = 58; ea <= 64; ++ea) {
    for (uint32_t fa = 0; fa < 128; ++fa) {
      for (uint32_t eb = 58; eb <= 64; ++eb) {
        for (uint32_t fb = 0; fb < 128; fb += 3) {
          check({static_cast<uint16_t>(ea << 7 | fa)}, {static_cast<uint16_t>(eb << 7 | fb)});
        }
      }
    }
  }
}

// ---------------------------------------------------------------- fp8

struct Fp8Case {
  const char* name;
  const RefFormat& ref;
  float (*decode)(uint8_t);
  uint8_t (*encode)(float);
};

std::vector<Fp8Case> fp8Cases() {
  return {{"e4m3", refE4m3(), fp8e4m3BitsToFloat, floatToFp8e4m3Bits},
          {"e5m2", refE5m2(), fp8e5m2BitsToFloat, floatToFp8e5m2Bits}};
}

TEST(Fp8Test, EveryBitPatternDecodesByFormula) {
  for (const Fp8Case& c : fp8Cases()) {
    SCOPED_TRACE(c.name);
    for (uint32_t code = 0; code < 256; ++code) {
      const double want = c.ref.decode(code);
      const float got = c.decode(static_cast<uint8_t>(code));
      ASSERT_EQ(std::signbit(got), (code & 0x80) != 0) << code;
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << code;
      } else {
        ASSERT_EQ(static_cast<double>(got), want) << code;
      }
    }
  }
}

TEST(Fp8Test, FormatConstantsAreOcps) {
  EXPECT_EQ(fp8e4m3BitsToFloat(0x7e), 448.0f);
  EXPECT_EQ(fp8e4m3BitsToFloat(0x78), 256.0f);  // all-ones exponent is an ordinary binade
  EXPECT_TRUE(std::isnan(fp8e4m3BitsToFloat(0x7f)));
  EXPECT_TRUE(std::isnan(fp8e4m3BitsToFloat(0xff)));
  EXPECT_EQ(fp8e4m3BitsToFloat(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8e4m3BitsToFloat(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(fp8e4m3BitsToFloat(0x38), 1.0f);
  EXPECT_EQ(fp8e5m2BitsToFloat(0x7b), 57344.0f);
  EXPECT_EQ(fp8e5m2BitsToFloat(0x7c), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp8e5m2BitsToFloat(0xfc), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp8e5m2BitsToFloat(0x7d)));
  EXPECT_TRUE(std::isnan(fp8e5m2BitsToFloat(0x7e)));
  EXPECT_TRUE(std::isnan(fp8e5m2BitsToFloat(0x7f)));
  EXPECT_EQ(fp8e5m2BitsToFloat(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(fp8e5m2BitsToFloat(0x3c), 1.0f);
}

TEST(Fp8Test, EveryFiniteValueRoundTrips) {
  for (const Fp8Case& c : fp8Cases()) {
    SCOPED_TRACE(c.name);
    for (uint32_t code = 0; code < 256; ++code) {
      if (c.ref.isNan(code)) continue;
      EXPECT_EQ(uint32_t{c.encode(c.decode(static_cast<uint8_t>(code)))}, code) << code;
    }
  }
}

TEST(Fp8Test, MidpointsTieToEvenAndNeighboursGoToTheNearer) {
  for (const Fp8Case& c : fp8Cases()) {
    SCOPED_TRACE(c.name);
    for (uint32_t code = 0; code < c.ref.maxFinite(); ++code) {
      for (uint32_t sign : {0u, 0x80u}) {
        const double lo = c.ref.decode(code);
        const double hi = c.ref.decode(code + 1);
        const float mid = static_cast<float>((lo + hi) / 2);
        const float m = sign ? -mid : mid;
        const uint32_t even = (code & 1u) == 0 ? code : code + 1;
        EXPECT_EQ(uint32_t{c.encode(m)}, sign | even) << "between codes " << code << " and " << code + 1;
        EXPECT_EQ(uint32_t{c.encode(sign ? nextDown(m) : nextUp(m))}, sign | (code + 1)) << code;
        EXPECT_EQ(uint32_t{c.encode(sign ? nextUp(m) : nextDown(m))}, sign | code) << code;
      }
    }
  }
}

TEST(Fp8Test, OverflowSaturationAndSpecials) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // E4M3: no Inf; past the largest finite value (448) is NaN. 464 is the
  // midpoint between 448 (fraction 110, even) and the NaN code's 480.
  EXPECT_EQ(floatToFp8e4m3Bits(448.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3Bits(464.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3Bits(-464.0f), 0xfe);
  EXPECT_EQ(floatToFp8e4m3Bits(nextUp(464.0f)), 0x7f);
  EXPECT_EQ(floatToFp8e4m3Bits(-nextUp(464.0f)), 0xff);
  EXPECT_EQ(floatToFp8e4m3Bits(1e30f), 0x7f);
  EXPECT_EQ(floatToFp8e4m3Bits(inf), 0x7f);
  EXPECT_EQ(floatToFp8e4m3Bits(-inf), 0xff);
  EXPECT_EQ(floatToFp8e4m3Bits(nan), 0x7f);
  EXPECT_EQ(floatToFp8e4m3Bits(-nan), 0xff);
  EXPECT_EQ(floatToFp8e4m3Bits(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal: tie to zero
  EXPECT_EQ(floatToFp8e4m3Bits(nextUp(std::ldexp(1.0f, -10))), 0x01);
  EXPECT_EQ(floatToFp8e4m3Bits(-std::ldexp(1.0f, -11)), 0x80);
  EXPECT_EQ(floatToFp8e4m3Bits(-0.0f), 0x80);
  // E5M2: IEEE-like. 61440 is the midpoint between 57344 (fraction 11, odd)
  // and the next binade, so it goes to Inf.
  EXPECT_EQ(floatToFp8e5m2Bits(57344.0f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2Bits(nextDown(61440.0f)), 0x7b);
  EXPECT_EQ(floatToFp8e5m2Bits(61440.0f), 0x7c);
  EXPECT_EQ(floatToFp8e5m2Bits(-61440.0f), 0xfc);
  EXPECT_EQ(floatToFp8e5m2Bits(1e30f), 0x7c);
  EXPECT_EQ(floatToFp8e5m2Bits(inf), 0x7c);
  EXPECT_EQ(floatToFp8e5m2Bits(-inf), 0xfc);
  EXPECT_TRUE(refE5m2().isNan(floatToFp8e5m2Bits(nan)));
  EXPECT_TRUE(refE5m2().isNan(floatToFp8e5m2Bits(floatOfBits(0x7f800001u))));
  EXPECT_EQ(floatToFp8e5m2Bits(-nan) & 0x80, 0x80);
  EXPECT_EQ(floatToFp8e5m2Bits(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(floatToFp8e5m2Bits(std::ldexp(3.0f, -17)), 0x02);
}

TEST(Fp8Test, RoundingMatchesReferenceEverywhere) {
  for (const Fp8Case& c : fp8Cases()) {
    SCOPED_TRACE(c.name);
    std::vector<float> inputs = edgeFloats(c.ref);
    const std::vector<float> sampled = sampleFloats(1 << 18, 6);
    inputs.insert(inputs.end(), sampled.begin(), sampled.end());
    expectRoundsLikeReference(c.ref, inputs, [&](float x) { return static_cast<uint32_t>(c.encode(x)); });
  }
}

TEST(Fp8Test, ArithmeticOnAllPairsIsCorrectlyRounded) {
  auto run = [](const RefFormat& ref, auto tag) {
    using T = decltype(tag);
    int failures = 0;
    for (uint32_t i = 0; i < 256; ++i) {
      for (uint32_t j = 0; j < 256; ++j) {
        const T a{static_cast<uint8_t>(i)};
        const T b{static_cast<uint8_t>(j)};
        const double x = ref.decode(i);
        const double y = ref.decode(j);
        // Sums and products are exact in double; quotients round once more,
        // harmlessly (53 >= 2*4+2).
        const struct {
          const char* name;
          uint8_t got;
          double exact;
        } cases[] = {{"+", (a + b).bits, x + y}, {"-", (a - b).bits, x - y}, {"*", (a * b).bits, x * y}, {"/", (a / b).bits, x / y}};
        for (const auto& c : cases) {
          const uint32_t want = ref.round(c.exact);
          const bool ok = std::isnan(c.exact) ? ref.isNan(c.got) : c.got == want;
          if (!ok && failures++ < 10) {
            ADD_FAILURE() << std::hex << "0x" << i << " " << c.name << " 0x" << j << " gave 0x" << int{c.got}
                          << ", want 0x" << want;
          }
        }
      }
    }
  };
  run(refE4m3(), Float8e4m3{});
  run(refE5m2(), Float8e5m2{});
}

// ---------------------------------------------------------------- storage

TEST(NarrowStorageTest, StructsAreTheirBitsAndAggregates) {
  static_assert(std::is_trivially_copyable_v<Float16> && std::is_standard_layout_v<Float16>);
  static_assert(sizeof(Float16[4]) == 8 && sizeof(Float8e5m2[4]) == 4);
  EXPECT_EQ(Float16{0x3c00}.toFloat(), 1.0f);
  EXPECT_EQ(Bfloat16::fromFloat(-2.0f).bits, 0xc000);
  EXPECT_EQ(Float8e4m3::fromFloat(1.0f).bits, 0x38);
  EXPECT_EQ(Float8e5m2::fromFloat(1.0f).bits, 0x3c);
  EXPECT_EQ((Float16{0x3c00} + Float16{0x3c00}).bits, 0x4000);
}

}  // namespace
}  // namespace loom
