#include "trainer/loss_plot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace loom::trainer {

namespace {

// Inside single quotes gnuplot takes everything literally except '' for '.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

}  // namespace

Status writeLossPlot(const std::string& pngPath, const std::vector<LossPoint>& points, double target) {
  if (points.empty()) return Status::invalidArgument("--plot %s: no steps were run, nothing to draw", pngPath.c_str());
  char scriptPath[] = "/tmp/loom-train-plot-XXXXXX";
  const int fd = mkstemp(scriptPath);
  if (fd < 0) return Status::systemError("--plot: cannot create a temporary gnuplot script");
  std::string script;
  // pngcairo draws smoother lines; plain png is the fallback every gnuplot has.
  script += "set terminal pngcairo size 900,540 noenhanced\n";
  script += "set output " + quoted(pngPath) + "\n";
  script += "set xlabel 'step'\nset ylabel 'loss (nats per token)'\nset grid\nset key top right\n";
  script += "set title 'loom-train'\n";
  std::string plot = "plot '-' using 1:2 with lines lw 2 title 'train loss'";
  bool anyValidation = false;
  for (const LossPoint& p : points) anyValidation |= p.validationLoss >= 0;
  if (anyValidation) plot += ", '-' using 1:2 with linespoints lw 2 pt 7 title 'validation loss'";
  if (target > 0) plot += ", " + std::to_string(target) + " with lines dt 2 lw 2 title 'best possible'";
  script += plot + "\n";
  char row[96];
  for (const LossPoint& p : points) {
    std::snprintf(row, sizeof(row), "%.0f %.6f\n", p.step, p.loss);
    script += row;
  }
  script += "e\n";
  if (anyValidation) {
    for (const LossPoint& p : points) {
      if (p.validationLoss < 0) continue;
      std::snprintf(row, sizeof(row), "%.0f %.6f\n", p.step, p.validationLoss);
      script += row;
    }
    script += "e\n";
  }
  const bool written = write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  close(fd);
  Status result = Status::ok();
  if (!written) {
    result = Status::systemError("--plot: cannot write the gnuplot script %s", scriptPath);
  } else {
    const std::string run = std::string("gnuplot ") + scriptPath + " 2>/dev/null";
    int rc = std::system(run.c_str());
    if (rc != 0) {
      // No cairo terminal in this gnuplot: try the plain one.
      std::string plain = script;
      plain.replace(plain.find("pngcairo"), 8, "png");
      std::FILE* f = std::fopen(scriptPath, "w");
      if (f != nullptr) {
        std::fwrite(plain.data(), 1, plain.size(), f);
        std::fclose(f);
      }
      rc = std::system((std::string("gnuplot ") + scriptPath).c_str());
    }
    struct stat st {};
    if (rc != 0 || stat(pngPath.c_str(), &st) != 0 || st.st_size == 0) {
      result = Status::unavailable(
          "--plot %s: gnuplot failed or is not installed (exit status %d); install it (apt-get install "
          "gnuplot-nox) or drop --plot",
          pngPath.c_str(), rc);
    }
  }
  unlink(scriptPath);
  return result;
}

}  // namespace loom::trainer
