// Reading input files (JSON and binary) with errors that name the file and, for JSON, the line,
// column and JSON path of the problem.
// Contract (issue 17): only regular files are read (a directory, FIFO or device node such as
// /dev/zero is an error, never a hang), each up to a size limit checked before reading; JSON
// nests at most kMaxJsonDepth levels (no stack overflow in the recursive code that walks it), a
// key appears at most once per object, and a number must fit a double.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "models/error.h"

namespace ptc {

constexpr uintmax_t kMaxJsonFileBytes = uintmax_t{64} << 20;  // 64 MiB: scenarios, fragments, tables
constexpr size_t kMaxJsonDepth = 128;                         // arrays/objects inside each other

// A JSON text that is not well-formed (syntax); depth, duplicate-key and number-range errors are
// plain ptc::Error. `--set` falls back to a bare string on a syntax error only.
struct JsonSyntaxError : Error {
  using Error::Error;
};

// The bytes of a regular file of at most max_bytes. Throws ptc::Error "<file>: cannot open <what>"
// / "<file>: is a directory, expected <what>" / "... not a regular file ..." / "... bytes, more
// than the limit ...".
std::string read_regular_file(const std::string& file, const std::string& what, uintmax_t max_bytes);

// Throws ptc::Error "<file>: cannot open ..." / "<file>: invalid JSON at line L, column C: ...".
nlohmann::json load_json_file(const std::string& file, const std::string& what = "file");
// Parses text with the rules above; `what` names the source in the error.
nlohmann::json parse_json_text(const std::string& text, const std::string& what);

}  // namespace ptc
