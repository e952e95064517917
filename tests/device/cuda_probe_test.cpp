#include "device/cuda_probe.h"

#include <gtest/gtest.h>

namespace loom {
namespace {

// CI machines have the CUDA toolkit but no GPU: the probe must say so in words.
TEST(CudaProbe, ExplainsWhetherAGpuIsUsable) {
  const CudaAvailability& a = cudaAvailability();
  EXPECT_FALSE(a.explanation.empty());
  if (a.usable) {
    EXPECT_GT(a.devices, 0);
  } else {
    EXPECT_NE(a.explanation.find("no GPU usable"), std::string::npos) << a.explanation;
  }
}

}  // namespace
}  // namespace loom
