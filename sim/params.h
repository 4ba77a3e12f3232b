// Self-describing parameters and the plug-in registry (docs/architecture.md §4, §7).
// Contract:
// - A plug-in declares its parameters (name, unit, default, description, range) beside its
//   registration. `Params` reads a JSON object against that declaration: unknown keys are
//   errors with a "did you mean" suggestion, missing keys take the default, every read checks
//   type and range and names the JSON path and the rule ("controller.policy.beta: expected number
//   in [0,1], got 2"). resolved() gives the object with every default filled in.
// - `Registry<T>` maps names to factories; registration is one static `Registrar` object per
//   plug-in source file (no injected members). Unknown names list the registered ones.
// - A factory only reads its parameters and builds the object (no other side effects): the
//   schema generator calls it once with defaults to learn each parameter's type from the
//   accessor that reads it (num -> number, integer -> integer, ...).
// - Params::unread() lists declared parameters that were never read (the test "every declared
//   parameter is read" uses it, and ParamAudit collects it over a whole scenario parse); reading
//   an undeclared parameter throws (a logic error).
// - Out-of-tree plug-ins (sim/plugin_loader.h) include this header and register the same way;
//   their registrars reach the executable's registries (ptcsim exports its symbols).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "models/error.h"
#include "sim/sdk_abi.h"  // generated: PTC_SDK_ABI (cmake/ptcsim_sdk_abi.cmake)

namespace ptc::sim {

using Json = nlohmann::json;

struct ParamSpec {
  ParamSpec(std::string n, std::string u, Json d, std::string desc, double lo_ = -1e300, double hi_ = 1e300,
            std::vector<std::string> ch = {}, std::string type_ = {})
      : name(std::move(n)),
        unit(std::move(u)),
        dflt(std::move(d)),
        description(std::move(desc)),
        lo(lo_),
        hi(hi_),
        choices(std::move(ch)),
        type(std::move(type_)) {}
  std::string name, unit;
  Json dflt;  // null = required
  std::string description;
  double lo = -1e300, hi = 1e300;    // numeric range (inclusive)
  std::vector<std::string> choices;  // for strings: allowed values (empty = any)
  // Value type: "number", "integer", "boolean", "string", "number[]", "string[]" or "object". Empty: inferred
  // from the default (param_type); required parameters (null default) must give it.
  std::string type;
  bool has_range() const { return lo > -1e299 || hi < 1e299; }
};

// The declared or inferred value type of a parameter (see ParamSpec::type). Throws for a required
// parameter without an explicit type.
std::string param_type(const ParamSpec& s);

// A range bound as rules print it ("[0,1e+06]"): six significant digits, or all 17 when six would
// name another number (a bound of 2^53 prints 9007199254740992, not 9.0072e+15). Params' messages
// and the schema's rules (validate) use it alike.
std::string range_text(double v);
// The declared parameters of plug-in `plugin` are consistent: unique names, a type for every
// required one, every default of its type and within its range or choices. Throws naming both.
void check_param_specs(const std::string& plugin, const std::vector<ParamSpec>& specs);

// Closest candidate by edit distance, or "" if none is close.
// With `prefixes` (enumeration values, registered names, not keys): also the one candidate the word
// abbreviates or extends.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates, bool prefixes = false);
// Appended to an unknown plug-in name (device.name, controller.policy.name, ...).
inline constexpr const char* kPluginNameHint = " (a plug-in's name? load its library with --plugin)";
// "; aihwkit's out_noise is hw.adc.noise_std here" for a key that is an aihwkit parameter name, else "".
std::string aihwkit_hint(const std::string& key);
// What follows "PATH.KEY: unknown key" in the error for a key of `obj` (at `path`) that is not one
// of `known`: a did-you-mean, else aihwkit's name's hint, else, for a named plug-in section (a
// "name" beside the key, as after --set controller.policy.name=none), how to replace the section.
std::string unknown_key_reason(const std::string& key, const std::vector<std::string>& known, const Json* obj,
                               const std::string& path);
// Throws for keys of `obj` not in `allowed`: "<path>.<key>: unknown key; did you mean ...? known: ...".
void check_keys(const Json& obj, const std::string& path, const std::vector<std::string>& allowed);
// "path.key" with "" path handled.
std::string join_path(const std::string& path, const std::string& key);

class Params {
 public:
  // extra_keys: keys of `obj` owned by the caller (e.g. "name"), allowed and ignored here.
  Params(const Json& obj, std::string path, std::vector<ParamSpec> specs, std::vector<std::string> extra_keys = {"name"});
  Params(const Params&) = default;
  Params(Params&&) = default;
  Params& operator=(const Params&) = default;
  Params& operator=(Params&&) = default;
  ~Params();  // reports unread parameters to the active ParamAudit, if any
  double num(const std::string& name);
  int64_t integer(const std::string& name);
  bool flag(const std::string& name);
  std::string str(const std::string& name);
  std::vector<double> nums(const std::string& name);
  // A list of strings (each one of `choices` when the declaration gives any).
  std::vector<std::string> strs(const std::string& name);
  Json raw(const std::string& name);
  const std::string& path() const { return m_path; }
  // The directory relative file parameters are resolved against (the scenario's base_dir, which
  // defaults to the top-level scenario file's directory). Empty: the working directory.
  void set_base_dir(std::string dir) { m_base_dir = std::move(dir); }
  // A file parameter as a path: absolute as given, else relative to the base directory.
  std::string file(const std::string& name);
  std::string path_of(const std::string& name) const { return join_path(m_path, name); }
  // Whether the scenario gave parameter `name` (else its default applies).
  bool given(const std::string& name) const { return m_obj.is_object() && m_obj.contains(name); }
  // The declared parameters with defaults applied (plus the extra keys present in the input).
  Json resolved() const;
  std::vector<std::string> unread() const;
  // The type each read parameter was read as ("number" for num(), "integer", "boolean", "string",
  // "number[]", "string[]"; raw(): param_type). The schema generator uses it to type plug-in parameters.
  const std::map<std::string, std::string>& read_types() const { return m_read; }

 private:
  const ParamSpec& spec(const std::string& name, const std::string& as);
  Json value(const ParamSpec& s) const;
  Json m_obj;
  std::string m_path;
  std::vector<ParamSpec> m_specs;
  std::vector<std::string> m_extra;
  std::map<std::string, std::string> m_read;  // name -> type read as
  std::string m_base_dir;
};

// While alive, collects "path.name" of every declared parameter that a Params destroyed on this
// thread never read (audits a whole parse_scenario; audits nest, the innermost collects).
class ParamAudit {
 public:
  ParamAudit();
  ~ParamAudit();
  ParamAudit(const ParamAudit&) = delete;
  ParamAudit& operator=(const ParamAudit&) = delete;
  const std::vector<std::string>& unread() const { return m_unread; }

 private:
  friend class Params;
  std::vector<std::string> m_unread;
  ParamAudit* m_outer;
};

template <class T>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<T>(Params&)>;
  struct Entry {
    std::string name, description;
    std::vector<ParamSpec> params;
    Factory make;
    // Static traits of the plug-in, known without building it (devices: capabilities such as
    // "remap", the traits noise processes act on, the weight-cell kind; see sim/plugins.h).
    std::vector<std::string> tags = {};
  };
  static Registry& get() {
    static Registry r;
    return r;
  }
  void add(Entry e) {
    std::string n = e.name;
    if (m_entries.count(n))
      throw Error("plug-in \"" + n + "\" registered twice (a built-in or an earlier plug-in has that name)");
    check_param_specs(n, e.params);
    m_entries.emplace(n, std::move(e));
  }
  const Entry& find(const std::string& name, const std::string& path, [[maybe_unused]] const std::string& kind) const {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) {
      std::string list, hint = did_you_mean(name, names(), true);
      for (const auto& n : names()) list += (list.empty() ? "" : ", ") + n;
      // As validate's schema words it, plus where an unregistered name may come from.
      throw Error(path + ": \"" + name + "\" is not one of " + list + (hint.empty() ? "" : "; did you mean \"" + hint + "\"?") +
                  kPluginNameHint);
    }
    return it->second;
  }
  bool has(const std::string& name) const { return m_entries.count(name) != 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (const auto& [n, e] : m_entries) v.push_back(n);
    return v;
  }
  const std::map<std::string, Entry>& entries() const { return m_entries; }

 private:
  std::map<std::string, Entry> m_entries;
};

// While a plug-in library is being loaded (sim/plugin_loader.h) this points at a list that
// collects registration errors (e.g. "registered twice"): a Registrar runs inside dlopen, and an
// exception must not unwind through dlopen's C frames. Null otherwise (errors are thrown).
std::vector<std::string>*& deferred_registration_errors();

// While a plug-in library is being loaded: records the SDK identity `abi` it was compiled against
// (PTC_SDK_ABI) and says whether it is this ptcsim's. The plug-in loader refuses the library when it
// is not, or when nothing was recorded (a plug-in built before the check). Its signature stays
// fixed across versions.
bool plugin_sdk_matches(const char* abi);

// One static object per plug-in file registers it: `static Registrar<Policy> reg{{...}};`
// sdk_abi is left to its default: a default argument is evaluated where the object is defined, so
// a plug-in passes the SDK it was compiled against (the constructor may run the executable's copy
// of this template, which the dynamic linker prefers).
template <class T>
struct Registrar {
  explicit Registrar(typename Registry<T>::Entry e, const char* sdk_abi = PTC_SDK_ABI) {
    std::vector<std::string>* errors = deferred_registration_errors();
    if (!errors) {
      Registry<T>::get().add(std::move(e));
      return;
    }
    // In a plug-in: its entry's layout is only this ptcsim's if the SDK headers are (the loader
    // reports the mismatch after dlopen).
    if (!plugin_sdk_matches(sdk_abi)) return;
    const std::string name = e.name;
    try {
      Registry<T>::get().add(std::move(e));
    } catch (const std::exception& x) {
      errors->push_back(x.what());
    } catch (...) {
      errors->push_back("registration of \"" + name + "\" failed");
    }
  }
};

}  // namespace ptc::sim
