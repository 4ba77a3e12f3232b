// `budgeted_recalibration`: an example out-of-tree ptcsim policy (tools/plugin_template).
// DOCTOR-style salience-aware sparse calibration (Lu, Banerjee, Gu, JLT 2024; docs/doctor.md §5) on
// monitor triggers, under a calibration budget: at most `max_per_hour` calibrations in any
// window of one simulated hour. A trigger that finds the budget spent is logged as a
// `calibration_skipped` event and costs nothing (the device keeps drifting). A data centre
// would use this to bound the downtime and energy that calibration takes from serving.
#include <deque>

#include "sim/policy/policy.h"

namespace {

using ptc::sim::Actions;
using ptc::sim::Json;
using ptc::sim::Params;
using ptc::sim::Policy;

constexpr double kHour_s = 3600.0;

class BudgetedRecalibration : public Policy {
 public:
  explicit BudgetedRecalibration(Params& p) : m_max_per_hour(p.integer("max_per_hour")) {
    m_cal.fraction = p.num("sparsity");
    m_cal.steps = p.integer("steps");
    m_cal.lr = p.num("lr");
    m_cal.mask = "is";  // importance sampling by first-order salience, as DOCTOR
    m_cal.salience = "first_grad";
  }

  // The controller's monitor (temperature test, then read-back probe) decides when to act.
  bool uses_monitor() const override { return true; }
  // What it uses, checked before the run (sim/policy/policy.h): the training split for the salience
  // of its importance-sampled chunks, and read-backs of the effective weights for the regression
  // (refused on a device whose read-backs do not show its errors, such as the RNS core).
  std::vector<std::string> capabilities_needed() const override { return {"training_set", "weight_readback"}; }

  void on_trigger(Actions& a, const std::string& reason) override {
    const double now_s = a.now_s();
    while (!m_done_s.empty() && m_done_s.front() <= now_s - kHour_s) m_done_s.pop_front();
    if (static_cast<int64_t>(m_done_s.size()) >= m_max_per_hour) {
      // Budget spent: the earliest calibration in the window frees a slot one hour after it ran.
      a.log_event("calibration_skipped",
                  {{"reason", reason},
                   {"max_per_hour", m_max_per_hour},
                   {"budget_free_at_s", m_done_s.empty() ? Json(nullptr) : Json(m_done_s.front() + kHour_s)}});
      return;
    }
    m_done_s.push_back(now_s);
    a.calibrate(m_cal, reason);  // charged by the controller: time, energy, writes, cycles
    a.record_temperature();      // the monitor's temperature test restarts from here
  }

 private:
  int64_t m_max_per_hour;
  ptc::sim::CalibrationSpec m_cal;
  std::deque<double> m_done_s;  // simulated instants of the calibrations in the last hour
};

// One static registrar: name, description, declared parameters (name, unit, default,
// description, range), factory. ptcsim validates controller.policy against these declarations.
const ptc::sim::Registrar<Policy> reg{
    {"budgeted_recalibration",
     "example plug-in: DOCTOR sparse calibration on monitor triggers, at most max_per_hour calibrations per simulated hour",
     {{"max_per_hour", "calibrations/h", 4, "calibration budget in any one-hour window of simulated time (0 = never)", 0, 1e6},
      {"sparsity", "", 0.2, "beta: fraction of each layer's chunks calibrated per step", 1e-6, 1},
      {"steps", "steps", 20, "regression steps per calibration", 1, 100000},
      {"lr", "", 2e-3, "Adam learning rate (cosine-annealed to half)", 0, 1}},
     [](Params& p) { return std::make_unique<BudgetedRecalibration>(p); }}};

}  // namespace
