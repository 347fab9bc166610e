// attnkit: the status every public call returns.
#pragma once

#include <string>
#include <utility>

namespace attnkit {

/// \brief What kind of failure a Status reports.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  ///< an argument breaks a SPEC rule; the message names it
  kNotSupported = 2,     ///< valid per SPEC, but no backend implements this combination
  kCudaError = 3,        ///< a CUDA runtime call or kernel launch failed
  kInternal = 4,         ///< a bug in attnkit
};

/// \brief Result of a public call: kOk, or a code and a message that names the
/// argument and what was expected. Nothing is written to outputs on error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  /// \brief The success value.
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace attnkit
