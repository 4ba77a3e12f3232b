// Noise and drift processes as behaviour (docs/noise.md §1): a process is an object that acts on
// one trait of a device -- the ring phases of a weight bank, or the chip's temperature -- and a new
// stochastic law is one class implementing this interface (plus, for scenarios, one registration
// file: hw/noise/impl/). No device knows the processes by name; it asks each one for what it does.
//
// Contract:
// - A NoiseProcess is configured once (its parameters) and immutable; bind() makes the per-chip
//   instance (PhaseNoise) on an array with the chip's device random stream, so every chip of a
//   fleet, and every Monte-Carlo instance, draws its own realisation.
// - acts_on() names the device trait the process needs (kRingPhase, kTemperature); a device
//   offers traits (sim/device registry tags) and a scenario that pairs a process with a device
//   lacking its trait is rejected before the run.
// - Ring-phase processes compose in stage() order (ties: scenario order): static offsets, per-read
//   random noise, scheduled offsets, then linear coupling -- DOCTOR's order (docs/noise.md §1).
//   Offsets add; per-read Gaussian noise adds in variance; couplings multiply (phi' = M phi).
// - Every value a PhaseNoise returns is a pure function of (parameters, stream, instant): asking
//   for instants in any order gives the same bits.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hw/device/technology.h"
#include "hw/noise/doctor_noise.h"
#include "hw/noise/thermal_field.h"
#include "hw/physics/rng.h"

namespace ptc::hw {

inline constexpr const char* kRingPhase = "ring_phase";     // MRR phases, [R, C, k, k] rad
inline constexpr const char* kTemperature = "temperature";  // the chip's thermal field (hw::Thermal)

// Composition stages of ring-phase processes.
enum class PhaseStage : int { static_offset = 0, per_read = 1, scheduled_offset = 2, coupling = 3 };

// One chip's realisation of a ring-phase process.
class PhaseNoise {
 public:
  virtual ~PhaseNoise() = default;
  // Deterministic offset (rad) at instant t added into off[rings]; false when the process has none.
  virtual bool add_offset(const NoiseTime& /*t*/, float* /*off*/) const { return false; }
  // Per-ring std (rad) of fresh zero-mean Gaussian noise drawn for every read at step `step`
  // (one draw per chunk of every inference, DOCTOR); nullptr when the process has none at that
  // step. Asked of every bound process whatever its stage() (the noise is added before any
  // coupling); the vector has one finite value >= 0 per ring of the array [R, C, k, k], and must
  // stay valid until the next call.
  virtual const std::vector<float>* read_std(int64_t /*step*/) { return nullptr; }
  // Linear coupling between the rings of one k x k bank (phi' = M phi); nullptr when none.
  virtual const ThermalCrosstalk* coupling() const { return nullptr; }
  // The rings were re-tuned at instant t against the conditions then (a process measured from a
  // reference, e.g. a temperature schedule, re-bases). `rings` null: every ring; otherwise a mask
  // over the array's rings [R, C, k, k]: only the rings marked non-zero were re-tuned (selective
  // re-calibration of RNS channels, docs/rns.md §7), the others keep their reference.
  virtual void relock(const NoiseTime& /*t*/, const std::vector<char>* /*rings*/) {}
  // The hotspot-weighted mean core temperature (K) the process models at `step`; NaN when none.
  virtual double mean_temperature_k(int64_t /*step*/) const { return std::numeric_limits<double>::quiet_NaN(); }
  // Monte-Carlo chip instance k (docs/devices.md §2.4): a process with a persistent per-chip draw
  // (fabrication offsets) redraws it for instance k from its own stream (k = 0: the chip's draw)
  // and returns true; processes without one return false and are unchanged.
  virtual bool select_instance(int64_t /*k*/) { return false; }
};

class NoiseProcess {
 public:
  virtual ~NoiseProcess() = default;
  virtual std::string acts_on() const = 0;  // kRingPhase or kTemperature (or a plug-in's own trait)
  // Ring-phase processes.
  virtual PhaseStage stage() const { return PhaseStage::static_offset; }
  virtual std::unique_ptr<PhaseNoise> bind(const CoreArray& /*array*/, const RandomStream& /*device_rng*/) const {
    return nullptr;
  }
  // Temperature processes: the physical field the accelerator's hw::Thermal module evaluates.
  virtual std::optional<ThermalFieldParams> thermal_field() const { return std::nullopt; }
  // What the process needs beyond its trait: "cyclic_mapping" (follows DOCTOR's chunk schedule).
  virtual std::vector<std::string> needs() const { return {}; }
};

using NoiseList = std::vector<std::shared_ptr<const NoiseProcess>>;

// The ring-phase processes of a device's noise list in composition order: stage order, ties in
// list order, each with its place i in the list (the scenario's noise[i]).
std::vector<std::pair<std::shared_ptr<const NoiseProcess>, size_t>> ring_phase_processes(const NoiseList& noise);
// How a device names the scenario's noise process i in messages: labels[i] when the scenario gave
// it (`noise[i] "name"`, plus its plug-in library), else `noise[i]`.
std::string noise_where(const std::vector<std::string>& labels, size_t i);
// Binds process p (the scenario's noise[i], named `where`) to a device's array. An exception
// from bind() -- a plug-in's own type included -- is one ptc::Error naming the process; a message
// that names the process's JSON path itself (noise[i].x: ...) keeps its words; a null instance is
// an error.
std::unique_ptr<PhaseNoise> bind_phase_noise(const NoiseProcess& p, size_t i, const std::string& where, const CoreArray& array,
                                             const RandomStream& rng);

// The per-ring std (rad) of the per-read noise of a device's bound ring-phase processes at `step`:
// each process's read_std (nullptr: none at this step) added in variance, sigma^2 = sum sigma_i^2.
// `where[i]` names process i in messages (its place in the scenario, "noise[2]"). Returns false,
// with `sd` empty, when no process has per-read noise at the step. Throws ptc::Error naming the
// process when a vector does not have one value per ring or a value is negative or not finite.
bool per_read_std(const std::vector<std::unique_ptr<PhaseNoise>>& procs, const std::vector<std::string>& where, int64_t step,
                  int64_t rings, std::vector<float>& sd);

// ---- the built-in laws (docs/noise.md); registered for scenarios in hw/noise/impl/
// DOCTOR phase variation (§2): drifting per-ring std map, fresh noise per chunk and read.
std::unique_ptr<NoiseProcess> phase_variation_noise(const PhaseVariationParams& p);
// DOCTOR global temperature drift x hotspot map (§3), re-based at every relock.
std::unique_ptr<NoiseProcess> global_temperature_noise(const GlobalTemperatureParams& p);
// Static thermal crosstalk inside each bank (§4).
std::unique_ptr<NoiseProcess> crosstalk_noise(const CrosstalkParams& p);
// Fabrication variation (§6): a fixed per-ring phase offset N(0, sigma^2), drawn from the chip's
// device stream.
std::unique_ptr<NoiseProcess> static_phase_noise(double phase_sigma_rad);
// A given fixed per-ring phase offset map (rad, [R, C, k, k]), e.g. a measured one.
std::unique_ptr<NoiseProcess> fixed_phase_offset(std::vector<float> offset_rad);
// The physical thermal field (§5), evaluated by the hw::Thermal module.
std::unique_ptr<NoiseProcess> thermal_field_noise(const ThermalFieldParams& p);

}  // namespace ptc::hw
