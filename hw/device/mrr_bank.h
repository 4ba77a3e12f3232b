// DOCTOR's MRR weight-bank technology (docs/devices.md §1, docs/noise.md §1-§4): every block is
// encoded into ring phases and a per-block scale ("TIA gain"); at read time the phases get the
// ring-phase noise processes (hw/noise/noise_process.h) in their stage order -- static offsets,
// per-read noise (DOCTOR's phase variation), scheduled offsets (global-temperature shift), linear
// coupling (thermal crosstalk) -- and the core computes with w = 2 T(phi) - 1 (times the block
// scale). The bank knows the processes only through that interface.
// Noise time: DOCTOR's schedules are indexed by step (1 step = 1 inference); set_times() gives
// every draw of the next batch its own step, so a batch of served requests reads each request at
// its own instant. Each draw gives a fresh phase-variation sample per chunk, as DOCTOR does.
// Remapping: row-block i of a chunk can be moved to another core row (the tile); the noise of a
// block follows the core it runs on.
// Writes: MRR rings are re-tuned, not worn; a "write" is one ring whose programmed phase changes.
// Tuning (docs/swim.md §6): every write of a ring lands at its set point plus a fresh Gaussian
// tuning error (tuning_sigma_rad; 0 = exact); relock() is an incremental heater adjustment against
// the measured temperature and draws none. Write-verify (verify()) reads the selected rings back at
// the current instant (static offsets, scheduled offsets, crosstalk, per-read noise averaged over
// `reads` reads) and, while a read is outside the tolerance, moves the ring's set point by the
// phase error the read shows (closed loop) and re-writes it (a fresh tuning error); the rings of a
// block re-tune together, one settle per round. Monte-Carlo instances (accuracy.instances) each
// keep their own tuning errors and verify corrections, and the static offsets of processes that
// have per-chip draws (static_phase_variation) are redrawn per instance; every write and verify
// is applied to all instances when it happens.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "hw/device/technology.h"
#include "hw/noise/doctor_noise.h"
#include "hw/noise/noise_process.h"
#include "hw/physics/mrr.h"
#include "models/compiler.h"

namespace ptc::hw {

struct MrrBankConfig {
  MrrRing ring;
  // The ring-phase processes (acts_on() == kRingPhase; others are ignored), each bound to this
  // bank with the bank's random stream. At most one linear coupling.
  NoiseList noise;
  std::vector<std::string> noise_labels;  // how messages name noise[i] (hw::DeviceBuild::noise_labels)
  double tuning_sigma_rad = 0;            // std of each write's tuning error
  int64_t instances = 1;                  // Monte-Carlo chip instances the bank keeps write state for
};

class MrrBank : public Technology {
 public:
  // Programs (encodes) every block of the workload. The workload must outlive this object.
  MrrBank(const models::CompiledWorkload& wl, const MrrBankConfig& cfg, const RandomStream& rng);

  std::string name() const override { return "mrr"; }
  // Noise state for DOCTOR step `step` for every draw (not thread-safe; call between batches).
  void set_step(int64_t step) { set_times(0, {NoiseTime{step, 0.0}}); }
  int64_t step() const { return m_steps.empty() ? 0 : m_steps.front(); }
  void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) override;
  // Re-locks the rings at DOCTOR step `step`: processes measured from a reference re-base
  // (PhaseNoise::relock; the global-temperature shift is measured from T(step) instead of T0 from
  // then on), a full re-tuning against the current temperature.
  // Every programmed weight's ring is re-tuned: returns (and counts) one write per weight.
  int64_t relock(int64_t step) override;
  bool thermally_coupled() const override { return true; }
  // Per-ring temperature deviation (K) -> phase offset dphi/dT of the ring's row (DOCTOR's
  // thermo-optic coefficient per wavelength), applied as the extra offset.
  void set_ring_temperature_k(const std::vector<double>& dt_k) override;
  double schedule_temperature_k(int64_t step) const override;
  // Extra per-ring phase offset (rad) at the current instant, e.g. from a physical thermal field;
  // applied to every draw until changed. Empty clears it.
  void set_extra_offset(const std::vector<float>& offset_rad);

  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override { return m_latent.at(layer).at(group); }
  int64_t writes() const override { return m_writes; }
  VerifyResult verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec,
                      double t_s) override;
  bool select_instance(int64_t k) override;
  bool supports_remap() const override { return true; }
  void set_tile_rows(int64_t layer, int64_t group, int64_t chunk, const std::vector<int>& rows) override;
  std::vector<int> tile_rows(int64_t layer, int64_t group, int64_t chunk) const override;

  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return m_std.empty() && m_offset.size() == 1; }

  // Encoded phases [P, Q, k, k] and scales [P, Q] of one layer group (for read-back and tests).
  const std::vector<float>& phases(int64_t layer, int64_t group) const { return m_phase.at(layer).at(group); }
  const std::vector<float>& scales(int64_t layer, int64_t group) const { return m_scale.at(layer).at(group); }
  const CoreArray& array() const { return m_array; }

 private:
  void encode(int64_t layer, int64_t group);
  void update_xphase(int64_t layer, int64_t group);  // M (phase + tuning error + correction) of the instance
  void update_crossed_offsets();
  // Tuning errors of write op `op` of (layer, group) for instance k: sigma N(0, 1), ring j of
  // iteration `it` is number it * N + j of the op's stream (N: the group's rings).
  RandomStream tune_stream(int64_t k, int64_t layer, int64_t group, uint64_t op) const;
  VerifyResult verify_instance(int64_t k, int64_t layer, int64_t group, const std::vector<uint32_t>& idx, const VerifySpec& spec,
                               uint64_t op);
  void select_offsets(int64_t k);  // the noise processes' per-chip draws of instance k, offsets re-evaluated
  bool has_write_state() const { return m_cfg.tuning_sigma_rad > 0 || m_verified; }

  // Per instance and group: the tuning error of each ring's last write, and the verify correction
  // of its set point (rad, [P, Q, k, k]; empty: all zero).
  struct WriteState {
    std::vector<float> tune, corr;
  };

  // Crosstalk is linear (phi' = M phi), so M is applied once to the deterministic parts -- the
  // programmed phases (m_xphase, per block) and the offsets of each distinct step plus the extra
  // offset (m_xoffset, per core) -- and only M (S n) is left per draw (dense float M^T, m_mt).

  const models::CompiledWorkload& m_wl;
  MrrBankConfig m_cfg;
  CoreArray m_array;
  RandomStream m_rng;
  std::vector<std::vector<std::vector<float>>> m_latent, m_phase, m_scale;        // [layer][group]
  std::vector<std::vector<std::vector<int32_t>>> m_core;                          // [layer][group][block]
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int>> m_tile_rows;  // (layer, group, chunk) -> rows
  std::vector<std::unique_ptr<PhaseNoise>> m_noise;                               // bound ring-phase processes, stage order
  std::vector<std::string> m_noise_where;                                         // how messages name each one (noise[2] "name")
  const ThermalCrosstalk* m_xt = nullptr;                                         // the linear coupling, if any
  int64_t m_writes = 0;
  std::vector<std::vector<std::vector<WriteState>>> m_ws;  // [instance][layer][group]
  std::vector<std::vector<uint64_t>> m_ops;                // [layer][group]: write ops so far (0: deployment)
  int64_t m_instance = 0;
  bool m_verified = false;
  std::vector<NoiseTime> m_times;  // the instants of the last set_times()
  uint64_t m_draw_base = 0;
  std::vector<int64_t> m_steps;              // per draw of the batch
  std::vector<int32_t> m_slot;               // per draw: index into m_std / m_offset
  std::vector<std::vector<float>> m_std;     // per-read noise std per distinct step [R, C, k, k] (empty: none)
  std::vector<std::vector<float>> m_offset;  // deterministic phase offset per distinct step
  std::vector<float> m_extra;
  std::vector<std::vector<std::vector<float>>> m_xphase;  // [layer][group]: M phi_encoded, [P, Q, k, k]
  std::vector<std::vector<float>> m_xoffset;              // per distinct step: M (offset + extra), [R, C, k, k]
  std::vector<float> m_mt;  // M transposed, k^2 x k^2, where a path reads it (k = 8, or > 16 diagonals)
  int m_mt_band = -1;       // k = 8: M couples rings at most this many block rows apart (banded path); -1: dense
  // M by its non-zero diagonals (offset j - i ascending; coefficient [diagonal][ring]) when there
  // are at most 16 of them (empty: banded or dense); m_diag_pad = max |offset|.
  std::vector<int> m_diag_off;
  std::vector<float> m_diag_coef;
  int m_diag_pad = 0;
  std::vector<double> m_dphi_dk;  // thermo-optic phase per kelvin per ring column (lazy)
};

}  // namespace ptc::hw
