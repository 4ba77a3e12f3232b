// DOCTOR's temporal noise models on MRR phases (Lu et al. JLT 2024; docs/noise.md §2-§4), as
// plain C++ evaluated in closed form at an inference step s (DOCTOR's time base: 1 step = 1 served
// inference; callers map simulated time to steps). Phase maps are laid out [R, C, k, k]: core
// (i, j), ring row x, ring column l.
//
// Contract: every value is a pure function of (parameters, seed, step, draw id): asking for steps
// in any order, or from any thread, gives the same bits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/physics/rng.h"

namespace ptc::hw {

struct CoreArray {
  int64_t rows = 4, cols = 4, k = 8;  // DOCTOR: 4 x 4 cores of 8 x 8 rings
  int64_t cores() const { return rows * cols; }
  int64_t rings() const { return rows * cols * k * k; }
};

// Named 4x4 core maps of DOCTOR (values before scaling): "edge" rows [8,6,4,2], "corner"
// [[8,6,6,4],[6,6,4,4],[6,4,4,2],[4,4,2,2]], "upper_edge" rows 4, 0.4, 0.04, 0.004.
// Other array sizes: resampled by nearest index. Throws ptc::Error for unknown names.
std::vector<double> doctor_core_map(const std::string& name, const CoreArray& a);

// ---------------------------------------------------------------- phase variation (docs/noise.md §2)
struct PhaseVariationParams {
  std::string schedule = "high";    // "high": mean 0.025x, std 0.01x + 0.005; "low": 0.005x, 0.004x + 0.002
  int64_t t_max_steps = 20000;      // x = (step mod T_max) / T_max
  double momentum = 0.9;            // S <- m S + (1 - m) S_new
  double min_std_rad = 0.001;       // clamp of the drawn stds
  std::string core_src = "edge";    // core mean map starts at src/2 (x 1e-4) ...
  std::string core_tgt = "corner";  // ... and converges to tgt (x 1e-3) with the same momentum
  // "converging": the intended core mean map; "frozen": the released code's (reset before every
  // blend, so it stays at m*src/2 + (1-m)*tgt; the published results were made this way).
  std::string core_mean_mode = "converging";
  double smoothing_sigma_px = 0.05;  // Gaussian smoothing of the merged map (5x5, reflect)
  int64_t smoothing_kernel = 5;
  int64_t history_steps = 256;  // momentum history kept (m^256 ~ 2e-12 for m = 0.9)
};

class PhaseVariation {
 public:
  PhaseVariation(const CoreArray& array, const PhaseVariationParams& p, const RandomStream& rng);

  // Per-ring std map (rad) at `step`. Evaluated from a fixed anchor step so that the result
  // does not depend on which steps were asked before (results are cached).
  const std::vector<float>& std_map(int64_t step);
  // Core mean map mu_core (rad) in effect at `step`.
  std::vector<double> core_mean(int64_t step) const;
  // Adds fresh zero-mean noise n ~ N(0, S^2) to `phase` ([R, C, k, k]) for forward-pass draw
  // `draw` (DOCTOR: a fresh sample for every chunk of every inference).
  void add_noise(int64_t step, uint64_t draw, float* phase);

  double schedule_mean(double x) const;
  double schedule_std(double x) const;

 private:
  void new_map(int64_t step, std::vector<float>& out) const;  // S_new(step), smoothed
  void smooth(std::vector<float>& map) const;

  CoreArray m_array;
  PhaseVariationParams m_p;
  RandomStream m_rng;
  std::vector<double> m_src, m_tgt;
  std::vector<float> m_kernel;
  int64_t m_cached_step = -1;
  std::vector<float> m_std, m_scratch;
};

// ---------------------------------------------------------------- global temperature (docs/noise.md §3)
struct GlobalTemperatureParams {
  std::string schedule = "linear";   // linear: T0 + x; cosine: T0 + 0.25 (1 - cos 10x); uneven: T0 + x^3
  double cosine_amplitude_k = 0.25;  // scan_remap.py / train_map.py use 0.5
  std::string hotspot = "uniform";   // uniform: 1; corner: exp(-sqrt(i^2 + j^2))
  int64_t t_max_steps = 20000;       // x = step / T_max (no modulo)
  double t0_k = 300.0;
  double dlambda_dt_nm_per_k = 0.102;  // TM mode, Bogaerts et al. 2012 (docs/noise.md §3)
  double group_index = 4.3;
  // Per bank column l (k entries). Default: DOCTOR's central 8 channels, of which the published
  // values used give the ends (1553.2034 nm / 5.150 um and 1542.0445 nm / 5.113 um); the 6 in
  // between are spaced evenly in frequency and radius [assumption: the full table is not in the
  // sources used; docs/noise.md §3].
  std::vector<double> lambda_nm, radius_um;
};

class GlobalTemperature {
 public:
  GlobalTemperature(const CoreArray& array, const GlobalTemperatureParams& p);
  double temperature_k(double step) const;
  double hotspot(int64_t core_row, int64_t core_col) const { return m_hotspot[core_row * m_array.cols + core_col]; }
  const std::vector<double>& hotspot_map() const { return m_hotspot; }
  // d phi / d T of bank column l (rad/K).
  double phase_per_kelvin(int64_t l) const { return m_dphi_dk[l]; }
  // Adds the deterministic shift (T(step) - T0) * hotspot[i,j] * dphi/dK[l] to `phase`.
  void add_shift(double step, float* phase) const;

 private:
  CoreArray m_array;
  GlobalTemperatureParams m_p;
  std::vector<double> m_hotspot, m_dphi_dk;
};

// ---------------------------------------------------------------- thermal crosstalk (docs/noise.md §4)
struct CrosstalkParams {
  double kappa_per_um = 0.1;  // experiments; the class default in DOCTOR is 4.8
  double pitch_h_um = 60.0;   // between ring columns
  double pitch_v_um = 200.0;  // between ring rows
  // Where the parameters came from, for errors ("noise[2]"); empty: "thermal crosstalk".
  std::string json_path;
};

class ThermalCrosstalk {
 public:
  // Throws when the couplings an MRR bank keeps would exceed kMaxCouplingBytes in all (kappa near
  // 0 couples every ring with every other: (k^2)^2 entries): the sparse rows here plus, where
  // dense_noise_form(), the dense float matrix the bank builds for the per-draw noise.
  ThermalCrosstalk(int64_t k, const CrosstalkParams& p);
  static constexpr double kMaxCouplingBytes = 4e9;
  // Per-draw noise is coupled in float through the couplings >= 2^-24 (float's unit roundoff
  // relative to the self-coupling 1): their diagonals j - i = dr k + dc, ascending.
  static constexpr double kNoiseCouplingCut = 1.0 / 16777216.0;
  const std::vector<int>& noise_diagonals() const { return m_noise_diagonals; }
  // Whether the bank builds M^T densely (k^2 x k^2 floats) for the noise: k = 8's banded product,
  // or more than 16 noise diagonals.
  bool dense_noise_form() const { return m_k == 8 || m_noise_diagonals.size() > 16; }
  // M_ij = exp(-kappa d_ij), M_ii = 1, (k^2 x k^2), rings in row-major order: built densely on
  // request (tests, small k); apply() uses the sparse form.
  std::vector<double> matrix() const;
  // M between two rings (dr, dc) rows and columns apart.
  double coupling_at(int64_t dr, int64_t dc) const;
  // phi' = M phi for each of `blocks` consecutive k x k blocks. Couplings below 1e-12 are left
  // out (for kappa = 0.1 only same-row neighbours up to 4 pitches remain): their contribution
  // is far below float resolution of a phase.
  void apply(float* phase, int64_t blocks) const;

 private:
  int64_t m_k;
  CrosstalkParams m_p;
  std::vector<int32_t> m_row_start, m_col;  // sparse M (CSR), entries >= 1e-12
  std::vector<double> m_val;
  std::vector<int> m_noise_diagonals;
};

}  // namespace ptc::hw
