// Logging filtered by level (LOOM_DEBUG) and subsystem (LOOM_DEBUG_SUBSYS).
//
// Lines look like "hostname:pid:tid [rank] LOOM INFO BOOTSTRAP message" so that
// interleaved output from many ranks can be sorted out.
#pragma once

#include "common/config.h"

namespace loom {

// kGraph: topology discovery and loading, GRAPH as in NCCL_DEBUG_SUBSYS.
enum class Subsystem { kInit, kBootstrap, kNet, kShm, kColl, kExec, kApi, kTuning, kGraph };

bool logEnabled(LogLevel level, Subsystem subsystem);
void logMessage(LogLevel level, Subsystem subsystem, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
// The rank shown in this thread's log lines (-1: none).
void setLogRank(int rank);

}  // namespace loom

#define LOOM_LOG(level, subsys, ...)                                    \
  do {                                                                  \
    if (::loom::logEnabled(::loom::LogLevel::level, ::loom::Subsystem::subsys)) \
      ::loom::logMessage(::loom::LogLevel::level, ::loom::Subsystem::subsys, __VA_ARGS__); \
  } while (0)
#define LOOM_WARN(subsys, ...) LOOM_LOG(kWarn, subsys, __VA_ARGS__)
#define LOOM_INFO(subsys, ...) LOOM_LOG(kInfo, subsys, __VA_ARGS__)
#define LOOM_TRACE(subsys, ...) LOOM_LOG(kTrace, subsys, __VA_ARGS__)
