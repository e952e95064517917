#include "bootstrap/mpi_bootstrap.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace loom {
namespace {

// What rank 0 broadcasts: the id, or the error that stopped it from making
// one, so that every rank fails the same way instead of joining a root that
// does not exist.
struct IdMessage {
  int32_t code = 0;  // a StatusCode; kOk means `id` is valid
  UniqueId id;
  char message[512] = {};
};

std::string mpiErrorText(int err) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(err);
  return std::string(text, len);
}

}  // namespace

Result<std::unique_ptr<Communicator>> createCommunicatorFromMpi(MPI_Comm comm, const CommOptions& options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    return Status::invalidUsage(
        "createCommunicatorFromMpi was called before MPI_Init; initialise MPI first");
  }
  if (comm == MPI_COMM_NULL) {
    return Status::invalidArgument("createCommunicatorFromMpi: comm is MPI_COMM_NULL; pass a valid communicator");
  }
  int rank = 0;
  int nranks = 0;
  int err = MPI_Comm_rank(comm, &rank);
  if (err == MPI_SUCCESS) err = MPI_Comm_size(comm, &nranks);
  if (err != MPI_SUCCESS) {
    return Status::systemError("createCommunicatorFromMpi: cannot read rank/size of the MPI communicator: %s",
                               mpiErrorText(err).c_str());
  }

  IdMessage msg;
  if (rank == 0) {
    Result<UniqueId> id = createUniqueId();
    if (id.isOk()) {
      msg.id = id.value();
    } else {
      Status s = id.status();
      msg.code = static_cast<int32_t>(s.code());
      std::snprintf(msg.message, sizeof(msg.message), "%s", s.message().c_str());
    }
  }
  err = MPI_Bcast(&msg, static_cast<int>(sizeof(msg)), MPI_BYTE, 0, comm);
  if (err != MPI_SUCCESS) {
    return Status::systemError("createCommunicatorFromMpi: MPI_Bcast of the UniqueId failed on rank %d: %s", rank,
                               mpiErrorText(err).c_str());
  }
  if (msg.code != static_cast<int32_t>(StatusCode::kOk)) {
    msg.message[sizeof(msg.message) - 1] = '\0';
    std::string text = std::string("MPI rank 0 could not create the UniqueId: ") + msg.message;
    return Status::make(static_cast<StatusCode>(msg.code), "%s", text.c_str());
  }
  return Communicator::create(nranks, msg.id, rank, options);
}

}  // namespace loom
