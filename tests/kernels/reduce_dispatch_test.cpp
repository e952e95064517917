// The vector reduce kernels (AVX2, AVX-512) and the one reduceElements picks
// against the baseline kernel, bit for bit: every type and op, every length
// from 0 to 67 (all vector widths and tails) and a long odd one, pointers one
// element off alignment, dst aliasing an input, and floats full of NaNs
// (signalling, negative, with payloads), infinities, signed zeros and
// subnormals. reduce_test.cpp checks the arithmetic itself against an
// independent reference; this file checks that the instruction set changes
// nothing at all.
#include "kernels/reduce.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/numeric.h"
#include "kernels/reduce_dispatch.h"
#include "support/run_command.h"

namespace loom {
namespace {

using reduce_dispatch::Isa;
using reduce_dispatch::Kernel;

const DataType kAllTypes[] = {DataType::kInt8,    DataType::kUint8,    DataType::kInt32,      DataType::kUint32,
                              DataType::kInt64,   DataType::kUint64,   DataType::kFloat16,    DataType::kFloat32,
                              DataType::kFloat64, DataType::kBfloat16, DataType::kFloat8e4m3, DataType::kFloat8e5m2};

const RedOpKind kAllOps[] = {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax,
                             RedOpKind::kMin, RedOpKind::kAvg,  RedOpKind::kPreMulSum};

// ------------------------------------------------------------------ inputs

// Bit patterns worth a lane of their own, per type: the special values the
// kernels must treat exactly as the scalar code does.
std::vector<uint64_t> specialBits(DataType t) {
  switch (t) {
    case DataType::kFloat32:
      return {0x00000000, 0x80000000, 0x7f800000, 0xff800000,  // +-0, +-Inf
              0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa5a5a5,  // quiet, negative, signalling, payload NaNs
              0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff,  // subnormals, smallest normal, largest
              0x3f800000, 0xbf800000, 0x33800000, 0x3f800001};  // 1, -1, 2^-24 (ties against 1)
    case DataType::kFloat64:
      return {0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000,
              0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0x7ff4a5a5a5a5a5a5,
              0x0000000000000001, 0x800fffffffffffff, 0x0010000000000000, 0x7fefffffffffffff,
              0x3ff0000000000000, 0xbff0000000000000, 0x3ca0000000000000, 0x3ff0000000000001};
    case DataType::kFloat16:
      return {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7d55,
              0x0001, 0x83ff, 0x0400, 0x7bff, 0x3c00, 0xbc00, 0x1000, 0x3c01};
    case DataType::kBfloat16:
      return {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0x7fa5,
              0x0001, 0x807f, 0x0080, 0x7f7f, 0x3f80, 0xbf80, 0x4381, 0x3b80};
    case DataType::kFloat8e4m3: return {0x00, 0x80, 0x7f, 0xff, 0x7e, 0xfe, 0x01, 0x87, 0x08, 0x38, 0x60, 0x58};
    case DataType::kFloat8e5m2: return {0x00, 0x80, 0x7c, 0xfc, 0x7e, 0x7d, 0xff, 0x01, 0x83, 0x04, 0x7b, 0x70};
    default: {
      const unsigned bits = static_cast<unsigned>(8 * dataTypeSize(t));
      const uint64_t top = uint64_t{1} << (bits - 1);
      return {0, 1, ~uint64_t{0}, top, top - 1, 2, 3};
    }
  }
}

// An ordinary value, |x| in [2^-8, 2^8), in the type: sums and products of
// these carry and round, which random bit patterns (mostly huge, tiny or NaN
// for the narrow types) rarely exercise.
uint64_t ordinaryBits(DataType t, std::mt19937_64& rng) {
  const uint64_t r = rng();
  const float f = static_cast<float>(static_cast<int>(r % 2001) - 1000) / 125.0f *
                  floatOfBits(static_cast<uint32_t>(127 - 8 + static_cast<int>((r >> 16) % 16)) << 23);
  switch (t) {
    case DataType::kFloat16: return Float16::fromFloat(f).bits;
    case DataType::kBfloat16: return Bfloat16::fromFloat(f).bits;
    case DataType::kFloat8e4m3: return Float8e4m3::fromFloat(f).bits;
    case DataType::kFloat8e5m2: return Float8e5m2::fromFloat(f).bits;
    case DataType::kFloat32: return bitsOfFloat(f) ^ static_cast<uint32_t>((r >> 32) & 0xfff);  // full fraction
    case DataType::kFloat64: return bitsOfDouble(static_cast<double>(f)) ^ (r >> 20);
    default: return r;
  }
}

uint64_t elementBits(DataType t, std::mt19937_64& rng) {
  const size_t size = dataTypeSize(t);
  const uint64_t mask = size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
  switch (rng() % 4) {
    case 0: {
      const std::vector<uint64_t> specials = specialBits(t);
      return specials[rng() % specials.size()] & mask;
    }
    case 1: return rng() & mask;
    default: return ordinaryBits(t, rng) & mask;
  }
}

// ------------------------------------------------------------------ harness

enum class Alias { kNone, kDstIsA };

// count elements starting `offset` elements into word-aligned storage, the
// rest of which holds a guard pattern, so stray writes show in the compare.
class Buffer {
 public:
  Buffer(DataType t, size_t count, size_t offset)
      : size_(dataTypeSize(t)), offset_(offset), words_((count + offset + kGuard) * size_ / 8 + 2, kGuardWord) {}
  std::byte* data() { return reinterpret_cast<std::byte*>(words_.data()) + offset_ * size_; }
  const std::byte* data() const { return reinterpret_cast<const std::byte*>(words_.data()) + offset_ * size_; }
  uint64_t get(size_t i) const {
    uint64_t bits = 0;
    std::memcpy(&bits, data() + i * size_, size_);
    return bits;
  }
  void set(size_t i, uint64_t bits) { std::memcpy(data() + i * size_, &bits, size_); }
  // Everything outside [0, count), compared as whole storage minus the used part.
  bool sameGuards(const Buffer& other, size_t count) const {
    const auto* x = reinterpret_cast<const std::byte*>(words_.data());
    const auto* y = reinterpret_cast<const std::byte*>(other.words_.data());
    const size_t used = offset_ * size_, end = (offset_ + count) * size_, total = words_.size() * 8;
    return std::memcmp(x, y, used) == 0 && std::memcmp(x + end, y + end, total - end) == 0;
  }

 private:
  static constexpr size_t kGuard = 64;
  static constexpr uint64_t kGuardWord = 0xa5a5a5a5a5a5a5a5ull;
  size_t size_;
  size_t offset_;
  // uint64_t words: element 0 of the storage is aligned for every element
  // type, so `offset` alone decides whether the kernel sees aligned pointers.
  std::vector<uint64_t> words_;
};

bool isNan(DataType t, uint64_t bits) {
  switch (t) {
    case DataType::kFloat16: return (bits & 0x7fff) > 0x7c00;
    case DataType::kBfloat16: return (bits & 0x7fff) > 0x7f80;
    case DataType::kFloat8e4m3: return (bits & 0x7f) == 0x7f;
    case DataType::kFloat8e5m2: return (bits & 0x7f) > 0x7c;
    case DataType::kFloat32: return (bits & 0x7fffffff) > 0x7f800000;
    case DataType::kFloat64: return (bits & 0x7fffffffffffffff) > 0x7ff0000000000000;
    default: return false;
  }
}

// Whether the kernel's element may differ from the scalar one: only when sum
// or product meets two NaNs. x86 then returns the first source operand's NaN,
// and which operand is "first" is the compiler's choice, since + and * commute
// (it can differ even between the vector body and the scalar tail of one
// loop). So the kernel must give the scalar kernel's answer for (a, b) or for
// (b, a). max and min pick a NaN by rule (a's first), so they get no leeway.
bool allowedNanPick(DataType t, RedOpKind op, uint64_t a, uint64_t b, uint64_t got, uint64_t swapped) {
  return op != RedOpKind::kMax && op != RedOpKind::kMin && isNan(t, a) && isNan(t, b) && got == swapped;
}

// Runs `kernel` and the scalar kernel on a and b (dst == a if asked) and
// compares every element and the guards around them.
::testing::AssertionResult sameAsScalar(Kernel kernel, DataType t, RedOpKind op, const Buffer& a, const Buffer& b,
                                        size_t count, size_t offset, Alias alias) {
  Buffer aForScalar = a, aForKernel = a, dstScalar(t, count, offset), dstKernel(t, count, offset), swapped(t, count, offset);
  Buffer& want = alias == Alias::kDstIsA ? aForScalar : dstScalar;
  Buffer& got = alias == Alias::kDstIsA ? aForKernel : dstKernel;
  reduce_dispatch::reduceElementsScalar(t, op, want.data(), aForScalar.data(), b.data(), count);
  kernel(t, op, got.data(), aForKernel.data(), b.data(), count);
  reduce_dispatch::reduceElementsScalar(t, op, swapped.data(), b.data(), a.data(), count);

  for (size_t i = 0; i < count; ++i) {
    if (got.get(i) == want.get(i) || allowedNanPick(t, op, a.get(i), b.get(i), got.get(i), swapped.get(i))) continue;
    std::ostringstream why;
    why << "element " << i << std::hex << ": 0x" << a.get(i) << " " << redOpName(op) << " 0x" << b.get(i) << " gave 0x"
        << got.get(i) << ", scalar gave 0x" << want.get(i);
    return ::testing::AssertionFailure() << why.str();
  }
  if (!got.sameGuards(want, count)) return ::testing::AssertionFailure() << "wrote outside [0, count)";
  return ::testing::AssertionSuccess();
}

struct Candidate {
  std::string name;
  Kernel kernel;
};

// Every kernel this build and CPU can run besides the scalar one, plus the
// public entry point (whichever kernel the dispatch chose).
std::vector<Candidate> candidates() {
  std::vector<Candidate> out;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (Kernel k = reduce_dispatch::kernelFor(isa)) out.push_back({reduce_dispatch::isaName(isa), k});
  }
  out.push_back({"reduceElements", &reduceElements});
  return out;
}

// ------------------------------------------------------------------ tests

class ReduceDispatchTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceDispatchTest, VectorKernelsMatchScalarBitForBit) {
  const DataType t = GetParam();
  for (const Candidate& c : candidates()) {
    std::mt19937_64 rng(7000 + static_cast<int>(t));
    for (RedOpKind op : kAllOps) {
      std::vector<size_t> counts;
      for (size_t n = 0; n <= 67; ++n) counts.push_back(n);
      counts.push_back(100003);
      for (size_t count : counts) {
        for (size_t offset : {0, 1}) {
          Buffer a(t, count, offset), b(t, count, offset);
          for (size_t i = 0; i < count; ++i) {
            a.set(i, elementBits(t, rng));
            b.set(i, elementBits(t, rng));
          }
          for (Alias alias : {Alias::kNone, Alias::kDstIsA}) {
            ASSERT_TRUE(sameAsScalar(c.kernel, t, op, a, b, count, offset, alias))
                << c.name << " " << dataTypeName(t) << " " << redOpName(op) << " count " << count << " offset "
                << offset << (alias == Alias::kDstIsA ? " dst==a" : "");
          }
        }
      }
    }
  }
}

// Only NaNs, infinities, zeros and subnormals, in every pairing, so each
// special meets each other one in each operand position.
TEST_P(ReduceDispatchTest, SpecialValuesPairwiseMatchScalar) {
  const DataType t = GetParam();
  const std::vector<uint64_t> specials = specialBits(t);
  const size_t n = specials.size() * specials.size();
  for (const Candidate& c : candidates()) {
    for (RedOpKind op : kAllOps) {
      for (size_t offset : {0, 1}) {
        Buffer a(t, n, offset), b(t, n, offset);
        for (size_t i = 0; i < n; ++i) {
          a.set(i, specials[i / specials.size()]);
          b.set(i, specials[i % specials.size()]);
        }
        for (Alias alias : {Alias::kNone, Alias::kDstIsA}) {
          ASSERT_TRUE(sameAsScalar(c.kernel, t, op, a, b, n, offset, alias))
              << c.name << " " << dataTypeName(t) << " " << redOpName(op) << " offset " << offset
              << (alias == Alias::kDstIsA ? " dst==a" : "");
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceDispatchTest, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<DataType>& info) { return std::string(dataTypeName(info.param)); });

// On x86-64 this build always has the vector kernels; a CPU with AVX2 must
// get at least that, so a broken detection cannot silently leave every
// machine on the scalar path.
TEST(ReduceDispatchSelection, PicksTheWidestKernelTheCpuRuns) {
  const bool capped = std::getenv("LOOM_CPU_FEATURES") != nullptr;
  if (capped) GTEST_SKIP() << "LOOM_CPU_FEATURES is set";
  Isa best = Isa::kScalar;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (reduce_dispatch::kernelFor(isa) != nullptr) best = isa;
  }
  EXPECT_EQ(reduce_dispatch::selectedIsa(), best);
  EXPECT_EQ(reduce_dispatch::selectedKernel(), reduce_dispatch::kernelFor(best));
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_NE(reduce_dispatch::kernelFor(Isa::kAvx2), nullptr);
  }
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_NE(reduce_dispatch::kernelFor(Isa::kAvx512), nullptr);
  }
#endif
}

// What the child process below reports; harmless when run on its own.
TEST(ReduceDispatchSelection, PrintSelectedIsa) {
  const RedOpKind op = RedOpKind::kSum;
  float x = 1.0f;
  reduceElements(DataType::kFloat32, op, &x, &x, &x, 1);  // the first call makes the choice
  std::printf("selected-isa=%s\n", reduce_dispatch::isaName(reduce_dispatch::selectedIsa()));
}

std::string selfPath() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string();
}

// LOOM_CPU_FEATURES caps the choice (and never raises it above the CPU), in a
// fresh process each time because the choice is made once per process.
TEST(ReduceDispatchSelection, EnvironmentCapsTheChoice) {
  const std::string self = selfPath();
  ASSERT_FALSE(self.empty());
  auto selectedWith = [&](const std::string& value) {
    const testing::CommandResult r = testing::runCommand("LOOM_CPU_FEATURES=" + value + " '" + self +
                                                         "' --gtest_filter=ReduceDispatchSelection.PrintSelectedIsa");
    const size_t at = r.output.find("selected-isa=");
    if (r.exitCode != 0 || at == std::string::npos) return std::string("(failed: ") + r.output + ")";
    return r.output.substr(at + 13, r.output.find('\n', at) - at - 13);
  };
  auto bestUpTo = [](Isa cap) {
    Isa best = Isa::kScalar;
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (static_cast<int>(isa) <= static_cast<int>(cap) && reduce_dispatch::kernelFor(isa) != nullptr) best = isa;
    }
    return std::string(reduce_dispatch::isaName(best));
  };
  EXPECT_EQ(selectedWith("scalar"), "scalar");
  EXPECT_EQ(selectedWith("SCALAR"), "scalar");
  EXPECT_EQ(selectedWith("avx2"), bestUpTo(Isa::kAvx2));
  EXPECT_EQ(selectedWith("avx512"), bestUpTo(Isa::kAvx512));
  EXPECT_EQ(selectedWith("auto"), bestUpTo(Isa::kAvx512));
  EXPECT_EQ(selectedWith("bogus"), bestUpTo(Isa::kAvx512));
}

}  // namespace
}  // namespace loom
