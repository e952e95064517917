// Joining a Loom communicator from an MPI communicator.
//
// MPI already knows every rank, so it carries the UniqueId: rank 0 creates it
// and broadcasts it, and each rank joins with its MPI rank. This lives in its
// own static library (loom_mpi) so the core, and libnccl.so.2, never depend on
// MPI.
#pragma once

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

#include "loom/communicator.h"

namespace loom {

// Collective over `comm`: every rank of `comm` must call it. MPI must be
// initialised. Rank r of `comm` becomes rank r of the new communicator. When
// rank 0 cannot create the UniqueId, every rank returns rank 0's error rather
// than waiting for an id that will never come.
Result<std::unique_ptr<Communicator>> createCommunicatorFromMpi(MPI_Comm comm,
                                                                const CommOptions& options = {});

}  // namespace loom
