// `periodic_full` and `threshold_full`: full recalibration every T, or when the monitor triggers.
// "Full" = every chunk of every layer. action "reprogram" (the default): program the deployed
// weights again -- PCM cells are re-written (drift restarts), MRR rings are re-tuned against the
// current temperature after a full read-back. action "calibrate": DOCTOR's read-back regression
// over all chunks (beta = 1), which also corrects static errors (crosstalk, clipping).
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

std::vector<ParamSpec> common_params() {
  return {{"action",
           "",
           "reprogram",
           "reprogram (re-write / re-tune every device) or calibrate (read-back regression over all chunks)",
           -1e300,
           1e300,
           {"reprogram", "calibrate"}},
          {"steps", "steps", 20, "regression steps of a full calibration", 1, 100000},
          {"lr", "", 2e-3, "Adam learning rate of the regression", 0, 1},
          {"stop_threshold", "", 0.0015, "stop when the MAE falls below", 0, 1e9}};
}

struct FullAction {
  std::string action;
  CalibrationSpec spec;
  explicit FullAction(Params& p) {
    action = p.str("action");
    spec.fraction = 1.0;
    spec.mask = "all";
    spec.steps = p.integer("steps");
    spec.lr = p.num("lr");
    spec.stop_threshold = p.num("stop_threshold");
  }
  // The calibration regresses read-backs of the effective weights (docs/doctor.md §5).
  std::vector<std::string> capabilities() const {
    return action == "calibrate" ? std::vector<std::string>{"weight_readback"} : std::vector<std::string>{};
  }
  void run(Actions& a, const std::string& reason) const {
    if (action == "reprogram")
      a.reprogram_all(reason);
    else
      a.calibrate(spec, reason);
    a.record_temperature();
  }
};

class PeriodicFull : public Policy {
 public:
  explicit PeriodicFull(Params& p) : m_full(p), m_every_s(p.num("interval_s")), m_every_req(p.integer("interval_requests")) {
    if ((m_every_s > 0) == (m_every_req > 0))
      throw Error(p.path() + ": set exactly one of interval_s and interval_requests (> 0)");
  }
  double timer_interval_s() const override { return m_every_s; }
  int64_t timer_interval_requests() const override { return m_every_req; }
  std::vector<std::string> capabilities_needed() const override { return m_full.capabilities(); }
  void on_timer(Actions& a) override { m_full.run(a, "periodic"); }

 private:
  FullAction m_full;
  double m_every_s;
  int64_t m_every_req;
};

class ThresholdFull : public Policy {
 public:
  explicit ThresholdFull(Params& p) : m_full(p) {}
  bool uses_monitor() const override { return true; }
  std::vector<std::string> capabilities_needed() const override { return m_full.capabilities(); }
  void on_trigger(Actions& a, const std::string& reason) override { m_full.run(a, reason); }

 private:
  FullAction m_full;
};

std::vector<ParamSpec> periodic_params() {
  auto v = common_params();
  v.push_back({"interval_s", "s", 0.0, "recalibrate every this many simulated seconds (0 = off)", 0, 1e12});
  v.push_back({"interval_requests", "requests", 0, "recalibrate every this many served requests (0 = off)", 0, 1e15});
  return v;
}

const Registrar<Policy> reg_periodic{{"periodic_full", "full recalibration / re-programming every interval", periodic_params(),
                                      [](Params& p) { return std::make_unique<PeriodicFull>(p); }}};
const Registrar<Policy> reg_threshold{{"threshold_full", "full recalibration / re-programming when the monitor triggers",
                                       common_params(), [](Params& p) { return std::make_unique<ThresholdFull>(p); }}};

}  // namespace
}  // namespace ptc::sim
