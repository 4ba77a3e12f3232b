// `global_drift_compensation`: aihwkit's GlobalDriftCompensation (docs/pcm_drift_compensation.md):
// after programming, a one-hot readout of every layer stores a reference (by default without read
// noise, as aihwkit; `reference: noisy` reads through the full noisy path); before every accuracy evaluation (aihwkit: every
// drift(t) call) the readout is repeated and alpha = reference / current scales the output digitally, one alpha per layer, per
// conductance-scaling tile or per output column of each tile.
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class Gdc : public Policy {
 public:
  explicit Gdc(Params& p) : m_every_s(p.num("interval_s")) {
    m_spec.granularity = p.str("granularity");
    m_spec.noiseless_reference = p.str("reference") == "noiseless";
  }
  double timer_interval_s() const override { return m_every_s; }
  // The alphas scale the digital outputs of an effective-weight data path.
  // Without a timer it acts only before scheduled evaluations: in served mode it would take its
  // reference after programming and never act again.
  std::vector<std::string> capabilities_needed() const override {
    if (m_every_s > 0) return {"digital_gains"};
    return {"digital_gains", "scheduled_evaluations"};
  }
  void on_start(Actions& a) override { a.compensate_drift(true, m_spec); }
  void on_evaluation(Actions& a) override { a.compensate_drift(false, m_spec); }
  void on_timer(Actions& a) override { a.compensate_drift(false, m_spec); }

 private:
  double m_every_s;
  DriftCompensationSpec m_spec;
};

const Registrar<Policy> reg{
    {"global_drift_compensation",
     "aihwkit global drift compensation: one-hot readout, digital alpha per layer, tile or column",
     {{"interval_s", "s", 0.0,
       "also re-estimate alpha every this many simulated seconds (0: only before scheduled evaluations, so accuracy.mode "
       "served needs a timer)",
       0, 1e12},
      {"granularity",
       "",
       "per_layer",
       "one alpha per layer (ptcsim's original), per conductance-scaling tile (aihwkit's GlobalDriftCompensation) or per "
       "output column of each tile (aihwkit's PerColumnDriftCompensation)",
       -1e300,
       1e300,
       {"per_layer", "per_tile", "per_column"}},
      {"reference",
       "",
       "noiseless",
       "reference readout after programming: without read noise (noiseless: the programmed conductances, aihwkit's "
       "behaviour and the default) or with the read noise of its instant (noisy, ptcsim's behaviour before issue 18)",
       -1e300,
       1e300,
       {"noisy", "noiseless"}}},
     [](Params& p) { return std::make_unique<Gdc>(p); }}};

}  // namespace
}  // namespace ptc::sim
