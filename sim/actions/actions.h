// The controller's actions (docs/doctor.md §3-§7): plain C++ on the chip, unit-testable without the
// kernel (a test implements Env with a plain clock). The controller runs them for the policy.
// Contract:
// - An action reads the chip at the current noise instant (Env::set_now before each read-back),
//   charges every cycle, settle and write pulse it causes through Env (time, energy, DOCTOR noise
//   advance), counts device writes via Accelerator::program / relock, and logs one event.
// - Randomness only from Env::rng() and the read draws Env::next_draw() hands out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/accelerator.h"
#include "models/gradients.h"
#include "sim/policy/policy.h"
#include "sim/run_context.h"

namespace ptc::sim::actions {

// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1) on a
// flat vector: beta1 0.9, beta2 0.999, eps 1e-8 (PyTorch defaults, as DOCTOR uses).
struct Adam {
  std::vector<double> m, v;
  int64_t t = 0;
  // mult (optional): a step multiplier per block of kk consecutive elements.
  void step(std::vector<float>& w, const std::vector<float>& g, double lr, const std::vector<double>* mult = nullptr,
            size_t kk = 1);
};

// Gradients, salience and training data, computed on first use (offline: they take no
// simulated time; docs/doctor.md §4).
class Learning {
 public:
  explicit Learning(const RunContext& c) : m_c(c) {}
  // The gradient engine and the first `images` training images (0: the whole training split).
  void ensure_gradients(int64_t images);
  // Mean gradient (and Hutchinson Hessian diagonal) over controller.salience.images training
  // images at the deployed weights, in block layout per layer and group.
  void ensure_salience(hw::Accelerator& acc, bool hessian);
  const std::vector<std::vector<std::vector<float>>>& grad_blocks() const { return m_grad_blocks; }
  const std::vector<std::vector<std::vector<float>>>& hess_blocks() const { return m_hess_blocks; }
  models::GradientEngine& engine() { return *m_grad; }
  const models::Dataset& train() const { return *m_train; }
  int64_t next_train_image() { return m_train_next++ % m_train->count; }
  std::vector<std::vector<Adam>>& train_optimisers() { return m_train_opt; }

 private:
  const RunContext& m_c;
  std::unique_ptr<models::GradientEngine> m_grad;
  std::unique_ptr<models::Dataset> m_train;
  bool m_train_all = false;
  int64_t m_train_next = 0;
  std::vector<std::vector<Adam>> m_train_opt;
  std::vector<std::vector<std::vector<float>>> m_grad_blocks, m_hess_blocks;
};

class Env {
 public:
  virtual ~Env() = default;
  virtual hw::Accelerator& chip() = 0;
  virtual const RunContext& ctx() const = 0;
  virtual double now_s() const = 0;
  virtual void set_now() = 0;
  virtual uint64_t next_draw() = 0;
  // Charges `cycles` array cycles and `settles` ring settles as `kind` (time on the array,
  // energy); the noise advances by advance_steps, or floor(cycles / cycles per inference) if < 0.
  // Returns the array time charged (s).
  virtual double charge_cycles(int64_t cycles, int64_t settles, const std::string& kind, int64_t advance_steps = -1) = 0;
  // Occupies the array for the write pulses programmed since the last call; returns that time (s).
  virtual double occupy_writes() = 0;
  // Occupies the array for `settles` ring re-tuning settles (no cycles); returns that time (s).
  virtual double occupy_settles(int64_t settles) = 0;
  virtual void log_event(const std::string& type, const Json& fields) = 0;
  virtual Learning& learning() = 0;
  virtual const hw::RandomStream& rng() const = 0;
  virtual int64_t calibrations() const = 0;  // calibrations done so far (derives streams)
  virtual int64_t probe_cycles() const = 0;  // one identity read-back of every chunk
};

struct RemapResult {
  int64_t cycles = 0, chunks = 0, changed = 0;
};

// Noisy identity read-back of every block: pooled relative L1 error ||W~ - W*||_1 / ||W*||_1.
double probe(Env& e);
// Programs W* again (PCM cells re-written, drift restarts; thermally coupled rings re-tuned
// against the temperature now after a full read-back). Returns device writes.
int64_t reprogram_all(Env& e, const std::string& reason);
// Selective re-calibration of the rings marked in `rings` ([cores, k, k]; RNS channels,
// docs/rns.md §7): the chunks on their cores probed, the rings re-tuned. Charged; returns writes.
int64_t recalibrate_rings(Env& e, const std::vector<char>& rings, const std::string& reason);
CalibrationResult calibrate(Env& e, const CalibrationSpec& spec, const std::string& reason);
RemapResult remap(Env& e, const RemapSpec& spec, const std::string& reason);
// Returns device writes.
int64_t train_onchip(Env& e, const OnchipTrainingSpec& spec);
// aihwkit global drift compensation: reference readout (reference) or alpha = ref / readout per
// layer, tile or tile column (spec), set as the chip's digital output gain (per layer) or block
// gains. `ref` holds the references, [layer][unit].
void compensate_drift(Env& e, bool reference, const DriftCompensationSpec& spec, std::vector<std::vector<double>>& ref);

// Row-based remapping of worn rows to spare rows (docs/elight.md §6): charged k cycles when rows
// move, one "row_remap" event when rows move or the unrepaired count changes.
RowRemapResult remap_worn_rows(Env& e, int64_t threshold);

// SWIM (docs/swim.md §3): the weights selected for write-verify, block layout [layer][group].
struct SwimSelection {
  std::vector<std::vector<std::vector<uint8_t>>> masks;
  int64_t selected = 0, total = 0;  // weights (graph layout, padding excluded)
  bool drifted = false;             // scored at the drifted weights (else at W*)
};
// Scores the weights (at W*, or at one read of the chip now when drifted) and selects the global
// top spec.fraction; curvature metrics run SWIM's curvature pass over controller.salience.images
// training images (offline: no simulated time).
SwimSelection select_weights(Env& e, const WriteVerifySpec& spec, bool drifted);
// Write-verifies the selection (made on first use, again when spec.reselect) at the current time;
// charged (Accelerator::verify), one "write_verify" event.
WriteVerifyResult write_verify(Env& e, const WriteVerifySpec& spec, SwimSelection& sel, const std::string& reason);

}  // namespace ptc::sim::actions
