#include "loom_perf_json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "loom_perf_options.h"

namespace loom::perf {
namespace {

std::string quoted(const std::string& text) {
  std::string s = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': s += "\\\""; break;
      case '\\': s += "\\\\"; break;
      case '\n': s += "\\n"; break;
      case '\r': s += "\\r"; break;
      case '\t': s += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          s += buf;
        } else {
          s += static_cast<char>(c);
        }
    }
  }
  return s + "\"";
}

// JSON has no NaN or infinity; a time of 0 can make a bandwidth infinite.
std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  return buf;
}

std::string object(const LibraryRows& library, const Row& row, bool inPlace, CollectiveKind collective, int ranks) {
  const Measurement& m = inPlace ? row.inPlace : row.outOfPlace;
  std::string s = "{";
  s += "\"library\": " + quoted(library.library);
  s += ", \"algorithm\": " + (library.algorithm.empty() ? std::string("null") : quoted(library.algorithm));
  s += ", \"collective\": " + quoted(collectiveFlagName(collective));
  s += ", \"ranks\": " + std::to_string(ranks);
  s += ", \"type\": " + quoted(dataTypeName(row.type));
  s += ", \"op\": " + quoted(row.reducing ? redOpName(row.op) : "none");
  s += ", \"root\": " + std::to_string(row.root);
  s += ", \"bytes\": " + std::to_string(row.bytes);
  s += ", \"count\": " + std::to_string(row.count);
  s += std::string(", \"in_place\": ") + (inPlace ? "true" : "false");
  s += ", \"time_us\": " + number(m.timeUs);
  s += ", \"algbw_gbps\": " + number(m.algBw);
  s += ", \"busbw_gbps\": " + number(m.busBw);
  s += ", \"wrong\": " + (m.wrong < 0 ? std::string("null") : std::to_string(m.wrong));
  return s + "}";
}

}  // namespace

std::string formatJson(const std::vector<LibraryRows>& libraries, CollectiveKind collective, int ranks) {
  std::string s = "[";
  const char* separator = "\n  ";
  for (const LibraryRows& library : libraries) {
    for (const Row& row : library.rows) {
      for (bool inPlace : {false, true}) {
        s += separator + object(library, row, inPlace, collective, ranks);
        separator = ",\n  ";
      }
    }
  }
  return s + "\n]\n";
}

Status writeJsonFile(const std::string& path, const std::vector<LibraryRows>& libraries, CollectiveKind collective,
                     int ranks) {
  const std::string text = formatJson(libraries, collective, ranks);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::systemError("--json: cannot write '%s': %s", path.c_str(), std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int writeErrno = errno;
  // fclose flushes: a full disk may only show here.
  if (std::fclose(f) != 0 || !written) {
    return Status::systemError("--json: writing '%s' failed: %s", path.c_str(),
                               std::strerror(written ? errno : writeErrno));
  }
  return Status::ok();
}

}  // namespace loom::perf
