// Residual add and its backward; the twin of residual.cpp.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

template <typename T>
__global__ void residualForwardKernel(T* out, const T* inp1, const T* inp2, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    detail::store(out, i, detail::load(inp1, i) + detail::load(inp2, i));
}

// Gradients are fp32 whatever the activation type, so backward has one form.
__global__ void residualBackwardKernel(float* dinp1, float* dinp2, const float* dout, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    const float d = dout[i];
    dinp1[i] += d;
    dinp2[i] += d;
  }
}

}  // namespace

std::string residualForward(void* out, const void* inp1, const void* inp2, size_t N, ActivationType type,
                            void* stream) {
  if (N == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using T = decltype(tag);
    residualForwardKernel<T><<<detail::elementBlocks(N), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        static_cast<T*>(out), static_cast<const T*>(inp1), static_cast<const T*>(inp2), N);
    return detail::checkLaunch("residualForwardKernel");
  });
}

std::string residualBackward(float* dinp1, float* dinp2, const float* dout, size_t N, void* stream) {
  if (N == 0) return {};
  // One thread does both adds of an element in order, so dinp1 == dinp2 gets
  // dout twice, as on the CPU.
  residualBackwardKernel<<<detail::elementBlocks(N), detail::kElementThreads, 0, detail::asStream(stream)>>>(
      dinp1, dinp2, dout, N);
  return detail::checkLaunch("residualBackwardKernel");
}

}  // namespace loom::gpt::cuda
