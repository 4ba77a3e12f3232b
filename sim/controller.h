// sim::Controller: owns the policy and runs its actions (sim/actions/) on the chip.
// Contract:
// - Policy hooks run in the controller's processes: on_start at t = 0 before any request;
//   on_timer every timer_interval_s (timed) or timer_interval_requests (count threshold);
//   on_request_done at the completion of every served batch (with the index of its last
//   request) when the policy observes_requests(); on_trigger for each monitor Trigger (read from
//   an sc_fifo, run on the array the monitor holds); on_evaluation before each scheduled
//   evaluation (on the array the evaluator holds). Same-instant rank 0.
// - Its own activities take the array through ArrayIf::acquire (after booked inference service):
//   the time its actions occupy delays queued requests (real contention).
// - The books of the actions: calibrations (full programs, calibrations, on-chip training),
//   remaps, overhead cycles by kind; device writes and energy are the accelerator's.
#pragma once

#include <map>
#include <memory>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/stats.h"
#include "sim/actions/actions.h"
#include "sim/agenda.h"
#include "sim/deployment.h"
#include "sim/monitor.h"
#include "sim/policy/policy.h"
#include "sim/recorder.h"
#include "sim/run_context.h"

namespace ptc::sim {

class ChipLane;

class Controller : public sc_core::sc_module, public Actions, public actions::Env, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Controller);
  sc_core::sc_fifo_in<Trigger> triggers;
  Controller(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, std::unique_ptr<Policy> policy,
             Agenda& agenda, Recorder& rec, ChipLane& rt, Monitor& mon);

  const Policy& policy() const { return *m_policy; }
  // The policy's capabilities_needed(), asked once when the controller is built.
  const std::vector<std::string>& capabilities() const { return m_caps; }
  // The policy's evaluation hook; false when a signal stopped its action (no evaluation follows).
  bool before_evaluation() {
    return stoppable([&] { hook("on_evaluation", [&] { m_policy->on_evaluation(*this); }); });
  }
  int64_t calibrations() const override { return m_calibrations; }
  int64_t remaps() const { return m_remaps; }
  // The chip it controls; whether it is running an action now (a fleet dispatcher drains it).
  int chip_index() const;
  bool acting() const { return m_acting; }
  int64_t overhead_cycles() const { return m_overhead_cycles; }

  // ---- Actions (the policy's view)
  double now_s() const override { return sim::now_s(); }
  int64_t requests() const override;
  int64_t step() const override { return m_acc.step(now_s()); }
  std::string device() const override { return m_acc.tech().name(); }
  std::vector<std::pair<std::string, int64_t>> device_counters() const override { return m_acc.tech().counters(); }
  hw::RingObservations ring_observations() const override { return m_acc.tech().ring_observations(); }
  void recalibrate_rings(const std::vector<char>& rings, const std::string& reason) override;
  const hw::RandomStream& rng() const override { return m_rng; }
  double temperature_rise_k() override { return m_mon.temperature_rise_k(); }
  void record_temperature() override { m_mon.record_temperature(); }
  // Every identity read-back, the monitor's and a policy's (summary.json probes).
  double probe() override {
    const double e = actions::probe(*this);
    ++m_probes;
    return e;
  }
  int64_t probes() const { return m_probes; }
  void reprogram_all(const std::string& reason) override;
  CalibrationResult calibrate(const CalibrationSpec& spec, const std::string& reason) override;
  void remap(const RemapSpec& spec, const std::string& reason) override;
  void train_onchip(const OnchipTrainingSpec& spec) override;
  void compensate_drift(bool reference, const DriftCompensationSpec& spec) override {
    actions::compensate_drift(*this, reference, spec, m_gdc_ref);
  }
  WriteVerifyResult write_verify(const WriteVerifySpec& spec, const std::string& reason) override {
    return actions::write_verify(*this, spec, m_swim, reason);
  }
  RowRemapResult remap_worn_rows(int64_t threshold) override { return actions::remap_worn_rows(*this, threshold); }
  void log_event(const std::string& type, const Json& fields) override { m_rec.log_event(type, fields); }

  // ---- actions::Env (the actions' view)
  hw::Accelerator& chip() override { return m_acc; }
  const RunContext& ctx() const override { return m_c; }
  void set_now() override { m_acc.set_now(now_s()); }
  uint64_t next_draw() override { return (uint64_t{1} << 48) + m_read_draws++; }
  double charge_cycles(int64_t cycles, int64_t settles, const std::string& kind, int64_t advance_steps = -1) override;
  double occupy_writes() override {
    const double t = m_acc.take_write_time_s();
    m_acc.occupy(t, 0.0);
    return t;
  }
  double occupy_settles(int64_t settles) override { return m_acc.occupy_cycles(0, settles); }
  actions::Learning& learning() override { return m_learning; }
  int64_t probe_cycles() const override { return m_probe_cycles; }

  nlohmann::json stats() const override;

 private:
  void timer_thread();
  void trigger_thread();
  // Runs one policy hook. An exception from it (from the policy's code or from an action it
  // called) becomes one error naming the policy, where it comes from (built in, or the plug-in
  // library) and the hook; an interruption, or an action stopped by a signal, passes unchanged.
  template <class F>
  void hook(const char* name, F&& body) {
    try {
      body();
    } catch (const Interrupted&) {
      throw;
    } catch (const Stopped&) {  // a signal stopped the action's salience: it is abandoned
      throw;
    } catch (const std::bad_alloc&) {  // the run's out-of-memory error names the scale instead
      throw;
    } catch (const std::exception& e) {
      throw Error(hook_context(name) + e.what());
    } catch (...) {
      throw Error(hook_context(name) + "threw an exception that is not a std::exception");
    }
  }
  std::string hook_context(const char* name) const;
  // Runs body (policy hooks); false when a signal stopped an action in it before the action booked
  // anything (its offline salience or SWIM's curvature pass, which take up to a minute: the run
  // waited for them). The action is abandoned; the caller releases the array and stops.
  template <class F>
  bool stoppable(F&& body) {
    try {
      body();
      return true;
    } catch (const Stopped&) {
      if (!m_c.interrupted) throw;  // only a signal stops a computation
      return false;
    }
  }
  std::string m_policy_label;  // controller.policy "name" (plug-in libX.so)
  std::vector<std::string> m_caps;
  const RunContext& m_c;
  hw::Accelerator& m_acc;
  std::unique_ptr<Policy> m_policy;
  Agenda& m_agenda;
  Recorder& m_rec;
  ChipLane& m_rt;
  bool m_acting = false;
  Monitor& m_mon;
  hw::RandomStream m_rng;
  actions::Learning m_learning;
  int m_id = -1;
  int64_t m_probe_cycles = 0, m_cpi = 1, m_probes = 0;
  int64_t m_calibrations = 0, m_remaps = 0, m_overhead_cycles = 0, m_timers = 0, m_trigger_count = 0;
  std::map<std::string, int64_t> m_cycles_by;
  uint64_t m_read_draws = 0;
  std::vector<std::vector<double>> m_gdc_ref;
  actions::SwimSelection m_swim;
};

}  // namespace ptc::sim
