#include "hw/noise/thermal_field.h"

#include <cmath>

#include "models/error.h"

namespace ptc::hw {

ThermalField::ThermalField(int64_t cores, int64_t rings_per_core, const ThermalFieldParams& p, const RandomStream& rng)
    : m_p(p), m_rng(rng), m_rings(rings_per_core) {
  if (cores < 1 || rings_per_core < 1) throw Error("thermal field: cores and rings must be >= 1");
  if (!(p.ou_tau_s > 0) || !(p.rc_tau_s > 0) || !(p.ou_sigma_k >= 0) || !(p.sensor_noise_k >= 0) ||
      !(p.sensor_resolution_k >= 0) || !(p.ring_offset_sigma_k >= 0) || p.history_steps < 1)
    throw Error("thermal field: time constants must be > 0, sigmas and resolution >= 0");
  m_dt = p.ou_tau_s / 10;
  m_a = std::exp(-m_dt / p.ou_tau_s);
  m_heat.assign(cores, 0.0);
  m_ring_offset.resize(cores * rings_per_core);
  draw_ring_offsets(0);
}

void ThermalField::draw_ring_offsets(int64_t instance) {
  const RandomStream off =
      instance == 0 ? m_rng.derive(31) : m_rng.derive(31).derive(0x4d43).derive(static_cast<uint64_t>(instance));
  for (size_t i = 0; i < m_ring_offset.size(); ++i) m_ring_offset[i] = m_p.ring_offset_sigma_k * off.normal(i);
}

void ThermalField::select_instance(int64_t k) {
  if (k == m_instance) return;
  m_instance = k;
  draw_ring_offsets(k);
}

double ThermalField::ou_grid(int64_t n) const {
  // X_n from a fixed anchor: X_anchor ~ N(0, sigma^2) (stationary), then exact updates. The anchor
  // depends only on n, so every evaluation of X_n gives the same bits.
  const int64_t H = m_p.history_steps;
  int64_t a = std::max<int64_t>(0, (n / H - 1) * H);
  RandomStream s = m_rng.derive(32);
  double b = m_p.ou_sigma_k * std::sqrt(1 - m_a * m_a);
  double x = 0;
  int64_t from = -1;
  for (int c = 0; c < 2; ++c) {  // resume the same recursion from the same anchor: the same bits
    const int64_t m = m_cache_n[c];
    if (m >= a && m <= n && m >= from && std::max<int64_t>(0, (m / H - 1) * H) == a) {
      x = m_cache_x[c];
      from = m;
    }
  }
  if (from < 0) {
    x = m_p.ou_sigma_k * s.normal(static_cast<uint64_t>(a) * 2 + 1);
    from = a;
  }
  if (from == n) return x;
  for (int64_t j = from + 1; j <= n; ++j) x = m_a * x + b * s.normal(static_cast<uint64_t>(j) * 2);
  m_cache_n[0] = m_cache_n[1];
  m_cache_x[0] = m_cache_x[1];
  m_cache_n[1] = n;
  m_cache_x[1] = x;
  return x;
}

double ThermalField::ou_k(double t_s) const {
  if (m_p.ou_sigma_k == 0) return 0.0;
  double g = t_s / m_dt;
  auto n = static_cast<int64_t>(std::floor(g));
  double f = g - static_cast<double>(n);
  double x0 = ou_grid(n);
  return f == 0 ? x0 : x0 + f * (ou_grid(n + 1) - x0);
}

double ThermalField::ambient_k(double t_s) const {
  if (t_s < 0) throw Error("thermal field: negative time");
  return m_p.t0_k + m_p.daily_amplitude_k * std::sin(2 * M_PI * t_s / 86400.0 + m_p.daily_phase_rad) + ou_k(t_s);
}

void ThermalField::advance_self_heating(int64_t core, double dt_s, double u) {
  if (!(dt_s >= 0) || !(u >= 0 && u <= 1)) throw Error("thermal field: dt >= 0 and utilisation in [0, 1] required");
  double e = std::exp(-dt_s / m_p.rc_tau_s);
  m_heat.at(core) = m_heat[core] * e + m_p.self_heating_k * u * (1 - e);
}

double ThermalField::read_sensor(int64_t core, double true_k, uint64_t reading) const {
  double v = true_k + m_p.sensor_noise_k * m_rng.derive(33).derive(static_cast<uint64_t>(core)).normal(reading);
  if (m_p.sensor_resolution_k > 0) v = std::nearbyint(v / m_p.sensor_resolution_k) * m_p.sensor_resolution_k;
  return v;
}

}  // namespace ptc::hw
