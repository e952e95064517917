// Whether a usable GPU is present, asked of the CUDA driver at run time.
//
// The driver is loaded with dlopen so that Loom builds, links and runs on
// machines with no driver at all; the answer explains what was missing.
#pragma once

#include <string>

namespace loom {

struct CudaAvailability {
  bool usable = false;
  int devices = 0;
  std::string explanation;  // "no GPU usable: libcuda.so.1 not found; host buffers only"
};

// Probed once per process.
const CudaAvailability& cudaAvailability();

}  // namespace loom
