// Reading JSON files with errors that name the file (and byte offset of a syntax error).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ptc {

// Throws ptc::Error "<file>: cannot open ..." / "<file>: invalid JSON at byte N (...)".
nlohmann::json load_json_file(const std::string& file, const std::string& what = "file");
// Parses text; `what` names the source in the error.
nlohmann::json parse_json_text(const std::string& text, const std::string& what);

}  // namespace ptc
