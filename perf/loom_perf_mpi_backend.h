// The MPI side of `--compare mpi`: the same sweep through MPI's collectives.
#pragma once

#if defined(LOOM_HAVE_MPI)
#include <mpi.h>

#include <memory>

#include "loom_perf_backend.h"

namespace loom::perf {

std::unique_ptr<Backend> makeMpiBackend(MPI_Comm comm);

// "Open MPI v4.1.4": the library MPI reports, first clause only.
std::string mpiLibraryName();

}  // namespace loom::perf
#endif
