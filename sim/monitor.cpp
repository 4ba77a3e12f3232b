#include "sim/monitor.h"

#include <algorithm>
#include <cmath>

#include "sim/controller.h"
#include "sim/runtime.h"

namespace ptc::sim {

namespace {
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
}  // namespace

Monitor::Monitor(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda, Recorder& rec,
                 ChipLane& rt, bool enabled)
    : sc_core::sc_module(name),
      triggers("triggers"),
      m_c(c),
      m_acc(acc),
      m_agenda(agenda),
      m_rec(rec),
      m_rt(rt),
      m_enabled(enabled) {
  m_t_last_k = m_acc.temperature_mean_k(0.0);  // the reference before any reading
  m_id = m_agenda.add("monitor", rt.chip());
  SC_THREAD(run);
}

double Monitor::temperature_rise_k() {
  return m_acc.sensor_k(now_s()) - m_t_last_k;
}
void Monitor::record_temperature() {
  m_t_last_k = m_acc.sensor_k(now_s());
}

void Monitor::run() {
  guarded(m_c, [&] {
    const auto& m = m_c.s.monitor;
    if (!m_enabled || (!(m.interval_s > 0) && m.interval_requests <= 0)) return m_agenda.clear(m_id);
    const int64_t N = m_rt.total_requests(), every = m.interval_requests;
    // DOCTOR checks after the inference of step s (s = served - 1) when s mod interval == 0, and
    // after the last request.
    auto next_count = [&](int64_t served) {
      if (every <= 0) return kNoCount;
      int64_t c = (served <= 0 ? 0 : ((served - 1) / every + 1)) * every + 1;
      if (N > 0 && served < N) c = std::min(c, N);
      if (N > 0 && served >= N) c = kNoCount;
      return c;
    };
    // Timed checks before the horizon only: one at the horizon would act after the deployment
    // window (the runtime serves nothing that starts there either).
    const double end_s = m_c.s.horizon_s > 0 ? m_c.s.horizon_s : INFINITY;
    const auto before_end = [&](double t) { return t < end_s ? t : INFINITY; };
    double next_t = before_end(m.interval_s > 0 ? m.interval_s : INFINITY);
    int64_t next_n = next_count(0);
    // Validate bounds the timed checks by the horizon, or with horizon_s 0 by the traffic's
    // earliest end; a run until the traffic ends may last longer: the same limit, when reached.
    const double chips = m_c.s.dispatcher.chips > 1 ? static_cast<double>(m_c.s.dispatcher.chips) : 1.0;
    int64_t timed_checks = 0;
    while (!m_c.interrupted) {
      const Agenda::Due due = m_agenda.next(m_id, next_t, next_n);
      if (m_c.interrupted) break;
      if (!due) continue;
      const bool counted = due.counted, timed = due.timed;
      if (timed && static_cast<double>(++timed_checks) * chips > 1e8)
        throw Error("monitor.interval_s: the monitor checks every " + trace_number(m.interval_s) +
                    " s reached the limit of 1e8 wake-ups" +
                    (chips > 1 ? " (" + trace_number(chips) + " chips, each its own)" : std::string()) +
                    " at t = " + trace_number(now_s()) +
                    " s of a run until the traffic ends (horizon_s 0); use a larger interval_s or set horizon_s");
      settle(kRankMonitor);
      check();
      // A check that outlasts the interval (a probe longer than interval_s) skips the instants it
      // covered: the next check is the first instant after it ends (checks back to back kept the
      // array from serving any request, and a run never ended).
      if (timed) next_t = before_end(next_multiple(m.interval_s, std::max(next_t, now_s())));
      if (counted) next_n = next_count(m_rt.served());
    }
    m_agenda.clear(m_id);
  });
}

void Monitor::check() {
  const auto& m = m_c.s.monitor;
  ++m_checks;
  if (m_rt.served() < m_cool_until_req || now_s() < m_cool_until_s) return;
  std::string reason;
  double rise = NAN, e = NAN;
  if (m.temperature_test) {
    rise = temperature_rise_k();  // one reading: the value that fires is the value logged
    if ((m.temperature_abs ? std::abs(rise) : rise) > m.t_thres_k) reason = "temperature";
  }
  bool held = false;
  if (reason.empty() && m.probe_test) {
    m_acc.acquire(kRankMonitor, true);
    held = true;
    if (m_c.interrupted) {  // stopped while waiting for the array: no new probe (Runtime::run)
      m_acc.release();
      return;
    }
    e = m_ctl->probe();
    ++m_probes;
    if (e > m.w_thres) reason = "probe";
  }
  if (reason.empty() || m_c.interrupted) {  // once stopped, no trigger starts an action
    if (held) m_acc.release();
    return;
  }
  ++m_triggers;
  m_rec.log_event("trigger", {{"reason", reason},
                              {"probe_error", std::isfinite(e) ? Json(e) : Json(nullptr)},
                              {"temperature_rise_k", std::isfinite(rise) ? Json(rise) : Json(nullptr)}});
  if (!held) m_acc.acquire(kRankMonitor, true);
  if (m_c.interrupted) {  // stopped while waiting for the array (the trigger is logged: it fired)
    m_acc.release();
    return;
  }
  triggers->write(Trigger{reason, rise, e, now_s(), &m_done});
  wait(m_done);
  m_acc.release();
  m_cool_until_req = m_rt.served() + m.cool_down_requests;
  m_cool_until_s = now_s() + m.cool_down_s;
}

nlohmann::json Monitor::stats() const {
  return {{"checks", stat(static_cast<double>(m_checks), "checks")},
          {"probes", stat(static_cast<double>(m_probes), "probes")},
          {"triggers", stat(static_cast<double>(m_triggers), "triggers")}};
}

}  // namespace ptc::sim
