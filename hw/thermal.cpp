#include "hw/thermal.h"

#include <algorithm>
#include <cmath>

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

void Thermal::add_busy(double a_s, double b_s) {
  a_s = std::max(a_s, m_t_s);  // committed time is past (intervals start at or after the kernel's time)
  if (!(b_s > a_s)) return;
  if (a_s < m_ahead_t) m_ahead_t = -1;                 // the carry ahead passed this interval's start
  if (m_busy.empty() || a_s > m_busy.back().second) {  // the usual case: booked in order
    m_busy.emplace_back(a_s, b_s);
    return;
  }
  // Merged with every interval it overlaps or touches (the ends are sorted as the starts are).
  auto first = std::partition_point(m_busy.begin(), m_busy.end(), [&](const auto& iv) { return iv.second < a_s; });
  auto last = first;
  while (last != m_busy.end() && last->first <= b_s) {
    a_s = std::min(a_s, last->first);
    b_s = std::max(b_s, last->second);
    ++last;
  }
  m_busy.insert(m_busy.erase(first, last), {a_s, b_s});
}

double Thermal::walk(double from, double to, double& decay, double& gain, double h_max, double* peak, bool whole) const {
  const double tau = m_field.rc_tau_s(), K = m_field.full_load_heating_k();
  double x = from;
  auto it = std::partition_point(m_busy.begin(), m_busy.end(), [&](const auto& iv) { return iv.second <= x; });
  for (; it != m_busy.end() && it->first < to; ++it) {
    const double a = std::max(it->first, x), b = std::min(it->second, to);
    if (a > x) {  // idle up to the interval's start (< to: a whole segment)
      const double e = std::exp(-(a - x) / tau);
      decay *= e;
      gain *= e;
      x = a;
    }
    if (b > x) {                              // busy: u = 1
      if (whole && b < it->second) return x;  // cut at `to`
      const double e = std::exp(-(b - x) / tau);
      decay *= e;
      gain = gain * e + K * (1 - e);
      x = b;
      if (peak) *peak = std::max(*peak, h_max * decay + gain);
    }
  }
  if (to > x && !whole) {
    const double e = std::exp(-(to - x) / tau);
    decay *= e;
    gain *= e;
    x = to;
  }
  return x;
}

void Thermal::advance(double now_s) {
  if (!(now_s > m_t_s)) return;
  double h_max = 0;
  for (int64_t c = 0; c < m_field.cores(); ++c) h_max = std::max(h_max, m_field.self_heating_k(c));
  double decay = 1, gain = 0;
  walk(m_t_s, now_s, decay, gain, h_max, &m_peak_heating_k, false);
  for (int64_t c = 0; c < m_field.cores(); ++c) m_field.carry_self_heating(c, decay, gain);
  m_t_s = now_s;
  while (!m_busy.empty() && m_busy.front().second <= now_s) m_busy.pop_front();
  if (!m_busy.empty() && m_busy.front().first < now_s) m_busy.front().first = now_s;  // running now: the rest of it
  m_ahead_t = -1;
}

double Thermal::core_k(int64_t core, double t_s) const {
  if (!(t_s > m_t_s)) return m_field.core_k(core, t_s);
  if (!(m_ahead_t >= m_t_s && m_ahead_t <= t_s)) {
    m_ahead_t = m_t_s;
    m_ahead_decay = 1;
    m_ahead_gain = 0;
  }
  // The carry is kept at segment boundaries (interval starts and ends), so that a trace row's
  // temperature does not move it. Not to the bit in every case: the committed state is kept at
  // the instants advance() was called (a served batch's booking, a sensor read), and a carry on an
  // interval's end is kept when a touching interval merges with it; both only change rounding.
  m_ahead_t = walk(m_ahead_t, t_s, m_ahead_decay, m_ahead_gain, 0, nullptr, true);
  double decay = m_ahead_decay, gain = m_ahead_gain;
  walk(m_ahead_t, t_s, decay, gain, 0, nullptr, false);
  return m_field.ambient_k(t_s) + m_field.self_heating_k(core) * decay + gain;
}

double Thermal::mean_k(double t_s) const {
  double s = 0;
  for (int64_t c = 0; c < m_field.cores(); ++c) s += core_k(c, t_s);
  return s / static_cast<double>(m_field.cores());
}

double Thermal::sensor_mean_k(double t_s) {
  double s = 0;
  for (int64_t c = 0; c < m_field.cores(); ++c) s += m_field.read_sensor(c, core_k(c, t_s), m_reads++);
  return s / static_cast<double>(m_field.cores());
}

nlohmann::json Thermal::stats() const {
  return {{"sensor_reads", stat(static_cast<double>(m_reads), "reads")},
          {"peak_self_heating", stat(m_peak_heating_k, "K")},
          {"integrated_to", stat(m_t_s, "s")}};
}

}  // namespace ptc::hw
