// Fully connected layer through cuBLAS (cublasGemmEx, fp32 compute); the twin
// of matmul.cpp. cuBLAS is column-major: a row-major (R, K) matrix is the
// column-major (K, R) matrix with leading dimension K, i.e. its transpose, so
// each row-major product below is written as the transposed product.
#include <cublas_v2.h>

#include "kernels/gpt/cuda/common.cuh"

namespace loom::gpt::cuda {
namespace {

std::string cublasFailure(const char* what, cublasStatus_t status) {
  return std::string(what) + ": " + cublasGetStatusString(status);
}

template <typename T>
constexpr cudaDataType_t cudaTypeOf();
template <>
constexpr cudaDataType_t cudaTypeOf<float>() {
  return CUDA_R_32F;
}
template <>
constexpr cudaDataType_t cudaTypeOf<Bfloat16>() {
  return CUDA_R_16BF;
}

// out[r][o] = bias[o]: the GEMM then adds the product with beta = 1.
template <typename T>
__global__ void broadcastBiasKernel(T* out, const float* bias, size_t rows, int OC) {
  const size_t n = rows * OC;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    detail::store(out, i, bias[i % OC]);
}

// dbias[o] += sum over rows of dout[r][o]. Same scheme as LayerNorm's
// parameter gradients: 32 columns per block, kRowGroups interleaved row
// groups added in group order; one writer per element, no atomics.
constexpr int kRowGroups = 16;

__global__ void biasGradKernel(float* dbias, const float* dout, size_t rows, int OC) {
  __shared__ float partial[kRowGroups][32];
  const int o = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (o < OC)
    for (size_t r = threadIdx.y; r < rows; r += kRowGroups) sum += dout[r * OC + o];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && o < OC) {
    float total = 0.0f;
    for (int g = 0; g < kRowGroups; ++g) total += partial[g][threadIdx.x];
    dbias[o] += total;
  }
}

std::string bindStream(CublasHandle& cublas, void* stream) {
  if (!cublas.valid()) return "matmul: CublasHandle not created";
  const cublasStatus_t status =
      cublasSetStream(static_cast<cublasHandle_t>(cublas.get()), detail::asStream(stream));
  return status == CUBLAS_STATUS_SUCCESS ? std::string() : cublasFailure("cublasSetStream", status);
}

std::string checkShape(const char* function, int B, int T, int C, int OC) {
  if (B < 0 || T < 0 || C < 1 || OC < 0) return detail::badArguments(function, "needs B, T, OC >= 0 and C >= 1");
  return {};
}

}  // namespace

std::string matmulForward(void* out, const void* inp, const void* weight, const float* bias, int B, int T, int C, int OC,
                          ActivationType type, CublasHandle& cublas, void* stream) {
  if (std::string error = checkShape("matmulForward", B, T, C, OC); !error.empty()) return error;
  const size_t rows = static_cast<size_t>(B) * T;
  if (rows == 0 || OC == 0) return {};
  if (rows > 0x7fffffff) return detail::badArguments("matmulForward", "B*T exceeds cuBLAS's int range");
  if (std::string error = bindStream(cublas, stream); !error.empty()) return error;
  return detail::dispatchActivation(type, [&](auto tag) -> std::string {
    using A = decltype(tag);
    float beta = 0.0f;
    if (bias != nullptr) {
      broadcastBiasKernel<A><<<detail::elementBlocks(rows * OC), detail::kElementThreads, 0,
                               detail::asStream(stream)>>>(static_cast<A*>(out), bias, rows, OC);
      if (std::string error = detail::checkLaunch("broadcastBiasKernel"); !error.empty()) return error;
      beta = 1.0f;
    }
    const float alpha = 1.0f;
    // out^T (OC x R) = W (OC x C) · inp^T (C x R): W's row-major storage is
    // W^T column-major, hence op T on it; inp's is inp^T, used as is.
    const cublasStatus_t status = cublasGemmEx(
        static_cast<cublasHandle_t>(cublas.get()), CUBLAS_OP_T, CUBLAS_OP_N, OC, static_cast<int>(rows), C, &alpha,
        weight, cudaTypeOf<A>(), C, inp, cudaTypeOf<A>(), C, &beta, out, cudaTypeOf<A>(), OC, CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT);
    return status == CUBLAS_STATUS_SUCCESS ? std::string() : cublasFailure("cublasGemmEx (matmulForward)", status);
  });
}

std::string matmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const void* inp,
                           const float* weight, int B, int T, int C, int OC, ActivationType type, float* inpScratch,
                           CublasHandle& cublas, void* stream) {
  if (std::string error = checkShape("matmulBackward", B, T, C, OC); !error.empty()) return error;
  const size_t rows = static_cast<size_t>(B) * T;
  if (rows == 0 || OC == 0) return {};
  if (rows > 0x7fffffff) return detail::badArguments("matmulBackward", "B*T exceeds cuBLAS's int range");
  if (std::string error = bindStream(cublas, stream); !error.empty()) return error;
  const cublasHandle_t handle = static_cast<cublasHandle_t>(cublas.get());
  const float one = 1.0f;
  // beta = 1 makes cuBLAS add the product into the gradient: the += contract.
  if (dinp != nullptr) {
    // dinp^T (C x R) += W^T (C x OC) · dout^T (OC x R); both stored that way.
    const cublasStatus_t status =
        cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, C, static_cast<int>(rows), OC, &one, weight, CUDA_R_32F, C,
                     dout, CUDA_R_32F, OC, &one, dinp, CUDA_R_32F, C, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status != CUBLAS_STATUS_SUCCESS) return cublasFailure("cublasGemmEx (matmulBackward dinp)", status);
  }
  // The gradient dout is fp32, and cuBLAS wants both operands of one type, so
  // bf16 inputs are widened (exactly) rather than the gradient narrowed.
  const float* inpFloat = static_cast<const float*>(inp);
  if (type == ActivationType::kBfloat16) {
    if (inpScratch == nullptr) return detail::badArguments("matmulBackward", "bf16 input needs inpScratch");
    if (std::string error = castActivationToFloat(inpScratch, inp, rows * C, type, stream); !error.empty())
      return error;
    inpFloat = inpScratch;
  } else if (type != ActivationType::kFloat32) {
    return "matmulBackward: unknown ActivationType";
  }
  // dweight^T (C x OC) += inp^T (C x R) · dout (R x OC); dout is stored as
  // dout^T, hence op T on it.
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, static_cast<int>(rows), &one, inpFloat, CUDA_R_32F, C,
                   dout, CUDA_R_32F, OC, &one, dweight, CUDA_R_32F, C, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS) return cublasFailure("cublasGemmEx (matmulBackward dweight)", status);
  if (dbias != nullptr) {
    biasGradKernel<<<(OC + 31) / 32, dim3(32, kRowGroups), 0, detail::asStream(stream)>>>(dbias, dout, rows, OC);
    return detail::checkLaunch("biasGradKernel");
  }
  return {};
}

}  // namespace loom::gpt::cuda
