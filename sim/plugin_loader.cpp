#include "sim/plugin_loader.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "models/error.h"
#include "sim/dispatch/dispatcher.h"
#include "sim/inputs.h"
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
// The SDK identities the library being loaded reported (null outside load_plugin).
std::set<std::string>*& reported_sdks() {
  static std::set<std::string>* seen = nullptr;
  return seen;
}
}  // namespace

bool plugin_sdk_matches(const char* abi) {
  const std::string a = abi ? abi : "";
  if (reported_sdks()) reported_sdks()->insert(a);
  return a == PTC_SDK_ABI;
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

// Checks the ELF file before dlopen so that a wrong file gets a plain message: the header, and that
// the program headers and every segment they map lie inside the file. The loader maps segments
// without checking their extent: a truncated library would fault (SIGBUS) on first touch.
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
  // The rest is read as this executable's own ELF class and byte order (ElfW: Elf64 on x86-64).
  if (h[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32) || h[EI_DATA] != ELFDATA2LSB)
    throw Error(file + ": an ELF library of another word size or byte order than ptcsim; rebuild the plug-in for this machine");
  f.clear();
  f.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  ElfW(Ehdr) eh{};
  f.seekg(0);
  f.read(reinterpret_cast<char*>(&eh), sizeof eh);
  const std::string truncated = ": a damaged or truncated shared library (";
  if (f.gcount() != static_cast<std::streamsize>(sizeof eh)) throw Error(file + truncated + "shorter than its ELF header)");
  if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phoff > size ||
      static_cast<uint64_t>(eh.e_phnum) * sizeof(ElfW(Phdr)) > size - eh.e_phoff)
    throw Error(file + truncated + "its program headers are not inside the file); rebuild it");
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    ElfW(Phdr) ph{};
    f.seekg(static_cast<std::streamoff>(eh.e_phoff + i * sizeof ph));
    f.read(reinterpret_cast<char*>(&ph), sizeof ph);
    if (f.gcount() != static_cast<std::streamsize>(sizeof ph)) throw Error(file + truncated + "a program header cannot be read)");
    if (ph.p_filesz > 0 && (ph.p_offset > size || ph.p_filesz > size - ph.p_offset))
      throw Error(file + truncated + "segment " + std::to_string(i) + " ends at byte " +
                  std::to_string(static_cast<uint64_t>(ph.p_offset) + ph.p_filesz) + " of a " + std::to_string(size) +
                  "-byte file); rebuild it");
  }
  if (eh.e_shoff != 0 && (eh.e_shoff > size || static_cast<uint64_t>(eh.e_shnum) * eh.e_shentsize > size - eh.e_shoff))
    throw Error(file + truncated + "its section headers are not inside the file); rebuild it");
}

std::map<std::string, LoadedPlugin>& loaded_map() {
  static std::map<std::string, LoadedPlugin> loaded;
  return loaded;
}

std::string file_hash(const std::string& path) {
  try {
    return file_fnv1a64(path);
  } catch (const Error&) {
    throw Error(path + ": cannot read plug-in library");
  }
}

}  // namespace

LoadedPlugin load_plugin(const std::string& file) {
  namespace fs = std::filesystem;
  auto& loaded = loaded_map();
  std::error_code ec;
  if (!fs::exists(file, ec)) throw Error(file + ": plug-in library not found");
  if (fs::is_directory(file, ec)) throw Error(file + ": is a directory; expected a plug-in library (.so)");
  if (!fs::is_regular_file(file, ec))  // a FIFO would block the ELF check for ever
    throw Error(file + ": not a regular file (device, FIFO or socket); expected a plug-in library (.so)");
  const std::string path = fs::canonical(file, ec).string();
  if (ec) throw Error(file + ": cannot resolve path (" + ec.message() + ")");
  if (auto it = loaded.find(path); it != loaded.end()) return it->second;
  check_elf(file);

  const std::string hash = file_hash(path);
  const std::vector<std::string> policies0 = PolicyRegistry::get().names(), noise0 = NoiseRegistry::get().names(),
                                 traffic0 = TrafficRegistry::get().names(), devices0 = DeviceRegistry::get().names(),
                                 dispatchers0 = DispatcherRegistry::get().names();
  std::vector<std::string> errors;
  std::set<std::string> sdks;
  deferred_registration_errors() = &errors;
  reported_sdks() = &sdks;
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  const char* dl_error = handle ? nullptr : dlerror();
  deferred_registration_errors() = nullptr;
  reported_sdks() = nullptr;
  // The handle is never closed: registered factories point into the library.
  if (!handle) throw Error(file + ": cannot load plug-in: " + loader_message(dl_error, path));
  const std::string rebuild =
      ": rebuild it against this ptcsim's SDK (cmake --install, then find_package(ptcsim) as in tools/plugin_template)";
  for (const auto& a : sdks)
    if (a != PTC_SDK_ABI)
      throw Error(file + ": built against ptcsim SDK " + a + ", this ptcsim's is " + PTC_SDK_ABI +
                  " (plug-ins bind to ptcsim's classes, which differ between SDKs)" + rebuild);
  LoadedPlugin info{path,
                    hash,
                    added(policies0, PolicyRegistry::get().names()),
                    added(noise0, NoiseRegistry::get().names()),
                    added(traffic0, TrafficRegistry::get().names()),
                    added(devices0, DeviceRegistry::get().names()),
                    added(dispatchers0, DispatcherRegistry::get().names())};
  const bool registered = !info.policies.empty() || !info.noise.empty() || !info.traffic.empty() || !info.devices.empty() ||
                          !info.dispatchers.empty();
  if (sdks.empty() && (registered || !errors.empty()))
    throw Error(file + ": registered without a ptcsim SDK identity (built against a ptcsim SDK older than " + PTC_SDK_ABI +
                ", or registering around sim::Registrar)" + rebuild);
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    throw Error(file + ": " + all);
  }
  for (const auto& d : info.devices) {
    try {
      check_device_tags(DeviceRegistry::get().entries().at(d));
    } catch (const Error& e) {
      throw Error(file + ": " + e.what());
    }
  }
  if (!registered)
    throw Error(file +
                ": registered no policy, noise process, traffic source, device or dispatcher (a plug-in registers with a "
                "static ptc::sim::Registrar, see tools/plugin_template; was it built with hidden visibility?)");
  loaded.emplace(path, info);
  return info;
}

std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& files) {
  std::vector<LoadedPlugin> v;
  for (const auto& f : files) v.push_back(load_plugin(f));
  return v;
}

std::vector<LoadedPlugin> loaded_plugins() {
  std::vector<LoadedPlugin> v;
  for (const auto& [path, p] : loaded_map()) v.push_back(p);
  return v;
}

namespace {
// `label` plus " (plug-in libX.so)" when a loaded plug-in registered `name` in its list `names`.
std::string with_library(std::string label, const std::string& name, std::vector<std::string> LoadedPlugin::*names) {
  for (const auto& p : loaded_plugins())
    if (std::find((p.*names).begin(), (p.*names).end(), name) != (p.*names).end())
      label += " (plug-in " + std::filesystem::path(p.file).filename().string() + ")";
  return label;
}
}  // namespace

std::string noise_label(const std::string& path, const std::string& name) {
  return with_library(path + " \"" + name + "\"", name, &LoadedPlugin::noise);
}

std::string device_label(const std::string& name) {
  return with_library("device \"" + name + "\"", name, &LoadedPlugin::devices);
}

std::string policy_label(const std::string& name) {
  return with_library("controller.policy \"" + name + "\"", name, &LoadedPlugin::policies);
}

namespace {
void collect_names(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "name" && it.value().is_string()) out.insert(it.value().get<std::string>());
      collect_names(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const auto& x : j) collect_names(x, out);
  }
}
}  // namespace

nlohmann::json plugins_used(const nlohmann::json& resolved) {
  std::set<std::string> names;
  collect_names(resolved, names);
  std::map<std::string, nlohmann::json> by_lib;  // sorted by library file name
  for (const auto& [path, p] : loaded_map()) {
    std::set<std::string> provides;
    for (const auto* v : {&p.policies, &p.noise, &p.traffic, &p.devices, &p.dispatchers})
      for (const auto& n : *v)
        if (names.count(n)) provides.insert(n);
    if (provides.empty()) continue;
    const std::string lib = std::filesystem::path(path).filename().string();
    by_lib[lib + "\n" + path] = {{"library", lib}, {"fnv1a64", p.hash}, {"provides", provides}};
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [k, v] : by_lib) out.push_back(v);
  return out;
}

void check_recorded_plugins(const nlohmann::json& recorded) {
  if (!recorded.is_array())
    throw Error("plugins: expected the list config.resolved.json records, got " + std::string(recorded.type_name()));
  for (size_t i = 0; i < recorded.size(); ++i) {
    const nlohmann::json& r = recorded[i];
    const std::string at = "plugins." + std::to_string(i);
    if (!r.is_object() || !r.contains("library") || !r.contains("fnv1a64") || !r.at("library").is_string() ||
        !r.at("fnv1a64").is_string())
      throw Error(at + ": expected {\"library\": file name, \"fnv1a64\": hash, ...} as config.resolved.json records it");
    const std::string lib = r.at("library").get<std::string>(), want = r.at("fnv1a64").get<std::string>();
    bool seen = false, same = false;
    for (const auto& [path, p] : loaded_map())
      if (std::filesystem::path(path).filename().string() == lib) seen = true, same = same || p.hash == want;
    if (!same)
      throw Error(at + ": this configuration was resolved with plug-in " + lib + " (fnv1a64 " + want + "); " +
                  (seen ? "the loaded " + lib + " is another build" : "load it with --plugin"));
  }
}

}  // namespace ptc::sim
