// fp32 <-> activation type copies: the bf16 compute copy of the weights, and
// widening bf16 activations where an fp32 GEMM needs them.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

template <typename T>
__global__ void castFromFloatKernel(T* dst, const float* src, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    detail::store(dst, i, src[i]);
}

template <typename T>
__global__ void castToFloatKernel(float* dst, const T* src, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    dst[i] = detail::load(src, i);
}

}  // namespace

std::string castFloatToActivation(void* dst, const float* src, size_t n, ActivationType type, void* stream) {
  if (n == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using T = decltype(tag);
    castFromFloatKernel<T><<<detail::elementBlocks(n), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        static_cast<T*>(dst), src, n);
    return detail::checkLaunch("castFromFloatKernel");
  });
}

std::string castActivationToFloat(float* dst, const void* src, size_t n, ActivationType type, void* stream) {
  if (n == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using T = decltype(tag);
    castToFloatKernel<T><<<detail::elementBlocks(n), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        dst, static_cast<const T*>(src), n);
    return detail::checkLaunch("castToFloatKernel");
  });
}

}  // namespace loom::gpt::cuda
