// `--plot FILE.png`: busbw against size, one line per library (and per `-a`
// algorithm section), drawn by running gnuplot on a generated script.
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"
#include "loom/types.h"
#include "loom_perf_report.h"

namespace loom::perf {

// Empty when gnuplot is on PATH, else a sentence saying it is not and how to
// get it; checked before the sweep so a long run does not end in that error.
std::string gnuplotProblem();

// The gnuplot script that draws `libraries`' out-of-place busbw against size
// (log x) into `pngPath` with `terminal` ("pngcairo" or "png"). A line per
// library and algorithm section, and per type/op/root when there are several.
// Empty (with *why set) when there is nothing to draw.
std::string plotScript(const std::vector<LibraryRows>& libraries, CollectiveKind collective, int ranks,
                       const std::string& pngPath, const std::string& terminal, std::string* why);

// Draws the plot: picks pngcairo when gnuplot has it, else png, runs gnuplot
// and checks that it wrote a non-empty file.
Status writePlot(const std::string& pngPath, const std::vector<LibraryRows>& libraries, CollectiveKind collective,
                 int ranks);

}  // namespace loom::perf
