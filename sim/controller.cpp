#include "sim/controller.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "sim/plugin_loader.h"
#include "sim/runtime.h"

namespace ptc::sim {

namespace {
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
}  // namespace

Controller::Controller(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, std::unique_ptr<Policy> policy,
                       Agenda& agenda, Recorder& rec, ChipLane& rt, Monitor& mon)
    : sc_core::sc_module(name),
      triggers("triggers"),
      m_c(c),
      m_acc(acc),
      m_policy(std::move(policy)),
      m_agenda(agenda),
      m_rec(rec),
      m_rt(rt),
      m_mon(mon),
      m_rng(c.s.seed, 0xc0),
      m_learning(c) {
  const std::string pname = c.s.policy_json.value("name", std::string());
  m_policy_label = policy_label(pname);
  hook("capabilities_needed", [&] { m_caps = m_policy->capabilities_needed(); });
  m_cpi = std::max<int64_t>(c.wl.cycles_per_inference, 1);
  for (const auto& L : c.wl.layers) m_probe_cycles += L.chunks * c.wl.spec.block_size;
  m_id = m_agenda.add("controller", rt.chip());
  m_agenda.at(m_id, 0.0, kNoCount);  // on_start comes before any request
  SC_THREAD(timer_thread);
  SC_THREAD(trigger_thread);
}

std::string Controller::hook_context(const char* name) const {
  char t[64];
  std::snprintf(t, sizeof t, "%.9g", sim::now_s());
  return m_policy_label + ", " + name + " at t = " + t + " s" +
         (m_c.s.dispatcher.chips > 1 ? ", chip " + std::to_string(chip_index()) : std::string()) + ": ";
}

int Controller::chip_index() const {
  return m_rt.chip();
}

int64_t Controller::requests() const {
  return m_rt.served();
}

void Controller::timer_thread() {
  guarded(m_c, [&] {
    m_acting = true;
    m_acc.acquire(kRankController, true);
    const bool stopped = !stoppable([&] { hook("on_start", [&] { m_policy->on_start(*this); }); });
    m_acc.release();
    m_acting = false;
    if (stopped) return m_agenda.clear(m_id);
    double every_s = 0;
    int64_t every_n = 0;
    bool per_batch = false;
    hook("timer_interval_s", [&] {
      every_s = m_policy->timer_interval_s();
      // Preflight checked the value of a fresh instance; one that on_start changed is checked here.
      if (every_s > 0 && every_s < 1e-9) {
        char v[32];
        std::snprintf(v, sizeof v, "%.9g", every_s);
        throw Error(std::string("returned ") + v +
                    " s, below the kernel's time resolution (1 ns); return 0 (no timer) or at least 1e-9 s");
      }
    });
    hook("timer_interval_requests", [&] { every_n = m_policy->timer_interval_requests(); });
    hook("observes_requests", [&] { per_batch = m_policy->observes_requests(); });
    // Timer instants before the horizon only (as the monitor's checks): an action at the horizon
    // would act after the deployment window and run the simulated time past it.
    const double end_s = m_c.s.horizon_s > 0 ? m_c.s.horizon_s : INFINITY;
    const auto before_end = [&](double t) { return t < end_s ? t : INFINITY; };
    double next_t = before_end(every_s > 0 ? every_s : INFINITY);
    int64_t timer_n = every_n > 0 ? every_n : kNoCount, batch_n = per_batch ? 1 : kNoCount;
    // Validate bounds the timer's wake-ups by the horizon, or with horizon_s 0 by the traffic's
    // earliest end; a run until the traffic ends may last longer: the same limit, when reached.
    const double chips = m_c.s.dispatcher.chips > 1 ? static_cast<double>(m_c.s.dispatcher.chips) : 1.0;
    int64_t timed_wakeups = 0;
    while (!m_c.interrupted) {
      const Agenda::Due due = m_agenda.next(m_id, next_t, std::min(timer_n, batch_n));
      if (m_c.interrupted) break;
      if (!due) continue;
      const bool counted = due.counted, timed = due.timed;
      if (timed && static_cast<double>(++timed_wakeups) * chips > 1e8)
        throw Error("controller.policy: policy \"" + m_c.s.policy_json.at("name").get<std::string>() +
                    "\" acts on its timer every " + trace_number(every_s) + " s and reached the limit of 1e8 wake-ups" +
                    (chips > 1 ? " (" + trace_number(chips) + " chips, each its own)" : std::string()) +
                    " at t = " + trace_number(sim::now_s()) +
                    " s of a run until the traffic ends (horizon_s 0); use a larger interval or set horizon_s");
      m_acting = true;
      settle(kRankController);
      m_acc.acquire(kRankController, true);
      if (m_c.interrupted) {  // stopped while waiting for the array: no new action (Runtime::run)
        m_acc.release();
        m_acting = false;
        break;
      }
      const int64_t served = m_rt.served();
      const bool timer_by_count = counted && served >= timer_n;
      const bool done = stoppable([&] {
        if (counted && served >= batch_n) {
          hook("on_request_done", [&] { m_policy->on_request_done(*this, served - 1); });
          batch_n = served + 1;
        }
        if (timed || timer_by_count) {
          ++m_timers;
          hook("on_timer", [&] { m_policy->on_timer(*this); });
        }
      });
      m_acc.release();
      m_acting = false;
      if (!done) break;
      // An action that outlasts the timer's period skips the instants it covered (as the monitor).
      if (timed) next_t = before_end(next_multiple(every_s, std::max(next_t, sim::now_s())));
      if (timer_by_count) timer_n = (served / every_n + 1) * every_n;
    }
    m_agenda.clear(m_id);
  });
}

void Controller::trigger_thread() {
  guarded(m_c, [&] {
    while (true) {
      Trigger t = triggers->read();
      ++m_trigger_count;
      m_acting = true;
      if (!m_c.interrupted)  // no new action once stopped
        stoppable([&] { hook("on_trigger", [&] { m_policy->on_trigger(*this, t.reason); }); });
      m_acting = false;
      t.done->notify(sc_core::SC_ZERO_TIME);
    }
  });
}

double Controller::charge_cycles(int64_t cycles, int64_t settles, const std::string& kind, int64_t advance_steps) {
  // Booked with the array time, energy and conversions occupy_cycles charges before it waits: a
  // run stopped during the wait (SIGINT) kept those but not these, and its books did not balance.
  m_overhead_cycles += cycles;
  m_cycles_by[kind] += cycles;
  const double t = m_acc.occupy_cycles(cycles, settles);
  // DOCTOR: remediation work advances the noise by floor(cycles / cycles_per_inference) steps.
  m_acc.advance_steps(advance_steps >= 0 ? advance_steps : cycles / m_cpi);
  return t;
}

void Controller::reprogram_all(const std::string& reason) {
  actions::reprogram_all(*this, reason);
  ++m_calibrations;
}

void Controller::recalibrate_rings(const std::vector<char>& rings, const std::string& reason) {
  if (actions::recalibrate_rings(*this, rings, reason) > 0) ++m_calibrations;
}

CalibrationResult Controller::calibrate(const CalibrationSpec& spec, const std::string& reason) {
  CalibrationResult r = actions::calibrate(*this, spec, reason);
  ++m_calibrations;
  return r;
}

void Controller::remap(const RemapSpec& spec, const std::string& reason) {
  actions::remap(*this, spec, reason);
  ++m_remaps;
}

void Controller::train_onchip(const OnchipTrainingSpec& spec) {
  actions::train_onchip(*this, spec);
  ++m_calibrations;
}

nlohmann::json Controller::stats() const {
  Json overhead = Json::object();
  for (const auto& [k, v] : m_cycles_by) overhead[k] = stat(static_cast<double>(v), "cycles");
  return {{"policy", m_c.s.policy_json.at("name")},
          {"calibrations", stat(static_cast<double>(m_calibrations), "events")},
          {"remaps", stat(static_cast<double>(m_remaps), "events")},
          {"probes", stat(static_cast<double>(m_probes), "probes")},
          {"timer_calls", stat(static_cast<double>(m_timers), "calls")},
          {"triggers_handled", stat(static_cast<double>(m_trigger_count), "triggers")},
          {"overhead_cycles", overhead},
          {"overhead_cycles_total", stat(static_cast<double>(m_overhead_cycles), "cycles")},
          {"noise_steps_from_remediation", stat(static_cast<double>(m_acc.remediation_steps()), "steps")}};
}

}  // namespace ptc::sim
