#include "loom_perf_report.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#include "loom_perf_algorithms.h"

namespace loom::perf {
namespace {

std::string sformat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string sformat(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

std::string formatHalf(const Measurement& m) {
  std::string wrong = m.wrong < 0 ? "N/A" : std::to_string(m.wrong);
  return sformat("  %7s  %6s  %6s  %6s", formatNumber(m.timeUs, 7).c_str(), formatNumber(m.algBw, 6).c_str(),
                 formatNumber(m.busBw, 6).c_str(), wrong.c_str());
}

std::string centered(const std::string& text, size_t width) {
  if (text.size() >= width) return text;
  size_t left = (width - text.size() + 1) / 2;
  return std::string(left, ' ') + text + std::string(width - text.size() - left, ' ');
}

const char* opLabel(const Row& r) { return r.reducing ? redOpName(r.op) : "none"; }

}  // namespace

std::string formatNumber(double value, int width) {
  char buf[64];
  for (int decimals = 2; decimals >= 0; --decimals) {
    std::snprintf(buf, sizeof(buf), "%*.*f", width, decimals, value);
    if (static_cast<int>(std::strlen(buf)) <= width) return buf;
  }
  std::snprintf(buf, sizeof(buf), "%*.*e", width, width >= 7 ? 1 : 0, value);
  return buf;
}

std::string formatColumnHeader() {
  std::string s;
  s += sformat("# %10s  %12s  %8s  %6s  %6s%s%s\n", "", "", "", "", "", centered("out-of-place", 33).c_str(),
               centered("in-place", 33).c_str());
  s += sformat("# %10s  %12s  %8s  %6s  %6s", "size", "count", "type", "redop", "root");
  s += sformat("  %7s  %6s  %6s  %6s", "time", "algbw", "busbw", "#wrong");
  s += sformat("  %7s  %6s  %6s  %6s\n", "time", "algbw", "busbw", "#wrong");
  s += sformat("# %10s  %12s  %8s  %6s  %6s", "(B)", "(elements)", "", "", "");
  s += sformat("  %7s  %6s  %6s  %6s", "(us)", "(GB/s)", "(GB/s)", "");
  s += sformat("  %7s  %6s  %6s  %6s\n", "(us)", "(GB/s)", "(GB/s)", "");
  return s;
}

std::string formatRow(const Row& r) {
  std::string s = sformat("%12zu  %12zu  %8s  %6s  %6d", r.bytes, r.count, dataTypeName(r.type), opLabel(r), r.root);
  s += formatHalf(r.outOfPlace);
  s += formatHalf(r.inPlace);
  return s + "\n";
}

double averageBusBandwidth(const std::vector<Row>& rows) {
  if (rows.empty()) return 0;
  double sum = 0;
  for (const Row& r : rows) sum += r.outOfPlace.busBw + r.inPlace.busBw;
  return sum / (2.0 * static_cast<double>(rows.size()));
}

int64_t totalWrong(const std::vector<Row>& rows) {
  int64_t sum = 0;
  for (const Row& r : rows) {
    if (r.outOfPlace.wrong > 0) sum += r.outOfPlace.wrong;
    if (r.inPlace.wrong > 0) sum += r.inPlace.wrong;
  }
  return sum;
}

std::string formatRatioTable(const std::vector<Row>& loom, const std::vector<LibraryRows>& others) {
  // The first line keeps the form of the MPI-only table ("busbw ratio loom / mpi").
  std::string s = "# busbw ratio";
  for (size_t i = 0; i < others.size(); ++i) s += (i == 0 ? " loom / " : ", loom / ") + others[i].library;
  s += " (above 1: Loom moves data faster), with each library's busbw in GB/s\n";
  // A column is as wide as its name, at least 8 characters.
  std::vector<std::string> names{"loom"};
  for (const LibraryRows& o : others) {
    names.push_back(o.library);
    names.push_back("loom/" + o.library);
  }
  std::vector<int> widths;
  int halfWidth = 0;
  for (const std::string& n : names) {
    widths.push_back(std::max<int>(8, static_cast<int>(n.size())));
    halfWidth += widths.back() + 2;
  }
  s += sformat("# %10s  %8s  %6s  %6s%s%s\n", "", "", "", "", centered("out-of-place", halfWidth).c_str(),
               centered("in-place", halfWidth).c_str());
  std::string head = sformat("# %10s  %8s  %6s  %6s", "size", "type", "redop", "root");
  for (int half = 0; half < 2; ++half) {
    for (size_t i = 0; i < names.size(); ++i) head += sformat("  %*s", widths[i], names[i].c_str());
  }
  s += head + "\n";
  auto sameLine = [](const Row& a, const Row& b) {
    return a.type == b.type && a.op == b.op && a.root == b.root && a.bytes == b.bytes;
  };
  for (const Row& l : loom) {
    std::string text = sformat("%12zu  %8s  %6s  %6d", l.bytes, dataTypeName(l.type), opLabel(l), l.root);
    for (int half = 0; half < 2; ++half) {
      const Measurement& mine = half == 0 ? l.outOfPlace : l.inPlace;
      size_t column = 0;
      text += sformat("  %*s", widths[column], formatNumber(mine.busBw, widths[column]).c_str());
      ++column;
      for (const LibraryRows& o : others) {
        const Row* m = nullptr;
        for (const Row& candidate : o.rows) {
          if (sameLine(candidate, l)) {
            m = &candidate;
            break;
          }
        }
        const Measurement* theirs = m == nullptr ? nullptr : half == 0 ? &m->outOfPlace : &m->inPlace;
        std::string bw = theirs ? formatNumber(theirs->busBw, widths[column]) : "-";
        text += sformat("  %*s", widths[column], bw.c_str());
        ++column;
        std::string ratio = theirs && theirs->busBw > 0 ? formatNumber(mine.busBw / theirs->busBw, widths[column]) : "-";
        text += sformat("  %*s", widths[column], ratio.c_str());
        ++column;
      }
    }
    s += text + "\n";
  }
  return s;
}

std::string formatAlgorithmTable(const std::vector<AlgorithmRows>& algorithms, const std::vector<LibraryRows>& others) {
  using Key = std::tuple<int, int, int, size_t>;  // type, op, root, size: a row's identity across sections
  auto keyOf = [](const Row& r) {
    return Key{static_cast<int>(r.type), r.reducing ? static_cast<int>(r.op) : -1, r.root, r.bytes};
  };
  // Lines in the order the sweep produced them (first section that ran).
  std::vector<const Row*> order;
  std::map<Key, size_t> lineOf;
  std::vector<const AlgorithmRows*> ran;
  for (const AlgorithmRows& a : algorithms) {
    if (!a.skipped.empty()) continue;
    ran.push_back(&a);
    for (const Row& r : a.rows) {
      if (lineOf.emplace(keyOf(r), order.size()).second) order.push_back(&r);
    }
  }
  std::vector<std::map<Key, const Row*>> otherRow(others.size());
  for (size_t i = 0; i < others.size(); ++i) {
    for (const Row& r : others[i].rows) otherRow[i].emplace(keyOf(r), &r);
  }

  std::string s = "# Out-of-place busbw (GB/s) per algorithm; best: the highest (the shortest time)\n";
  std::string head = sformat("# %10s  %8s  %6s  %6s", "size", "type", "redop", "root");
  std::vector<int> widths;
  for (const AlgorithmRows* a : ran) {
    int w = std::max<int>(8, static_cast<int>(a->name.size()));
    widths.push_back(w);
    head += sformat("  %*s", w, a->name.c_str());
  }
  head += sformat("  %8s", "best");
  const bool hasPlanner = std::any_of(ran.begin(), ran.end(), [](const AlgorithmRows* a) { return a->name == kPlannerSection; });
  if (hasPlanner) head += sformat("  %9s", "auto/best");
  std::vector<int> otherWidths;
  for (const LibraryRows& o : others) {
    const std::string ratioName = "best/" + o.library;
    otherWidths.push_back(std::max<int>(9, static_cast<int>(ratioName.size())));
    head += sformat("  %8s  %*s", o.library.c_str(), otherWidths.back(), ratioName.c_str());
  }
  s += head + "\n";
  for (const Row* line : order) {
    std::string text = sformat("# %10zu  %8s  %6s  %6d", line->bytes, dataTypeName(line->type), opLabel(*line),
                               line->root);
    const Row* best = nullptr;
    const Row* planned = nullptr;
    std::string bestName = "-";
    for (size_t i = 0; i < ran.size(); ++i) {
      const Row* r = nullptr;
      for (const Row& candidate : ran[i]->rows) {
        if (keyOf(candidate) == keyOf(*line)) {
          r = &candidate;
          break;
        }
      }
      text += sformat("  %*s", widths[i], r ? formatNumber(r->outOfPlace.busBw, widths[i]).c_str() : "-");
      if (ran[i]->name == kPlannerSection) {
        planned = r;
        continue;  // the planner picks among the others: best is among forced algorithms
      }
      // The shortest time is the highest busbw (same size, same factor), and
      // still picks one with a single rank, where every busbw is 0.
      if (r != nullptr && (best == nullptr || r->outOfPlace.timeUs < best->outOfPlace.timeUs)) {
        best = r;
        bestName = ran[i]->name;
      }
    }
    text += sformat("  %8s", bestName.c_str());
    if (hasPlanner) {
      // Time ratio, so it is defined at one rank too: 1.00 means the planner
      // ran as fast as the best forced algorithm, 0.80 that it took 25% longer.
      std::string ratio = planned && best && planned->outOfPlace.timeUs > 0
                              ? formatNumber(best->outOfPlace.timeUs / planned->outOfPlace.timeUs, 9)
                              : "-";
      text += sformat("  %9s", ratio.c_str());
    }
    for (size_t i = 0; i < others.size(); ++i) {
      auto it = otherRow[i].find(keyOf(*line));
      const Row* m = it != otherRow[i].end() ? it->second : nullptr;
      std::string bw = m ? formatNumber(m->outOfPlace.busBw, 8) : "-";
      std::string ratio = m && best && m->outOfPlace.busBw > 0
                              ? formatNumber(best->outOfPlace.busBw / m->outOfPlace.busBw, otherWidths[i])
                              : "-";
      text += sformat("  %8s  %*s", bw.c_str(), otherWidths[i], ratio.c_str());
    }
    s += text + "\n";
  }
  for (const AlgorithmRows& a : algorithms) {
    if (!a.skipped.empty()) s += "# (not run: " + a.name + ", " + a.skipped + ")\n";
  }
  return s;
}

}  // namespace loom::perf
