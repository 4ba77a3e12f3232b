#include "sim/runtime.h"

#include <algorithm>
#include <cmath>

namespace ptc::sim {

namespace {
// An activity at t_s is due by `by_s` when it falls on or before it on the kernel's time grid.
bool due_by(double t_s, double by_s) {
  if (!std::isfinite(t_s)) return false;
  if (!std::isfinite(by_s)) return true;
  // Far apart (more than the kernel resolution): the doubles decide; close: the kernel's grid.
  if (t_s > by_s + 1e-6 * (1.0 + by_s * 1e-9)) return false;
  if (t_s < by_s - 1e-6 * (1.0 + by_s * 1e-9)) return true;
  return sc_core::sc_time(t_s, sc_core::SC_SEC) <= sc_core::sc_time(by_s, sc_core::SC_SEC);
}
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
}  // namespace

void RunContext::fail(const std::string& what) const {
  if (error && error->empty()) *error = what.empty() ? "error" : what;
  sc_core::sc_stop();
}

Runtime::Runtime(sc_core::sc_module_name name, const RunContext& c, std::unique_ptr<TrafficSource> traffic, Agenda& agenda,
                 Recorder& rec)
    : sc_core::sc_module(name), array("array"), m_c(c), m_traffic(std::move(traffic)), m_agenda(agenda), m_rec(rec) {
  SC_THREAD(run);
}

void Runtime::run() {
  guarded(m_c, [&] { body(); });
  m_end_s = now_s();
  sc_core::sc_stop();
}

void Runtime::body() {
  const double horizon = m_c.s.horizon_s > 0 ? m_c.s.horizon_s : INFINITY;
  const int64_t N = m_traffic->total_requests();
  const int64_t test_n = m_c.test.count;
  double prev_done = 0;
  Arrivals a;
  std::vector<int64_t> images;
  while (!m_c.interrupted) {
    if (!m_traffic->next(prev_done, a)) break;
    // Serve ahead only up to the next pending activity: anything due by the start goes first.
    double start = std::max(a.ready_s, array->free_at_s());
    while (due_by(m_agenda.next_s(), start) && !m_c.interrupted) {
      const double t0 = now_s();
      wait(m_agenda.changed());
      m_wait_s += now_s() - t0;
      start = std::max(a.ready_s, array->free_at_s());
    }
    if (m_c.interrupted || start >= horizon) break;
    images.clear();
    if (measures_served()) {
      if (!a.images.empty())
        images = a.images;
      else
        for (int64_t i = 0; i < a.n; ++i) images.push_back((m_traffic->first_image() + m_served + i) % test_n);
    }
    for (int64_t i = 0; i < a.n && static_cast<int64_t>(m_images_seen.size()) < test_n; ++i)
      m_images_seen.push_back(!a.images.empty() ? a.images[i] : (m_traffic->first_image() + m_served + i) % test_n);
    const hw::Service sv = array->serve(a.ready_s, a.n, images);
    if (!a.arrival_s.empty()) {
      for (double t : a.arrival_s) {
        m_lat_win.add(sv.done_s - t);
        m_lat_all.add(sv.done_s - t);
      }
    } else {
      m_lat_win.add_uniform(sv.done_s - a.window_hi_s, sv.done_s - a.window_lo_s, static_cast<double>(a.n));
      m_lat_all.add_uniform(sv.done_s - a.window_hi_s, sv.done_s - a.window_lo_s, static_cast<double>(a.n));
    }
    m_served += a.n;
    ++m_batches;
    prev_done = sv.done_s;
    if (m_served >= m_agenda.next_count()) {
      wait_until_s(sv.done_s);
      m_agenda.count_reached(m_served, sv.done_s);
    }
    m_rec.progress(N > 0 ? double(m_served) / double(std::max<int64_t>(N, 1)) : std::min(1.0, now_s() / horizon));
  }
  m_interrupted = m_c.interrupted;
  const double end = std::isfinite(horizon) ? horizon : std::max(array->free_at_s(), now_s());
  if (!m_interrupted) {
    wait_until_s(end);
    while (due_by(m_agenda.next_s(), end) && !m_c.interrupted) wait(m_agenda.changed());
  }
  m_interrupted = m_c.interrupted;
}

nlohmann::json Runtime::stats() const {
  return {{"traffic", m_c.s.traffic.name},
          {"requests_served", stat(static_cast<double>(m_served), "requests")},
          {"batches", stat(static_cast<double>(m_batches), "batches")},
          {"latency_p50", stat(m_lat_all.quantile(0.5), "s")},
          {"latency_p99", stat(m_lat_all.quantile(0.99), "s")},
          {"held_for_activities", stat(m_wait_s, "s")}};
}

}  // namespace ptc::sim
