#include "hw/device/pcm_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "hw/physics/pcm.h"
#include "models/error.h"
#include "models/json_io.h"

namespace ptc::hw {
namespace {

const std::vector<std::string> kColumns = {"g_target_rel", "t_s", "g_mean_rel", "g_std_rel"};
const char* const kHeader = "g_target_rel,t_s,g_mean_rel,g_std_rel";

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// The value of column k of one point, checked against its rule; `loc` names where it came from.
void check_value(int k, double v, const std::string& loc) {
  if (k == 0 && !(v >= 0 && v <= 1)) throw Error(loc + ": expected a level in [0, 1] (g_target / g_max), got " + fmt(v));
  if (k == 1 && !(v >= 0)) throw Error(loc + ": expected a time >= 0 s, got " + fmt(v));
  // Conductances are relative to g_max: a mean above 2 g_max or a spread above g_max is a table in
  // absolute units (uS), which would otherwise read as weights 10-25x too large.
  if (k == 2 && !(v >= 0 && v <= 2))
    throw Error(loc + ": expected a mean conductance relative to g_max in [0, 2], got " + fmt(v) +
                " (absolute units? divide by g_max)");
  if (k == 3 && !(v >= 0 && v <= 1))
    throw Error(loc + ": expected a standard deviation relative to g_max in [0, 1], got " + fmt(v) +
                " (absolute units? divide by g_max)");
}

double parse_number(const std::string& field, const std::string& loc) {
  double v = 0;
  const char* b = field.data();
  const char* e = b + field.size();
  if (!field.empty() && *b == '+') ++b;
  auto r = std::from_chars(b, e, v);
  if (field.empty() || r.ec != std::errc() || r.ptr != e || !std::isfinite(v))
    throw Error(loc + ": expected a finite number, got \"" + field + "\"");
  return v;
}

// Linear interpolation of (x, y) at x (x ascending), clamped outside [x.front(), x.back()].
double interp_clamped(const std::vector<double>& x, const std::vector<double>& y, double at) {
  if (at <= x.front()) return y.front();
  if (at >= x.back()) return y.back();
  size_t i = static_cast<size_t>(std::upper_bound(x.begin(), x.end(), at) - x.begin()) - 1;
  double w = (at - x[i]) / (x[i + 1] - x[i]);
  return y[i] + w * (y[i + 1] - y[i]);
}

}  // namespace

PcmCurveTable::PcmCurveTable(const std::vector<PcmTablePoint>& points, const std::string& source, double g_max_us,
                             const std::vector<std::string>& where)
    : m_source(source), m_g_max_us(g_max_us) {
  if (!(g_max_us > 0) || !std::isfinite(g_max_us))
    throw Error(source + ": g_max_us must be a finite number > 0, got " + fmt(g_max_us));
  auto at = [&](size_t i) { return i < where.size() ? " " + where[i] : " point " + std::to_string(i); };
  for (size_t i = 0; i < points.size(); ++i) {
    const PcmTablePoint& p = points[i];
    const double v[4] = {p.g_target_rel, p.t_s, p.g_mean_rel, p.g_std_rel};
    for (int k = 0; k < 4; ++k) {
      if (!std::isfinite(v[k])) throw Error(source + at(i) + " (" + kColumns[k] + "): expected a finite number");
      check_value(k, v[k], source + at(i) + " (" + kColumns[k] + ")");
    }
  }
  std::vector<size_t> idx(points.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return points[a].g_target_rel != points[b].g_target_rel ? points[a].g_target_rel < points[b].g_target_rel
                                                            : points[a].t_s < points[b].t_s;
  });
  for (size_t n = 0; n < idx.size(); ++n) {
    const PcmTablePoint& p = points[idx[n]];
    if (n > 0) {
      const PcmTablePoint& q = points[idx[n - 1]];
      if (q.g_target_rel == p.g_target_rel && q.t_s == p.t_s) {
        size_t first = std::min(idx[n - 1], idx[n]), second = std::max(idx[n - 1], idx[n]);
        throw Error(source + at(second) + ": duplicate measurement for g_target_rel " + fmt(p.g_target_rel) + ", t_s " +
                    fmt(p.t_s) + " (first at" + at(first) + ")");
      }
    }
    if (m_levels.empty() || m_levels.back().g_rel != p.g_target_rel) m_levels.push_back(Level{p.g_target_rel, {}, {}, {}});
    m_levels.back().t_s.push_back(p.t_s);
    m_levels.back().m.push_back(p.g_mean_rel);
    m_levels.back().s.push_back(p.g_std_rel);
  }
  if (m_levels.size() < 2)
    throw Error(source + ": needs at least 2 programmed levels (distinct g_target_rel values), got " +
                std::to_string(m_levels.size()));
  if (m_levels.front().g_rel > 0) {  // [assumption] the ideal off state, see the header
    m_levels.insert(m_levels.begin(), Level{0.0, {0.0}, {0.0}, {0.0}});
    m_implicit_zero = true;
  }
}

std::vector<double> PcmCurveTable::measured_levels() const {
  std::vector<double> v;
  for (size_t i = m_implicit_zero ? 1 : 0; i < m_levels.size(); ++i) v.push_back(m_levels[i].g_rel);
  return v;
}

void PcmCurveTable::at_time(double t_s, double t_eps_s, std::vector<double>& m, std::vector<double>& s) const {
  if (m_levels.empty()) throw Error("PCM table: no measurements loaded");
  if (!(t_s >= 0) || !std::isfinite(t_s)) throw Error("PCM table: read time must be >= 0 s, got " + fmt(t_s));
  if (!(t_eps_s > 0)) throw Error("PCM table: t_eps_s must be > 0, got " + fmt(t_eps_s));
  m.resize(m_levels.size());
  s.resize(m_levels.size());
  const double x = std::log(t_s + t_eps_s);
  std::vector<double> xs;
  for (size_t i = 0; i < m_levels.size(); ++i) {
    const Level& L = m_levels[i];
    xs.resize(L.t_s.size());
    for (size_t k = 0; k < xs.size(); ++k) xs[k] = std::log(L.t_s[k] + t_eps_s);
    m[i] = interp_clamped(xs, L.m, x);
    s[i] = interp_clamped(xs, L.s, x);
  }
}

void PcmCurveTable::locate(double g, size_t* i, double* frac) const {
  const size_t n = m_levels.size();
  if (!(g > m_levels.front().g_rel)) {
    *i = 0;
    *frac = 0;
  } else if (g >= m_levels.back().g_rel) {
    *i = n - 1;
    *frac = 0;
  } else {
    size_t k = 1;
    while (m_levels[k].g_rel <= g) ++k;  // few levels: a linear scan is as fast as bisection
    *i = k - 1;
    *frac = (g - m_levels[k - 1].g_rel) / (m_levels[k].g_rel - m_levels[k - 1].g_rel);
  }
}

void PcmCurveTable::curves(double g_target_rel, double t_s, double t_eps_s, double* mean_rel, double* std_rel) const {
  std::vector<double> m, s;
  at_time(t_s, t_eps_s, m, s);
  size_t i = 0;
  double f = 0;
  locate(g_target_rel, &i, &f);
  size_t j = std::min(i + 1, m.size() - 1);
  *mean_rel = (1 - f) * m[i] + f * m[j];
  *std_rel = (1 - f) * s[i] + f * s[j];
}

PcmCurveTable parse_pcm_table_csv(const std::string& text, const std::string& source) {
  std::vector<int> col_of(kColumns.size(), -1);  // field index of each column
  size_t nfields = 0;
  bool header = false;
  std::vector<PcmTablePoint> pts;
  std::vector<std::string> where;
  std::istringstream in(text);
  std::string line;
  int64_t ln = 0;
  while (std::getline(in, line)) {
    ++ln;
    if (ln == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark (spreadsheet exports)
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(t);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(trim(cell));
    if (t.back() == ',') f.push_back("");
    const std::string at = source + " line " + std::to_string(ln);
    if (!header) {
      for (size_t c = 0; c < f.size(); ++c) {
        std::string loc = at + ", column " + std::to_string(c + 1);
        auto it = std::find(kColumns.begin(), kColumns.end(), f[c]);
        if (it == kColumns.end()) throw Error(loc + ": unknown column \"" + f[c] + "\" in the header (expected " + kHeader + ")");
        size_t k = static_cast<size_t>(it - kColumns.begin());
        if (col_of[k] >= 0) throw Error(loc + ": column \"" + f[c] + "\" repeats column " + std::to_string(col_of[k] + 1));
        col_of[k] = static_cast<int>(c);
      }
      for (size_t k = 0; k < kColumns.size(); ++k)
        if (col_of[k] < 0)
          throw Error(at + ", column " + std::to_string(f.size() + 1) + ": the header lacks column \"" + kColumns[k] +
                      "\" (expected " + kHeader + ")");
      nfields = f.size();
      header = true;
      continue;
    }
    if (f.size() != nfields)
      throw Error(at + ", column " + std::to_string(std::min(f.size(), nfields) + 1) + ": expected " + std::to_string(nfields) +
                  " fields, got " + std::to_string(f.size()));
    double v[4];
    for (size_t k = 0; k < kColumns.size(); ++k) {
      std::string loc = at + ", column " + std::to_string(col_of[k] + 1) + " (" + kColumns[k] + ")";
      v[k] = parse_number(f[static_cast<size_t>(col_of[k])], loc);
      check_value(static_cast<int>(k), v[k], loc);
    }
    pts.push_back({v[0], v[1], v[2], v[3]});
    where.push_back("line " + std::to_string(ln));
  }
  if (!header) throw Error(source + " line " + std::to_string(ln + 1) + ": no header line (expected " + kHeader + ")");
  return PcmCurveTable(pts, source, 25.0, where);
}

PcmCurveTable parse_pcm_table_json(const std::string& text, const std::string& source) {
  // Line and column of a syntax error; depth limit, duplicate keys and number range as every JSON input.
  const nlohmann::json j = parse_json_text(text, source);
  if (!j.is_object()) throw Error(source + ": expected an object {\"g_max_us\": ..., \"points\": [...]}");
  for (const auto& [key, v] : j.items())
    if (key != "g_max_us" && key != "points" && key != "description")
      throw Error(source + ": " + key + ": unknown key (expected g_max_us, points, description)");
  double g_max_us = 25.0;
  if (j.contains("g_max_us")) {
    if (!j["g_max_us"].is_number()) throw Error(source + ": g_max_us: expected a number, got " + j["g_max_us"].dump());
    g_max_us = j["g_max_us"].get<double>();
    if (!(g_max_us > 0)) throw Error(source + ": g_max_us: expected a number > 0, got " + fmt(g_max_us));
  }
  if (!j.contains("points")) throw Error(source + ": points: required (a list of measurements)");
  const auto& P = j["points"];
  if (!P.is_array()) throw Error(source + ": points: expected a list, got " + std::string(P.type_name()));
  std::vector<PcmTablePoint> pts;
  std::vector<std::string> where;
  for (size_t i = 0; i < P.size(); ++i) {
    const std::string path = "points[" + std::to_string(i) + "]";
    const auto& p = P[i];
    if (!p.is_object()) throw Error(source + ": " + path + ": expected an object with " + kHeader);
    for (const auto& [key, v] : p.items())
      if (std::find(kColumns.begin(), kColumns.end(), key) == kColumns.end())
        throw Error(source + ": " + path + "." + key + ": unknown key (expected " + kHeader + ")");
    double v[4];
    for (size_t k = 0; k < kColumns.size(); ++k) {
      std::string loc = source + ": " + path + "." + kColumns[k];
      if (!p.contains(kColumns[k])) throw Error(loc + ": required");
      const auto& x = p[kColumns[k]];
      if (!x.is_number()) throw Error(loc + ": expected a finite number, got " + x.dump());
      v[k] = x.get<double>();
      check_value(static_cast<int>(k), v[k], loc);
    }
    pts.push_back({v[0], v[1], v[2], v[3]});
    where.push_back(path);
  }
  return PcmCurveTable(pts, source, g_max_us, where);
}

PcmCurveTable load_pcm_table(const std::string& path) {
  // Regular files only, size checked first: /dev/zero or a FIFO used to hang validate and run.
  const std::string text = read_regular_file(path, "device measurement table", kMaxJsonFileBytes);
  const std::string ext = ".json";
  bool json = path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  return json ? parse_pcm_table_json(text, path) : parse_pcm_table_csv(text, path);
}

// ---- the technology

PcmTable::PcmTable(const models::CompiledWorkload& wl, const PcmTableConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg), m_base_rng(rng), m_rng(rng) {
  if (cfg.table.empty()) throw Error("pcm_table: no device measurement table loaded");
  if (!(cfg.persistent_fraction >= 0 && cfg.persistent_fraction <= 1))
    throw Error("pcm_table: persistent_fraction must be in [0, 1], got " + fmt(cfg.persistent_fraction));
  if (!(cfg.t_eps_s > 0)) throw Error("pcm_table: t_eps_s must be > 0, got " + fmt(cfg.t_eps_s));
  for (const auto& L : wl.layers) {
    m_groups.emplace_back();
    for (const auto& t : L.gemms) {
      Group g;
      g.latent = t.blocks;
      g.g_target_pos.assign(t.blocks.size(), 0.0f);
      g.g_target_neg.assign(t.blocks.size(), 0.0f);
      if (!cfg.scale_tile.per_block()) g.tile = pcm_tile_of_blocks(cfg.scale_tile, t.P, t.Q, t.rows, t.cols, g.n_tiles);
      m_groups.back().push_back(std::move(g));
    }
  }
  program_all();
}

int64_t PcmTable::program_all(double t_s) {
  int64_t before = m_writes;
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) program_group(l, gi, t_s);
  set_time(0.0);
  return m_writes - before;
}

int64_t PcmTable::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) {
  if (m_instance != 0)
    throw Error("pcm_table: programming while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  Group& g = m_groups.at(layer).at(group);
  if (blocks.size() != g.latent.size())
    throw Error("pcm_table program: layer " + std::to_string(layer) + " expects " + std::to_string(g.latent.size()) +
                " weights, got " + std::to_string(blocks.size()));
  int64_t before = m_writes;
  g.latent = blocks;
  program_group(static_cast<size_t>(layer), static_cast<size_t>(group), t_s);
  return m_writes - before;
}

void PcmTable::program_group(size_t l, size_t gi, double t_s) {
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  const models::GemmTiles& t = m_wl.layers[l].gemms[gi];
  Group& g = m_groups[l][gi];
  // Targets relative to g_max (SinglePair, as PcmPair).
  const std::vector<int32_t>* tile = g.tile.empty() ? nullptr : &g.tile;
  const int64_t writes =
      m_cfg.scale_tile.columnwise
          ? pcm_map_pair_targets_columnwise(g.latent, t.P, t.Q, m_wl.spec.block_size, 1.0, /*every device re-written*/ true,
                                            g.scale, g.row_scale, g.g_target_pos, g.g_target_neg, tile, g.n_tiles)
          : pcm_map_pair_targets(g.latent, t.P * t.Q, kk, 1.0, /*every device re-written*/ true, g.scale, g.g_target_pos,
                                 g.g_target_neg, tile, g.n_tiles);
  g.t_prog_s = t_s;
  ++g.programmings;
  draw_group(l, gi);
  m_writes += writes;
}

void PcmTable::draw_group(size_t l, size_t gi) {
  Group& g = m_groups[l][gi];
  const size_t n = g.latent.size();
  // Persistent draws per (group, programming of that group): re-programming draws afresh.
  g.xi_p.resize(2 * n);
  m_rng.derive(31)
      .derive(static_cast<uint64_t>(g.programmings - 1))
      .derive(l << 20 | gi)
      .fill_normal(0, static_cast<int64_t>(2 * n), g.xi_p.data());
}

bool PcmTable::select_instance(int64_t k) {
  if (k < 0) throw Error("pcm_table: Monte-Carlo instance must be >= 0");
  if (k == m_instance) return true;
  m_instance = k;
  m_rng = k == 0 ? m_base_rng : m_base_rng.derive(0x4d43).derive(static_cast<uint64_t>(k));
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) draw_group(l, gi);
  read_at(m_t_s, m_relative, m_draw_s);
  return true;
}

void PcmTable::set_times(uint64_t, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("pcm_table: no read instant given");
  read_at(times.front().t_s, false, times.front().draw_instant_s());
}

bool PcmTable::set_noiseless_reads(bool on) {
  if (!(m_cfg.persistent_fraction < 1)) return false;
  m_noiseless = on;
  read_at(m_t_s, m_relative, m_draw_s);  // reads are a pure function of (programming, instant): restoring is exact
  return true;
}

void PcmTable::read_at(double t, bool relative, double draw_s) {
  if (!(t >= 0) || !std::isfinite(t)) throw Error("pcm_table: read time must be >= 0 s");
  if (!(draw_s >= 0) || !std::isfinite(draw_s)) throw Error("pcm_table: read-draw instant must be >= 0 s");
  m_t_s = t;
  m_draw_s = draw_s;
  m_relative = relative;
  const double f = m_cfg.persistent_fraction, a = std::sqrt(f), b = m_noiseless ? 0.0 : std::sqrt(1 - f);
  std::vector<double> mv, sv;
  std::vector<float> xr;
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) {
      Group& g = m_groups[l][gi];
      const double t_inf_s = relative ? t : std::max(0.0, t - g.t_prog_s);
      // A group programmed after the draw instant (a policy re-programmed it since) has no
      // realisation at that instant: it reads with the draws of its actual read time.
      const double draw_inf_s = relative ? draw_s : (draw_s >= g.t_prog_s ? draw_s - g.t_prog_s : t_inf_s);
      m_cfg.table.at_time(t_inf_s, m_cfg.t_eps_s, mv, sv);
      const size_t n = g.latent.size(), last = mv.size() - 1;
      if (b > 0) {  // fresh read noise: one draw per (group programming, read instant)
        xr.resize(2 * n);
        m_rng.derive(32)
            .derive(static_cast<uint64_t>(g.programmings))
            .derive(static_cast<uint64_t>(std::llround(draw_inf_s * 1e9)))
            .derive(l << 20 | gi)
            .fill_normal(0, static_cast<int64_t>(2 * n), xr.data());
      }
      auto read = [&](float g_t, size_t u) {
        size_t i = 0;
        double fr = 0;
        m_cfg.table.locate(g_t, &i, &fr);
        size_t i2 = std::min(i + 1, last);
        double m = (1 - fr) * mv[i] + fr * mv[i2], s = (1 - fr) * sv[i] + fr * sv[i2];
        double xi = a * g.xi_p[u] + (b > 0 ? b * xr[u] : 0.0);
        return std::max(0.0, m + s * xi);
      };
      g.wn.resize(n);
      for (size_t j = 0; j < n; ++j)
        g.wn[j] = static_cast<float>(read(g.g_target_pos[j], 2 * j) - read(g.g_target_neg[j], 2 * j + 1));
    }
}

void PcmTable::realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const {
  const Group& g = m_groups.at(layer).at(group);
  std::copy(g.wn.begin(), g.wn.end(), wn);
  std::copy(g.scale.begin(), g.scale.end(), scale);
}

}  // namespace ptc::hw
