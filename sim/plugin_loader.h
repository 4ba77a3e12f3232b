// Out-of-tree plug-ins: shared libraries whose static Registrar objects add
// policies and noise processes to ptcsim's registries when loaded (`ptcsim run --plugin FILE`).
// Contract:
// - load_plugin(file) dlopens `file` (RTLD_NOW | RTLD_GLOBAL) and returns the names it
//   registered. Every failure is one ptc::Error line naming the file: missing file, not a shared
//   library, unresolved symbols (the dynamic loader's text, demangled), a registration error
//   (e.g. a name that is already registered), or a library that registered nothing.
// - The SDK identity (PTC_SDK_ABI, cmake/ptcsim_sdk_abi.cmake): each Registrar in the library
//   reports the identity it was compiled with (plugin_sdk_matches, sim/params.h) and registers
//   only when it is this ptcsim's; a library that reported another identity, or registered without
//   reporting one, is refused.
// - Registration errors raised in the library's static initialisers are collected through
//   deferred_registration_errors() (sim/params.h) and thrown after dlopen has returned: no
//   exception crosses dlopen. Other exceptions escaping a plug-in's static initialisers are the
//   plug-in's bug.
// - Libraries are never unloaded (the registries hold their factories until exit). Loading the
//   same file again (same canonical path) returns the first result.
// - Plug-ins resolve ptcsim's symbols against the executable (linked with ENABLE_EXPORTS), so
//   Registry<T>::get() in a plug-in is the executable's registry (GCC emits its function-local
//   static as one unique symbol).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptc::sim {

struct LoadedPlugin {
  std::string file;                   // canonical path
  std::string hash;                   // FNV-1a 64 of the library's bytes, 16 hex digits
  std::vector<std::string> policies;  // names it registered
  std::vector<std::string> noise;
  std::vector<std::string> traffic;
  std::vector<std::string> devices;
  std::vector<std::string> dispatchers;
};

LoadedPlugin load_plugin(const std::string& file);
// Loads each file in order (stops at the first error).
std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& files);
// Every plug-in loaded so far, by canonical path.
std::vector<LoadedPlugin> loaded_plugins();
// How errors name a policy: controller.policy "name", plus " (plug-in libX.so)" when a loaded
// plug-in registered it.
std::string policy_label(const std::string& name);
// How errors name a noise process: its JSON path and name (noise[1] "name"), plus
// " (plug-in libX.so)" when a loaded plug-in registered it.
std::string noise_label(const std::string& path, const std::string& name);
// How errors name a device: device "name", plus " (plug-in libX.so)" when a loaded plug-in
// registered it.
std::string device_label(const std::string& name);

// The plug-ins a resolved configuration uses (a plug-in-registered name as the value of a "name"
// key anywhere in it): [{"library": file name, "fnv1a64": hash, "provides": [names]}], sorted by
// library; empty when it uses none. parse_scenario records it as config.resolved.json's "plugins",
// so a configuration's id changes when a plug-in it uses is rebuilt with other code.
nlohmann::json plugins_used(const nlohmann::json& resolved);
// A configuration that records "plugins" (a config.resolved.json run again): each must be loaded
// with the same bytes. Throws naming "plugins" and the library otherwise.
void check_recorded_plugins(const nlohmann::json& recorded);

}  // namespace ptc::sim
