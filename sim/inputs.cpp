#include "sim/inputs.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "models/error.h"

namespace ptc::sim {
namespace {

std::mutex g_mu;
std::set<std::pair<std::string, std::string>>& noted() {
  static std::set<std::pair<std::string, std::string>> s;
  return s;
}

// file_fnv1a64 once per file, size and modification time: a collection checks the same model for
// every one of its runs.
std::string cached_fnv1a64(const std::string& path) {
  namespace fs = std::filesystem;
  const uintmax_t size = fs::file_size(path);  // throws for a file that is gone
  const auto mtime = fs::last_write_time(path).time_since_epoch().count();
  const std::string key = path + "\n" + std::to_string(size) + "\n" + std::to_string(mtime);
  static std::map<std::string, std::string> memo;
  const std::lock_guard<std::mutex> lock(g_mu);
  auto it = memo.find(key);
  if (it == memo.end()) it = memo.emplace(key, file_fnv1a64(path)).first;
  return it->second;
}

}  // namespace

void note_input_file(const std::string& param, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;  // a directory or a file yet to be written: no bytes to record
  const std::filesystem::path abs = std::filesystem::absolute(path, ec).lexically_normal();
  const std::lock_guard<std::mutex> lock(g_mu);
  noted().emplace(param, ec ? path : abs.string());
}

std::string file_fnv1a64(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the file");
  uint64_t h = 1469598103934665603ULL;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ULL;
    if (!in) break;
  }
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
  return b;
}

nlohmann::json input_files_record() {
  std::set<std::pair<std::string, std::string>> files;
  {
    const std::lock_guard<std::mutex> lock(g_mu);
    files = noted();
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [param, path] : files) out.push_back({{"param", param}, {"path", path}, {"fnv1a64", file_fnv1a64(path)}});
  return out;
}

std::string input_files_changed(const nlohmann::json& recorded) {
  if (!recorded.is_array()) return "run.json: \"inputs\" is not a list";
  for (const auto& r : recorded) {
    if (!r.is_object() || !r.contains("path") || !r.contains("fnv1a64") || !r["path"].is_string() || !r["fnv1a64"].is_string())
      return "run.json: an \"inputs\" entry is not {param, path, fnv1a64}";
    const std::string path = r["path"].get<std::string>(), was = r["fnv1a64"].get<std::string>();
    const std::string what =
        (r.contains("param") && r["param"].is_string() ? r["param"].get<std::string>() : std::string("input")) + " (" + path +
        ")";
    std::string now;
    try {
      now = cached_fnv1a64(path);
    } catch (const std::exception&) {
      return what + " is gone or unreadable since the run";
    }
    if (now != was) return what + " changed since the run (fnv1a64 " + was + ", now " + now + ")";
  }
  return "";
}

}  // namespace ptc::sim
