// Lifetime of the cuBLAS handle matmul uses.
#include <cublas_v2.h>

#include <string>
#include <utility>

#include "kernels/gpt/cuda/gpt_cuda.h"

namespace loom::gpt::cuda {

// A destructor cannot report, and cublasDestroy only fails for a handle that
// was never valid.
CublasHandle::~CublasHandle() { static_cast<void>(destroy()); }

CublasHandle::CublasHandle(CublasHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

CublasHandle& CublasHandle::operator=(CublasHandle&& other) noexcept {
  if (this != &other) {
    static_cast<void>(destroy());
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

std::string CublasHandle::create() {
  if (handle_ != nullptr) return {};
  cublasHandle_t handle = nullptr;
  const cublasStatus_t status = cublasCreate(&handle);
  if (status != CUBLAS_STATUS_SUCCESS) return std::string("cublasCreate: ") + cublasGetStatusString(status);
  // Atomics would let cuBLAS reorder sums between runs; the trainer wants the
  // same bits every run (README, Determinism).
  const cublasStatus_t atomics = cublasSetAtomicsMode(handle, CUBLAS_ATOMICS_NOT_ALLOWED);
  if (atomics != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(handle);
    return std::string("cublasSetAtomicsMode: ") + cublasGetStatusString(atomics);
  }
  handle_ = handle;
  return {};
}

std::string CublasHandle::destroy() {
  if (handle_ == nullptr) return {};
  const cublasStatus_t status = cublasDestroy(static_cast<cublasHandle_t>(std::exchange(handle_, nullptr)));
  return status == CUBLAS_STATUS_SUCCESS ? std::string() : std::string("cublasDestroy: ") + cublasGetStatusString(status);
}

}  // namespace loom::gpt::cuda
