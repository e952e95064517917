// The host streams made by loomHostStreamCreate, so that a cudaStream_t value
// can be told apart from a CUDA stream (or garbage) before it is used.
#pragma once

#include "loom/communicator.h"
#include "nccl.h"

namespace loom::api {

// The loom::Stream behind `stream`, or nullptr if it is not a live host stream.
Stream* findHostStream(cudaStream_t stream);

}  // namespace loom::api
