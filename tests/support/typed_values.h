// Reading and writing elements of any DataType as numbers, for tests that
// build inputs and references without caring about the element type.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/numeric.h"
#include "loom/types.h"

namespace loom::testing {

// Stores v (rounded once to the type; integers wrap modulo 2^bits).
inline void storeValue(DataType type, void* base, size_t i, double v) {
  auto* p = static_cast<char*>(base);
  auto wrap = [&](auto tag) {
    using T = decltype(tag);
    T x = static_cast<T>(static_cast<uint64_t>(static_cast<int64_t>(v)));
    std::memcpy(p + i * sizeof(T), &x, sizeof(T));
  };
  switch (type) {
    case DataType::kInt8: return wrap(int8_t{});
    case DataType::kUint8: return wrap(uint8_t{});
    case DataType::kInt32: return wrap(int32_t{});
    case DataType::kUint32: return wrap(uint32_t{});
    case DataType::kInt64: return wrap(int64_t{});
    case DataType::kUint64: return wrap(uint64_t{});
    case DataType::kFloat32: {
      float f = static_cast<float>(v);
      std::memcpy(p + i * 4, &f, 4);
      return;
    }
    case DataType::kFloat64: std::memcpy(p + i * 8, &v, 8); return;
    case DataType::kFloat16: {
      uint16_t b = floatToHalfBits(static_cast<float>(v));
      std::memcpy(p + i * 2, &b, 2);
      return;
    }
    case DataType::kBfloat16: {
      uint16_t b = floatToBfloat16Bits(static_cast<float>(v));
      std::memcpy(p + i * 2, &b, 2);
      return;
    }
    case DataType::kFloat8e4m3: p[i] = static_cast<char>(floatToFp8e4m3Bits(static_cast<float>(v))); return;
    case DataType::kFloat8e5m2: p[i] = static_cast<char>(floatToFp8e5m2Bits(static_cast<float>(v))); return;
  }
}

inline bool sameElement(DataType type, const void* a, const void* b, size_t i) {
  size_t s = dataTypeSize(type);
  return std::memcmp(static_cast<const char*>(a) + i * s, static_cast<const char*>(b) + i * s, s) == 0;
}

inline double loadValue(DataType type, const void* base, size_t i) {
  auto* p = static_cast<const char*>(base);
  auto read = [&](auto tag) {
    decltype(tag) x;
    std::memcpy(&x, p + i * sizeof(x), sizeof(x));
    return static_cast<double>(x);
  };
  switch (type) {
    case DataType::kInt8: return read(int8_t{});
    case DataType::kUint8: return read(uint8_t{});
    case DataType::kInt32: return read(int32_t{});
    case DataType::kUint32: return read(uint32_t{});
    case DataType::kInt64: return read(int64_t{});
    case DataType::kUint64: return read(uint64_t{});
    case DataType::kFloat32: return read(float{});
    case DataType::kFloat64: return read(double{});
    case DataType::kFloat16: {
      uint16_t b;
      std::memcpy(&b, p + i * 2, 2);
      return halfBitsToFloat(b);
    }
    case DataType::kBfloat16: {
      uint16_t b;
      std::memcpy(&b, p + i * 2, 2);
      return bfloat16BitsToFloat(b);
    }
    case DataType::kFloat8e4m3: return fp8e4m3BitsToFloat(static_cast<uint8_t>(p[i]));
    case DataType::kFloat8e5m2: return fp8e5m2BitsToFloat(static_cast<uint8_t>(p[i]));
  }
  return 0;
}

}  // namespace loom::testing
