#include "loom_perf_plot.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "loom_perf_layout.h"
#include "loom_perf_options.h"

namespace loom::perf {
namespace {

bool onPath(const char* program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) return false;
    start = colon + 1;
  }
}

// Inside a gnuplot double-quoted string.
std::string gnuplotString(const std::string& text) {
  std::string s = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"";
}

// Inside single quotes gnuplot takes everything literally except '' for '.
std::string gnuplotPath(const std::string& path) {
  std::string s = "'";
  for (char c : path) {
    if (c == '\'') s += '\'';
    s += c;
  }
  return s + "'";
}

// "8", "4K", "16M": the sizes on the x axis, as -b/-e take them.
std::string sizeLabel(size_t bytes) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int unit = 0;
  while (unit < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + units[unit];
}

// The terminals this gnuplot has, from `gnuplot -e "set terminal"`: each is
// the first word of a line of that listing.
std::set<std::string> gnuplotTerminals() {
  std::set<std::string> names;
  std::FILE* p = popen("gnuplot -e 'set terminal' 2>&1", "r");
  if (p == nullptr) return names;
  char line[512];
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    char word[128];
    if (std::sscanf(line, " %127s", word) == 1) names.insert(word);
  }
  pclose(p);
  return names;
}

struct Series {
  std::string title;
  std::vector<std::pair<size_t, double>> points;  // bytes, out-of-place busbw
};

}  // namespace

std::string gnuplotProblem() {
  if (onPath("gnuplot")) return "";
  return "--plot needs gnuplot, which is not installed (not found on PATH); install it (Debian/Ubuntu: apt-get "
         "install gnuplot-nox) or drop --plot";
}

std::string plotScript(const std::vector<LibraryRows>& libraries, CollectiveKind collective, int ranks,
                       const std::string& pngPath, const std::string& terminal, std::string* why) {
  // Titles name the type/op/root only when the run had more than one.
  using Combo = std::tuple<int, int, int>;
  auto comboOf = [](const Row& r) {
    return Combo{static_cast<int>(r.type), r.reducing ? static_cast<int>(r.op) : -1, r.root};
  };
  std::set<Combo> combos;
  for (const LibraryRows& l : libraries) {
    for (const Row& r : l.rows) combos.insert(comboOf(r));
  }
  std::vector<Series> series;
  std::set<size_t> sizes;
  for (const LibraryRows& l : libraries) {
    std::map<Combo, size_t> index;  // combo -> position in `series`
    for (const Row& r : l.rows) {
      if (r.bytes == 0) continue;  // no place on a log axis
      auto [it, added] = index.emplace(comboOf(r), series.size());
      if (added) {
        Series s;
        s.title = l.library + (l.algorithm.empty() ? "" : " " + l.algorithm);
        if (combos.size() > 1) {
          s.title += std::string(" ") + dataTypeName(r.type) + (r.reducing ? std::string("/") + redOpName(r.op) : "");
          if (r.root >= 0) s.title += " root " + std::to_string(r.root);
        }
        series.push_back(s);
      }
      series[it->second].points.emplace_back(r.bytes, r.outOfPlace.busBw);
      sizes.insert(r.bytes);
    }
  }
  if (series.empty()) {
    *why = "no rows with a size above 0 to plot";
    return "";
  }

  std::string s;
  s += "set terminal " + terminal + " size 1200,800 noenhanced\n";
  s += "set output " + gnuplotPath(pngPath) + "\n";
  s += "set title " +
       gnuplotString(std::string("loom-perf ") + collectiveFlagName(collective) + " over " + std::to_string(ranks) +
                     " rank" + (ranks == 1 ? "" : "s") + ": out-of-place bus bandwidth") +
       "\n";
  s += "set xlabel \"size (bytes)\"\nset ylabel \"busbw (GB/s)\"\n";
  s += "set logscale x 2\nset grid\nset key top left\nset yrange [0:*]\n";
  // At most about a dozen labelled ticks, at sizes the sweep measured.
  std::vector<size_t> ticks(sizes.begin(), sizes.end());
  const size_t every = std::max<size_t>(1, (ticks.size() + 11) / 12);
  std::string tics;
  for (size_t i = 0; i < ticks.size(); i += every) {
    tics += (tics.empty() ? "" : ", ") + gnuplotString(sizeLabel(ticks[i])) + " " + std::to_string(ticks[i]);
  }
  s += "set xtics (" + tics + ")\n";
  // Data blocks (gnuplot 5): the data travels in the script itself.
  for (size_t i = 0; i < series.size(); ++i) {
    s += "$s" + std::to_string(i) + " << EOD\n";
    for (const auto& [bytes, busBw] : series[i].points) {
      char line[96];
      std::snprintf(line, sizeof(line), "%zu %.9g\n", bytes, busBw);
      s += line;
    }
    s += "EOD\n";
  }
  s += "plot ";
  for (size_t i = 0; i < series.size(); ++i) {
    s += (i == 0 ? "" : ", \\\n     ") + std::string("$s") + std::to_string(i) +
         " using 1:2 with linespoints linewidth 2 title " + gnuplotString(series[i].title);
  }
  return s + "\n";
}

Status writePlot(const std::string& pngPath, const std::vector<LibraryRows>& libraries, CollectiveKind collective,
                 int ranks) {
  std::string problem = gnuplotProblem();
  if (!problem.empty()) return Status::unavailable("%s", problem.c_str());
  std::set<std::string> terminals = gnuplotTerminals();
  std::string terminal = terminals.count("pngcairo") ? "pngcairo" : terminals.count("png") ? "png" : "";
  if (terminal.empty()) {
    return Status::unavailable("--plot: this gnuplot has neither the pngcairo nor the png terminal "
                               "(see gnuplot -e \"set terminal\"); install a build with PNG output (gnuplot-nox)");
  }
  std::string why;
  std::string script = plotScript(libraries, collective, ranks, pngPath, terminal, &why);
  if (script.empty()) return Status::invalidArgument("--plot: %s", why.c_str());

  const char* tmp = std::getenv("TMPDIR");
  std::string scriptPath = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/loom-perf-plot-XXXXXX";
  int fd = mkstemp(scriptPath.data());
  if (fd < 0) {
    return Status::systemError("--plot: cannot create a script file %s: %s", scriptPath.c_str(), std::strerror(errno));
  }
  const bool written = write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  close(fd);
  if (!written) {
    unlink(scriptPath.c_str());
    return Status::systemError("--plot: cannot write the script file %s", scriptPath.c_str());
  }
  // A stale image must not pass for this run's.
  unlink(pngPath.c_str());
  pid_t pid = fork();
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", scriptPath.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) status = -1;
  unlink(scriptPath.c_str());
  if (status != 0) {
    return Status::systemError("--plot: gnuplot failed (%s %d) drawing %s", WIFEXITED(status) ? "exit code" : "status",
                               WIFEXITED(status) ? WEXITSTATUS(status) : status, pngPath.c_str());
  }
  struct stat st{};
  if (stat(pngPath.c_str(), &st) != 0 || st.st_size == 0) {
    return Status::systemError("--plot: gnuplot exited cleanly but wrote no image to %s", pngPath.c_str());
  }
  return Status::ok();
}

}  // namespace loom::perf
