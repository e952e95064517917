// Status and Result<T>: how every layer of Loom reports failure.
//
// Core code never throws. A Status carries a code (which maps one-to-one onto
// ncclResult_t at the C API) and a message that names the offending value and,
// where there is one, the fix. Result<T> is a value or a non-OK Status.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <variant>

#define LOOM_API __attribute__((visibility("default")))

namespace loom {

enum class StatusCode {
  kOk = 0,
  kSystemError,      // the OS or a library refused (socket, mmap, ...)
  kInternalError,    // a bug in Loom
  kInvalidArgument,  // a bad value passed by the caller
  kInvalidUsage,     // a valid value at the wrong time (mismatched calls, use after abort)
  kRemoteError,      // a peer failed, died or disagreed
  kTimeout,          // a wait reached LOOM_TIMEOUT_S
  kAborted,          // the communicator was aborted
  kUnavailable,      // a feature or device is not present on this machine
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }

  template <typename... Args>
  static Status make(StatusCode code, const char* fmt, Args... args) {
    Status s;
    s.code_ = code;
    if constexpr (sizeof...(Args) == 0) {
      s.message_ = fmt;
    } else {
      char buf[1024];
      std::snprintf(buf, sizeof(buf), fmt, args...);
      s.message_ = buf;
    }
    return s;
  }
#define LOOM_STATUS_FACTORY(Name, Code)                   \
  template <typename... Args>                            \
  static Status Name(const char* fmt, Args... args) {    \
    return make(StatusCode::Code, fmt, args...);         \
  }
  LOOM_STATUS_FACTORY(systemError, kSystemError)
  LOOM_STATUS_FACTORY(internal, kInternalError)
  LOOM_STATUS_FACTORY(invalidArgument, kInvalidArgument)
  LOOM_STATUS_FACTORY(invalidUsage, kInvalidUsage)
  LOOM_STATUS_FACTORY(remoteError, kRemoteError)
  LOOM_STATUS_FACTORY(timeout, kTimeout)
  LOOM_STATUS_FACTORY(aborted, kAborted)
  LOOM_STATUS_FACTORY(unavailable, kUnavailable)
#undef LOOM_STATUS_FACTORY

  bool isOk() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Timeout: waited 5 s for rank 3 ..." — the form logs and ncclGetLastError show.
  std::string toString() const;

  // Prefixes context, keeping the code: "while initialising rank 2: <message>".
  Status withContext(const std::string& context) const {
    if (isOk()) return *this;
    Status s = *this;
    s.message_ = context + ": " + message_;
    return s;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}
  bool isOk() const { return v_.index() == 0; }
  explicit operator bool() const { return isOk(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  Status status() const { return isOk() ? Status::ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace loom

#define LOOM_CONCAT_INNER(a, b) a##b
#define LOOM_CONCAT(a, b) LOOM_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define LOOM_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::loom::Status loom_status_ = (expr);          \
    if (!loom_status_.isOk()) return loom_status_; \
  } while (0)

// `LOOM_ASSIGN_OR_RETURN(auto x, f());` unwraps a Result or returns its Status.
#define LOOM_ASSIGN_OR_RETURN(lhs, expr) \
  LOOM_ASSIGN_OR_RETURN_IMPL(LOOM_CONCAT(loom_result_, __LINE__), lhs, expr)
#define LOOM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.isOk()) return tmp.status();            \
  lhs = std::move(tmp).value()
