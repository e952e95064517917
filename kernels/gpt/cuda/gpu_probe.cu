// The device probe and stream synchronisation: the only calls the trainer
// makes before deciding whether to use the GPU at all.
#include <cuda_runtime.h>

#include <string>

#include "kernels/gpt/cuda/common.cuh"
#include "kernels/gpt/cuda/gpt_cuda.h"

namespace loom::gpt::cuda {

GpuStatus probeGpu() {
  int count = 0;
  // Without a driver the runtime (static or shared) returns an error code
  // here, e.g. cudaErrorNoDevice or cudaErrorInsufficientDriver; it does not
  // abort, so this is safe on CPU-only machines.
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    // Clear the sticky last-error so a later caller does not see it.
    cudaGetLastError();
    return {false, std::string("no GPU usable: cudaGetDeviceCount: ") + cudaGetErrorString(error)};
  }
  if (count <= 0) return {false, "no GPU usable: cudaGetDeviceCount found 0 devices"};
  cudaDeviceProp prop{};
  const cudaError_t propError = cudaGetDeviceProperties(&prop, 0);
  if (propError != cudaSuccess) {
    cudaGetLastError();
    return {false, std::string("no GPU usable: cudaGetDeviceProperties: ") + cudaGetErrorString(propError)};
  }
  const std::string device = std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
                             std::to_string(prop.minor) + ", " + std::to_string(count) + " device(s))";
  // The library carries sm_80 code and compute_80 PTX only; older GPUs cannot
  // run it (and lack native bf16).
  if (prop.major < 8) return {false, "no GPU usable: " + device + " is older than compute capability 8.0"};
  return {true, "GPU 0: " + device};
}

std::string synchronizeStream(void* stream) {
  const cudaError_t error = cudaStreamSynchronize(detail::asStream(stream));
  return error == cudaSuccess ? std::string() : detail::cudaFailure("cudaStreamSynchronize", error);
}

size_t activationBytes(ActivationType type) { return type == ActivationType::kBfloat16 ? 2 : 4; }

}  // namespace loom::gpt::cuda
