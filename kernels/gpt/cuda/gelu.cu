// GELU (tanh approximation), element-wise; the twin of gelu.cpp. Both
// directions call geluValue / geluDerivative from gpt_math.h.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

template <typename T>
__global__ void geluForwardKernel(T* out, const T* inp, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    detail::store(out, i, geluValue(detail::load(inp, i)));
}

template <typename T>
__global__ void geluBackwardKernel(float* dinp, const T* inp, const float* dout, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    dinp[i] += geluDerivative(detail::load(inp, i)) * dout[i];
}

}  // namespace

std::string geluForward(void* out, const void* inp, size_t N, ActivationType type, void* stream) {
  if (N == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using T = decltype(tag);
    geluForwardKernel<T><<<detail::elementBlocks(N), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        static_cast<T*>(out), static_cast<const T*>(inp), N);
    return detail::checkLaunch("geluForwardKernel");
  });
}

std::string geluBackward(float* dinp, const void* inp, const float* dout, size_t N, ActivationType type,
                         void* stream) {
  if (N == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using T = decltype(tag);
    geluBackwardKernel<T><<<detail::elementBlocks(N), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        dinp, static_cast<const T*>(inp), dout, N);
    return detail::checkLaunch("geluBackwardKernel");
  });
}

}  // namespace loom::gpt::cuda
