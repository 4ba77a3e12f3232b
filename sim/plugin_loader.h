// Out-of-tree plug-ins: shared libraries whose static Registrar objects add
// policies and noise processes to ptcsim's registries when loaded (`ptcsim run --plugin FILE`).
// Contract:
// - load_plugin(file) dlopens `file` (RTLD_NOW | RTLD_GLOBAL) and returns the names it
//   registered. Every failure is one ptc::Error line naming the file: missing file, not a shared
//   library, unresolved symbols (the dynamic loader's text, demangled), a registration error
//   (e.g. a name that is already registered), or a library that registered nothing.
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

namespace ptc::sim {

struct LoadedPlugin {
  std::string file;                   // canonical path
  std::vector<std::string> policies;  // names it registered
  std::vector<std::string> noise;
  std::vector<std::string> traffic;
  std::vector<std::string> devices;
};

LoadedPlugin load_plugin(const std::string& file);
// Loads each file in order (stops at the first error).
std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& files);

}  // namespace ptc::sim
