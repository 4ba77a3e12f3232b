// DOCTOR's MRR weight-bank technology (doctor.md sections 2-3): every block is encoded once into
// ring phases and a per-block scale ("TIA gain"); at read time the phases get the noise
// processes in DOCTOR's order -- phase variation, global-temperature shift, thermal crosstalk --
// and the core computes with w = 2 T(phi) - 1 (times the block scale).
// Noise time: set_step(s) fixes DOCTOR's schedule step (1 step = 1 inference) for the following
// realize() calls; each draw gives a fresh phase-variation sample per chunk, as DOCTOR does.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "hw/device/block_realizer.h"
#include "hw/noise/doctor_noise.h"
#include "hw/physics/mrr.h"
#include "models/compiler.h"

namespace ptc::hw {

struct MrrBankConfig {
  MrrRing ring;
  std::optional<PhaseVariationParams> phase_variation;
  std::optional<GlobalTemperatureParams> global_temperature;
  std::optional<CrosstalkParams> crosstalk;
};

class MrrBank : public BlockRealizer {
 public:
  // Programs (encodes) every block of the workload. The workload must outlive this object.
  MrrBank(const models::CompiledWorkload& wl, const MrrBankConfig& cfg, const RandomStream& rng);

  // Noise state for DOCTOR step `step` (not thread-safe; call between batches).
  void set_step(int64_t step);
  int64_t step() const { return m_step; }

  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;

  // Encoded phases [P, Q, k, k] and scales [P, Q] of one layer group (for read-back and tests).
  const std::vector<float>& phases(int64_t layer, int64_t group) const { return m_phase.at(layer).at(group); }
  const std::vector<float>& scales(int64_t layer, int64_t group) const { return m_scale.at(layer).at(group); }

 private:
  const models::CompiledWorkload& m_wl;
  MrrBankConfig m_cfg;
  CoreArray m_array;
  RandomStream m_rng;
  std::vector<std::vector<std::vector<float>>> m_phase, m_scale;  // [layer][group]
  std::unique_ptr<PhaseVariation> m_pv;
  std::unique_ptr<GlobalTemperature> m_gtd;
  std::unique_ptr<ThermalCrosstalk> m_xt;
  int64_t m_step = 0;
  std::vector<float> m_std;     // PV std map at m_step [R, C, k, k] (empty: no PV)
  std::vector<float> m_offset;  // deterministic phase offset at m_step [R, C, k, k]
};

}  // namespace ptc::hw
