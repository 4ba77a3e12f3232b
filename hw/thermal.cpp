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
  a_s = std::max(a_s, m_t_s);  // the committed past (intervals start at or after the kernel's time)
  if (!(b_s > a_s)) return;
  if (a_s <= m_ahead_t) m_ahead_t = -1;                // core_k's walk passed this interval's start
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

double Thermal::step(double h, double dt_s, bool busy) const {
  const double e = std::exp(-dt_s / m_field.rc_tau_s());
  return busy ? h * e + m_field.full_load_heating_k() * (1 - e) : h * e;
}

double Thermal::heat_at(double& x, double& h, double t_s, double* peak) const {
  // x is the committed boundary, an interval's start or an interval's end: the first interval
  // ending after it starts at or after it.
  auto it = std::partition_point(m_busy.begin(), m_busy.end(), [&](const auto& iv) { return iv.second <= x; });
  for (; it != m_busy.end() && it->first <= t_s; ++it) {
    if (it->first > x) {  // the idle gap before the interval
      h = step(h, it->first - x, false);
      x = it->first;
    }
    if (it->second > t_s) {  // t inside the interval
      const double ht = step(h, t_s - x, true);
      if (peak) *peak = std::max(*peak, ht);
      return ht;
    }
    h = step(h, it->second - x, true);
    x = it->second;
    if (peak) *peak = std::max(*peak, h);
  }
  return t_s > x ? step(h, t_s - x, false) : h;
}

void Thermal::advance(double now_s) {
  if (!(now_s > m_now_s)) return;
  // The intervals that end before now are final: commit them, the same steps heat_at takes.
  // A booking starts at or after the kernel's time, which is a double rounded to the 1-ns grid: a
  // batch booked from the end of the one before (free_at) may start up to half a nanosecond
  // before it. One tick of margin keeps every interval a booking can still touch uncommitted.
  while (!m_busy.empty() && m_busy.front().second < now_s - 1e-9) {
    const auto [a, b] = m_busy.front();
    if (a > m_t_s) m_h = step(m_h, a - m_t_s, false);
    m_h = step(m_h, b - a, true);
    m_t_s = b;
    m_peak_committed_k = std::max(m_peak_committed_k, m_h);
    m_busy.pop_front();
  }
  if (m_ahead_t < m_t_s) m_ahead_t = -1;
  double x = m_t_s, h = m_h, peak = m_peak_committed_k;
  const double now_h = heat_at(x, h, now_s, &peak);
  for (int64_t c = 0; c < m_field.cores(); ++c) m_field.carry_self_heating(c, 0.0, now_h);  // H <- now_h
  m_peak_heating_k = peak;
  m_now_s = now_s;
}

double Thermal::core_k(int64_t core, double t_s) const {
  // Before the committed boundary (not asked in a run: reads are at or after the kernel's time).
  if (!(t_s >= m_t_s)) return m_field.core_k(core, t_s);
  if (!(m_ahead_t >= m_t_s && m_ahead_t <= t_s)) {
    m_ahead_t = m_t_s;
    m_ahead_h = m_h;
  }
  return m_field.ambient_k(t_s) + heat_at(m_ahead_t, m_ahead_h, t_s, nullptr);
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
          {"integrated_to", stat(m_now_s, "s")}};
}

}  // namespace ptc::hw
