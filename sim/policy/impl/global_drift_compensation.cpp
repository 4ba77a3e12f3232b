// `global_drift_compensation`: aihwkit's GlobalDriftCompensation (docs/pcm_drift_compensation.md):
// after programming, a one-hot readout of every layer through the full noisy path stores a
// reference; before every accuracy evaluation (aihwkit: every drift(t) call) the readout is
// repeated and alpha = reference / current scales the layer's output digitally.
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class Gdc : public Policy {
 public:
  explicit Gdc(Params& p) : m_every_s(p.num("interval_s")) {}
  double timer_interval_s() const override { return m_every_s; }
  void on_start(Actions& a) override { a.compensate_drift(true); }
  void on_evaluation(Actions& a) override { a.compensate_drift(false); }
  void on_timer(Actions& a) override { a.compensate_drift(false); }

 private:
  double m_every_s;
};

const Registrar<Policy> reg{
    {"global_drift_compensation",
     "aihwkit global drift compensation: one-hot readout per layer, digital alpha per layer",
     {{"interval_s", "s", 0.0, "also re-estimate alpha every this many simulated seconds (0: only before evaluations)", 0, 1e12}},
     [](Params& p) { return std::make_unique<Gdc>(p); }}};

}  // namespace
}  // namespace ptc::sim
