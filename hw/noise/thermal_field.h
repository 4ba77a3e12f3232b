// Physical thermal field of an accelerator (docs/noise.md §5; a physical model, as opposed to
// DOCTOR's step-indexed schedules):
//   T_core(t) = T0 + A_d sin(2 pi t / 1 day + phase) + X(t) + H_core(t)   [+ static ring offsets]
// X: Ornstein-Uhlenbeck fluctuation (std sigma, time constant tau), sampled on a grid of tau/10
//    with the exact update X_{n+1} = a X_n + sigma sqrt(1 - a^2) xi_n (a = e^{-dt/tau}) and
//    linearly interpolated; evaluated in closed form from an anchored history window, so any
//    time can be asked in any order with identical results.
// H: per-core self-heating, a first-order thermal RC driven by utilisation u in [0, 1]:
//    H <- H e^{-dt/tau_rc} + K u (1 - e^{-dt/tau_rc}) over an interval of constant u (exact).
// Ring offsets: static per-ring fabrication offsets (K equivalent), drawn once.
// Sensors: per-core reading = core temperature + Gaussian noise, quantised to a resolution.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/physics/rng.h"

namespace ptc::hw {

struct ThermalFieldParams {
  double t0_k = 300.0;
  double daily_amplitude_k = 1.0;  // data hall 1-2 K, edge site 5-10 K [assumption, docs/noise.md §5]
  double daily_phase_rad = 0.0;
  double ou_sigma_k = 0.3;           // 0.2-0.5 K [assumption, docs/noise.md §5]
  double ou_tau_s = 1200.0;          // 10-30 min [assumption, docs/noise.md §5]
  double self_heating_k = 2.0;       // steady-state rise at 100 % utilisation [assumption]
  double rc_tau_s = 60.0;            // package/heat sink, s to min [assumption, docs/noise.md §5]
  double ring_offset_sigma_k = 0.0;  // static fabrication offsets (K equivalent)
  double sensor_noise_k = 0.01;
  double sensor_resolution_k = 0.01;  // 0 = no quantisation
  int64_t history_steps = 256;        // OU history window in grid steps (a^256 ~ 8e-12)
};

class ThermalField {
 public:
  ThermalField(int64_t cores, int64_t rings_per_core, const ThermalFieldParams& p, const RandomStream& rng);

  // Ambient + OU at time t (no self-heating).
  double ambient_k(double t_s) const;
  double ou_k(double t_s) const;
  // Advances core self-heating by dt_s at utilisation u in [0, 1] (exact for constant u).
  void advance_self_heating(int64_t core, double dt_s, double utilisation);
  double self_heating_k(int64_t core) const { return m_heat[core]; }
  // H <- H decay + gain (the RC's response over busy and idle intervals, hw/thermal.h).
  void carry_self_heating(int64_t core, double decay, double gain) { m_heat.at(core) = m_heat[core] * decay + gain; }
  double rc_tau_s() const { return m_p.rc_tau_s; }
  double full_load_heating_k() const { return m_p.self_heating_k; }
  // Core temperature at time t (ambient + OU + current self-heating).
  double core_k(int64_t core, double t_s) const { return ambient_k(t_s) + m_heat[core]; }
  // Static offset of ring r of core c, K.
  double ring_offset_k(int64_t core, int64_t ring) const { return m_ring_offset[core * m_rings + ring]; }
  bool ring_offsets_drawn() const { return m_p.ring_offset_sigma_k > 0; }
  // Sensor reading of a core at time t (reading id selects the noise draw).
  double sensor_k(int64_t core, double t_s, uint64_t reading) const { return read_sensor(core, core_k(core, t_s), reading); }
  // A reading of core c's sensor when the core is at true_k.
  double read_sensor(int64_t core, double true_k, uint64_t reading) const;
  int64_t cores() const { return static_cast<int64_t>(m_heat.size()); }
  // Monte-Carlo chip instance k (docs/devices.md §2.4): the static ring offsets are fabrication
  // offsets, so instance k >= 1 draws its own from its own stream (k = 0: the chip's draw). The
  // ambient, fluctuation and self-heating are the environment, the same for every instance.
  void select_instance(int64_t k);

 private:
  void draw_ring_offsets(int64_t instance);
  double ou_grid(int64_t n) const;  // X at grid point n
  // Last grid point evaluated (perf: monitors ask for nearby instants; not thread-safe).
  mutable int64_t m_cache_n[2] = {-1, -1};
  mutable double m_cache_x[2] = {0, 0};

  ThermalFieldParams m_p;
  RandomStream m_rng;
  int64_t m_rings;
  double m_dt, m_a;
  std::vector<double> m_heat, m_ring_offset;
  int64_t m_instance = 0;
};

}  // namespace ptc::hw
