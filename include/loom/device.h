// What compute devices Loom can use on this machine.
#pragma once

#include <string>

#include "loom/status.h"

namespace loom {

// One sentence for users: "no GPU usable: the CUDA driver (libcuda.so.1) is
// not installed; Loom runs on host buffers only", or the devices found.
LOOM_API std::string gpuAvailability();

}  // namespace loom
