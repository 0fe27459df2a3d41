//===- Status.h - errors as values in the runtime ---------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Every fallible runtime call returns a Status: a code and a message that
// names the place (file, tensor, rank). No exception crosses the runtime API.
//
// Thread safety: a Status is a value; copies are independent.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_STATUS_H
#define TESSERA_RUNTIME_STATUS_H

#include <string>
#include <utility>

namespace tessera::rt {

enum class StatusCode {
  Ok = 0,
  InvalidArgument, ///< The caller passed something wrong (name, shape, dtype).
  NotFound,        ///< A file or a named tensor does not exist.
  DataLoss,        ///< A file is truncated or corrupted.
  Unimplemented,   ///< Valid input the runtime does not handle yet.
  Internal,        ///< A bug or a failed system call.
};

/// A code and a message; `ok()` when the code is `Ok`.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status okStatus() { return {}; }

  bool ok() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

/// The name of a status code, e.g. "DataLoss".
const char *statusCodeName(StatusCode code);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_STATUS_H
