// Token + position embedding; the twin of embedding.cpp.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

template <typename T>
__global__ void embeddingForwardKernel(T* out, const int32_t* tokens, const float* wte, const float* wpe, int T_,
                                       int C, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    const size_t bt = i / C;
    const int c = static_cast<int>(i % C);
    const size_t t = bt % T_;
    detail::store(out, i, wte[static_cast<size_t>(tokens[bt]) * C + c] + wpe[t * C + c]);
  }
}

// Two positions with the same token write the same dwte row, so (like the
// CPU) the work is split by channel only: one thread per channel walks the
// positions in (b,t) order. That gives one writer per element without atomics
// and the CPU's summation order; it is latency-bound (C threads), which is
// acceptable for a once-per-step kernel.
__global__ void embeddingBackwardTokensKernel(float* dwte, const float* dout, const int32_t* tokens, size_t BT, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (size_t bt = 0; bt < BT; ++bt) dwte[static_cast<size_t>(tokens[bt]) * C + c] += dout[bt * C + c];
}

// dwpe[t,c] gets the batch's sum, added once, summed in b order.
__global__ void embeddingBackwardPositionsKernel(float* dwpe, const float* dout, int B, int T_, int C) {
  const size_t n = static_cast<size_t>(T_) * C;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    float sum = 0.0f;
    for (int b = 0; b < B; ++b) sum += dout[static_cast<size_t>(b) * n + i];
    dwpe[i] += sum;
  }
}

}  // namespace

std::string embeddingForward(void* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C,
                             ActivationType type, void* stream) {
  if (B < 0 || T < 0 || C < 0) return detail::badArguments("embeddingForward", "negative shape");
  const size_t n = static_cast<size_t>(B) * T * C;
  if (n == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    embeddingForwardKernel<A><<<detail::elementBlocks(n), detail::kElementThreads, 0, detail::asStream(stream)>>>(
        static_cast<A*>(out), tokens, wte, wpe, T, C, n);
    return detail::checkLaunch("embeddingForwardKernel");
  });
}

std::string embeddingBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C,
                              void* stream) {
  if (B < 0 || T < 0 || C < 0) return detail::badArguments("embeddingBackward", "negative shape");
  if (static_cast<size_t>(B) * T * C == 0) return {};
  constexpr int kThreads = 128;
  embeddingBackwardTokensKernel<<<(C + kThreads - 1) / kThreads, kThreads, 0, detail::asStream(stream)>>>(
      dwte, dout, tokens, static_cast<size_t>(B) * T, C);
  std::string error = detail::checkLaunch("embeddingBackwardTokensKernel");
  if (!error.empty()) return error;
  const size_t n = static_cast<size_t>(T) * C;
  embeddingBackwardPositionsKernel<<<detail::elementBlocks(n), detail::kElementThreads, 0,
                                     detail::asStream(stream)>>>(dwpe, dout, B, T, C);
  return detail::checkLaunch("embeddingBackwardPositionsKernel");
}

}  // namespace loom::gpt::cuda
