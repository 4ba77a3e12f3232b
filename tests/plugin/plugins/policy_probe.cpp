// A policy plug-in that uses the controller's actions itself: at every timer (every `every_requests`
// requests) it probes the array (Actions::probe) and, with `fraction` > 0, runs one calibration step
// over that fraction of the chunks with chunk selection `mask` (Actions::calibrate). Its probes
// must be counted with the monitor's (summary.json probes = the probe events), and a calibration
// spec out of range (fraction 5, mask "bogus") must be refused, naming the field, not charged.
#include <memory>
#include <string>

#include "sim/policy/policy.h"

namespace {
using ptc::sim::Actions;
using ptc::sim::CalibrationSpec;
using ptc::sim::Params;
using ptc::sim::Policy;

class ProbeAndCalibrate : public Policy {
 public:
  explicit ProbeAndCalibrate(Params& p) : m_every(p.integer("every_requests")) {
    m_spec.fraction = p.num("fraction");
    m_spec.mask = p.str("mask");
    m_spec.salience = "magnitude";  // needs no training set
    m_spec.steps = 1;
  }
  int64_t timer_interval_requests() const override { return m_every; }
  void on_timer(Actions& a) override {
    a.probe();
    if (m_spec.fraction > 0) a.calibrate(m_spec, "test");
  }

 private:
  int64_t m_every;
  CalibrationSpec m_spec;
};

const ptc::sim::Registrar<Policy> reg{
    {"test_probe_policy",
     "test plug-in: probes (and calibrates) on its timer",
     {{"every_requests", "requests", 50, "timer interval", 1, 1e9},
      {"fraction", "", 0.0, "calibrate this fraction of the chunks after each probe (0: no calibration; not range-checked here)",
       -1e9, 1e9},
      {"mask", "", "uniform", "chunk selection passed as is (not checked here)"}},
     [](Params& p) { return std::make_unique<ProbeAndCalibrate>(p); }}};
}  // namespace
