// `onchip_training`: DOCTOR's on-chip training baseline (docs/doctor.md §7): every N inferences,
// back-propagation through the noisy model on a slice of the training set (STE, Adam), charged
// as 3 inferences per training sample. arithmetic = chip runs the three products of every batch
// on the chip's own arithmetic (Mirage's RNS training, docs/onchip_training.md §2).
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class OnchipTraining : public Policy {
 public:
  explicit OnchipTraining(Params& p) : m_every(p.integer("interval_requests")) {
    m_spec.batches = p.integer("batches");
    m_spec.batch_size = p.integer("batch_size");
    m_spec.lr = p.num("lr");
    m_spec.charged_inferences = p.num("charged_inferences");
    m_spec.steps_per_sample = p.integer("steps_per_sample");
    m_spec.arithmetic = p.str("arithmetic");
  }
  int64_t timer_interval_requests() const override { return m_every; }
  // Back-propagation runs through the device's effective weights (Technology::realize); on the
  // chip's arithmetic, through its data path and backward products (docs/onchip_training.md §2).
  // Its batches cycle through the whole training split ("training_split").
  std::vector<std::string> capabilities_needed() const override {
    if (m_spec.arithmetic == "chip") return {"training_set", "training_split", "chip_training"};
    return {"training_set", "training_split", "effective_weights"};
  }
  void on_timer(Actions& a) override { a.train_onchip(m_spec); }

 private:
  int64_t m_every;
  OnchipTrainingSpec m_spec;
};

const Registrar<Policy> reg{
    {"onchip_training",
     "DOCTOR's on-chip training baseline: periodic back-propagation through the noisy hardware",
     {{"interval_requests", "requests", 500, "train every this many served inferences", 1, 1e15},
      {"batches", "batches", 32, "training batches per event (DOCTOR: 32, 1/60 of FMNIST)", 1, 1e6},
      {"batch_size", "images", 32, "images per batch", 1, 4096},
      {"lr", "", 2e-4, "Adam learning rate", 0, 1},
      {"charged_inferences", "inferences", 3000, "cycles charged per event, in inferences (DOCTOR: 3 x 60000/60)", 0, 1e12},
      {"steps_per_sample", "steps", 3, "noise steps advanced per training sample (forward + 2 backward)", 0, 100},
      {"arithmetic",
       "",
       "exact",
       "exact = float back-propagation through the effective weights (DOCTOR); chip = forward, input- and weight-gradient "
       "products on the chip (rns: BFP + RRNS words; analog: the DAC/ADC), docs/onchip_training.md §2",
       -1e300,
       1e300,
       {"exact", "chip"}}},
     [](Params& p) { return std::make_unique<OnchipTraining>(p); }}};

}  // namespace
}  // namespace ptc::sim
