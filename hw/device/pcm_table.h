// PCM weights as differential conductance pairs whose drift and noise come from the user's own
// measurements (docs/devices.md §4; a need aihwkit users raised: device models from their own data),
// instead of a closed-form model such as aihwkit's PCMLike (PcmPair).
// Contract:
// - Measurement table: for programmed levels g_T (g_target_rel = g_T / g_max in [0, 1]) and
//   times t after programming (t_s >= 0), the mean m(g_T, t) and standard deviation s(g_T, t) of
//   the read conductance, both relative to g_max. Read from CSV (header
//   `g_target_rel,t_s,g_mean_rel,g_std_rel`, columns in any order, `#` lines are comments) or JSON
//   (`{"g_max_us": 25, "points": [{"g_target_rel", "t_s", "g_mean_rel", "g_std_rel"}, ...]}`).
//   Validation is strict; every error is one line naming the file and the CSV line and column
//   (JSON: the path, e.g. points[3].t_s — the JSON library keeps no element positions).
//   At least 2 distinct levels; every level has >= 1 time (true by construction: one row per
//   (level, time)); a (level, time) pair at most once; 0 <= g_mean_rel <= 2 and 0 <= g_std_rel <= 1 (relative to g_max: a table
//   in uS is refused).
// - Interpolation (PcmCurveTable::curves): at each level, linear in x = ln(t + t_eps) between the
//   measured times of that level, clamped to the first/last measured time outside them; then
//   linear in g_T between the two neighbouring levels, clamped to the highest level above it.
//   [assumption] When the lowest measured level is above 0, an ideal off state m = s = 0 at
//   g_T = 0 is added, so targets below the lowest level interpolate towards a device that reads 0
//   (clamping would make every "off" device of a pair read the lowest level); measure level 0 to
//   model the reset state.
// - Mapping (aihwkit SinglePair converter, docs/devices.md §2, as PcmPair): each block's
//   abs-max is mapped to g_max; g+ = max(w, 0) s, g- = max(-w, 0) s with s = g_max / max|W_block|.
// - Read at t since the group's last programming: every device reads
//   g = g_max * max(0, m(g_T, t) + s(g_T, t) * xi),  xi = sqrt(f) xi_p + sqrt(1 - f) xi_r,
//   f = persistent_fraction; xi_p ~ N(0,1) is drawn per device at programming (fixed until the
//   next programming: device-to-device spread, what a table of many devices measures), xi_r ~
//   N(0,1) is fresh per read instant (read noise; shared by every draw of a batch, as PcmPair's
//   1/f noise). The clip at 0 raises the mean above m where m < ~2 s. The effective normalised
//   weight is (g+ - g-) / g_max, so g_max only sets units.
// - Assumptions: devices are independent; xi is Gaussian; the two devices of a pair follow the
//   same table; the table's statistics at t include programming noise (measured after
//   programming), so no separate programming step is modelled.
// - Deterministic: counter-based streams per (group, programming) and per (group, programming,
//   read instant); results do not depend on thread count or evaluation order. Writes: one per
//   device whose target conductance changes at programming (the first programming writes all).
#pragma once

#include <string>
#include <vector>

#include "hw/device/technology.h"
#include "hw/physics/pcm.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"

namespace ptc::hw {

struct PcmTablePoint {
  double g_target_rel = 0, t_s = 0, g_mean_rel = 0, g_std_rel = 0;
};

class PcmCurveTable {
 public:
  PcmCurveTable() = default;
  // Validates and sorts the points. `source` names the file in errors; where[i] (optional) names
  // point i's location ("line 5" / "points[3]") for the duplicate check.
  PcmCurveTable(const std::vector<PcmTablePoint>& points, const std::string& source, double g_max_us = 25.0,
                const std::vector<std::string>& where = {});

  const std::string& source() const { return m_source; }
  double g_max_us() const { return m_g_max_us; }
  bool empty() const { return m_levels.empty(); }
  // Measured levels (g_target_rel), ascending (the implicit off state is not one of them).
  std::vector<double> measured_levels() const;
  // m and s (relative to g_max) at target g_target_rel and t_s after programming.
  void curves(double g_target_rel, double t_s, double t_eps_s, double* mean_rel, double* std_rel) const;

  // The same in two steps, for a whole group at one read instant: per-level values at t_s ...
  void at_time(double t_s, double t_eps_s, std::vector<double>& m, std::vector<double>& s) const;
  // ... and where g_target_rel sits between the levels: m = (1 - frac) m[i] + frac m[i + 1]
  // (i + 1 is clamped to the last level).
  void locate(double g_target_rel, size_t* i, double* frac) const;

 private:
  struct Level {
    double g_rel = 0;
    std::vector<double> t_s, m, s;  // ascending t_s
  };
  std::string m_source;
  double m_g_max_us = 25.0;
  std::vector<Level> m_levels;  // ascending g_rel, starting at 0 (measured or the implicit off state)
  bool m_implicit_zero = false;
};

// Reads a table file: JSON when the name ends in ".json", CSV otherwise.
PcmCurveTable load_pcm_table(const std::string& path);
// Parses table text; `source` names the file in errors.
PcmCurveTable parse_pcm_table_csv(const std::string& text, const std::string& source);
PcmCurveTable parse_pcm_table_json(const std::string& text, const std::string& source);

struct PcmTableConfig {
  PcmCurveTable table;
  double persistent_fraction = 1.0;  // f: share of the variance drawn once per device at programming
  double t_eps_s = 20.0;             // time offset of the log-time interpolation (aihwkit's t0)
  PcmScaleTile scale_tile;           // conductance-scaling tile (default: per block)
};

class PcmTable : public Technology {
 public:
  PcmTable(const models::CompiledWorkload& wl, const PcmTableConfig& cfg, const RandomStream& rng);

  std::string name() const override { return "pcm_table"; }
  // (Re-)programs every block to its latent weights at t_s; returns the writes this took.
  int64_t program_all(double t_s = 0);
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  bool program_rewrites_group() const override { return true; }
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).latent;
  }
  // Read instant: seconds since the last programming (>= 0), the same for every group.
  void set_time(double t_inf_s) { read_at(t_inf_s, true, t_inf_s); }
  // Reads every group at the batch's first instant, t_s minus the group's programming time.
  void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) override;
  // Drift compensation's noiseless reference (docs/pcm_drift_compensation.md §2): on, every device
  // reads m + s sqrt(f) xi_p, its fresh per-read share left out; false (reads unchanged) when
  // persistent_fraction is 1 and there is no such share.
  bool set_noiseless_reads(bool on) override;
  const std::vector<int32_t>& scale_tiles(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).tile;
  }
  const std::vector<float>& row_scales(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).row_scale;
  }
  int64_t writes() const override { return m_writes; }
  const PcmTableConfig& config() const { return m_cfg; }

  bool select_instance(int64_t k) override;
  int64_t instance() const { return m_instance; }
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return true; }

 private:
  struct Group {
    std::vector<float> latent;  // programmed weights [P, Q, k, k]
    double t_prog_s = 0;        // simulated time of the last programming
    int64_t programmings = 0;
    std::vector<float> g_target_pos, g_target_neg;  // g_T / g_max per device
    std::vector<float> xi_p;                        // persistent draws, [2 n]: pos at 2j, neg at 2j + 1
    std::vector<float> wn;                          // effective normalised weights at the read instant
    std::vector<float> scale;                       // max|W| of each block's scale tile
    std::vector<int32_t> tile;                      // scale tile of each block (empty: per block)
    std::vector<float> row_scale;  // column-wise scaling: max|W| of each (block, output row)'s tile row (empty: off)
    int64_t n_tiles = 0;
  };
  void program_group(size_t l, size_t gi, double t_s);
  void draw_group(size_t l, size_t gi);  // the persistent draws of the group's last programming
  // Reads at t (drift) with the read draws of instant `draw_s` (NoiseTime::draw_t_s).
  void read_at(double t, bool relative, double draw_s);
  const models::CompiledWorkload& m_wl;
  PcmTableConfig m_cfg;
  RandomStream m_base_rng, m_rng;  // the chip's stream; the selected instance's (== base for instance 0)
  int64_t m_instance = 0;
  bool m_noiseless = false;  // set_noiseless_reads: the fresh per-read share left out
  std::vector<std::vector<Group>> m_groups;
  int64_t m_writes = 0;
  double m_t_s = 0, m_draw_s = 0;  // read instant (drift) and the instant naming its read draws
  bool m_relative = true;
};

}  // namespace ptc::hw
