// nccl-tests' text output: the column header, one row per size, and the
// tables comparing Loom with the libraries of `--compare`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loom/types.h"

namespace loom::perf {

struct Measurement {
  double timeUs = 0;
  double algBw = 0;  // GB/s
  double busBw = 0;  // GB/s
  int64_t wrong = -1;  // elements wrong over all ranks; -1 when not checked
};

struct Row {
  DataType type = DataType::kFloat32;
  RedOpKind op = RedOpKind::kSum;
  bool reducing = false;
  int root = -1;  // -1 for collectives without a root
  size_t bytes = 0;
  size_t count = 0;
  Measurement outOfPlace;
  Measurement inPlace;
};

// A number in `width` columns with as many decimals as fit (nccl-tests' style).
std::string formatNumber(double value, int width);
std::string formatColumnHeader();
std::string formatRow(const Row& row);
// Mean busbw over both halves of every row, as nccl-tests' "Avg bus bandwidth".
double averageBusBandwidth(const std::vector<Row>& rows);
int64_t totalWrong(const std::vector<Row>& rows);
// One library's rows: a compared library's sweep, or (with `algorithm` set)
// one `-a` section of Loom's.
struct LibraryRows {
  std::string library;    // "loom", "mpi", "gloo"
  std::string algorithm;  // the `-a` section's algorithm; empty otherwise
  std::vector<Row> rows;
};

// `--compare`'s closing table: per (type, op, root, size) of Loom's rows,
// out of place then in place, Loom's busbw and, per compared library, its
// busbw and Loom's over it. Rows are matched by (type, op, root, size); rows
// a library skipped, or where its busbw is 0, show "-".
std::string formatRatioTable(const std::vector<Row>& loom, const std::vector<LibraryRows>& others);

// One algorithm's section of `-a all`: its rows, or why it did not run.
struct AlgorithmRows {
  std::string name;
  std::vector<Row> rows;
  std::string skipped;  // non-empty: the reason it did not run (rows empty)
};

// `-a all`'s closing table: a line per (type, op, root, size), a column of
// out-of-place busbw per algorithm that ran, and "best" naming the fastest
// forced one; with an "auto" section, auto/best: the best's time over the
// planner's (1.00: the planner chose as well as the best).
// Per compared library in `others`, its busbw and best / it follow. Every
// line starts with '#', so tools that read nccl-tests' rows see only the
// sections' rows.
std::string formatAlgorithmTable(const std::vector<AlgorithmRows>& algorithms, const std::vector<LibraryRows>& others);

}  // namespace loom::perf
