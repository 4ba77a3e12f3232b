// `swim`: SWIM's selective write-verify (Yan, Hu, Shi, "SWIM: Selective Write-Verify for
// Computing-in-Memory Neural Accelerators", DAC 2022; docs/swim.md §3). At deployment start the
// global top fraction p of the weights by the chosen score is write-verified (the rest keep their
// one-shot programming); when the monitor triggers (and/or every interval_s) the selected set is
// verified again -- or re-selected at the drifted weights first (reselect) -- so drifted weights are
// re-written.
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class Swim : public Policy {
 public:
  explicit Swim(Params& p) : m_monitor(p.flag("on_monitor")), m_every_s(p.num("interval_s")), m_reselect(p.flag("reselect")) {
    m_spec.metric = p.str("metric");
    m_spec.fraction = p.num("fraction");
    m_spec.alpha = p.num("alpha");
    m_spec.tolerance = p.num("tolerance");
    m_spec.max_iterations = p.integer("max_iterations");
    m_spec.reads = p.integer("reads");
  }
  bool uses_monitor() const override { return m_monitor; }
  double timer_interval_s() const override { return m_every_s; }
  void on_start(Actions& a) override {
    WriteVerifySpec s = m_spec;
    s.reselect = false;
    a.write_verify(s, "deployment");
    a.record_temperature();
  }
  void on_trigger(Actions& a, const std::string& reason) override { again(a, reason); }
  void on_timer(Actions& a) override { again(a, "periodic"); }
  std::vector<std::string> capabilities_needed() const override {
    if (swim_needs_curvature(m_spec.metric)) return {"write_verify", "training_set", "curvature"};
    return {"write_verify"};
  }

 private:
  void again(Actions& a, const std::string& reason) {
    WriteVerifySpec s = m_spec;
    s.reselect = m_reselect;
    a.write_verify(s, reason);
    a.record_temperature();
  }
  bool m_monitor;
  double m_every_s;
  bool m_reselect;
  WriteVerifySpec m_spec;
};

const Registrar<Policy> reg{
    {"swim",
     "SWIM selective write-verify: verify the global top-p weights by curvature (or magnitude / random) at deployment, "
     "again on monitor triggers or periodically",
     {{"metric",
       "",
       "swim",
       "selection score (docs/swim.md §2): swim = alpha |h| max|W| + |w| (SWIM), swim_code = |h + 2g| (SWIM's published code), "
       "second = |h|, saliency = |h| w^2, magnitude = |w|, random",
       -1e300,
       1e300,
       {"swim", "swim_code", "second", "saliency", "magnitude", "random"}},
      {"fraction", "", 0.1, "p: fraction of all mapped weights write-verified (global top-p across layers)", 0, 1},
      {"alpha", "", 1e6, "alpha of the swim score (SWIM: 1e6)", 0, 1e30},
      {"tolerance", "", 0.02,
       "pcm, mrr: accepted |read - target| of a weight, fraction of the full conductance range (g_max - g_min; swim_variation: "
       "its own model)",
       0, 1},
      {"max_iterations", "", 20, "pcm, mrr: re-writes per weight at most (swim_variation: device.verify_iterations)", 0, 100000},
      {"reads", "", 1, "pcm, mrr: read-backs averaged per verification read", 1, 1000},
      {"on_monitor", "", true, "verify again when the monitor triggers"},
      {"interval_s", "s", 0.0, "also verify again every this many simulated seconds (0: off)", 0, 1e12},
      {"reselect", "", false, "re-score at the drifted weights before verifying again (else keep the first selection)"}},
     [](Params& p) { return std::make_unique<Swim>(p); }}};

}  // namespace
}  // namespace ptc::sim
