// Softmax + cross-entropy, fused; the twin of cross_entropy.cpp. The logit
// gradient is crossEntropyLogitGrad from gpt_math.h.
#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

// One block per position: V (50257 for GPT-2) is long enough to want a whole
// block, and a fixed block size fixes the reduction order.
constexpr int kThreads = 256;

struct SoftmaxRow {
  float maximum;
  float sum;
};

// Forward and backward both call this, so they see the same probabilities
// (the CPU kernels share their softmaxRow the same way).
template <typename A>
__device__ SoftmaxRow softmaxRow(const A* row, int V, float* reduce) {
  float localMax = -INFINITY;
  for (int i = threadIdx.x; i < V; i += kThreads) localMax = fmaxf(localMax, detail::load(row, i));
  SoftmaxRow s;
  s.maximum = detail::blockMax<kThreads>(localMax, reduce);
  float localSum = 0.0f;
  for (int i = threadIdx.x; i < V; i += kThreads) localSum += expf(detail::load(row, i) - s.maximum);
  s.sum = detail::blockSum<kThreads>(localSum, reduce);
  return s;
}

template <typename A>
__global__ void crossEntropyForwardKernel(float* losses, const A* logits, const int32_t* targets, int V) {
  __shared__ float reduce[32];
  const size_t bt = blockIdx.x;
  const A* row = logits + bt * V;
  const SoftmaxRow s = softmaxRow(row, V, reduce);
  if (threadIdx.x == 0) losses[bt] = logf(s.sum) + s.maximum - detail::load(row, targets[bt]);
}

template <typename A>
__global__ void crossEntropyBackwardKernel(float* dlogits, const float* dlosses, const A* logits,
                                           const int32_t* targets, int V) {
  __shared__ float reduce[32];
  const size_t bt = blockIdx.x;
  const A* row = logits + bt * V;
  const SoftmaxRow s = softmaxRow(row, V, reduce);
  const float inverse = 1.0f / s.sum;
  const int target = targets[bt];
  const float dloss = dlosses[bt];
  float* d = dlogits + bt * V;
  for (int i = threadIdx.x; i < V; i += kThreads)
    d[i] += crossEntropyLogitGrad(expf(detail::load(row, i) - s.maximum) * inverse, i == target, dloss);
}

std::string checkShape(const char* function, int B, int T, int V) {
  if (B < 0 || T < 0 || V < 1) return detail::badArguments(function, "needs B, T >= 0 and V >= 1");
  if (static_cast<size_t>(B) * T > 0x7fffffffu) return detail::badArguments(function, "B*T exceeds the grid");
  return {};
}

}  // namespace

std::string crossEntropyForward(float* losses, const void* logits, const int32_t* targets, int B, int T, int V,
                                ActivationType type, void* stream) {
  if (std::string error = checkShape("crossEntropyForward", B, T, V); !error.empty()) return error;
  const unsigned rows = static_cast<unsigned>(static_cast<size_t>(B) * T);
  if (rows == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    crossEntropyForwardKernel<A><<<rows, kThreads, 0, detail::asStream(stream)>>>(
        losses, static_cast<const A*>(logits), targets, V);
    return detail::checkLaunch("crossEntropyForwardKernel");
  });
}

std::string crossEntropyBackward(float* dlogits, const float* dlosses, const void* logits, const int32_t* targets,
                                 int B, int T, int V, ActivationType type, void* stream) {
  if (std::string error = checkShape("crossEntropyBackward", B, T, V); !error.empty()) return error;
  const unsigned rows = static_cast<unsigned>(static_cast<size_t>(B) * T);
  if (rows == 0) return {};
  return detail::dispatchActivation(type, [&](auto tag) {
    using A = decltype(tag);
    crossEntropyBackwardKernel<A><<<rows, kThreads, 0, detail::asStream(stream)>>>(
        dlogits, dlosses, static_cast<const A*>(logits), targets, V);
    return detail::checkLaunch("crossEntropyBackwardKernel");
  });
}

}  // namespace loom::gpt::cuda
