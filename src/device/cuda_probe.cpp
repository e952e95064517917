#include "device/cuda_probe.h"

#include <dlfcn.h>

#include <mutex>

#include "common/logging.h"
#include "loom/device.h"

namespace loom {
namespace {

CudaAvailability probe() {
  CudaAvailability a;
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) {
    a.explanation = "no GPU usable: the CUDA driver (libcuda.so.1) is not installed; Loom runs on host buffers only";
    return a;
  }
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int*);
  auto init = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
  auto count = reinterpret_cast<CountFn>(dlsym(driver, "cuDeviceGetCount"));
  if (init == nullptr || count == nullptr) {
    a.explanation = "no GPU usable: libcuda.so.1 lacks cuInit/cuDeviceGetCount; Loom runs on host buffers only";
    return a;
  }
  int rc = init(0);
  if (rc != 0) {
    a.explanation = "no GPU usable: cuInit failed with CUDA error " + std::to_string(rc) +
                    " (no device or driver mismatch); Loom runs on host buffers only";
    return a;
  }
  if (count(&a.devices) != 0 || a.devices == 0) {
    a.explanation = "no GPU usable: the CUDA driver reports no devices; Loom runs on host buffers only";
    return a;
  }
  a.usable = true;
  a.explanation = std::to_string(a.devices) + " CUDA device(s) found; this build moves host buffers only";
  return a;
}

}  // namespace

const CudaAvailability& cudaAvailability() {
  static std::once_flag once;
  static CudaAvailability result;
  std::call_once(once, [] {
    result = probe();
    LOOM_INFO(kInit, "%s", result.explanation.c_str());
  });
  return result;
}

std::string gpuAvailability() { return cudaAvailability().explanation; }

}  // namespace loom
