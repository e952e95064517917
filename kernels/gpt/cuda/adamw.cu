// AdamW over a range of elements and the global gradient norm; the twin of
// adamw.cpp. The step constants are makeAdamWStep, the element update is
// adamwElement and the clip factor is gradClipScale, all from gpt_math.h.
#include "kernels/gpt/adamw.h"
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

__global__ void adamwKernel(float* params, const float* grads, float* m, float* v, size_t n, AdamWStep step,
                            const double* clipNormSquared, float maxNorm) {
  if (clipNormSquared != nullptr) step.gradScale *= gradClipScale(*clipNormSquared, maxNorm);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    float p = params[i], mi = m[i], vi = v[i];
    adamwElement(p, mi, vi, grads[i], step);
    params[i] = p;
    m[i] = mi;
    v[i] = vi;
  }
}

// The norm's blocks are the CPU's (kNormBlock elements each), so a block sum
// depends only on the data; within a block the order is this kernel's.
constexpr int kNormThreads = 256;
static_assert(kNormBlock % kNormThreads == 0, "each thread takes whole strides of a block");

__device__ double blockSumDouble(double value, double* shared) {
  value = detail::warpSumDouble(value);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = value;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kNormThreads / 32; ++w) total += shared[w];
  return total;
}

__global__ void normBlocksKernel(double* blockSums, const float* grad, size_t n) {
  __shared__ double shared[kNormThreads / 32];
  const size_t begin = blockIdx.x * kNormBlock;
  const size_t end = begin + kNormBlock < n ? begin + kNormBlock : n;
  double sum = 0.0;
  for (size_t i = begin + threadIdx.x; i < end; i += kNormThreads) {
    const double g = grad[i];
    sum += g * g;
  }
  const double total = blockSumDouble(sum, shared);
  if (threadIdx.x == 0) blockSums[blockIdx.x] = total;
}

// One block adds the block sums: thread j takes blocks j, j + 256, ... in
// order, then the usual fixed tree.
__global__ void normTotalKernel(double* total, const double* blockSums, size_t blocks) {
  __shared__ double shared[kNormThreads / 32];
  double sum = 0.0;
  for (size_t i = threadIdx.x; i < blocks; i += kNormThreads) sum += blockSums[i];
  const double result = blockSumDouble(sum, shared);
  if (threadIdx.x == 0) *total += result;
}

size_t normBlocks(size_t n) { return (n + kNormBlock - 1) / kNormBlock; }

}  // namespace

std::string adamwUpdate(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                        float beta2, float eps, float weightDecay, int step, float gradScale,
                        const double* clipNormSquared, float maxNorm, void* stream) {
  if (n == 0) return {};
  if (step < 1) return detail::badArguments("adamwUpdate", "step counts from 1");
  // Built on the host once per call: the pow()s in double are then not
  // repeated per thread, and the kernel sees exactly the CPU's constants.
  const AdamWStep s = makeAdamWStep(lr, beta1, beta2, eps, weightDecay, step, gradScale);
  adamwKernel<<<detail::elementBlocks(n), detail::kElementThreads, 0, detail::asStream(stream)>>>(
      params, grads, m, v, n, s, clipNormSquared, maxNorm);
  return detail::checkLaunch("adamwKernel");
}

size_t globalNormScratchDoubles(size_t n) { return normBlocks(n) + 1; }

std::string globalNormSquared(double* deviceTotal, double* scratch, const float* grad, size_t n, void* stream) {
  if (n == 0) return {};
  const size_t blocks = normBlocks(n);
  if (blocks > 0x7fffffffu) return detail::badArguments("globalNormSquared", "n exceeds the grid");
  normBlocksKernel<<<static_cast<unsigned>(blocks), kNormThreads, 0, detail::asStream(stream)>>>(scratch, grad, n);
  if (std::string error = detail::checkLaunch("normBlocksKernel"); !error.empty()) return error;
  normTotalKernel<<<1, kNormThreads, 0, detail::asStream(stream)>>>(deviceTotal, scratch, blocks);
  return detail::checkLaunch("normTotalKernel");
}

std::string globalNormSquaredToHost(double* hostResult, double* scratch, const float* grad, size_t n, void* stream) {
  // The last scratch slot holds the device total, after the block sums.
  double* total = scratch + normBlocks(n);
  const cudaStream_t s = detail::asStream(stream);
  if (cudaError_t e = cudaMemsetAsync(total, 0, sizeof(double), s); e != cudaSuccess)
    return detail::cudaFailure("cudaMemsetAsync", e);
  if (std::string error = globalNormSquared(total, scratch, grad, n, stream); !error.empty()) return error;
  if (cudaError_t e = cudaMemcpyAsync(hostResult, total, sizeof(double), cudaMemcpyDeviceToHost, s); e != cudaSuccess)
    return detail::cudaFailure("cudaMemcpyAsync", e);
  if (cudaError_t e = cudaStreamSynchronize(s); e != cudaSuccess) return detail::cudaFailure("cudaStreamSynchronize", e);
  return {};
}

}  // namespace loom::gpt::cuda
