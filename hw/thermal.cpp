#include "hw/thermal.h"

#include <algorithm>

namespace ptc::hw {

namespace {
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
}  // namespace

Thermal::Thermal(sc_core::sc_module_name name, int64_t cores, int64_t rings_per_core, const ThermalFieldParams& p,
                 const RandomStream& rng)
    : sc_core::sc_module(name), io("io"), m_field(cores, rings_per_core, p, rng) {
  io.bind(*this);
}

void Thermal::advance(double now_s, double busy_total_s) {
  const double dt = now_s - m_t_s;
  if (!(dt > 0)) return;
  const double u = std::clamp((busy_total_s - m_busy_s) / dt, 0.0, 1.0);
  for (int64_t c = 0; c < m_field.cores(); ++c) {
    m_field.advance_self_heating(c, dt, u);
    m_peak_heating_k = std::max(m_peak_heating_k, m_field.self_heating_k(c));
  }
  m_t_s = now_s;
  m_busy_s = busy_total_s;
}

double Thermal::mean_k(double t_s) const {
  double s = 0;
  for (int64_t c = 0; c < m_field.cores(); ++c) s += m_field.core_k(c, t_s);
  return s / static_cast<double>(m_field.cores());
}

double Thermal::sensor_mean_k(double t_s) {
  double s = 0;
  for (int64_t c = 0; c < m_field.cores(); ++c) s += m_field.sensor_k(c, t_s, m_reads++);
  return s / static_cast<double>(m_field.cores());
}

nlohmann::json Thermal::stats() const {
  return {{"sensor_reads", stat(static_cast<double>(m_reads), "reads")},
          {"peak_self_heating", stat(m_peak_heating_k, "K")},
          {"integrated_to", stat(m_t_s, "s")}};
}

}  // namespace ptc::hw
