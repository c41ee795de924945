// relscope/core/error.h — one error type for every failure a user can cause.
//
// Sections: ErrorKind | Error | fail()
//
// Why one type: front ends (CLI exit codes, JS API, canvas messages) must tell
// "your file is bad" (exit 2) from "relscope has a bug" (exit 1) without
// knowing which stage threw. Messages always name the file, node or field.
#pragma once
#include <stdexcept>
#include <string>

namespace relscope {

enum class ErrorKind {
  BadInput,     // malformed/hostile file, wrong shape, NaN where not allowed
  Unsupported,  // valid ONNX we do not implement (op, dtype, attribute)
  Limit,        // a configured resource limit would be exceeded
  Internal,     // a bug in relscope
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // CLI convention: 2 for anything the user's input caused, 1 for our bugs.
  int exit_code() const { return kind_ == ErrorKind::Internal ? 1 : 2; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }
[[noreturn]] inline void fail_input(const std::string& message) { throw Error(ErrorKind::BadInput, message); }

}  // namespace relscope
