// `doctor`: DOCTOR (Lu, Banerjee, Gu, JLT 2024; docs/doctor.md §3-§6): on a monitor trigger,
// variation-aware tile remapping followed by salience-aware sparse calibration; the monitor's
// cool-down is configured in the scenario's monitor section.
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class Doctor : public Policy {
 public:
  explicit Doctor(Params& p) {
    m_cal.fraction = p.num("sparsity");
    m_cal.mask = p.str("mask");
    m_cal.salience = p.str("salience");
    m_cal.steps = p.integer("steps");
    m_cal.lr = p.num("lr");
    m_cal.lr_scale = p.str("lr_scale");
    m_cal.stop_threshold = p.num("stop_threshold");
    m_cal.average_times = p.integer("average_times");
    m_remap_on = p.flag("remap");
    m_remap.cost = p.str("remap_cost");
    m_calib_on = p.flag("calibrate");
    if (!m_remap_on && !m_calib_on) throw Error(p.path() + ": remap and calibrate cannot both be false (use policy none)");
  }
  bool uses_monitor() const override { return true; }
  std::vector<std::string> capabilities_needed() const override {
    std::vector<std::string> v;
    if (m_remap_on) v.push_back("remap");  // the remap cost reads the offline salience, whatever its kind
    const bool all_chunks = m_cal.mask == "all" || m_cal.fraction >= 1;
    if (m_remap_on || (m_calib_on && !all_chunks && m_cal.salience != "magnitude")) v.push_back("training_set");
    if (m_calib_on) v.push_back("weight_readback");
    return v;
  }
  void on_trigger(Actions& a, const std::string& reason) override {
    if (m_remap_on) a.remap(m_remap, reason);
    if (m_calib_on) a.calibrate(m_cal, reason);
    a.record_temperature();
  }

 private:
  CalibrationSpec m_cal;
  RemapSpec m_remap;
  bool m_remap_on = true, m_calib_on = true;
};

const Registrar<Policy> reg{
    {"doctor",
     "DOCTOR: variation-aware tile remapping + salience-aware sparse calibration on monitor triggers",
     {{"sparsity", "", 0.2, "beta: fraction of each layer's chunks calibrated per step", 1e-6, 1},
      {"mask",
       "",
       "is",
       "chunk selection: is (importance sampling by salience), topk, uniform, all",
       -1e300,
       1e300,
       {"is", "topk", "uniform", "all"}},
      {"salience",
       "",
       "first_grad",
       "first_grad |g|, second_grad |h| (Hutchinson), magnitude |W|",
       -1e300,
       1e300,
       {"first_grad", "second_grad", "magnitude"}},
      {"steps", "steps", 20, "calibration steps per trigger (DOCTOR main: 20)", 1, 100000},
      {"lr", "", 2e-3, "Adam learning rate (cosine-annealed to half)", 0, 1},
      {"lr_scale",
       "",
       "absolute",
       "absolute: every latent weight steps by ~lr (DOCTOR); block: block b steps by lr x max|W*_b| / mean_b max|W*_b| "
       "(errors that scale with a block's gain, e.g. a common thermal offset, are corrected at the same relative rate)",
       -1e300,
       1e300,
       {"absolute", "block"}},
      {"stop_threshold", "", 0.0015, "stop when the masked MAE falls below", 0, 1e9},
      {"average_times", "", 1, "m: noisy read-backs averaged per step", 1, 1000},
      {"remap", "", true, "run tile remapping before calibration"},
      {"remap_cost",
       "",
       "first_grad",
       "remap cost: first_grad, second_grad, none (L1)",
       -1e300,
       1e300,
       {"first_grad", "second_grad", "none"}},
      {"calibrate", "", true, "run sparse calibration"}},
     [](Params& p) { return std::make_unique<Doctor>(p); }}};

}  // namespace
}  // namespace ptc::sim
