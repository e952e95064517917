// `loom-train --plot FILE.png`: the loss curve, drawn by gnuplot.
#pragma once

#include <string>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

struct LossPoint {
  double step = 0;
  double loss = 0;
  double validationLoss = -1;  // < 0: not evaluated at this step
};

// Draws training loss (and validation loss where measured) against step into
// pngPath, with a dashed line at `target` when it is > 0 (the best possible
// loss on the synthetic corpus). Errors when gnuplot is missing or fails.
Status writeLossPlot(const std::string& pngPath, const std::vector<LossPoint>& points, double target);

}  // namespace loom::trainer
