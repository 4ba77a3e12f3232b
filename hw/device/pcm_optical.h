// ELight's block-streamed optical PCM technology (Zhu et al. ASP-DAC 2022; docs/devices.md §3):
// every weight is stored as a signed transmission level of a differential pair of photonic PCM
// cells on the geometric ladder T_j = beta^j, quantised logarithmically after ELight's tanh
// normalisation (hw/physics/pcm_levels.h); re-programming costs one write per level step, with
// asymmetric time and energy per direction, and every cell counts its steps.
// Effective weight of a block right after programming: w0 = atanh(w^ * max|tanh(W)|) with w^ the
// dequantised level (the exact inverse of ELight's normalisation when the level is exact; a
// deployed network not trained with ELight's quantiser keeps its scale). Drift: the transmission
// of both cells of a pair decays as d(t) = ((t_inf + t0)/t0)^-nu_opt from the block's programming
// instant; the optical multiply is linear in transmission, so the realised weight is d(t) w0 (the
// analog value shrinks, the digital block scale stays that of programming, and a drift
// compensation alpha = 1/d undoes it exactly). nu_opt = 0 by default, since optical-transmission
// drift of photonic PCM is not characterised in the sources used (docs/devices.md §3) [assumption].
// Under the streaming mapping (hw/streaming.h) every block is re-programmed on every pass and read
// right after, so no transmission drift accrues (d = 1).
#pragma once

#include <vector>

#include "hw/device/technology.h"
#include "hw/physics/pcm_levels.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"

namespace ptc::hw {

struct PcmOpticalConfig {
  PcmLevelSpec levels;
  double nu_opt = 0.0;  // transmission drift exponent [assumption]
  double t0_s = 20.0;   // drift reference time after programming
  // Endurance (streaming mapping; hw/streaming.h CellWear): median budget of a cell in level steps
  // (0: unlimited) and the log-normal cell-to-cell spread sigma of ln(budget) [assumption: ELight
  // publishes no figure; PCM endurance is quoted over 1e4-1e9 cycles].
  double endurance_steps = 0.0;
  double endurance_sigma = 0.0;
  // Spare rows of k cells per core for row-based remapping (docs/elight.md §6; needs an endurance):
  // their budgets are drawn after the core rows' ones, so these do not change with spare_rows.
  int64_t spare_rows = 0;
};

class PcmOptical : public Technology {
 public:
  // rng: the chip's device stream (endurance budgets).
  PcmOptical(const models::CompiledWorkload& wl, const PcmOpticalConfig& cfg, const RandomStream& rng = RandomStream(0, 0));
  std::string name() const override { return "pcm_optical"; }
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).latent;
  }
  void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) override;
  int64_t writes() const override { return m_cost.writes; }
  double write_time_s() const override { return m_cost.time_s; }
  double write_energy_j() const override { return m_cost.energy_j; }
  bool prices_own_writes() const override { return true; }
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return true; }
  // Cumulative write cost (level steps, up/down, time and energy) since construction.
  const PcmWriteCost& write_cost_total() const { return m_cost; }
  const std::vector<int>& levels(int64_t layer, int64_t group) const { return m_groups.at(layer).at(group).levels; }
  const PcmLevelSpec* level_spec() const override { return &m_cfg.levels; }
  const std::vector<int>& signed_levels(int64_t layer, int64_t group) const override { return levels(layer, group); }
  const std::vector<double>* endurance_budgets() const override { return m_budgets.empty() ? nullptr : &m_budgets; }
  void set_worn_cells(const std::vector<char>& worn) override;

 private:
  struct Group {
    std::vector<float> latent;
    std::vector<int> levels;       // signed level per weight
    std::vector<double> tanh_max;  // per block
    double t_prog_s = 0;
  };
  void quantize(Group& g, int64_t k2);
  double transmission_drift(const Group& g) const;  // ((t_inf + t0)/t0)^-nu_opt, 1 at t_inf = 0
  const models::CompiledWorkload& m_wl;
  PcmOpticalConfig m_cfg;
  std::vector<std::vector<Group>> m_groups;
  PcmWriteCost m_cost;
  double m_t_s = 0;
  std::vector<double> m_budgets;  // per physical cell [cores, k, k], then spare rows [cores, spare_rows, k]; level steps
  std::vector<char> m_worn;       // per physical cell; empty: none worn
};

}  // namespace ptc::hw
