#include "models/json_io.h"

#include <filesystem>
#include <fstream>
#include <vector>

namespace ptc {
namespace {

using Json = nlohmann::json;

// "line L, column C" of byte offset `pos` (1-based, as editors count).
std::string line_col(const std::string& text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n')
      line += 1, col = 1;
    else
      ++col;
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Builds the DOM like nlohmann's own parser, and enforces the depth limit and unique keys while
// parsing (nlohmann's SAX driver is iterative, so a deep text cannot overflow the stack here).
class StrictDom {
 public:
  StrictDom(const std::string& text, const std::string& what) : m_text(text), m_what(what) {}
  Json& result() { return m_root; }

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(Json::number_integer_t v) { return put(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(v); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return put(v); }
  bool string(Json::string_t& v) { return put(std::move(v)); }
  bool binary(Json::binary_t& v) { return put(Json::binary(std::move(v))); }
  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(Json::string_t& k) {
    if (m_stack.back()->contains(k))
      throw Error(m_what + ": duplicate key \"" + clip(k) + "\" at " + path_with(k) + " (each key at most once per object)");
    m_key = std::move(k);
    return true;
  }
  bool parse_error(std::size_t pos, const std::string& token, const nlohmann::detail::exception& ex) {
    std::string where = m_what + ": invalid JSON at " + line_col(m_text, pos > 0 ? pos - 1 : 0);
    if (ex.id == 406)  // out_of_range: number overflow
      throw Error(where + (m_stack.empty() ? "" : " (" + path_with(m_stack.back()->is_object() ? m_key : "") + ")") +
                  ": number " + clip(token) + " is out of range (beyond +-1.8e308)");
    // nlohmann's message ends with "last read: '<token>'": keep the reason, clip the echo.
    std::string msg = ex.what();
    auto colon = msg.find(": ", msg.find("column"));
    if (colon != std::string::npos) msg = msg.substr(colon + 2);
    auto last = msg.find("; last read: ");
    if (last != std::string::npos) msg = msg.substr(0, last) + "; last read: '" + clip(token) + "'";
    throw JsonSyntaxError(where + ": " + msg);
  }

 private:
  static std::string clip(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 60) + "..."; }

  // JSON path of the current container, plus `leaf` when the container is an object.
  std::string path_with(const std::string& leaf) const {
    std::string p;
    for (size_t i = 1; i < m_stack.size(); ++i) p += m_seg[i];
    if (!m_stack.empty() && m_stack.back()->is_object() && !leaf.empty()) p += (p.empty() ? "" : ".") + clip(leaf);
    return p.empty() ? "the top level" : p;
  }

  // Where the next value goes: the root, the end of an array, or the object's pending key.
  Json* slot(std::string& seg) {
    if (m_stack.empty()) return &m_root;
    Json& c = *m_stack.back();
    if (c.is_array()) {
      seg = "[" + std::to_string(c.size()) + "]";
      c.push_back(nullptr);
      return &c.back();
    }
    std::string prefix = m_stack.size() > 1 ? "." : "";
    seg = prefix + m_key;
    return &c[m_key];
  }
  bool put(Json v) {
    std::string seg;
    *slot(seg) = std::move(v);
    return true;
  }
  bool open(Json v) {
    if (m_stack.size() >= kMaxJsonDepth)
      throw Error(m_what + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels at " +
                  path_with(m_stack.back()->is_object() ? m_key : ""));
    std::string seg;
    Json* p = slot(seg);
    *p = std::move(v);
    m_stack.push_back(p);
    m_seg.push_back(seg);
    return true;
  }
  bool close() {
    m_stack.pop_back();
    m_seg.pop_back();
    return true;
  }

  const std::string& m_text;
  const std::string& m_what;
  Json m_root;
  std::vector<Json*> m_stack;
  std::vector<std::string> m_seg;  // path segment of each open container ("a", ".b", "[3]")
  std::string m_key;
};

}  // namespace

std::string read_regular_file(const std::string& file, const std::string& what, uintmax_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(file, ec);
  if (ec || !fs::exists(st)) throw Error(file + ": cannot open " + what + " (no such file)");
  if (fs::is_directory(st)) throw Error(file + ": is a directory, expected a " + what + " file");
  if (!fs::is_regular_file(st)) throw Error(file + ": not a regular file (device, FIFO or socket), expected a " + what + " file");
  uintmax_t size = fs::file_size(file, ec);
  if (ec) throw Error(file + ": cannot open " + what);
  if (size > max_bytes)
    throw Error(file + ": " + what + " file is " + std::to_string(size) + " bytes, more than the limit of " +
                std::to_string(max_bytes));
  std::ifstream f(file, std::ios::binary);
  if (!f) throw Error(file + ": cannot open " + what);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<size_t>(f.gcount()));  // a file that shrank meanwhile: what was there
  if (f.bad()) throw Error(file + ": cannot read " + what);
  return bytes;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& what) {
  StrictDom dom(text, what);
  Json::sax_parse(text, &dom);
  return std::move(dom.result());
}

nlohmann::json load_json_file(const std::string& file, const std::string& what) {
  const std::string text = read_regular_file(file, what, kMaxJsonFileBytes);
  // A model given where a scenario goes (ptcsim run model.onnx) would fail as JSON at its first byte.
  if (file.size() > 5 && file.compare(file.size() - 5, 5, ".onnx") == 0 && text.rfind('{', 0) != 0)
    throw Error(file + ": an ONNX model, not a " + what +
                " (JSON); a scenario names its model in \"model\", and "
                "ptcsim eval " +
                file + " evaluates a model on its own");
  return parse_json_text(text, file);
}

}  // namespace ptc
