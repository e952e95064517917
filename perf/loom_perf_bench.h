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

// One rank's whole run: header, Loom's sweep, then the same sweep through
// each backend in `compared` (MPI, Gloo), the summary lines and the
// comparison table; rank 0 then writes --json and --plot. Returns the exit
// code (1 when any element was wrong); a failed call comes back as its Status.
Result<int> runBenchmark(const Options& options, Backend& loom, const std::vector<Backend*>& compared,
                         const std::string& launchDescription);

}  // namespace loom::perf
