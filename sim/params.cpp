#include "sim/params.h"

#include "sim/inputs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

namespace ptc::sim {

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> d(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = d[0];
    d[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return d[b.size()];
}

// "expected number in [lo,hi]" (or ">= lo", "<= hi", "a number"): the rule validate's schema
// messages state for the same parameter (sim/scenario_schema.cpp rule_of).
std::string range_rule(const ParamSpec& s, const std::string& type) {
  const bool lo = s.lo > -1e299, hi = s.hi < 1e299;
  if (lo && hi) return "expected " + type + " in [" + range_text(s.lo) + "," + range_text(s.hi) + "]";
  if (lo) return "expected " + type + " >= " + range_text(s.lo);
  if (hi) return "expected " + type + " <= " + range_text(s.hi);
  return type == "integer" ? "expected an integer" : "expected a number";
}

// aihwkit's names for ptcsim's parameters (RPUConfig's IOParameters and PCMLikeNoiseModel), for
// an unknown key that is one of them.
const std::map<std::string, std::string>& aihwkit_names() {
  static const std::map<std::string, std::string> m = {
      {"out_noise",
       "hw.adc.noise_std (per block partial sum in normalised units: out_noise sqrt(T / Q), divided by the tile's max|W| "
       "when aihwkit's weight_scaling_omega is 0; docs/converters_energy.md §1)"},
      {"inp_noise", "hw.dac.noise_std (added before the DAC's rounding; aihwkit adds inp_noise after it)"},
      {"out_res",
       "hw.adc.bits with hw.adc.quantize true (out_res 1 / (2^bits - 2): 2^bits - 2 steps over [-bound, bound]); "
       "out_res <= 0, no quantisation, is hw.adc.quantize false"},
      {"inp_res",
       "hw.dac.bits with hw.dac.quantize true (inp_res 1 / (2^bits - 2): 2^bits - 2 steps over [-bound, bound]); "
       "inp_res <= 0, no quantisation, is hw.dac.quantize false"},
      {"out_bound", "hw.adc.bound (in one k x k block's normalised partial sums, not a tile output's)"},
      {"inp_bound", "hw.dac.bound"},
      {"w_noise", "hw.mvm.w_noise"},
      {"w_noise_type", "hw.mvm.w_noise_type"},
      {"bound_management", "hw.mvm.bound_management"},
      {"noise_management", "hw.mvm.noise_management"},
      {"prog_noise_scale", "device.prog_scale"},
      {"read_noise_scale", "device.read_scale"},
      {"prog_coeff", "device.prog_c0, prog_c1, prog_c2"},
      {"prog_coeff_g_max_reference", "device.prog_g_max_reference_us"},
      {"drift_scale", "device.drift_scale"},
      {"max_bm_factor", "hw.mvm.max_bm_factor"},
      {"max_bm_res", "hw.mvm.max_bm_res"},
      {"nm_thres", "hw.mvm.nm_thres"},
      {"t_0", "device.t0_s"},
      {"t_read", "device.t_read_s"},
      {"g_max", "device.g_max_us"},
      {"g_min", "device.g_min_us"},
      {"f_lst", "device.f_lst"}};
  return m;
}
}  // namespace

std::string range_text(double v) {
  std::ostringstream o;
  o << v;
  // Six significant digits unless that names another number (2^53 is not 9.0072e+15): then all.
  if (std::isfinite(v) && std::strtod(o.str().c_str(), nullptr) != v) {
    o.str("");
    o.precision(17);
    o << v;
  }
  return o.str();
}

std::string aihwkit_hint(const std::string& key) {
  const auto& m = aihwkit_names();
  auto it = m.find(key);
  return it == m.end() ? std::string() : "; aihwkit's " + key + " is " + it->second + " here";
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates, bool prefixes) {
  auto lower = [](std::string x) {
    for (char& ch : x) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return x;
  };
  // aihwkit's enum spellings differ by case (PCM_READ, ABS_MAX) or also by underscores (its
  // class-style names: PCMRead, AbsMax).
  const auto plain = [&](const std::string& x) {
    std::string o;
    for (char ch : lower(x))
      if (ch != '_') o += ch;
    return o;
  };
  for (const auto& c : candidates)
    if (lower(c) == lower(word)) return c;
  for (const auto& c : candidates)
    if (plain(c) == plain(word) && !plain(word).empty()) return c;
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (!best.empty() || !prefixes) return best;
  // An abbreviation or an extension of exactly one candidate (per_col: per_column; aihwkit_tile:
  // aihwkit), at least three letters in common.
  const std::string w = lower(word);
  for (const auto& c : candidates) {
    const std::string lc = lower(c);
    const size_t n = std::min(w.size(), lc.size());
    if (n >= 3 && w.compare(0, n, lc, 0, n) == 0) {
      if (!best.empty()) return std::string();  // more than one: no guess
      best = c;
    }
  }
  return best;
}

std::string unknown_key_reason(const std::string& key, const std::vector<std::string>& known, const Json* obj,
                               const std::string& path) {
  // An aihwkit parameter's name says where it lives before any spelling neighbour does
  // (hw.mvm.out_noise: aihwkit's out_noise is hw.adc.noise_std, not "w_noise").
  std::string why = aihwkit_hint(key);
  if (!why.empty()) return why;
  const std::string hint = did_you_mean(key, known);
  if (!hint.empty()) return "; did you mean \"" + hint + "\"?";
  {  // an abbreviation of exactly one parameter (sigma_prog: sigma_prog_rel), 3 letters at least
    std::string abbr;
    int n = 0;
    for (const auto& c : known)
      if (key.size() >= 3 && key.size() < c.size() && c.compare(0, key.size(), key) == 0) abbr = c, ++n;
    if (n == 1) return "; did you mean \"" + abbr + "\"?";
  }
  // A plug-in section whose name was changed alone (--set controller.policy.name=none) keeps the
  // other plug-in's parameters: say how to replace the section.
  if (!path.empty() && obj && obj->is_object() && obj->contains("name") && (*obj)["name"].is_string() &&
      std::find(known.begin(), known.end(), "name") != known.end()) {
    const std::string name = (*obj)["name"].get<std::string>();
    const std::string section = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
    why = " for \"" + name + "\" (a parameter of another " + section + "? if --set " + path +
          ".name switched it, the file's other keys stay: replace the whole object instead, --set '" + path + "={\"name\": \"" +
          name + "\"}')";
  }
  return why;
}

void check_keys(const Json& obj, const std::string& path, const std::vector<std::string>& allowed) {
  if (!obj.is_object())
    throw Error((path.empty() ? std::string("scenario") : path) + ": expected an object, got " + obj.type_name());
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    if (it.key() == "$schema" || it.key() == "description" || it.key().rfind("//", 0) == 0) continue;
    std::string list;
    std::vector<std::string> known = allowed;  // sorted, as validate's schema errors list them
    std::sort(known.begin(), known.end());
    for (const auto& a : known) list += (list.empty() ? "" : ", ") + a;
    throw Error(join_path(path, it.key()) + ": unknown key" + unknown_key_reason(it.key(), allowed, &obj, path) +
                " (known: " + list + ")");
  }
}

Params::Params(const Json& obj, std::string path, std::vector<ParamSpec> specs, std::vector<std::string> extra_keys)
    : m_obj(obj.is_null() ? Json::object() : obj),
      m_path(std::move(path)),
      m_specs(std::move(specs)),
      m_extra(std::move(extra_keys)) {
  std::vector<std::string> allowed = m_extra;
  for (const auto& s : m_specs) allowed.push_back(s.name);
  check_keys(m_obj, m_path, allowed);
}

std::string param_type(const ParamSpec& s) {
  if (!s.type.empty()) return s.type;
  switch (s.dflt.type()) {
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::string:
      return "string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::array:
      return "number[]";
    case Json::value_t::object:
      return "object";
    default:
      throw Error("internal: required parameter \"" + s.name + "\" declares no type");
  }
}

void check_param_specs(const std::string& plugin, const std::vector<ParamSpec>& specs) {
  std::set<std::string> names;
  for (const auto& p : specs) {
    const std::string at = "plug-in \"" + plugin + "\": parameter \"" + p.name + "\": ";
    if (p.name.empty()) throw Error("plug-in \"" + plugin + "\": a parameter has no name");
    if (!names.insert(p.name).second) throw Error(at + "declared twice");
    if (p.dflt.is_null()) {
      if (p.type.empty()) throw Error(at + "required (default null) but declares no type");
      continue;
    }
    const std::string t = param_type(p);
    auto in_range = [&](const Json& v) {
      if (!v.is_number()) return false;
      const double x = v.get<double>();
      return x >= p.lo && x <= p.hi;
    };
    bool ok = true;
    if (t == "number")
      ok = in_range(p.dflt);
    else if (t == "integer")
      ok = p.dflt.is_number_integer() && in_range(p.dflt);
    else if (t == "boolean")
      ok = p.dflt.is_boolean();
    else if (t == "string")
      ok = p.dflt.is_string() &&
           (p.choices.empty() || std::find(p.choices.begin(), p.choices.end(), p.dflt.get<std::string>()) != p.choices.end());
    else if (t == "number[]")
      ok = p.dflt.is_array() && std::all_of(p.dflt.begin(), p.dflt.end(), in_range);
    else if (t == "string[]")
      ok = p.dflt.is_array() && std::all_of(p.dflt.begin(), p.dflt.end(), [](const Json& v) { return v.is_string(); });
    else if (t == "object")
      ok = p.dflt.is_object();
    else
      throw Error(at + "unknown type \"" + t + "\"");
    if (!ok)
      throw Error(at + "default " + p.dflt.dump() + " is not a valid " + t +
                  (p.has_range() ? " in [" + range_text(p.lo) + "," + range_text(p.hi) + "]" : std::string()) +
                  (p.choices.empty() ? std::string() : " (one of its choices)"));
  }
}

const ParamSpec& Params::spec(const std::string& name, const std::string& as) {
  for (const auto& s : m_specs)
    if (s.name == name) {
      m_read[name] = as.empty() ? param_type(s) : as;
      return s;
    }
  throw Error(join_path(m_path, name) +
              ": read but not declared (a plug-in's registration must declare every parameter its "
              "factory reads)");
}

Json Params::value(const ParamSpec& s) const {
  if (m_obj.contains(s.name)) return m_obj.at(s.name);
  if (s.dflt.is_null()) throw Error(path_of(s.name) + ": required parameter missing (" + s.description + ")");
  return s.dflt;
}

double Params::num(const std::string& name) {
  const ParamSpec& s = spec(name, "number");
  Json v = value(s);
  if (!v.is_number()) throw Error(path_of(name) + ": " + range_rule(s, "number") + ", got " + v.dump());
  double x = v.get<double>();
  if (!std::isfinite(x) || x < s.lo || x > s.hi)
    throw Error(path_of(name) + ": " + range_rule(s, "number") + ", got " + v.dump());
  return x;
}

int64_t Params::integer(const std::string& name) {
  const ParamSpec& s = spec(name, "integer");
  Json v = value(s);
  if (!v.is_number_integer() &&
      !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 9e15))
    throw Error(path_of(name) + ": " + range_rule(s, "integer") + ", got " + v.dump());
  double x = v.get<double>();
  if (x < s.lo || x > s.hi) throw Error(path_of(name) + ": " + range_rule(s, "integer") + ", got " + v.dump());
  return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(x);
}

bool Params::flag(const std::string& name) {
  Json v = value(spec(name, "boolean"));
  if (!v.is_boolean()) throw Error(path_of(name) + ": expected true or false, got " + v.dump());
  return v.get<bool>();
}

std::string Params::str(const std::string& name) {
  const ParamSpec& s = spec(name, "string");
  Json v = value(s);
  if (!v.is_string()) throw Error(path_of(name) + ": expected a string, got " + v.dump());
  std::string x = v.get<std::string>();
  if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), x) == s.choices.end()) {
    std::string list, hint = did_you_mean(x, s.choices, true);
    for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
    throw Error(path_of(name) + ": \"" + x + "\" is not one of " + list +
                (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
  }
  return x;
}

std::string Params::file(const std::string& name) {
  std::string f = str(name);
  if (f.empty()) throw Error(path_of(name) + ": expected a file path, got \"\"");
  if (f[0] != '/' && !m_base_dir.empty()) f = (std::filesystem::path(m_base_dir) / f).lexically_normal().string();
  note_input_file(path_of(name), f);  // its bytes are recorded in run.json (sim/inputs.h)
  return f;
}

std::vector<double> Params::nums(const std::string& name) {
  const ParamSpec& s = spec(name, "number[]");
  Json v = value(s);
  if (!v.is_array()) throw Error(path_of(name) + ": expected an array of numbers, got " + v.dump());
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) throw Error(path_of(name) + "[" + std::to_string(i) + "]: expected a number, got " + v[i].dump());
    double x = v[i].get<double>();
    if (!std::isfinite(x) || x < s.lo || x > s.hi)
      throw Error(path_of(name) + "[" + std::to_string(i) + "]: expected number in [" + range_text(s.lo) + "," +
                  range_text(s.hi) + "], got " + v[i].dump());
    out.push_back(x);
  }
  return out;
}

std::vector<std::string> Params::strs(const std::string& name) {
  const ParamSpec& s = spec(name, "string[]");
  Json v = value(s);
  if (!v.is_array()) throw Error(path_of(name) + ": expected an array of strings, got " + v.dump());
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) throw Error(path_of(name) + "[" + std::to_string(i) + "]: expected a string, got " + v[i].dump());
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Json Params::raw(const std::string& name) {
  return value(spec(name, ""));
}

Json Params::resolved() const {
  Json j = Json::object();
  for (const auto& k : m_extra)
    if (m_obj.contains(k)) j[k] = m_obj.at(k);
  for (const auto& s : m_specs) j[s.name] = m_obj.contains(s.name) ? m_obj.at(s.name) : s.dflt;
  return j;
}

namespace {
thread_local ParamAudit* t_audit = nullptr;
}

ParamAudit::ParamAudit() : m_outer(t_audit) {
  t_audit = this;
}
ParamAudit::~ParamAudit() {
  t_audit = m_outer;
}

Params::~Params() {
  if (t_audit)
    for (const auto& n : unread()) t_audit->m_unread.push_back(path_of(n));
}

std::vector<std::string> Params::unread() const {
  std::vector<std::string> v;
  for (const auto& s : m_specs)
    if (!m_read.count(s.name)) v.push_back(s.name);
  return v;
}

}  // namespace ptc::sim
