// reduceElements / preMultiplyElements / divideElements for every type and op,
// element by element against a reference computed here in double or 64-bit
// integers and rounded by code that shares nothing with the kernels.
#include "kernels/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace loom {
namespace {

// ----------------------------------------------------------------- references

// A narrow float format decoded by formula and rounded by searching a table of
// all its values (nearest, ties to the even code, overflow to Inf or, without
// Inf, to NaN).
class RefFormat {
 public:
  RefFormat(int expBits, int fracBits, bool ieeeSpecials) : expBits_(expBits), fracBits_(fracBits), ieee_(ieeeSpecials) {
    const uint32_t allOnes = (1u << expBits) - 1;
    maxFinite_ = ieee_ ? (allOnes << fracBits) - 1 : (allOnes << fracBits) | (fracMask() - 1);
    for (uint32_t code = 0; code <= maxFinite_ + 1; ++code) values_.push_back(formula(code));
  }

  double decode(uint32_t code) const {
    const bool negative = (code & signBit()) != 0;
    const uint32_t mag = code & ~signBit();
    const uint32_t allOnes = (1u << expBits_) - 1;
    double value;
    if (ieee_ && (mag >> fracBits_) == allOnes) {
      value = (mag & fracMask()) == 0 ? std::numeric_limits<double>::infinity() : std::nan("");
    } else if (!ieee_ && mag == ((allOnes << fracBits_) | fracMask())) {
      value = std::nan("");
    } else {
      value = formula(mag);
    }
    return negative ? -value : value;
  }

  uint32_t round(double x) const {
    const uint32_t allOnes = (1u << expBits_) - 1;
    const uint32_t sign = std::signbit(x) ? signBit() : 0;
    const uint32_t nan = ieee_ ? (allOnes << fracBits_) | (1u << (fracBits_ - 1)) : (allOnes << fracBits_) | fracMask();
    const uint32_t overflow = sign | (ieee_ ? allOnes << fracBits_ : nan);
    if (std::isnan(x)) return sign | nan;
    const double a = std::fabs(x);
    if (a > values_.back()) return overflow;
    const uint32_t hi = static_cast<uint32_t>(std::lower_bound(values_.begin(), values_.end(), a) - values_.begin());
    uint32_t pick = hi;
    if (values_[hi] != a) {
      const uint32_t lo = hi - 1;
      const double below = a - values_[lo];
      const double above = values_[hi] - a;
      pick = below < above ? lo : above < below ? hi : ((lo & 1u) == 0 ? lo : hi);
    }
    return pick > maxFinite_ ? overflow : sign | pick;
  }

 private:
  uint32_t signBit() const { return 1u << (expBits_ + fracBits_); }
  uint32_t fracMask() const { return (1u << fracBits_) - 1; }
  double formula(uint32_t mag) const {
    const int bias = (1 << (expBits_ - 1)) - 1;
    const int e = static_cast<int>(mag >> fracBits_);
    const double f = static_cast<double>(mag & fracMask());
    if (e == 0) return std::ldexp(f, 1 - bias - fracBits_);
    return std::ldexp(1.0 + std::ldexp(f, -fracBits_), e - bias);
  }

  int expBits_;
  int fracBits_;
  bool ieee_;
  uint32_t maxFinite_ = 0;
  std::vector<double> values_;
};

const RefFormat& refFormat(DataType type) {
  static const RefFormat bf16(8, 7, true);
  static const RefFormat e4m3(4, 3, false);
  static const RefFormat e5m2(5, 2, true);
  return type == DataType::kBfloat16 ? bf16 : type == DataType::kFloat8e4m3 ? e4m3 : e5m2;
}

const DataType kAllTypes[] = {DataType::kInt8,    DataType::kUint8,    DataType::kInt32,      DataType::kUint32,
                              DataType::kInt64,   DataType::kUint64,   DataType::kFloat16,    DataType::kFloat32,
                              DataType::kFloat64, DataType::kBfloat16, DataType::kFloat8e4m3, DataType::kFloat8e5m2};

const RedOpKind kAllOps[] = {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax,
                             RedOpKind::kMin, RedOpKind::kAvg,  RedOpKind::kPreMulSum};

bool isSignedInt(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}

// Elements travel through the tests as raw bits in the low bytes of a uint64.
uint64_t mask(DataType t) {
  const size_t size = dataTypeSize(t);
  return size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

int64_t asSigned(DataType t, uint64_t raw) {
  const unsigned shift = static_cast<unsigned>(64 - 8 * dataTypeSize(t));
  return static_cast<int64_t>(raw << shift) >> shift;
}

double toDouble(DataType t, uint64_t raw) {
  switch (t) {
    case DataType::kFloat16: {
      _Float16 h;
      const uint16_t bits = static_cast<uint16_t>(raw);
      std::memcpy(&h, &bits, 2);
      return static_cast<double>(h);
    }
    case DataType::kFloat32: {
      float f;
      const uint32_t bits = static_cast<uint32_t>(raw);
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case DataType::kFloat64: {
      double d;
      std::memcpy(&d, &raw, 8);
      return d;
    }
    default: return refFormat(t).decode(static_cast<uint32_t>(raw));
  }
}

// Rounds once from double to the type.
uint64_t fromDouble(DataType t, double x) {
  switch (t) {
    case DataType::kFloat16: {
      const _Float16 h = static_cast<_Float16>(x);
      uint16_t bits;
      std::memcpy(&bits, &h, 2);
      return bits;
    }
    case DataType::kFloat32: {
      const float f = static_cast<float>(x);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return bits;
    }
    case DataType::kFloat64: {
      uint64_t bits;
      std::memcpy(&bits, &x, 8);
      return bits;
    }
    default: return refFormat(t).round(x);
  }
}

bool isNanElement(DataType t, uint64_t raw) { return isFloatingPoint(t) && std::isnan(toDouble(t, raw)); }

// a op b. Floats: the exact double result (or for sums of bfloat16/float32
// its double rounding, innocuous since 53 >= 2p+2) rounded once; max/min as
// IEEE 754-2019 maximum/minimum. Integers: 64-bit arithmetic, truncated.
uint64_t referenceCombine(DataType t, RedOpKind op, uint64_t a, uint64_t b) {
  if (isFloatingPoint(t)) {
    const double x = toDouble(t, a);
    const double y = toDouble(t, b);
    switch (op) {
      case RedOpKind::kProd: return fromDouble(t, x * y);
      case RedOpKind::kMax:
        if (std::isnan(x)) return a;
        if (std::isnan(y)) return b;
        if (x == y) return std::signbit(x) ? b : a;
        return x > y ? a : b;
      case RedOpKind::kMin:
        if (std::isnan(x)) return a;
        if (std::isnan(y)) return b;
        if (x == y) return std::signbit(x) ? a : b;
        return x < y ? a : b;
      default: return fromDouble(t, x + y);
    }
  }
  const bool isSigned = isSignedInt(t);
  switch (op) {
    case RedOpKind::kProd: return (a * b) & mask(t);
    case RedOpKind::kMax:
      if (isSigned) return asSigned(t, a) > asSigned(t, b) ? a : b;
      return a > b ? a : b;
    case RedOpKind::kMin:
      if (isSigned) return asSigned(t, a) < asSigned(t, b) ? a : b;
      return a < b ? a : b;
    default: return (a + b) & mask(t);
  }
}

uint64_t referenceDivide(DataType t, uint64_t raw, int divisor) {
  if (isFloatingPoint(t)) return fromDouble(t, toDouble(t, raw) / divisor);
  if (isSignedInt(t)) return static_cast<uint64_t>(asSigned(t, raw) / divisor) & mask(t);
  return raw / static_cast<uint64_t>(divisor);
}

bool sameElement(DataType t, uint64_t got, uint64_t want) {
  if (isNanElement(t, want)) return isNanElement(t, got);
  return got == want;
}

// Mostly random bit patterns; wide floats also get ordinary magnitudes (random
// bits are nearly all huge or tiny) and every type gets its special values.
uint64_t randomElement(DataType t, std::mt19937_64& rng) {
  const uint64_t r = rng();
  const unsigned category = static_cast<unsigned>(rng() % 8);
  if (t == DataType::kFloat32 || t == DataType::kFloat64) {
    const double inf = std::numeric_limits<double>::infinity();
    const double specials[] = {0.0, -0.0, inf, -inf, std::nan(""), 1.0, -1.0, 1e-310, 3.4e38, -3.4e38};
    double value;
    if (category < 2) return r & mask(t);
    if (category < 6) {
      value = std::ldexp(static_cast<double>(static_cast<int64_t>(r >> 1) % 2000001 - 1000000), -static_cast<int>(r % 24));
    } else if (category == 6) {
      value = specials[r % std::size(specials)];
    } else {
      value = static_cast<double>(static_cast<int64_t>(r % 9) - 4);
    }
    return fromDouble(t, value);
  }
  if (!isFloatingPoint(t) && category == 0) {
    const uint64_t top = uint64_t{1} << (8 * dataTypeSize(t) - 1);
    const uint64_t specials[] = {0, 1, ~uint64_t{0}, top, top - 1};
    return specials[r % std::size(specials)] & mask(t);
  }
  return r & mask(t);
}

// ------------------------------------------------------------- buffer harness

constexpr size_t kGuardElements = 16;
constexpr uint8_t kGuardByte = 0xa5;

// count elements with a guard region on each side, so a stray write shows.
class GuardedBuffer {
 public:
  GuardedBuffer(DataType t, size_t count) : type_(t), count_(count), bytes_((count + 2 * kGuardElements) * dataTypeSize(t), kGuardByte) {}
  void* data() { return bytes_.data() + kGuardElements * dataTypeSize(type_); }
  uint64_t get(size_t i) const {
    uint64_t v = 0;
    std::memcpy(&v, bytes_.data() + (kGuardElements + i) * dataTypeSize(type_), dataTypeSize(type_));
    return v;
  }
  void set(size_t i, uint64_t v) {
    std::memcpy(bytes_.data() + (kGuardElements + i) * dataTypeSize(type_), &v, dataTypeSize(type_));
  }
  bool guardsIntact() const {
    const size_t front = kGuardElements * dataTypeSize(type_);
    const size_t back = (kGuardElements + count_) * dataTypeSize(type_);
    for (size_t i = 0; i < front; ++i) if (bytes_[i] != kGuardByte) return false;
    for (size_t i = back; i < bytes_.size(); ++i) if (bytes_[i] != kGuardByte) return false;
    return true;
  }

 private:
  DataType type_;
  size_t count_;
  std::vector<uint8_t> bytes_;
};

enum class Alias { kNone, kDstIsA, kDstIsB, kAllSame };
const char* aliasName(Alias a) {
  switch (a) {
    case Alias::kNone: return "separate";
    case Alias::kDstIsA: return "dst==a";
    case Alias::kDstIsB: return "dst==b";
    case Alias::kAllSame: return "dst==a==b";
  }
  return "?";
}

::testing::AssertionResult checkReduce(DataType t, RedOpKind op, size_t count, Alias alias, std::mt19937_64& rng) {
  GuardedBuffer aBuf(t, count), bBuf(t, count), dBuf(t, count);
  std::vector<uint64_t> a(count), b(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = randomElement(t, rng);
    b[i] = alias == Alias::kAllSame ? a[i] : randomElement(t, rng);
    aBuf.set(i, a[i]);
    bBuf.set(i, b[i]);
  }
  void* aPtr = aBuf.data();
  void* bPtr = alias == Alias::kAllSame ? aBuf.data() : bBuf.data();
  void* dst = alias == Alias::kDstIsA || alias == Alias::kAllSame ? aPtr : alias == Alias::kDstIsB ? bPtr : dBuf.data();
  reduceElements(t, op, dst, aPtr, bPtr, count);

  const GuardedBuffer& out = dst == aPtr ? aBuf : dst == bPtr ? bBuf : dBuf;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t want = referenceCombine(t, op, a[i], b[i]);
    const uint64_t got = out.get(i);
    if (!sameElement(t, got, want)) {
      return ::testing::AssertionFailure()
             << std::hex << "element " << std::dec << i << ": 0x" << std::hex << a[i] << " " << redOpName(op) << " 0x" << b[i]
             << " gave 0x" << got << ", want 0x" << want;
    }
  }
  if (dst != aPtr) {
    for (size_t i = 0; i < count; ++i) {
      if (aBuf.get(i) != a[i]) return ::testing::AssertionFailure() << "input a changed at " << i;
    }
  }
  if (dst != bPtr && bPtr != aPtr) {
    for (size_t i = 0; i < count; ++i) {
      if (bBuf.get(i) != b[i]) return ::testing::AssertionFailure() << "input b changed at " << i;
    }
  }
  if (!aBuf.guardsIntact() || !bBuf.guardsIntact() || !dBuf.guardsIntact()) {
    return ::testing::AssertionFailure() << "wrote outside [0, count)";
  }
  return ::testing::AssertionSuccess();
}

const size_t kCounts[] = {0, 1, 7, 1000, 4099};

// ------------------------------------------------------------ every type x op

class ReduceTypeTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceTypeTest, EveryOpCountAndAliasingMatchesReference) {
  const DataType t = GetParam();
  std::mt19937_64 rng(1000 + static_cast<int>(t));
  for (RedOpKind op : kAllOps) {
    for (size_t count : kCounts) {
      for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB, Alias::kAllSame}) {
        EXPECT_TRUE(checkReduce(t, op, count, alias, rng))
            << dataTypeName(t) << " " << redOpName(op) << " count " << count << " " << aliasName(alias);
      }
    }
  }
}

TEST_P(ReduceTypeTest, PreMultiplyMatchesReference) {
  const DataType t = GetParam();
  std::mt19937_64 rng(2000 + static_cast<int>(t));
  std::vector<uint64_t> scalars;
  if (isFloatingPoint(t)) {
    for (double s : {3.0, -0.5, 0.0, 1.0}) scalars.push_back(fromDouble(t, s));
  } else {
    for (int64_t s : {int64_t{3}, int64_t{-2}, int64_t{200}, int64_t{0}}) scalars.push_back(static_cast<uint64_t>(s) & mask(t));
  }
  scalars.push_back(randomElement(t, rng));
  for (uint64_t scalar : scalars) {
    for (size_t count : kCounts) {
      for (bool inPlace : {false, true}) {
        GuardedBuffer src(t, count), dst(t, count);
        std::vector<uint64_t> in(count);
        for (size_t i = 0; i < count; ++i) src.set(i, in[i] = randomElement(t, rng));
        // The scalar arrives as its element bytes in a zeroed uint64_t.
        preMultiplyElements(t, scalar, inPlace ? src.data() : dst.data(), src.data(), count);
        const GuardedBuffer& out = inPlace ? src : dst;
        for (size_t i = 0; i < count; ++i) {
          const uint64_t want = referenceCombine(t, RedOpKind::kProd, in[i], scalar);
          ASSERT_TRUE(sameElement(t, out.get(i), want))
              << dataTypeName(t) << std::hex << " 0x" << in[i] << " * 0x" << scalar << " gave 0x" << out.get(i)
              << ", want 0x" << want << std::dec << " (count " << count << ", element " << i << ")";
        }
        if (!inPlace) {
          for (size_t i = 0; i < count; ++i) ASSERT_EQ(src.get(i), in[i]);
        }
        ASSERT_TRUE(src.guardsIntact() && dst.guardsIntact());
      }
    }
  }
}

TEST_P(ReduceTypeTest, DivideMatchesReference) {
  const DataType t = GetParam();
  std::mt19937_64 rng(3000 + static_cast<int>(t));
  for (int divisor : {1, 2, 3, 7, 8}) {
    for (size_t count : kCounts) {
      GuardedBuffer data(t, count);
      std::vector<uint64_t> in(count);
      for (size_t i = 0; i < count; ++i) data.set(i, in[i] = randomElement(t, rng));
      divideElements(t, data.data(), count, divisor);
      for (size_t i = 0; i < count; ++i) {
        const uint64_t want = referenceDivide(t, in[i], divisor);
        ASSERT_TRUE(sameElement(t, data.get(i), want))
            << dataTypeName(t) << std::hex << " 0x" << in[i] << " / " << std::dec << divisor << " gave 0x" << std::hex
            << data.get(i) << ", want 0x" << want;
      }
      ASSERT_TRUE(data.guardsIntact());
    }
  }
}

TEST_P(ReduceTypeTest, ZeroCountAcceptsNullPointers) {
  const DataType t = GetParam();
  for (RedOpKind op : kAllOps) reduceElements(t, op, nullptr, nullptr, nullptr, 0);
  preMultiplyElements(t, 0, nullptr, nullptr, 0);
  divideElements(t, nullptr, 0, 3);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceTypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<DataType>& info) { return std::string(dataTypeName(info.param)); });

// ----------------------------------------------------------- named behaviour

template <typename T>
std::vector<T> reduced(DataType t, RedOpKind op, std::vector<T> a, const std::vector<T>& b) {
  reduceElements(t, op, a.data(), a.data(), b.data(), a.size());
  return a;
}

TEST(ReduceIntegerTest, SumAndProductWrapAround) {
  EXPECT_EQ(reduced<int8_t>(DataType::kInt8, RedOpKind::kSum, {127, -128, 100}, {1, -1, 100}),
            (std::vector<int8_t>{-128, 127, -56}));
  EXPECT_EQ(reduced<uint8_t>(DataType::kUint8, RedOpKind::kSum, {255, 200}, {1, 100}), (std::vector<uint8_t>{0, 44}));
  EXPECT_EQ(reduced<int8_t>(DataType::kInt8, RedOpKind::kProd, {16, -128, -128}, {16, -1, -128}),
            (std::vector<int8_t>{0, -128, 0}));
  const int32_t i32max = std::numeric_limits<int32_t>::max();
  const int32_t i32min = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(reduced<int32_t>(DataType::kInt32, RedOpKind::kSum, {i32max, i32min}, {1, -1}),
            (std::vector<int32_t>{i32min, i32max}));
  EXPECT_EQ(reduced<int32_t>(DataType::kInt32, RedOpKind::kProd, {65536, i32min, 46341}, {65536, -1, 46341}),
            (std::vector<int32_t>{0, i32min, static_cast<int32_t>(2147488281u)}));
  EXPECT_EQ(reduced<uint32_t>(DataType::kUint32, RedOpKind::kProd, {0xffffffffu}, {0xffffffffu}),
            (std::vector<uint32_t>{1}));
  const int64_t i64max = std::numeric_limits<int64_t>::max();
  const int64_t i64min = std::numeric_limits<int64_t>::min();
  const int64_t twoTo32Plus1 = (int64_t{1} << 32) + 1;
  EXPECT_EQ(reduced<int64_t>(DataType::kInt64, RedOpKind::kSum, {i64max, i64min}, {1, -1}),
            (std::vector<int64_t>{i64min, i64max}));
  EXPECT_EQ(reduced<int64_t>(DataType::kInt64, RedOpKind::kProd, {twoTo32Plus1, i64min}, {twoTo32Plus1, -1}),
            (std::vector<int64_t>{(int64_t{1} << 33) + 1, i64min}));
  const uint64_t u64max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(reduced<uint64_t>(DataType::kUint64, RedOpKind::kSum, {u64max}, {2}), (std::vector<uint64_t>{1}));
  EXPECT_EQ(reduced<uint64_t>(DataType::kUint64, RedOpKind::kProd, {u64max}, {u64max}), (std::vector<uint64_t>{1}));
}

TEST(ReduceIntegerTest, MaxMinRespectSignedness) {
  EXPECT_EQ(reduced<int8_t>(DataType::kInt8, RedOpKind::kMax, {-1, -128}, {1, 127}), (std::vector<int8_t>{1, 127}));
  EXPECT_EQ(reduced<uint8_t>(DataType::kUint8, RedOpKind::kMax, {255, 0}, {1, 128}), (std::vector<uint8_t>{255, 128}));
  EXPECT_EQ(reduced<int64_t>(DataType::kInt64, RedOpKind::kMin, {-1, 5}, {1, -5}), (std::vector<int64_t>{-1, -5}));
  EXPECT_EQ(reduced<uint64_t>(DataType::kUint64, RedOpKind::kMin, {~uint64_t{0}}, {1}), (std::vector<uint64_t>{1}));
}

TEST(ReduceIntegerTest, DivideTruncatesTowardZero) {
  std::vector<int32_t> s32 = {-7, 7, -1, 1, -8, std::numeric_limits<int32_t>::min(), 0};
  divideElements(DataType::kInt32, s32.data(), s32.size(), 2);
  EXPECT_EQ(s32, (std::vector<int32_t>{-3, 3, 0, 0, -4, -1073741824, 0}));
  std::vector<int8_t> s8 = {-128, 127, -5};
  divideElements(DataType::kInt8, s8.data(), s8.size(), 3);
  EXPECT_EQ(s8, (std::vector<int8_t>{-42, 42, -1}));
  std::vector<uint8_t> u8 = {255, 7};
  divideElements(DataType::kUint8, u8.data(), u8.size(), 2);
  EXPECT_EQ(u8, (std::vector<uint8_t>{127, 3}));
  std::vector<uint32_t> u32 = {0xffffffffu};
  divideElements(DataType::kUint32, u32.data(), u32.size(), 2);
  EXPECT_EQ(u32, (std::vector<uint32_t>{0x7fffffffu}));
  std::vector<int64_t> s64 = {std::numeric_limits<int64_t>::min(), -9};
  divideElements(DataType::kInt64, s64.data(), s64.size(), 4);
  EXPECT_EQ(s64, (std::vector<int64_t>{std::numeric_limits<int64_t>::min() / 4, -2}));
  std::vector<uint64_t> u64 = {~uint64_t{0}};
  divideElements(DataType::kUint64, u64.data(), u64.size(), 3);
  EXPECT_EQ(u64, (std::vector<uint64_t>{0x5555555555555555u}));
}

TEST(ReduceIntegerTest, DivideByZeroOrMinusOneDoesNotTrap) {
  std::vector<int64_t> s64 = {std::numeric_limits<int64_t>::min(), 5};
  divideElements(DataType::kInt64, s64.data(), s64.size(), -1);
  EXPECT_EQ(s64, (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -5}));
  divideElements(DataType::kInt64, s64.data(), s64.size(), 0);
  EXPECT_EQ(s64, (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -5}));
  std::vector<uint8_t> u8 = {9};
  divideElements(DataType::kUint8, u8.data(), u8.size(), 0);
  EXPECT_EQ(u8, (std::vector<uint8_t>{9}));
}

uint32_t bitsOf(float f) { return bitsOfFloat(f); }

TEST(ReduceFloatTest, MaxMinPropagateNanAndOrderSignedZeros) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a = {nan, 1.0f, 0.0f, -0.0f, -0.0f, 2.0f, -std::numeric_limits<float>::infinity()};
  const std::vector<float> b = {1.0f, nan, -0.0f, 0.0f, -0.0f, 3.0f, -1.0f};
  const std::vector<float> mx = reduced(DataType::kFloat32, RedOpKind::kMax, a, b);
  const std::vector<float> mn = reduced(DataType::kFloat32, RedOpKind::kMin, a, b);
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]) && std::isnan(mn[0]) && std::isnan(mn[1]));
  EXPECT_EQ(bitsOf(mx[2]), 0u);  // +0 is the larger zero, in either order
  EXPECT_EQ(bitsOf(mx[3]), 0u);
  EXPECT_EQ(bitsOf(mx[4]), 0x80000000u);
  EXPECT_EQ(bitsOf(mn[2]), 0x80000000u);
  EXPECT_EQ(bitsOf(mn[3]), 0x80000000u);
  EXPECT_EQ(mx[5], 3.0f);
  EXPECT_EQ(mn[5], 2.0f);
  EXPECT_EQ(mx[6], -1.0f);
  EXPECT_EQ(mn[6], -std::numeric_limits<float>::infinity());

  const std::vector<double> d = reduced<double>(DataType::kFloat64, RedOpKind::kMax, {std::nan(""), 0.0, -0.0}, {1.0, -0.0, 0.0});
  EXPECT_TRUE(std::isnan(d[0]));
  EXPECT_FALSE(std::signbit(d[1]));
  EXPECT_FALSE(std::signbit(d[2]));

  // Narrow: 0x7e00 is a half NaN, 0x8000 is -0.
  const std::vector<Float16> h = reduced<Float16>(DataType::kFloat16, RedOpKind::kMin, {{0x3c00}, {0x0000}}, {{0x7e00}, {0x8000}});
  EXPECT_EQ(h[0].bits & 0x7c00, 0x7c00);
  EXPECT_NE(h[0].bits & 0x03ff, 0);
  EXPECT_EQ(h[1].bits, 0x8000);
  const std::vector<Float8e4m3> e = reduced<Float8e4m3>(DataType::kFloat8e4m3, RedOpKind::kMax, {{0x7f}, {0x7e}}, {{0x38}, {0x80}});
  EXPECT_EQ(e[0].bits, 0x7f);
  EXPECT_EQ(e[1].bits, 0x7e);
}

TEST(ReduceFloatTest, NarrowSumsRoundOnceToNearestEven) {
  // 1 + 2^-11 is a binary16 tie: back to 1 (even); (1 + 2^-10) + 2^-11 ties up.
  const std::vector<Float16> h = reduced<Float16>(DataType::kFloat16, RedOpKind::kSum, {{0x3c00}, {0x3c01}}, {{0x1000}, {0x1000}});
  EXPECT_EQ(h[0].bits, 0x3c00);
  EXPECT_EQ(h[1].bits, 0x3c02);
  // bfloat16: 256 + 1 ties to 256; 258 + 1 ties to 260.
  const std::vector<Bfloat16> bf = reduced<Bfloat16>(DataType::kBfloat16, RedOpKind::kSum, {{0x4380}, {0x4381}}, {{0x3f80}, {0x3f80}});
  EXPECT_EQ(bf[0].bits, 0x4380);
  EXPECT_EQ(bf[1].bits, 0x4382);
  // e4m3: 448 + 32 = 480 would be the NaN code, so it overflows to NaN;
  // 448 + 16 = 464 ties back to 448.
  const std::vector<Float8e4m3> e = reduced<Float8e4m3>(DataType::kFloat8e4m3, RedOpKind::kSum, {{0x7e}, {0x7e}}, {{0x60}, {0x58}});
  EXPECT_EQ(e[0].bits, 0x7f);
  EXPECT_EQ(e[1].bits, 0x7e);
  // e5m2: 57344 + 8192 = 65536 overflows to Inf.
  const std::vector<Float8e5m2> f = reduced<Float8e5m2>(DataType::kFloat8e5m2, RedOpKind::kSum, {{0x7b}}, {{0x70}});
  EXPECT_EQ(f[0].bits, 0x7c);
}

TEST(ReduceFloatTest, DivideRoundsOnceFromFloat) {
  std::vector<float> f = {1.0f, -2.0f};
  divideElements(DataType::kFloat32, f.data(), f.size(), 3);
  EXPECT_EQ(bitsOf(f[0]), 0x3eaaaaabu);
  EXPECT_EQ(bitsOf(f[1]), 0xbf2aaaabu);
  std::vector<Float16> h = {{0x3c00}, {0x0001}};  // 1 and the smallest subnormal
  divideElements(DataType::kFloat16, h.data(), h.size(), 3);
  EXPECT_EQ(h[0].bits, 0x3555);
  EXPECT_EQ(h[1].bits, 0x0000);
  std::vector<double> d = {1.0};
  divideElements(DataType::kFloat64, d.data(), d.size(), 3);
  EXPECT_EQ(d[0], 1.0 / 3.0);
}

TEST(ReducePreMultiplyTest, ScalarComesFromTheLowBytes) {
  // Garbage above the element's bytes must be ignored.
  std::vector<Float16> h = {{0x4000}};  // 2
  preMultiplyElements(DataType::kFloat16, 0xdeadbeef00003800ull, h.data(), h.data(), 1);  // * 0.5
  EXPECT_EQ(h[0].bits, 0x3c00);
  std::vector<int8_t> i8 = {100};
  preMultiplyElements(DataType::kInt8, 0xffffffffffffff03ull, i8.data(), i8.data(), 1);  // * 3 wraps
  EXPECT_EQ(i8[0], 44);
  std::vector<float> f = {1.5f, -2.0f};
  uint64_t scalar = 0;
  const float s = -4.0f;
  std::memcpy(&scalar, &s, sizeof s);
  std::vector<float> out(2);
  preMultiplyElements(DataType::kFloat32, scalar, out.data(), f.data(), 2);
  EXPECT_EQ(out, (std::vector<float>{-6.0f, 8.0f}));
}

}  // namespace
}  // namespace loom
