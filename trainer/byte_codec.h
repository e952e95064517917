// Little-endian encoding for the trainer's binary files (token files, checkpoints).
//
// Both formats are little endian whatever the host is, so a file written on one
// machine reads on any other. On little-endian hosts (all the ones we build for)
// the array helpers are plain memcpy; the byte-swapping path keeps the code
// correct elsewhere.
//
// ByteReader never reads past its span: every get* returns false instead, so a
// parser built on it cannot overrun a truncated or corrupted buffer.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::trainer {

namespace byte_codec_detail {

template <typename T>
concept FixedWidthValue = std::is_trivially_copyable_v<T> &&
                          (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

template <typename T>
T reverseBytes(T value) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

}  // namespace byte_codec_detail

// Copies `count` values to `out` as little-endian bytes (count * sizeof(T) bytes).
template <byte_codec_detail::FixedWidthValue T>
void encodeLittleEndian(const T* values, size_t count, uint8_t* out) {
  if constexpr (std::endian::native == std::endian::little) {
    if (count != 0) std::memcpy(out, values, count * sizeof(T));
  } else {
    for (size_t i = 0; i < count; ++i) {
      const T swapped = byte_codec_detail::reverseBytes(values[i]);
      std::memcpy(out + i * sizeof(T), &swapped, sizeof(T));
    }
  }
}

// Converts values copied raw from a little-endian file into host order, in place.
template <byte_codec_detail::FixedWidthValue T>
void littleEndianToHost(std::span<T> values) {
  if constexpr (std::endian::native != std::endian::little) {
    for (T& value : values) value = byte_codec_detail::reverseBytes(value);
  }
}

// Reads `count` little-endian values from `bytes` into `out`.
template <byte_codec_detail::FixedWidthValue T>
void decodeLittleEndian(const uint8_t* bytes, size_t count, T* out) {
  if (count != 0) std::memcpy(out, bytes, count * sizeof(T));
  littleEndianToHost(std::span<T>(out, count));
}

template <byte_codec_detail::FixedWidthValue T>
T loadLittleEndian(const uint8_t* bytes) {
  T value;
  decodeLittleEndian(bytes, 1, &value);
  return value;
}

// Appends little-endian values to a growing byte buffer.
class ByteWriter {
 public:
  template <byte_codec_detail::FixedWidthValue T>
  void put(T value) {
    putArray(std::span<const T>(&value, 1));
  }

  template <byte_codec_detail::FixedWidthValue T>
  void putArray(std::span<const T> values) {
    const size_t start = bytes_.size();
    bytes_.resize(start + values.size_bytes());
    encodeLittleEndian(values.data(), values.size(), bytes_.data() + start);
  }

  void putBytes(std::span<const uint8_t> raw) { bytes_.insert(bytes_.end(), raw.begin(), raw.end()); }

  // Overwrites a value written earlier (e.g. a length known only at the end).
  template <byte_codec_detail::FixedWidthValue T>
  void patch(size_t offset, T value) {
    encodeLittleEndian(&value, 1, bytes_.data() + offset);
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> release() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

// Reads little-endian values from a span, refusing (returning false) rather
// than reading past its end. On failure the read position is unchanged.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  template <byte_codec_detail::FixedWidthValue T>
  bool get(T& value) {
    if (remaining() < sizeof(T)) return false;
    value = loadLittleEndian<T>(bytes_.data() + offset_);
    offset_ += sizeof(T);
    return true;
  }

  // Reads `count` values; the size check cannot overflow however large count is.
  template <byte_codec_detail::FixedWidthValue T>
  bool getArray(uint64_t count, std::vector<T>& values) {
    if (count > remaining() / sizeof(T)) return false;
    values.resize(count);
    decodeLittleEndian(bytes_.data() + offset_, count, values.data());
    offset_ += count * sizeof(T);
    return true;
  }

  // A view of the next `count` bytes, consumed.
  bool getBytes(uint64_t count, std::span<const uint8_t>& view) {
    if (count > remaining()) return false;
    view = bytes_.subspan(offset_, count);
    offset_ += count;
    return true;
  }

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
};

}  // namespace loom::trainer
