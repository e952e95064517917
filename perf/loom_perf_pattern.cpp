#include "loom_perf_pattern.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace loom::perf {
namespace {

struct MiniFloat {
  int exponentBits;
  int mantissaBits;
  bool finiteOnly;  // e4m3: no infinities, only the all-ones pattern is NaN
};

MiniFloat miniFloatOf(DataType type) {
  switch (type) {
    case DataType::kFloat16: return {5, 10, false};
    case DataType::kBfloat16: return {8, 7, false};
    case DataType::kFloat8e4m3: return {4, 3, true};
    case DataType::kFloat8e5m2: return {5, 2, false};
    default: return {0, 0, false};
  }
}

// Round-to-nearest-even; loom-perf only stores values the format holds
// exactly, so the rounding matters only for values nobody checks.
uint32_t encodeMini(double v, MiniFloat f) {
  uint32_t sign = std::signbit(v) ? 1u : 0u;
  uint32_t signBit = sign << (f.exponentBits + f.mantissaBits);
  v = std::fabs(v);
  const int bias = (1 << (f.exponentBits - 1)) - 1;
  const uint32_t expMask = (1u << f.exponentBits) - 1;
  if (std::isnan(v)) return signBit | (expMask << f.mantissaBits) | ((1u << f.mantissaBits) - 1);
  if (v == 0) return signBit;
  int e = 0;
  double m = std::frexp(v, &e);  // v = m * 2^e, m in [0.5, 1)
  int unbiased = e - 1;
  uint32_t bits;
  if (unbiased + bias <= 0) {
    bits = static_cast<uint32_t>(std::nearbyint(std::ldexp(v, bias - 1 + f.mantissaBits)));
  } else {
    double frac = (2 * m - 1) * static_cast<double>(1u << f.mantissaBits);
    // A carry out of the mantissa correctly bumps the exponent.
    bits = (static_cast<uint32_t>(unbiased + bias) << f.mantissaBits) + static_cast<uint32_t>(std::nearbyint(frac));
  }
  uint32_t maxBits = f.finiteOnly ? ((expMask << f.mantissaBits) | ((1u << f.mantissaBits) - 2))
                                  : (expMask << f.mantissaBits);  // saturate / infinity
  return signBit | std::min(bits, maxBits);
}

double decodeMini(uint32_t bits, MiniFloat f) {
  const int bias = (1 << (f.exponentBits - 1)) - 1;
  const uint32_t expMask = (1u << f.exponentBits) - 1;
  const uint32_t mantMask = (1u << f.mantissaBits) - 1;
  bool negative = (bits >> (f.exponentBits + f.mantissaBits)) & 1u;
  uint32_t exp = (bits >> f.mantissaBits) & expMask;
  uint32_t mant = bits & mantMask;
  double v;
  if (exp == expMask && !f.finiteOnly) {
    v = mant == 0 ? INFINITY : NAN;
  } else if (exp == expMask && f.finiteOnly && mant == mantMask) {
    v = NAN;
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), 1 - bias - f.mantissaBits);
  } else {
    v = std::ldexp(1.0 + static_cast<double>(mant) / (mantMask + 1), static_cast<int>(exp) - bias);
  }
  return negative ? -v : v;
}

template <typename T>
void storeAs(void* base, size_t index, T v) {
  std::memcpy(static_cast<char*>(base) + index * sizeof(T), &v, sizeof(T));
}

template <typename T>
T loadAs(const void* base, size_t index) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + index * sizeof(T), sizeof(T));
  return v;
}

int mantissaBits(DataType type) {
  switch (type) {
    case DataType::kFloat32: return 23;
    case DataType::kFloat64: return 52;
    default: return miniFloatOf(type).mantissaBits;
  }
}

// How many factors of two a product may collect and stay exact and finite.
int maxPowerOfTwo(DataType type) {
  switch (type) {
    case DataType::kInt8: return 6;
    case DataType::kUint8: return 7;
    case DataType::kInt32: return 30;
    case DataType::kUint32: return 31;
    case DataType::kInt64:
    case DataType::kUint64: return 62;
    case DataType::kFloat16: return 15;
    case DataType::kFloat8e4m3: return 8;
    case DataType::kFloat8e5m2: return 15;
    default: return 60;
  }
}

}  // namespace

void storeElement(DataType type, void* base, size_t index, double value) {
  switch (type) {
    case DataType::kInt8: storeAs<int8_t>(base, index, static_cast<int8_t>(value)); break;
    case DataType::kUint8: storeAs<uint8_t>(base, index, static_cast<uint8_t>(value)); break;
    case DataType::kInt32: storeAs<int32_t>(base, index, static_cast<int32_t>(value)); break;
    case DataType::kUint32: storeAs<uint32_t>(base, index, static_cast<uint32_t>(value)); break;
    case DataType::kInt64: storeAs<int64_t>(base, index, static_cast<int64_t>(value)); break;
    case DataType::kUint64: storeAs<uint64_t>(base, index, static_cast<uint64_t>(value)); break;
    case DataType::kFloat32: storeAs<float>(base, index, static_cast<float>(value)); break;
    case DataType::kFloat64: storeAs<double>(base, index, value); break;
    case DataType::kFloat16:
    case DataType::kBfloat16:
      storeAs<uint16_t>(base, index, static_cast<uint16_t>(encodeMini(value, miniFloatOf(type))));
      break;
    case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2:
      storeAs<uint8_t>(base, index, static_cast<uint8_t>(encodeMini(value, miniFloatOf(type))));
      break;
  }
}

double loadElement(DataType type, const void* base, size_t index) {
  switch (type) {
    case DataType::kInt8: return loadAs<int8_t>(base, index);
    case DataType::kUint8: return loadAs<uint8_t>(base, index);
    case DataType::kInt32: return loadAs<int32_t>(base, index);
    case DataType::kUint32: return loadAs<uint32_t>(base, index);
    case DataType::kInt64: return static_cast<double>(loadAs<int64_t>(base, index));
    case DataType::kUint64: return static_cast<double>(loadAs<uint64_t>(base, index));
    case DataType::kFloat32: return loadAs<float>(base, index);
    case DataType::kFloat64: return loadAs<double>(base, index);
    case DataType::kFloat16:
    case DataType::kBfloat16: return decodeMini(loadAs<uint16_t>(base, index), miniFloatOf(type));
    case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2: return decodeMini(loadAs<uint8_t>(base, index), miniFloatOf(type));
  }
  return NAN;
}

uint64_t elementBits(DataType type, double value) {
  uint64_t bits = 0;
  storeElement(type, &bits, 0, value);
  return bits;
}

double exactIntegerLimit(DataType type) {
  switch (type) {
    case DataType::kInt8: return 127;
    // 255 is the sentinel byte; keeping expectations below it keeps the sentinel meaningful.
    case DataType::kUint8: return 254;
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kInt64:
    case DataType::kUint64: return 2147483647.0;
    default: return std::ldexp(1.0, mantissaBits(type) + 1);
  }
}

DataPattern::DataPattern(DataType type, RedOpKind op, bool reducing, int nranks, int rep)
    : type_(type),
      op_(op),
      reducing_(reducing),
      nranks_(std::max(nranks, 1)),
      rep_(static_cast<uint64_t>(rep)),
      limit_(exactIntegerLimit(type)) {
  smallCap_ = static_cast<uint64_t>(std::min(limit_, 100.0));
  prodTwos_ = std::min(nranks_, maxPowerOfTwo(type));
  // Scaling by 1/n before summing may round each term once and the sum n times.
  avgTolerance_ = isFloatingPoint(type) ? std::ldexp(1.0, -mantissaBits(type)) * (2.0 * nranks_ + 2.0) : 0.0;
}

double DataPattern::sumLikeInput(int rank, uint64_t i, double limit) const {
  const uint64_t n = static_cast<uint64_t>(nranks_);
  uint64_t perRank = static_cast<uint64_t>(std::min(std::floor(limit / nranks_), 1000.0));
  if (perRank >= 1) return static_cast<double>((rank * 7 + i * 3 + rep_ * 5) % (perRank + 1));
  // More ranks than exact integers: exactly (i + rep) % (limit + 1) ranks contribute a 1.
  uint64_t ones = (i + rep_) % (static_cast<uint64_t>(limit) + 1);
  return ((rank + i + rep_) % n) < ones ? 1.0 : 0.0;
}

double DataPattern::input(int rank, size_t index) const {
  const uint64_t i = index;
  const uint64_t r = static_cast<uint64_t>(rank);
  const uint64_t n = static_cast<uint64_t>(nranks_);
  if (!reducing_) return static_cast<double>((r * 7 + i * 3 + rep_ * 5 + 1) % (smallCap_ + 1));
  switch (op_) {
    case RedOpKind::kSum: return sumLikeInput(rank, i, limit_);
    case RedOpKind::kPreMulSum: return sumLikeInput(rank, i, std::floor(limit_ / kPreMulSumScalar));
    case RedOpKind::kProd: {
      // Exactly `twos` ranks contribute a 2, the rest a 1: the product is 2^twos.
      uint64_t twos = (i + rep_) % (static_cast<uint64_t>(prodTwos_) + 1);
      return ((r + i * 5 + rep_) % n) < twos ? 2.0 : 1.0;
    }
    case RedOpKind::kMax:
    case RedOpKind::kMin: return static_cast<double>((r * 7 + i * 3 + rep_ * 5) % (smallCap_ + 1));
    case RedOpKind::kAvg: {
      // Pairs of ranks add +1 and -1 around a common base, so inputs differ by
      // rank yet the sum is exactly n * base and the average exactly base.
      // A partial sum can exceed n * base by at most 1.
      uint64_t maxBase = static_cast<uint64_t>(std::min(std::floor((limit_ - 1) / nranks_), 1000.0));
      if (maxBase < 1) return 0.0;
      double base = static_cast<double>(1 + (i * 3 + rep_ * 5) % maxBase);
      bool unpaired = (n % 2 == 1) && r == n - 1;
      if (unpaired) return base;
      bool plus = ((r % 2) ^ ((i + r / 2) % 2)) != 0;
      return plus ? base + 1 : base - 1;
    }
  }
  return 0.0;
}

double DataPattern::reduced(size_t index) const {
  double acc = input(0, index);
  for (int r = 1; r < nranks_; ++r) {
    double v = input(r, index);
    switch (op_) {
      case RedOpKind::kSum:
      case RedOpKind::kAvg:
      case RedOpKind::kPreMulSum: acc += v; break;
      case RedOpKind::kProd: acc *= v; break;
      case RedOpKind::kMax: acc = std::max(acc, v); break;
      case RedOpKind::kMin: acc = std::min(acc, v); break;
    }
  }
  if (op_ == RedOpKind::kAvg) acc /= nranks_;
  if (op_ == RedOpKind::kPreMulSum) acc *= kPreMulSumScalar;
  return acc;
}

bool DataPattern::matches(double got, double expected) const {
  if (reducing_ && op_ == RedOpKind::kAvg && avgTolerance_ > 0) {
    return std::fabs(got - expected) <= avgTolerance_ * std::max(1.0, std::fabs(expected));
  }
  return got == expected;
}

}  // namespace loom::perf
