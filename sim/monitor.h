// sim::Monitor: DOCTOR's smart monitor (docs/doctor.md §3) as its own process.
// Contract:
// - Checks every monitor.interval_s (timed) and/or every monitor.interval_requests served
//   requests (a count threshold: after request s with s mod interval == 0, and after the last
//   request of a closed-loop source), rank 1 in the same-instant order; skipped while cooling
//   down (cool_down_requests / cool_down_s after a trigger), and not at all unless the policy
//   uses the monitor.
// - Temperature test: one reading of the free sensors; the rise since the last
//   record_temperature() (absolute or signed, monitor.temperature_mode) above t_thres_k fires.
//   Otherwise the probe test: an identity read-back of every chunk on the array (charged, it
//   waits for booked inference service), relative L1 error above w_thres fires.
// - A trigger carries the values that fired it (reason, the rise read, the probe error) through
//   an sc_fifo to the controller, which runs the policy on the array the monitor holds; the
//   monitor waits for it (the trigger's done event), then releases the array.
#pragma once

#include <ostream>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/stats.h"
#include "sim/agenda.h"
#include "sim/recorder.h"
#include "sim/run_context.h"

namespace ptc::sim {

class ChipLane;
class Controller;

struct Trigger {
  std::string reason;
  double temperature_rise_k = NAN, probe_error = NAN, t_s = 0;
  sc_core::sc_event* done = nullptr;
  bool operator==(const Trigger& o) const { return reason == o.reason && t_s == o.t_s && done == o.done; }
};
inline std::ostream& operator<<(std::ostream& os, const Trigger& t) {
  return os << t.reason << "@" << t.t_s;
}

class Monitor : public sc_core::sc_module, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Monitor);
  sc_core::sc_fifo_out<Trigger> triggers;
  Monitor(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda, Recorder& rec, ChipLane& rt,
          bool enabled);
  // The sensor reference of the temperature test (policies reset it after remediation).
  double temperature_rise_k();
  void record_temperature();
  void set_controller(Controller* c) { m_ctl = c; }
  int64_t probes() const { return m_probes; }
  int64_t triggers_fired() const { return m_triggers; }
  nlohmann::json stats() const override;

 private:
  void run();
  void check();
  const RunContext& m_c;
  hw::Accelerator& m_acc;
  Agenda& m_agenda;
  Recorder& m_rec;
  ChipLane& m_rt;
  Controller* m_ctl = nullptr;
  bool m_enabled;
  int m_id = -1;
  double m_t_last_k = 300;
  int64_t m_checks = 0, m_probes = 0, m_triggers = 0, m_cool_until_req = 0;
  double m_cool_until_s = 0;
  sc_core::sc_event m_done;
};

}  // namespace ptc::sim
