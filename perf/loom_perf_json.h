// `--json FILE`: every row of every library measured, as one JSON array, so
// scripts need not parse the text columns.
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"
#include "loom/types.h"
#include "loom_perf_report.h"

namespace loom::perf {

// A JSON array with an object per row and placement (in_place false, then
// true): library, algorithm (null outside `-a` sections), collective, ranks,
// type, op ("none" for collectives that do not reduce), root (-1 without a
// root), bytes, count, in_place, time_us, algbw_gbps, busbw_gbps and wrong
// (null when unchecked, -c 0).
std::string formatJson(const std::vector<LibraryRows>& libraries, CollectiveKind collective, int ranks);

// Writes formatJson's text to `path` (replacing the file).
Status writeJsonFile(const std::string& path, const std::vector<LibraryRows>& libraries, CollectiveKind collective,
                     int ranks);

}  // namespace loom::perf
