#include "models/json_io.h"

#include <fstream>
#include <sstream>

#include "models/error.h"

namespace ptc {

nlohmann::json parse_json_text(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(what + ": invalid JSON at byte " + std::to_string(e.byte) + " (" + e.what() + ")");
  }
}

nlohmann::json load_json_file(const std::string& file, const std::string& what) {
  std::ifstream f(file);
  if (!f) throw Error(file + ": cannot open " + what);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_json_text(ss.str(), file);
}

}  // namespace ptc
