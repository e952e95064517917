// Internal to the .cu files of this folder: error strings, activation loads
// and stores, deterministic block reductions, the fp32/bf16 dispatch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/gpt/cuda/gpt_cuda.h"
#include "kernels/gpt/gpt_math.h"
#include "kernels/numeric.h"

namespace loom::gpt::cuda::detail {

inline cudaStream_t asStream(void* stream) { return static_cast<cudaStream_t>(stream); }

inline std::string cudaFailure(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorString(error);
}

// A bad launch configuration is only visible through cudaGetLastError right
// after the launch; reading it here also clears it so it is not blamed on the
// next kernel.
inline std::string checkLaunch(const char* kernel) {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? std::string() : cudaFailure(kernel, error);
}

inline std::string badArguments(const char* function, const char* why) {
  return std::string(function) + ": " + why;
}

// Activations are float or loom::Bfloat16; converting through numeric.h makes
// the GPU round to bf16 exactly as the host code does.
__device__ __forceinline__ float load(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float load(const Bfloat16* p, size_t i) { return p[i].toFloat(); }
__device__ __forceinline__ void store(float* p, size_t i, float value) { p[i] = value; }
__device__ __forceinline__ void store(Bfloat16* p, size_t i, float value) { p[i] = Bfloat16::fromFloat(value); }

// Calls f(T{}) with T = float or Bfloat16, so each launcher is one generic
// lambda and each kernel is instantiated exactly twice.
template <typename F>
std::string dispatchActivation(ActivationType type, F&& f) {
  switch (type) {
    case ActivationType::kFloat32:
      return f(float{});
    case ActivationType::kBfloat16:
      return f(Bfloat16{});
  }
  return "unknown ActivationType";
}

// Element-wise kernels use grid-stride loops, so any n fits the grid limit.
constexpr int kElementThreads = 256;
inline unsigned elementBlocks(size_t n) {
  const size_t blocks = (n + kElementThreads - 1) / kElementThreads;
  constexpr size_t kMaxBlocks = size_t{1} << 20;
  return static_cast<unsigned>(blocks < kMaxBlocks ? (blocks == 0 ? 1 : blocks) : kMaxBlocks);
}

// Shuffle trees combine lanes in an order fixed by the lane numbers, so a
// reduction gives the same bits every run.
__device__ __forceinline__ float warpSum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}
__device__ __forceinline__ float warpMax(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}
__device__ __forceinline__ double warpSumDouble(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// Block-wide sum or max for a block of kThreads (a multiple of 32, <= 1024),
// returned to every thread. Warp results are added serially in warp order.
// shared must hold 32 floats; the trailing barrier lets the caller reuse it.
template <int kThreads>
__device__ float blockSum(float value, float* shared) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block must be whole warps");
  value = warpSum(value);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = value;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) total += shared[w];
  __syncthreads();
  return total;
}

template <int kThreads>
__device__ float blockMax(float value, float* shared) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block must be whole warps");
  value = warpMax(value);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = value;
  __syncthreads();
  float result = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) result = fmaxf(result, shared[w]);
  __syncthreads();
  return result;
}

}  // namespace loom::gpt::cuda::detail
