#include "sim/sweep/sweep.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "models/error.h"
#include "sim/inputs.h"
#include "sim/params.h"
#include "sim/plugin_loader.h"
#include "sim/recorder.h"
#include "sim/scenario.h"
#include "sim/sweep/stats.h"

namespace ptc::sim::sweep {
namespace fs = std::filesystem;

std::string hash_hex(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ULL;
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
  return b;
}

OJson Entry::to_json() const {
  OJson j;
  j["index"] = index;
  j["id"] = id;
  j["scenario"] = scenario;
  j["set"] = set;
  j["seed"] = seed_value;
  j["point"] = point;
  j["run_dir"] = run_dir;
  if (!plugins.empty()) j["plugins"] = plugins;
  if (!sweep.empty()) j["sweep"] = sweep;
  return j;
}

namespace {

// " (did you mean \"grid\"?)" for a key a letter or two from a known one, else "".
std::string hint_for(const std::string& key, const std::set<std::string>& known) {
  const std::string h = did_you_mean(key, std::vector<std::string>(known.begin(), known.end()));
  return h.empty() ? std::string() : " (did you mean \"" + h + "\"?)";
}

std::string read_text(const fs::path& p, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw Error(p.string() + ": cannot read " + what + " (a directory)");
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string() + ": cannot read " + what);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

// An axis: its levels, each a list of (path, value) assignments (a zip level assigns several).
struct Axis {
  std::vector<std::string> paths;
  std::vector<std::vector<OJson>> levels;  // levels[l][k] = value of paths[k]
};

std::string assignment(const std::string& path, const OJson& v) {
  return path + "=" + v.dump();
}

// A string the spec puts where the scenario expects an object or a list slot names a fragment
// file, relative to the spec (as its scenario files are). It is made absolute in the entry's
// assignments so that every task reads the same file wherever it runs; the entry's point keeps
// the value as written.
OJson fragments_from_spec(const std::string& path, const OJson& v, const fs::path& dir) {
  if (v.is_string()) {
    const fs::path f(v.get<std::string>());
    if (!names_fragment(path) || f.empty() || f.is_absolute()) return v;
    return (dir / f).lexically_normal().string();
  }
  OJson out = v;
  if (v.is_array() && names_fragment(path)) {  // a list slot's entries (a nested list is spliced in)
    for (size_t i = 0; i < v.size(); ++i)
      out[i] = v[i].is_object() ? fragments_from_spec(path + "." + std::to_string(i), v[i], dir)
                                : fragments_from_spec(path, v[i], dir);
  } else if (v.is_object()) {
    for (auto it = out.begin(); it != out.end(); ++it)
      it.value() = fragments_from_spec(join_path(path, it.key()), it.value(), dir);
  }
  return out;
}

void check_path(const std::string& spec, const std::string& where, const std::string& path) {
  if (path.empty() || path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos)
    throw Error(spec + ": " + where + ": \"" + path + "\" is not a dotted scenario path (e.g. monitor.w_thres)");
  if (path == "seed") throw Error(spec + ": " + where + ": sweep seeds with \"seeds\", not a --set of seed");
  // base_dir chooses input files but is not part of an entry's id (it is the checkout's location):
  // entries or specs that differ only in it would share ids, and a re-expanded spec would keep a
  // finished run computed from other files.
  if (path == "base_dir")
    throw Error(spec + ": " + where +
                ": base_dir is not part of an entry's id, so it cannot be set or swept; point model or dataset.dir "
                "at the files instead");
  if (path == "threads")
    throw Error(spec + ": " + where +
                ": threads is not part of an entry's id (outputs are the same at any thread count); give the runs "
                "threads with sweep run/task/slurm --threads");
}

std::string describe(const std::vector<std::string>& swept, const std::string& scen, int64_t seed, bool has_seed) {
  std::string d = scen;
  for (const auto& s : swept) d += ", " + s;
  if (has_seed) d += ", seed " + std::to_string(seed);
  return d;
}

}  // namespace

std::vector<Entry> expand(const std::string& spec_file, std::vector<std::string>* params_out, std::string* name_out) {
  const std::string& S = spec_file;
  OJson spec;
  try {
    spec = OJson::parse(read_text(spec_file, "sweep spec"));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(S + ": not valid JSON: " + e.what());
  }
  if (!spec.is_object()) throw Error(S + ": a sweep spec is a JSON object");
  static const std::set<std::string> known = {"$schema", "name", "description", "scenario", "set",
                                              "grid",    "zip",  "seeds",       "plugins"};
  for (auto it = spec.begin(); it != spec.end(); ++it)
    if (!known.count(it.key()) && it.key().rfind("//", 0) != 0)
      throw Error(S + ": " + it.key() + ": unknown key" + hint_for(it.key(), known) +
                  "; expected one of name, description, scenario, set, grid, zip, seeds, plugins");
  const fs::path dir = fs::absolute(fs::path(spec_file)).parent_path();

  // ---- plug-ins: loaded here, so that the entries' policies, noise and devices validate
  std::vector<std::string> plugins;
  if (spec.contains("plugins")) {
    const OJson& pl = spec["plugins"];
    if (!pl.is_array() || pl.empty())
      throw Error(S + ": plugins: expected a non-empty list of shared libraries, got " + pl.dump());
    for (size_t i = 0; i < pl.size(); ++i) {
      const std::string where = S + ": plugins." + std::to_string(i);
      if (!pl[i].is_string() || pl[i].get<std::string>().empty())
        throw Error(where + ": expected a file name, got " + pl[i].dump());
      const std::string f = pl[i].get<std::string>();
      const fs::path p = (fs::path(f).is_absolute() ? fs::path(f) : dir / f).lexically_normal();
      if (!fs::is_regular_file(p)) throw Error(where + ": file \"" + f + "\" not found (relative to the spec)");
      plugins.push_back(p.string());
    }
    try {
      load_plugins(plugins);
    } catch (const std::exception& e) {
      throw Error(S + ": plugins: " + e.what());
    }
  }

  std::string name = fs::path(spec_file).stem().string();
  if (spec.contains("name")) {
    if (!spec["name"].is_string() || spec["name"].get<std::string>().empty())
      throw Error(S + ": name: expected a non-empty string, got " + spec["name"].dump());
    name = spec["name"].get<std::string>();
  }
  if (name.find('/') != std::string::npos || name.find(' ') != std::string::npos)
    throw Error(S + ": name: \"" + name + "\" may not contain '/' or spaces (it names the sweep folder)");
  if (spec.contains("description") && !spec["description"].is_string())
    throw Error(S + ": description: expected a string, got " + spec["description"].dump());

  // ---- scenario files
  if (!spec.contains("scenario")) throw Error(S + ": scenario: required (a scenario file or a list of them)");
  std::vector<std::string> files;
  const OJson& sc = spec["scenario"];
  if (sc.is_string())
    files.push_back(sc.get<std::string>());
  else if (sc.is_array() && !sc.empty()) {
    for (size_t i = 0; i < sc.size(); ++i) {
      if (!sc[i].is_string()) throw Error(S + ": scenario." + std::to_string(i) + ": expected a file name, got " + sc[i].dump());
      files.push_back(sc[i].get<std::string>());
    }
  } else
    throw Error(S + ": scenario: expected a file or a non-empty list of files, got " + sc.dump());
  std::vector<std::string> abs_files, stems;
  for (size_t i = 0; i < files.size(); ++i) {
    fs::path p = fs::path(files[i]).is_absolute() ? fs::path(files[i]) : dir / files[i];
    p = p.lexically_normal();
    const std::string where = files.size() > 1 ? "scenario." + std::to_string(i) : "scenario";
    if (!fs::is_regular_file(p)) throw Error(S + ": " + where + ": file \"" + files[i] + "\" not found (relative to the spec)");
    abs_files.push_back(p.string());
    stems.push_back(p.stem().string());
  }
  if (std::set<std::string>(stems.begin(), stems.end()).size() != stems.size()) stems = files;  // names must tell them apart

  // ---- fixed overrides, grid, zip
  std::vector<std::string> fixed;
  std::map<std::string, std::string> used;  // path -> where it was set or swept
  auto claim = [&](const std::string& where, const std::string& written) {
    check_path(S, where, written);
    const std::string path = dotted(written);  // noise[0].x and noise.0.x are one path
    if (used.count(path)) throw Error(S + ": " + where + ": " + path + " is set or swept twice");
    // Assignments apply in this order (set, grid, zip, each in spec order): a section set whole
    // after a value below it replaces that value, which would be lost and mislabel the entry's
    // point. (A value below a section set earlier refines it: allowed.)
    for (const auto& [u, w] : used)
      if (u.compare(0, path.size() + 1, path + ".") == 0)
        throw Error(S + ": " + where + ": " + path + " set whole after " + w +
                    " would replace it (assignments apply as set, grid, zip); set the value inside the section or "
                    "sweep only one of them");
    used.emplace(path, where);
  };
  if (spec.contains("set")) {
    if (!spec["set"].is_object()) throw Error(S + ": set: expected an object {path: value}, got " + spec["set"].dump());
    for (auto it = spec["set"].begin(); it != spec["set"].end(); ++it) {
      claim("set." + it.key(), it.key());
      fixed.push_back(assignment(it.key(), fragments_from_spec(it.key(), it.value(), dir)));
    }
  }
  std::vector<Axis> axes;
  std::vector<std::string> params;
  if (files.size() > 1) params.push_back("scenario");
  if (spec.contains("grid")) {
    const OJson& g = spec["grid"];
    if (!g.is_object() || g.empty())
      throw Error(S + ": grid: expected a non-empty object {path: [values]}, got " + g.dump() +
                  " (leave grid out for a sweep of the base scenario and seeds only)");
    for (auto it = g.begin(); it != g.end(); ++it) {
      const std::string where = "grid." + it.key();
      claim(where, it.key());
      if (!it.value().is_array() || it.value().empty())
        throw Error(S + ": " + where + ": expected a non-empty list of values, got " + it.value().dump());
      Axis a;
      a.paths = {it.key()};
      for (const auto& v : it.value()) a.levels.push_back({v});
      axes.push_back(a);
      params.push_back(it.key());
    }
  }
  if (spec.contains("zip")) {
    std::vector<OJson> groups;
    if (spec["zip"].is_object())
      groups.push_back(spec["zip"]);
    else if (spec["zip"].is_array())
      groups.assign(spec["zip"].begin(), spec["zip"].end());
    if (!spec["zip"].is_object() && (!spec["zip"].is_array() || spec["zip"].empty()))
      throw Error(S + ": zip: expected an object {path: [values]} or a non-empty list of them, got " + spec["zip"].dump() +
                  " (leave zip out for no zipped axes)");
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const std::string gw = spec["zip"].is_array() ? "zip." + std::to_string(gi) : "zip";
      const OJson& g = groups[gi];
      if (!g.is_object() || g.empty())
        throw Error(S + ": " + gw + ": expected a non-empty object {path: [values]}, got " + g.dump());
      Axis a;
      size_t len = 0;
      for (auto it = g.begin(); it != g.end(); ++it) {
        const std::string where = gw + "." + it.key();
        claim(where, it.key());
        if (!it.value().is_array() || it.value().empty())
          throw Error(S + ": " + where + ": expected a non-empty list of values, got " + it.value().dump());
        if (a.paths.empty())
          len = it.value().size();
        else if (it.value().size() != len)
          throw Error(S + ": " + where + ": zipped lists must have equal lengths; " + a.paths[0] + " has " + std::to_string(len) +
                      " values, " + it.key() + " has " + std::to_string(it.value().size()));
        a.paths.push_back(it.key());
        params.push_back(it.key());
      }
      for (size_t l = 0; l < len; ++l) {
        std::vector<OJson> level;
        for (auto it = g.begin(); it != g.end(); ++it) level.push_back(it.value()[l]);
        a.levels.push_back(level);
      }
      axes.push_back(a);
    }
  }

  // ---- seeds
  std::vector<OJson> seeds;  // null = the scenario's own seed
  if (spec.contains("seeds")) {
    const OJson& s = spec["seeds"];
    auto seed_ok = [](const OJson& v) { return v.is_number_integer() && v.get<int64_t>() >= 0; };
    if (s.is_array() && !s.empty()) {
      std::set<int64_t> seen;
      for (size_t i = 0; i < s.size(); ++i) {
        if (!seed_ok(s[i]))
          throw Error(S + ": seeds." + std::to_string(i) + ": expected a non-negative integer, got " + s[i].dump());
        if (!seen.insert(s[i].get<int64_t>()).second)
          throw Error(S + ": seeds." + std::to_string(i) + ": seed " + s[i].dump() + " listed twice");
        seeds.push_back(s[i]);
      }
    } else if (s.is_object()) {
      for (auto it = s.begin(); it != s.end(); ++it)
        if (it.key() != "first" && it.key() != "count")
          throw Error(S + ": seeds." + it.key() + ": unknown key" + hint_for(it.key(), {"first", "count"}) +
                      "; expected first, count");
      OJson first = s.contains("first") ? s["first"] : OJson(1);
      if (!seed_ok(first)) throw Error(S + ": seeds.first: expected a non-negative integer, got " + first.dump());
      if (!s.contains("count") || !s["count"].is_number_integer() || s["count"].get<int64_t>() < 1 ||
          s["count"].get<int64_t>() > 100000)
        throw Error(S + ": seeds.count: expected an integer in [1,100000], got " +
                    (s.contains("count") ? s["count"].dump() : "nothing"));
      for (int64_t k = 0; k < s["count"].get<int64_t>(); ++k) seeds.push_back(first.get<int64_t>() + k);
    } else
      throw Error(S + ": seeds: expected a non-empty list of integers or {\"first\": s, \"count\": n}, got " + s.dump());
  } else {
    seeds.push_back(nullptr);
  }

  // ---- how many: refused above the limit before any is validated (each takes tens of ms: a
  // 7.9-million-entry grid expanded silently for what would have been days)
  double total = static_cast<double>(abs_files.size()) * static_cast<double>(seeds.size());
  for (const auto& ax : axes) total *= static_cast<double>(ax.levels.size());
  constexpr double kMaxEntries = 100000;  // as seeds.count's limit
  if (total > kMaxEntries) {
    char n[48];
    std::snprintf(n, sizeof n, "%.0f", total);
    throw Error(
        S + ": " + n +
        " entries (scenarios x grid and zip levels x seeds), more than the limit of 100000; split the sweep into several specs");
  }
  const auto t_start = std::chrono::steady_clock::now();
  auto t_report = t_start;

  // ---- enumerate and validate every entry
  std::vector<Entry> out;
  std::map<std::string, int64_t> by_id;
  std::set<std::string> preflighted;  // configurations (seed aside) already preflighted
  std::vector<size_t> odo(axes.size(), 0);
  for (size_t fi = 0; fi < abs_files.size(); ++fi) {
    std::fill(odo.begin(), odo.end(), 0);
    while (true) {
      for (const auto& seed : seeds) {
        Entry e;
        e.index = static_cast<int64_t>(out.size());
        e.point = OJson::object();
        e.scenario = abs_files[fi];
        e.set = fixed;
        std::vector<std::string> swept;
        if (files.size() > 1) e.point["scenario"] = stems[fi];
        for (size_t a = 0; a < axes.size(); ++a)
          for (size_t k = 0; k < axes[a].paths.size(); ++k) {
            const OJson& v = axes[a].levels[odo[a]][k];
            e.set.push_back(assignment(axes[a].paths[k], fragments_from_spec(axes[a].paths[k], v, dir)));
            swept.push_back(e.set.back());
            e.point[axes[a].paths[k]] = v;
          }
        std::vector<std::string> sets = e.set;
        if (!seed.is_null()) sets.push_back("seed=" + seed.dump());
        const std::string what = S + ": entry " + std::to_string(e.index) + " (" +
                                 describe(swept, files[fi], seed.is_null() ? 0 : seed.get<int64_t>(), !seed.is_null()) + ")";
        Scenario s;
        try {
          Json j = load_scenario_json(e.scenario, sets);
          std::vector<std::string> errors = schema_errors(j);
          if (!errors.empty())
            throw Error(errors.front() + (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
          s = parse_scenario(j, e.scenario);
          Json no_seed = s.resolved;
          no_seed.erase("seed");
          if (preflighted.insert(no_seed.dump() + "\n" + e.scenario).second) preflight(s);
        } catch (const std::exception& ex) {
          throw Error(what + ": " + ex.what());
        }
        e.seed = seed;
        e.seed_value = static_cast<int64_t>(s.seed);
        e.id = hash_hex(config_id_text(s.resolved));
        e.plugins = plugins;
        e.sweep = name;
        e.run_dir = "runs/" + e.id;
        auto [it, fresh] = by_id.emplace(e.id, e.index);
        if (!fresh)
          throw Error(what + ": same configuration and seed as entry " + std::to_string(it->second) + " (id " + e.id + ")");
        out.push_back(std::move(e));
        // A long expansion says how far it is, every 5 s of wall time.
        const auto now = std::chrono::steady_clock::now();
        if (std::chrono::duration<double>(now - t_report).count() > 5.0) {
          t_report = now;
          const double done = static_cast<double>(out.size()), spent = std::chrono::duration<double>(now - t_start).count();
          std::fprintf(stderr, "sweep: %.0f of %.0f entries validated, about %.0f s to go\n", done, total,
                       spent / done * (total - done));
        }
      }
      // odometer: the last axis varies fastest
      size_t a = axes.size();
      bool more = false;
      while (a > 0 && !more) {
        --a;
        if (++odo[a] < axes[a].levels.size())
          more = true;
        else
          odo[a] = 0;
      }
      if (!more) break;
    }
  }
  if (params_out) *params_out = params;
  if (name_out) *name_out = name;
  return out;
}

fs::path write_manifest(const std::vector<Entry>& entries, const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    std::error_code e2;
    const std::string why = fs::exists(out_dir, e2) && !fs::is_directory(out_dir, e2) ? "it exists and is not a folder"
                            : ec                                                      ? ec.message()
                                                                                      : "not a folder";
    throw Error(out_dir.string() + ": cannot create the sweep folder (" + why + ")");
  }
  std::string text;
  for (const auto& e : entries) text += e.to_json().dump() + "\n";
  fs::path f = out_dir / "manifest.jsonl";
  write_atomic(f, text);
  return f;
}

namespace {
// Whether a point's value (as the spec wrote it) is the value the entry's assignment sets: the same
// JSON, except that a fragment file named relative to the spec is absolute in the assignment.
bool same_value(const OJson& point, const OJson& set) {
  if (point.is_string() && set.is_string()) {
    const std::string a = point.get<std::string>(), b = set.get<std::string>();
    if (a == b) return true;
    // The absolute path must end with every component of the relative one, as written.
    const fs::path pa = fs::path(a).lexically_normal(), pb = fs::path(b).lexically_normal();
    if (!pb.is_absolute() || pa.is_absolute() || pa.empty()) return false;
    std::vector<fs::path> ca(pa.begin(), pa.end()), cb(pb.begin(), pb.end());
    while (!ca.empty() && ca.front() == "..") ca.erase(ca.begin());  // resolved against the spec's folder
    if (ca.empty() || ca.size() > cb.size()) return false;
    return std::equal(ca.rbegin(), ca.rend(), cb.rbegin());
  }
  if (point.is_object() && set.is_object()) {
    if (point.size() != set.size()) return false;
    for (auto it = point.begin(); it != point.end(); ++it)
      if (!set.contains(it.key()) || !same_value(it.value(), set[it.key()])) return false;
    return true;
  }
  if (point.is_array() && set.is_array()) {
    if (point.size() != set.size()) return false;
    for (size_t i = 0; i < point.size(); ++i)
      if (!same_value(point[i], set[i])) return false;
    return true;
  }
  return point == set;
}
}  // namespace

Manifest read_manifest(const std::string& file) {
  Manifest m;
  m.file = fs::absolute(file).lexically_normal();
  m.dir = m.file.parent_path();
  std::istringstream in(read_text(file, "manifest"));
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    const std::string at = file + ":" + std::to_string(n) + ": ";
    OJson j;
    try {
      j = OJson::parse(line);
    } catch (const std::exception& e) {
      throw Error(at + "not valid JSON (" + e.what() + ")");
    }
    Entry e;
    try {
      e.index = j.at("index").get<int64_t>();
      e.id = j.at("id").get<std::string>();
      e.scenario = j.at("scenario").get<std::string>();
      e.set = j.at("set").get<std::vector<std::string>>();
      e.seed_value = j.at("seed").get<int64_t>();
      e.seed = e.seed_value;
      e.point = j.at("point");
      e.run_dir = j.at("run_dir").get<std::string>();
      if (j.contains("plugins")) e.plugins = j.at("plugins").get<std::vector<std::string>>();
      if (j.contains("sweep")) e.sweep = j.at("sweep").get<std::string>();
    } catch (const std::exception& ex) {
      throw Error(at + "not a manifest entry (index, id, scenario, set, seed, point, run_dir): " + ex.what());
    }
    if (e.index != static_cast<int64_t>(m.entries.size()))
      throw Error(at + "index " + std::to_string(e.index) + " out of order (expected " + std::to_string(m.entries.size()) + ")");
    if (e.id.size() != 16 || e.run_dir != "runs/" + e.id)
      throw Error(at + "id and run_dir do not match (" + e.id + ", " + e.run_dir + ")");
    if (!e.point.is_object()) throw Error(at + "point: expected an object");
    // The point labels the entry's results in the collected tables: it must be what the entry sets
    // (an edited point filed a run under another grid value without a word).
    for (auto it = e.point.begin(); it != e.point.end(); ++it) {
      if (it.key() == "scenario") continue;
      const std::string prefix = it.key() + "=";
      auto a = std::find_if(e.set.begin(), e.set.end(), [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
      bool same = false;
      if (a != e.set.end()) try {
          same = same_value(it.value(), OJson::parse(a->substr(prefix.size())));
        } catch (const std::exception&) {
        }
      if (!same)
        throw Error(at + "point." + it.key() + ": " + it.value().dump() + " is not what the entry sets (" +
                    (a == e.set.end() ? std::string("no assignment of ") + it.key() : *a) +
                    "): the manifest was edited; expand the spec again");
    }
    m.entries.push_back(std::move(e));
  }
  if (m.entries.empty()) throw Error(file + ": empty manifest");
  for (auto it = m.entries[0].point.begin(); it != m.entries[0].point.end(); ++it) m.params.push_back(it.key());
  m.name = m.entries[0].sweep.empty() ? m.dir.filename().string() : m.entries[0].sweep;
  return m;
}

std::string run_status(const Manifest& m, const Entry& e, std::string* reason) {
  auto why = [&](const std::string& r) {
    if (reason) *reason = r;
  };
  const fs::path d = m.run_path(e);
  if (!fs::exists(d)) return why("no run directory"), "missing";
  Json run, summary, config;
  try {
    run = Json::parse(read_text(d / "run.json", "run.json"));
  } catch (const std::exception&) {
    return why("no readable run.json (the task died before the run started)"), "incomplete";
  }
  const std::string st = run.value("status", "");
  if (st == "failed") return why("run.json: status failed (see the task's log)"), "failed";
  if (st == "interrupted") return why("run.json: status interrupted (stopped by a signal)"), "interrupted";
  if (st != "complete") return why("run.json: status " + st + " (the task died or is still running)"), "incomplete";
  try {
    summary = Json::parse(read_text(d / "summary.json", "summary.json"));
    config = Json::parse(read_text(d / "config.resolved.json", "config.resolved.json"));
  } catch (const std::exception&) {
    return why("run.json says complete but summary.json or config.resolved.json is unreadable"), "incomplete";
  }
  if (summary.value("status", "") != "complete") return why("summary.json: status is not complete"), "incomplete";
  if (hash_hex(config_id_text(config)) != e.id)
    return why("config.resolved.json is another configuration (id " + hash_hex(config_id_text(config)) + ")"), "mismatch";
  // The id covers the configuration, not the bytes of the files it names: run.json records those.
  if (run.contains("inputs"))
    if (const std::string changed = input_files_changed(run["inputs"]); !changed.empty()) return why(changed), "mismatch";
  return why(""), "complete";
}

void check_entry_current(const Manifest& m, const Entry& e) {
  const std::string at = m.file.string() + ": entry " + std::to_string(e.index) + " (" + e.scenario + "): ";
  std::string id;
  try {
    if (!e.plugins.empty()) load_plugins(e.plugins);  // their parameters are part of the configuration
    std::vector<std::string> sets = e.set;
    sets.push_back("seed=" + std::to_string(e.seed_value));  // what `run --seed` sets
    Json j = load_scenario_json(e.scenario, sets);
    id = hash_hex(config_id_text(parse_scenario(j, e.scenario).resolved));
  } catch (const std::exception& ex) {
    throw Error(at + ex.what() + " (the scenario changed since the spec was expanded; expand it again: ptcsim sweep SPEC)");
  }
  if (id != e.id)
    throw Error(at + "the scenario now resolves to another configuration (id " + id + ", expanded as " + e.id +
                "): it, a file it includes or a plug-in it uses changed since the spec was expanded, or this ptcsim resolves it "
                "differently (a changed default); expand it again: ptcsim sweep SPEC");
}

std::vector<std::string> run_argv(const Manifest& m, const Entry& e, const std::string& exe) {
  std::vector<std::string> a = {exe, "run", e.scenario};
  for (const auto& s : e.set) a.insert(a.end(), {"--set", s});
  a.insert(a.end(), {"--seed", std::to_string(e.seed_value), "--out", m.run_path(e).string(), "-q"});
  for (const auto& p : e.plugins) a.insert(a.end(), {"--plugin", p});
  return a;
}

// ============================================================================== collect
namespace {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
std::string value_text(const OJson& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}
std::string num_text(double v) {
  if (!std::isfinite(v)) return "";
  char b[40];
  std::snprintf(b, sizeof b, "%.12g", v);
  return b;
}
OJson num_json(double v) {
  return std::isfinite(v) ? OJson(v) : OJson(nullptr);
}

// The numbers of summary.json's nested blocks (streaming, write_verify, ...) as metrics of their
// own, named by their path: streaming.passes, write_verify.writes. Lists (per_chip, per-core
// counts) are left out: a fleet's per-chip rows are the chips' own runs. A first_* instant of -1
// (never: no cell worn) is left out too, so that it is an empty cell, not a number averaged in.
void flatten_numbers(Json& summary) {
  std::vector<std::pair<std::string, Json>> add;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& o, const std::string& path) {
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string k = path + "." + it.key();
      if (it.value().is_object())
        walk(it.value(), k);
      else if (it.value().is_number() &&
               !(it.key().rfind("first_", 0) == 0 && it.value().get<double>() < 0))  // -1: never (an empty cell)
        add.emplace_back(k, it.value());
    }
  };
  for (auto it = summary.begin(); it != summary.end(); ++it)
    if (it.value().is_object()) walk(it.value(), it.key());
  for (auto& kv : add) summary[kv.first] = std::move(kv.second);
}

// A scheduled-mode run's accuracy at each instant (config.resolved.json's accuracy.times_s): the
// k-th trace row with an accuracy is instant k. Metrics accuracy_t_<T>s and accuracy_std_t_<T>s
// (the std over Monte-Carlo instances, or over chips for a fleet, when the run has one). Empty
// for other modes or a trace that does not line up with the instants.
Json instant_metrics(const fs::path& dir) {
  Json out = Json::object();
  const Json config = Json::parse(read_text(dir / "config.resolved.json", "config.resolved.json"));
  const Json* acc = config.contains("accuracy") ? &config.at("accuracy") : nullptr;
  if (!acc || !acc->is_object() || acc->value("mode", "") != "scheduled" || !acc->contains("times_s") ||
      !acc->at("times_s").is_array())
    return out;
  std::vector<double> times;
  for (const auto& t : acc->at("times_s"))
    if (t.is_number()) times.push_back(t.get<double>());
  std::sort(times.begin(), times.end());
  std::istringstream in(read_text(dir / "trace.csv", "trace.csv"));
  std::string line;
  if (!std::getline(in, line)) return out;
  auto split = [](const std::string& l) {
    std::vector<std::string> v;
    std::string cell;
    std::istringstream ls(l);
    while (std::getline(ls, cell, ',')) v.push_back(cell);
    if (!l.empty() && l.back() == ',') v.push_back("");
    return v;
  };
  const std::vector<std::string> head = split(line);
  auto col = [&](const std::string& name) {
    auto it = std::find(head.begin(), head.end(), name);
    return it == head.end() ? -1 : static_cast<int>(it - head.begin());
  };
  const int ca = col("accuracy"), cs = col("accuracy_std");
  if (ca < 0) return out;
  size_t k = 0;
  Json found = Json::object();
  while (std::getline(in, line)) {
    const std::vector<std::string> v = split(line);
    if (ca >= static_cast<int>(v.size()) || v[ca].empty()) continue;
    if (k >= times.size()) return Json::object();  // more evaluations than instants: not lined up
    char t[40];
    std::snprintf(t, sizeof t, "%.12g", times[k++]);
    found[std::string("accuracy_t_") + t + "s"] = std::stod(v[ca]);
    if (cs >= 0 && cs < static_cast<int>(v.size()) && !v[cs].empty())
      found[std::string("accuracy_std_t_") + t + "s"] = std::stod(v[cs]);
  }
  return found;
}

}  // namespace

CollectSummary collect(const Manifest& m, const fs::path& out_dir) {
  struct Row {
    const Entry* e;
    std::string status, reason;
    Json summary;
  };
  std::vector<Row> rows;
  // Metric names in name order, the per-instant ones (accuracy_t_<T>s, accuracy_std_t_<T>s) by T.
  struct ByInstant {
    static std::pair<std::string, double> split(const std::string& k) {
      for (const char* p : {"accuracy_t_", "accuracy_std_t_"}) {
        const std::string pre = p;
        if (k.rfind(pre, 0) == 0 && k.size() > pre.size() + 1 && k.back() == 's') {
          try {
            return {pre, std::stod(k.substr(pre.size(), k.size() - pre.size() - 1))};
          } catch (const std::exception&) {
          }
        }
      }
      return {k, 0.0};
    }
    bool operator()(const std::string& a, const std::string& b) const {
      const auto x = split(a), y = split(b);
      return x.first != y.first ? x.first < y.first : (x.second != y.second ? x.second < y.second : a < b);
    }
  };
  std::set<std::string, ByInstant> metric_set;
  for (const auto& e : m.entries) {
    Row r{&e, "", "", Json::object()};
    r.status = run_status(m, e, &r.reason);
    if (r.status == "complete") {  // results of a configuration that has changed since are not collected
      try {
        check_entry_current(m, e);
      } catch (const std::exception& ex) {
        r.status = "mismatch";
        r.reason = ex.what();
      }
    }
    if (r.status == "complete") {
      r.summary = Json::parse(read_text(m.run_path(e) / "summary.json", "summary.json"));
      flatten_numbers(r.summary);
      try {  // per-instant accuracy of a scheduled run, beside the summary's scalars
        const Json per = instant_metrics(m.run_path(e));
        for (auto it = per.begin(); it != per.end(); ++it) r.summary[it.key()] = it.value();
      } catch (const std::exception& ex) {
        throw Error(m.run_path(e).string() + ": trace.csv: " + ex.what());
      }
      for (auto it = r.summary.begin(); it != r.summary.end(); ++it)
        if (it.value().is_number() && it.key() != "seed") metric_set.insert(it.key());  // the seed has its column
    }
    rows.push_back(std::move(r));
  }
  const std::vector<std::string> metrics(metric_set.begin(), metric_set.end());

  // ---- one row per run
  CollectSummary cs;
  std::string csv = "index,id";
  for (const auto& p : m.params) csv += "," + csv_cell(p);
  csv += ",seed,status";
  for (const auto& k : metrics) csv += "," + k;
  csv += "\n";
  OJson runs = OJson::array(), not_complete = OJson::array();
  for (const auto& r : rows) {
    csv += std::to_string(r.e->index) + "," + r.e->id;
    for (const auto& p : m.params) csv += "," + csv_cell(value_text(r.e->point.at(p)));
    csv += "," + std::to_string(r.e->seed_value) + "," + r.status;
    OJson jr;
    jr["index"] = r.e->index;
    jr["id"] = r.e->id;
    jr["point"] = r.e->point;
    jr["seed"] = r.e->seed_value;
    jr["status"] = r.status;
    OJson met = OJson::object();
    for (const auto& k : metrics) {
      const bool has = r.summary.contains(k) && r.summary[k].is_number();
      csv += "," + (has ? r.summary[k].dump() : std::string());
      if (has) met[k] = OJson::parse(r.summary[k].dump());
    }
    csv += "\n";
    if (r.status == "complete")
      jr["metrics"] = met;
    else {
      jr["reason"] = r.reason;
      OJson nc;
      nc["index"] = r.e->index;
      nc["id"] = r.e->id;
      nc["point"] = r.e->point;
      nc["seed"] = r.e->seed_value;
      nc["status"] = r.status;
      nc["reason"] = r.reason;
      nc["run_dir"] = r.e->run_dir;
      not_complete.push_back(nc);
      cs.not_complete_entries.push_back({r.e->index, r.e->id, r.status, r.reason});
    }
    runs.push_back(jr);
  }

  // ---- aggregate over seeds per point (points in manifest order)
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Row*>> groups;
  for (const auto& r : rows) {
    const std::string key = r.e->point.dump();
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  std::string agg = "";
  for (const auto& p : m.params) agg += csv_cell(p) + ",";
  agg += "n,n_expected";
  for (const auto& k : metrics) agg += "," + k + "_mean," + k + "_std," + k + "_ci95";
  agg += "\n";
  OJson aggregate = OJson::array();
  for (const auto& key : order) {
    const auto& g = groups[key];
    const OJson& point = g.front()->e->point;
    int64_t n = 0;
    for (const Row* r : g) n += r->status == "complete";
    for (const auto& p : m.params) agg += csv_cell(value_text(point.at(p))) + ",";
    agg += std::to_string(n) + "," + std::to_string(g.size());
    OJson ja;
    ja["point"] = point;
    ja["n"] = n;
    ja["n_expected"] = g.size();
    OJson jm = OJson::object();
    for (const auto& k : metrics) {
      std::vector<double> x;
      for (const Row* r : g)
        if (r->status == "complete" && r->summary.contains(k) && r->summary[k].is_number())
          x.push_back(r->summary[k].get<double>());
      const SampleStats s = sample_stats(x);
      agg += "," + num_text(s.mean) + "," + num_text(s.std) + "," + num_text(s.ci95);
      OJson st;
      st["n"] = s.n;
      st["mean"] = num_json(s.mean);
      st["std"] = num_json(s.std);
      st["ci95"] = num_json(s.ci95);
      st["ci95_low"] = num_json(s.mean - s.ci95);
      st["ci95_high"] = num_json(s.mean + s.ci95);
      jm[k] = st;
    }
    agg += "\n";
    ja["metrics"] = jm;
    aggregate.push_back(ja);
  }

  OJson res;
  res["name"] = m.name;
  res["entries"] = m.entries.size();
  res["complete"] = static_cast<int64_t>(m.entries.size()) - static_cast<int64_t>(not_complete.size());
  res["params"] = m.params;
  res["metrics"] = metrics;
  res["confidence"] = "mean +- t_{0.975,n-1} * std / sqrt(n) (Student t, std with n-1)";
  res["not_complete"] = not_complete;
  res["aggregate"] = aggregate;
  res["runs"] = runs;

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  cs.csv = out_dir / "results.csv";
  cs.aggregate_csv = out_dir / "results_aggregate.csv";
  cs.json = out_dir / "results.json";
  write_atomic(cs.csv, csv);
  write_atomic(cs.aggregate_csv, agg);
  write_atomic(cs.json, res.dump(1) + "\n");
  cs.not_complete = static_cast<int64_t>(not_complete.size());
  cs.complete = static_cast<int64_t>(m.entries.size()) - cs.not_complete;
  cs.points = static_cast<int64_t>(order.size());
  return cs;
}

// ============================================================================== Slurm
std::string array_spec(const std::vector<int64_t>& idx, int64_t max_parallel) {
  std::string s;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(idx[i]);
    if (j > i) s += "-" + std::to_string(idx[j]);
    i = j + 1;
  }
  if (max_parallel > 0) s += "%" + std::to_string(max_parallel);
  return s;
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
// A path as the value of an #SBATCH option: as it is when it holds no character sbatch's directive
// parser splits or quotes on, else in double quotes with '"' and '\' escaped (a sweep folder with a
// space or an apostrophe in its path made sbatch reject the script).
std::string sbatch_path(const std::string& p) {
  if (p.find_first_of("\n\r") != std::string::npos)
    throw Error(p + ": a path with a line break cannot go into an #SBATCH line; expand the sweep into another folder");
  bool plain = true;
  for (char c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._/%+=:,@-", c))) plain = false;
  if (plain) return p;
  std::string q = "\"";
  for (char c : p) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}
}  // namespace

std::string slurm_script(const Manifest& m, const std::vector<int64_t>& indices, const SlurmOptions& o,
                         const std::string& sweep_name) {
  // The name goes into comment and #SBATCH lines: letters, digits, '.', '_' and '-' only (a
  // newline in a sweep's name would start a line of its own in the script).
  std::string name = sweep_name;
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  std::string s = "#!/bin/bash\n";
  s += "# ptcsim sweep \"" + name + "\": " + std::to_string(indices.size()) + " of " + std::to_string(m.entries.size()) +
       " entries (those not complete when this script was written by `ptcsim sweep slurm`).\n";
  s += "# One array task per manifest entry; each runs `ptcsim sweep task`, which skips an entry whose run is\n"
       "# complete, so a re-submission does only what is missing.\n";
  s += "#SBATCH --job-name=ptcsim-" + name + "\n";
  s += "#SBATCH --array=" + array_spec(indices, o.max_parallel) + "\n";
  s += "#SBATCH --output=" + sbatch_path((m.dir / "logs" / "slurm-%A_%a.log").string()) + "\n";
  s += "#SBATCH --ntasks=1\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(o.threads) + "\n";
  if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.time.empty()) s += "#SBATCH --time=" + o.time + "\n";
  if (!o.mem.empty()) s += "#SBATCH --mem=" + o.mem + "\n";
  s += "exec " + shell_quote(o.exe) + " sweep task " + shell_quote(m.file.string()) +
       " --index \"$SLURM_ARRAY_TASK_ID\" --threads " + std::to_string(o.threads) + "\n";
  return s;
}

}  // namespace ptc::sim::sweep
