// The Gloo side of `--compare gloo`: the same sweep through Gloo's collectives
// (libgloo's TCP transport), so Loom can be compared with the library
// PyTorch's CPU backend uses, with forked ranks as well as under mpirun.
#pragma once

#if defined(LOOM_HAVE_GLOO)
#include <memory>

#include "loom_perf_backend.h"

namespace loom::perf {

// Connects every rank of `control` into one Gloo context and returns a
// backend on it. Collective: every rank of `control` calls it, in the same
// order. `control` carries the rendezvous (rank 0 makes a directory for
// Gloo's FileStore and tells the others its path), so every rank must be on
// one host, and is refused alike otherwise. Gloo's operations time out after
// `timeoutSeconds`.
Result<std::unique_ptr<Backend>> makeGlooBackend(Backend& control, int timeoutSeconds);

}  // namespace loom::perf
#endif
