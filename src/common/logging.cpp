#include "common/logging.h"

#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include "common/string_list.h"

namespace loom {
namespace {

const char* subsystemName(Subsystem s) {
  switch (s) {
    case Subsystem::kInit: return "INIT";
    case Subsystem::kBootstrap: return "BOOTSTRAP";
    case Subsystem::kNet: return "NET";
    case Subsystem::kShm: return "SHM";
    case Subsystem::kColl: return "COLL";
    case Subsystem::kExec: return "EXEC";
    case Subsystem::kApi: return "API";
    case Subsystem::kTuning: return "TUNING";
    case Subsystem::kGraph: return "GRAPH";
  }
  return "?";
}

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kTrace: return "TRACE";
    default: return "";
  }
}

// "INIT,NET" includes those; "^SHM" includes all but SHM; "" or "ALL" all.
bool subsystemSelected(const std::string& filter, Subsystem s) {
  if (filter.empty()) return true;
  bool exclude = filter[0] == '^';
  std::string list = exclude ? filter.substr(1) : filter;
  bool listed = false;
  for (const std::string& item : splitCommaList(list)) {
    if (strcasecmp(item.c_str(), "ALL") == 0 || strcasecmp(item.c_str(), subsystemName(s)) == 0) listed = true;
  }
  return exclude ? !listed : listed;
}

thread_local int t_rank = -1;

}  // namespace

void setLogRank(int rank) { t_rank = rank; }

bool logEnabled(LogLevel level, Subsystem subsystem) {
  const Config& c = config();
  if (level > c.logLevel) return false;
  // Warnings always show; the filter narrows the chatty levels.
  return level == LogLevel::kWarn || subsystemSelected(c.logSubsystems, subsystem);
}

void logMessage(LogLevel level, Subsystem subsystem, const char* fmt, ...) {
  char host[64] = "?";
  gethostname(host, sizeof(host) - 1);
  char text[2048];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  char rank[16] = "";
  if (t_rank >= 0) std::snprintf(rank, sizeof(rank), " [%d]", t_rank);
  std::fprintf(stderr, "%s:%d:%ld%s LOOM %s %s %s\n", host, static_cast<int>(getpid()),
               static_cast<long>(syscall(SYS_gettid)), rank, levelName(level), subsystemName(subsystem), text);
}

}  // namespace loom
