// The MPI side of `--compare mpi`: the same sweep through MPI's collectives.
#pragma once

#if defined(LOOM_HAVE_MPI)
// Only MPI's C API is linked (MPI::MPI_C); keep mpi.h from declaring the
// deprecated C++ bindings, whose symbols would then be missing.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <memory>

#include "loom_perf_backend.h"

namespace loom::perf {

std::unique_ptr<Backend> makeMpiBackend(MPI_Comm comm);

// "Open MPI v4.1.4": the library MPI reports, first clause only.
std::string mpiLibraryName();

}  // namespace loom::perf
#endif
