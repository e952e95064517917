// The measurement loop: for each datatype, op, root and size, time the
// out-of-place and in-place call, then check the results.
#pragma once

#include <string>
#include <vector>

#include "loom_perf_backend.h"
#include "loom_perf_options.h"
#include "loom_perf_report.h"

namespace loom::perf {

// Runs the whole sweep on `backend`. Rank 0 prints each row as it completes
// (so a long sweep shows progress and a failure shows where it happened).
Result<std::vector<Row>> runSweep(const Options& options, Backend& backend);

// One rank's whole run: header, Loom's sweep, MPI's sweep when `mpi` is given,
// the summary lines. Returns the exit code (1 when any element was wrong);
// a failed call comes back as its Status.
Result<int> runBenchmark(const Options& options, Backend& loom, Backend* mpi, const std::string& launchDescription);

}  // namespace loom::perf
