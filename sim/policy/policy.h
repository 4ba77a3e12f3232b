// Controller policy interface (docs/architecture.md §4).
// Contract:
// - A policy is one class overriding only the hooks it needs (all default to doing nothing) and
//   registered by name with its parameters in one static Registrar in its own source file
//   (sim/policy/impl/). The scenario selects it at controller.policy.name.
// - Hooks run inside the simulation (an SC_THREAD) at the instant they name; every action is
//   executed by the controller through `Actions`, which charges its time (the accelerator is
//   busy, so queued requests wait), energy, writes and cycles, advances DOCTOR's noise steps by
//   the inferences' worth of cycles, and logs an event. A policy never touches devices directly.
// - uses_monitor(): the monitor (sim/monitor.h) runs its checks (temperature test, probe
//   test) and calls on_trigger() only for policies that return true.
// - Policies must be deterministic: randomness only from Actions::rng().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hw/device/technology.h"
#include "hw/physics/rng.h"
#include "models/error.h"
#include "sim/params.h"

namespace ptc::hw {
class Accelerator;
}

namespace ptc::sim {

// aihwkit global drift compensation (docs/pcm_drift_compensation.md §2): one alpha per layer,
// per conductance-scaling tile or per output column of each tile; the reference readout with the
// read noise of its instant (ptcsim's original) or without it (aihwkit's).
struct DriftCompensationSpec {
  std::string granularity = "per_layer";  // "per_layer", "per_tile", "per_column"
  bool noiseless_reference = false;
};

// DOCTOR's salience-aware sparse calibration (docs/doctor.md §5).
struct CalibrationSpec {
  double fraction = 0.2;                // beta: fraction of each layer's chunks per step
  std::string mask = "is";              // "is" (importance sampling), "topk", "uniform", "all"
  std::string salience = "first_grad";  // "first_grad" |g|, "second_grad" |h|, "magnitude" |W|
  int64_t steps = 20;                   // at most this many regression steps
  double lr = 2e-3;                     // Adam, cosine-annealed to lr_final_ratio * lr
  std::string lr_scale = "absolute";    // "block": step of block b x max|W*_b| / mean over blocks
  double lr_final_ratio = 0.5;
  double stop_threshold = 0.0015;  // stop when the masked MAE falls below
  int64_t average_times = 1;       // m: noisy read-backs averaged per step
};

struct CalibrationResult {
  int64_t steps = 0, cycles = 0, writes = 0;
  double loss_first = 0, loss_last = 0;
};

// DOCTOR's variation-aware tile remapping (docs/doctor.md §6).
struct RemapSpec {
  std::string cost = "first_grad";  // "first_grad" |g^T e|, "second_grad" + 0.5 sum h e^2, "none" ||e||_1
};

// DOCTOR's on-chip training baseline (docs/doctor.md §7).
struct OnchipTrainingSpec {
  int64_t batches = 32, batch_size = 32;
  double lr = 2e-4;
  double charged_inferences = 3000;  // cycles charged per event, in inferences
  int64_t steps_per_sample = 3;      // noise advance: forward + 2 backward passes per sample
  // exact: float back-propagation through the effective weights (DOCTOR's baseline); chip: the
  // forward, input-gradient and weight-gradient products on the chip's arithmetic (Mirage;
  // docs/onchip_training.md §2)
  std::string arithmetic = "exact";
};

// SWIM's selective write-verify (Yan, Hu, Shi, DAC 2022; docs/swim.md): the global top fraction of
// the weights by a score is write-verified.
struct WriteVerifySpec {
  std::string metric = "swim";  // score: swim, swim_code, second, saliency, magnitude, random
  double fraction = 0.1;        // p: fraction of all mapped weights verified (global top-p)
  double alpha = 1e6;           // swim score alpha |h| max|W| + |w|
  bool reselect = false;        // score again at the current (drifted) weights, else keep the first selection
  double tolerance = 0.02;      // accepted |read - target| (fraction of the weight's full scale)
  int64_t max_iterations = 20;  // re-writes per weight at most
  int64_t reads = 1;            // read-backs averaged per verification read
};

// Metrics scored from SWIM's curvature pass (the training split and the model's curvature rules).
inline bool swim_needs_curvature(const std::string& metric) {
  return metric != "magnitude" && metric != "random";
}

struct WriteVerifyResult {
  int64_t selected = 0, reads = 0, writes = 0, unconverged = 0;
  double time_s = 0;
};

// Row-based remapping of worn rows to spare rows (ELight TCAD 2022; docs/elight.md §6): one check.
struct RowRemapResult {
  int64_t remapped = 0;    // logical rows moved to a spare row
  int64_t unrepaired = 0;  // logical rows worn (>= threshold worn cells in use) with no spare left in their core
  int64_t cycles = 0;      // array cycles charged
};

// What a policy can observe and do. Implemented by the controller.
class Actions {
 public:
  virtual ~Actions() = default;
  virtual double now_s() const = 0;
  virtual int64_t requests() const = 0;    // served so far
  virtual int64_t step() const = 0;        // DOCTOR noise step now
  virtual std::string device() const = 0;  // "mrr", "pcm"
  virtual const hw::RandomStream& rng() const = 0;
  // Free temperature sensor: hotspot-weighted mean rise since the last record_temperature() (K).
  virtual double temperature_rise_k() = 0;
  virtual void record_temperature() = 0;
  // One noisy read-back of every block (k identity probes per chunk): pooled relative L1 error
  // ||W~ - W*||_1 / ||W*||_1. Charged, and counted with the monitor's probes (summary.json probes).
  // Throws on a device with its own arithmetic (tag own_gemm: its read-backs do not show its errors).
  virtual double probe() = 0;
  // Program the deployed weights W* again (PCM: fresh cells, drift restarts; MRR: latent weights
  // reset and rings re-locked at the current temperature). Charged.
  virtual void reprogram_all(const std::string& reason) = 0;
  // DOCTOR's read-back regression (docs/doctor.md §5; declare capability "weight_readback"). The
  // spec is checked as the doctor policy's parameters are: a field out of range or an unknown mask,
  // salience or lr_scale throws, naming the field; so does a device with its own arithmetic.
  virtual CalibrationResult calibrate(const CalibrationSpec& spec, const std::string& reason) = 0;
  // DOCTOR's tile remapping (declare capability "remap"); an unknown RemapSpec.cost throws.
  virtual void remap(const RemapSpec& spec, const std::string& reason) = 0;
  virtual void train_onchip(const OnchipTrainingSpec& spec) = 0;
  // aihwkit global drift compensation: one-hot readout of every layer through the full noisy path;
  // `reference` true stores the reference, false sets alpha = reference / current. Charged.
  virtual void compensate_drift(bool reference, const DriftCompensationSpec& spec) = 0;
  // SWIM: select the weights (offline scores on the training split), then write-verify them on the
  // chip now. Charged (read-backs and re-writes, hw/accelerator.h Accelerator::verify).
  virtual WriteVerifyResult write_verify(const WriteVerifySpec& spec, const std::string& reason) = 0;
  // Row-based remapping (streaming mapping with cell endurance): every logical row with at least
  // `threshold` worn cells in use moves to a free spare row of its core. Charged when rows move.
  virtual RowRemapResult remap_worn_rows(int64_t threshold) = 0;
  virtual void log_event(const std::string& type, const Json& fields) = 0;
  // The device's own event counters, cumulative (hw::Technology::counters; RNS: rns_words,
  // rns_detected, ...); free to read (the decoder counts them). Empty for most devices.
  virtual std::vector<std::pair<std::string, int64_t>> device_counters() const { return {}; }
  // Per-ring decoder observations (hw::Technology::ring_observations: RNS corrected residues
  // located on their rings, reads per ring), cumulative, [cores, k, k]; free. Empty for most devices.
  virtual hw::RingObservations ring_observations() const { return {}; }
  // Re-calibrates only the rings marked non-zero ([cores, k, k]): the chunks on their cores are
  // probed, the rings re-tuned against the temperature now. Charged like reprogram_all per chunk.
  virtual void recalibrate_rings(const std::vector<char>& /*rings*/, const std::string& /*reason*/) {
    throw Error("recalibrate_rings is not available here");
  }
};

class Policy {
 public:
  virtual ~Policy() = default;
  // uses_monitor() and timer_interval_s() are also asked of a fresh instance, before on_start, by
  // validate's checks (a monitor that can fire; the timer's 1 ns floor and 1e8 wake-ups): they must
  // answer from the parameters alone, without state that on_start sets (the controller checks the
  // floor again after on_start).
  virtual bool uses_monitor() const { return false; }
  // Timer period (0 = none), in simulated seconds or served requests.
  virtual double timer_interval_s() const { return 0; }
  virtual int64_t timer_interval_requests() const { return 0; }
  virtual void on_start(Actions&) {}
  virtual void on_trigger(Actions&, const std::string& /*reason*/) {}
  virtual void on_timer(Actions&) {}
  // Called at the completion instant of every served batch (back_to_back: every request), with
  // the index of the batch's last request, for policies that return true from
  // observes_requests() (the runtime then stops at every completion, which costs speed).
  virtual bool observes_requests() const { return false; }
  virtual void on_request_done(Actions&, int64_t /*request*/) {}
  // Before a scheduled accuracy evaluation (aihwkit: compensation runs at every drift(t) call).
  virtual void on_evaluation(Actions&) {}
  // Contract: the capabilities this policy, as configured, will use, decided from its parameters
  // alone and checked by preflight() (sim/scenario.h) before the first event: "remap"
  // (Actions::remap: a device with tile remapping and the cyclic mapping), "training_set"
  // (salience or on-chip training: the dataset's training split and model gradients; the run
  // reads its first controller.salience.images images), "training_split" (Actions::train_onchip:
  // its batches cycle through the whole training split, so all of it is read; implies training_set),
  // "error_counters" (Actions::device_counters: a device whose decoder counts detected errors),
  // "write_verify" (Actions::write_verify: a device with write-verify), "curvature" (SWIM's
  // curvature pass through the model: its ops must have curvature rules; implies training_set),
  // "digital_gains" (Actions::compensate_drift: digital output gains of an effective-weight data
  // path; not on a device with its own arithmetic), "weight_readback" (Actions::calibrate: DOCTOR's
  // regression on read-backs of the effective weights; not on a device with its own arithmetic,
  // whose errors they do not show), "row_remap" (Actions::remap_worn_rows: the streaming mapping with device cell
  // endurance; the only capability a policy may use under the streaming mapping), "scheduled_evaluations"
  // (the policy, as configured, acts only in on_evaluation after on_start: accuracy.mode "scheduled").
  virtual std::vector<std::string> capabilities_needed() const { return {}; }
};

using PolicyRegistry = Registry<Policy>;

}  // namespace ptc::sim
