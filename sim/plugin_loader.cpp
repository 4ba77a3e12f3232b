#include "sim/plugin_loader.h"

#include <cxxabi.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "models/error.h"
#include "sim/params.h"
#include "sim/policy/policy.h"
#include "sim/scenario.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {

std::vector<std::string>*& deferred_registration_errors() {
  static std::vector<std::string>* errors = nullptr;
  return errors;
}

namespace {

std::vector<std::string> added(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  std::vector<std::string> v;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(v));
  return v;
}

// dlerror() text on one line, without the leading "<path>: " and with the undefined symbol
// demangled ("undefined symbol: _ZN3ptc...").
std::string loader_message(const char* raw, const std::string& path) {
  std::string m = raw ? raw : "unknown dlopen error";
  std::replace(m.begin(), m.end(), '\n', ' ');
  if (m.rfind(path + ": ", 0) == 0) m = m.substr(path.size() + 2);
  const std::string key = "undefined symbol: ";
  auto at = m.find(key);
  if (at != std::string::npos) {
    size_t b = at + key.size(), e = m.find_first_of(" \t,", b);
    std::string sym = m.substr(b, e == std::string::npos ? std::string::npos : e - b);
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(sym.c_str(), nullptr, nullptr, &status), std::free);
    if (status == 0 && d) m += " (" + std::string(d.get()) + ")";
  }
  return m;
}

// Checks the ELF header before dlopen so that a wrong file gets a plain message.
void check_elf(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  if (!f) throw Error(file + ": cannot read plug-in library");
  unsigned char h[18] = {};
  f.read(reinterpret_cast<char*>(h), sizeof h);
  if (f.gcount() < static_cast<std::streamsize>(sizeof h) || h[0] != 0x7f || h[1] != 'E' || h[2] != 'L' || h[3] != 'F')
    throw Error(file + ": not a shared library (no ELF header); expected a plug-in built as a MODULE library (.so)");
  const unsigned type = h[5] == 2 ? (h[16] << 8 | h[17]) : (h[17] << 8 | h[16]);
  if (type != 3)  // ET_DYN
    throw Error(file + ": not a shared library (ELF type " + std::to_string(type) +
                "); expected a plug-in built as a MODULE library (.so)");
}

}  // namespace

LoadedPlugin load_plugin(const std::string& file) {
  namespace fs = std::filesystem;
  static std::map<std::string, LoadedPlugin> loaded;
  std::error_code ec;
  if (!fs::exists(file, ec)) throw Error(file + ": plug-in library not found");
  if (fs::is_directory(file, ec)) throw Error(file + ": is a directory; expected a plug-in library (.so)");
  if (!fs::is_regular_file(file, ec))  // a FIFO would block the ELF check for ever
    throw Error(file + ": not a regular file (device, FIFO or socket); expected a plug-in library (.so)");
  const std::string path = fs::canonical(file, ec).string();
  if (ec) throw Error(file + ": cannot resolve path (" + ec.message() + ")");
  if (auto it = loaded.find(path); it != loaded.end()) return it->second;
  check_elf(file);

  const std::vector<std::string> policies0 = PolicyRegistry::get().names(), noise0 = NoiseRegistry::get().names(),
                                 traffic0 = TrafficRegistry::get().names(), devices0 = DeviceRegistry::get().names();
  std::vector<std::string> errors;
  deferred_registration_errors() = &errors;
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  const char* dl_error = handle ? nullptr : dlerror();
  deferred_registration_errors() = nullptr;
  // The handle is never closed: registered factories point into the library.
  if (!handle) throw Error(file + ": cannot load plug-in: " + loader_message(dl_error, path));
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    throw Error(file + ": " + all);
  }
  LoadedPlugin info{path, added(policies0, PolicyRegistry::get().names()), added(noise0, NoiseRegistry::get().names()),
                    added(traffic0, TrafficRegistry::get().names()), added(devices0, DeviceRegistry::get().names())};
  if (info.policies.empty() && info.noise.empty() && info.traffic.empty() && info.devices.empty())
    throw Error(file +
                ": registered no policy, noise process, traffic source or device (a plug-in registers with a static "
                "ptc::sim::Registrar, see tools/plugin_template; was it built with hidden visibility?)");
  loaded.emplace(path, info);
  return info;
}

std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& files) {
  std::vector<LoadedPlugin> v;
  for (const auto& f : files) v.push_back(load_plugin(f));
  return v;
}

}  // namespace ptc::sim
