// loom-bench-reduce: how close the reduce kernels come to memory bandwidth.
//
// dst = a + b over buffers of 64 KiB (in cache), 1 MiB (L2) and 16 MiB (per
// buffer, 48 MiB in all: memory) on one thread, for each kernel this CPU
// runs (scalar, avx2, avx512), next to a memcpy of the same buffer size.
// bytes_per_second counts memory traffic: a reduction reads two buffers and
// writes one (3 x size per call), a memcpy reads one and writes one (2 x
// size), so the two rates are directly comparable.
//
//   build/bin/loom-bench-reduce --benchmark_filter=16MiB
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/numeric.h"
#include "kernels/reduce.h"
#include "kernels/reduce_dispatch.h"

namespace loom {
namespace {

const size_t kSizes[] = {size_t{64} << 10, size_t{1} << 20, size_t{16} << 20};
const DataType kTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBfloat16, DataType::kInt32,
                           DataType::kFloat64};

std::string sizeName(size_t bytes) {
  return bytes >= (size_t{1} << 20) ? std::to_string(bytes >> 20) + "MiB" : std::to_string(bytes >> 10) + "KiB";
}

// A page-aligned buffer, written once so its pages exist before timing.
struct Buffer {
  explicit Buffer(size_t bytes) : data(static_cast<std::byte*>(std::aligned_alloc(4096, bytes))) {
    std::memset(data, 0, bytes);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::byte* data;
};

// Small ordinary values: no NaNs, infinities or subnormals, which some CPUs
// handle slowly, and sums that stay in range for every type.
void fill(DataType type, std::byte* p, size_t count, int seed) {
  for (size_t i = 0; i < count; ++i) {
    const float v = static_cast<float>(static_cast<int>((i * 7 + static_cast<size_t>(seed)) % 64) - 32) / 8.0f;
    switch (type) {
      case DataType::kFloat32: reinterpret_cast<float*>(p)[i] = v; break;
      case DataType::kFloat64: reinterpret_cast<double*>(p)[i] = v; break;
      case DataType::kFloat16: reinterpret_cast<Float16*>(p)[i] = Float16::fromFloat(v); break;
      case DataType::kBfloat16: reinterpret_cast<Bfloat16*>(p)[i] = Bfloat16::fromFloat(v); break;
      case DataType::kInt32: reinterpret_cast<int32_t*>(p)[i] = static_cast<int32_t>(v * 8); break;
      default: break;
    }
  }
}

void memcpyBench(benchmark::State& state, size_t bytes) {
  Buffer src(bytes), dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data, src.data, bytes);
    benchmark::DoNotOptimize(dst.data);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * static_cast<int64_t>(bytes));
}

void sumBench(benchmark::State& state, reduce_dispatch::Kernel kernel, DataType type, size_t bytes) {
  const size_t count = bytes / dataTypeSize(type);
  Buffer a(bytes), b(bytes), dst(bytes);
  fill(type, a.data, count, 1);
  fill(type, b.data, count, 2);
  for (auto _ : state) {
    kernel(type, RedOpKind::kSum, dst.data, a.data, b.data, count);
    benchmark::DoNotOptimize(dst.data);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 * static_cast<int64_t>(bytes));
}

void registerAll() {
  using reduce_dispatch::Isa;
  for (size_t bytes : kSizes) {
    benchmark::RegisterBenchmark(("memcpy/" + sizeName(bytes)).c_str(), memcpyBench, bytes);
    for (DataType type : kTypes) {
      for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        const reduce_dispatch::Kernel kernel = reduce_dispatch::kernelFor(isa);
        if (kernel == nullptr) continue;
        const std::string name =
            std::string("sum/") + dataTypeName(type) + "/" + reduce_dispatch::isaName(isa) + "/" + sizeName(bytes);
        benchmark::RegisterBenchmark(name.c_str(), sumBench, kernel, type, bytes);
      }
    }
  }
}

}  // namespace
}  // namespace loom

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  loom::registerAll();
  benchmark::AddCustomContext("reduceElements uses", loom::reduce_dispatch::isaName(loom::reduce_dispatch::selectedIsa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
