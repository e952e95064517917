#include "loom/status.h"

namespace loom {

const char* statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kSystemError: return "System error";
    case StatusCode::kInternalError: return "Internal error";
    case StatusCode::kInvalidArgument: return "Invalid argument";
    case StatusCode::kInvalidUsage: return "Invalid usage";
    case StatusCode::kRemoteError: return "Remote error";
    case StatusCode::kTimeout: return "Timeout";
    case StatusCode::kAborted: return "Aborted";
    case StatusCode::kUnavailable: return "Unavailable";
  }
  return "Unknown status";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

}  // namespace loom
