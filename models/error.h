// ptcsim error types. Contract: every error thrown by ptcsim code is a ptc::Error (or subclass)
// whose message names what went wrong and where (file, node, JSON path); the CLI catches it once
// and prints one line. ptc::Unsupported marks input that is valid ONNX but outside what ptcsim
// implements (an op, a data type, an attribute value), so callers can tell "not supported" from
// "wrong".
#pragma once

#include <stdexcept>
#include <string>

namespace ptc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& what) : Error(what) {}
};

// A long computation stopped on request (the run's SIGINT/SIGTERM flag): nothing of it is kept,
// and the caller abandons the work it was for (an action books nothing).
class Stopped : public Error {
 public:
  explicit Stopped(const std::string& what) : Error(what) {}
};

}  // namespace ptc
