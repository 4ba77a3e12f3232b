// ELight's optical PCM transmission levels, logarithmic weight quantiser and write counting
// (Zhu et al., ELight, ASP-DAC 2022; docs/devices.md §3; zhuhanqing/ELight `ops/utils.py`,
// `reorder.py: analyze_wt`).
//
// Levels: T_j = beta^j, j = 0 .. L-1, beta = 0.872 (1 - pcm_l, pcm_l = 0.128), L = 2^b = 16 for
// b = 4; level 0 is the highest transmission (largest |w|), level L-1 = T_min the "zero" level.
// One level step is -10 log10(beta) = 0.595 dB of attenuation.
// Signed weights use a differential pair w = w+ - w- (two PTCs). ptcsim stores one *signed level*
// per weight, L_s = sign(w) (L-1 - j) in [-(L-1), L-1]: the used side sits at level j, the unused
// side at the zero level L-1; L_s = 0 for a zero weight (both sides at L-1), as in ELight's
// `analyze_wt`.
//
// Contract: pure functions of their arguments; bad input (spec out of range, non-finite weight,
// level out of range, size mismatch) throws ptc::Error naming the argument and index.
#pragma once

#include <cstdint>
#include <vector>

namespace ptc::hw {

// How the cells of one block are written (ELight's write count, docs/devices.md §3: all PCMs of
// all PTCs, and the positive and negative arrays, program in parallel; latency = max over cells of
// the per-cell time).
enum class PcmWriteSchedule {
  parallel_cells,  // block time = max over devices of the per-device time (ELight)
  serial_cells,    // block time = sum over devices (one write driver) [alternative, not in ELight]
};

struct PcmLevelSpec {
  int levels = 16;      // L = 2^b, b = 4 (ELight configs/cifar10/vgg/*.yml)
  double beta = 0.872;  // 1 - pcm_l, pcm_l = 0.128 (ELight ops/utils.py)
  // Per level step, by direction of the transmission change (ELight reorder.py: analyze_wt).
  // "up" = Low->High transmission (towards larger |w|, amorphisation [derived]),
  // "down" = High->Low (crystallisation [derived]).
  double t_up_s = 0.5e-6;   // 0.5 us (ELight)
  double t_down_s = 20e-6;  // 20 us (ELight)
  // ELight charges 9 (up) and 40 (down) unitless energy units per step. Absolute energy
  // [assumption, derived]: one step = 0.5948 dB x 1.0 nJ/dB (GST optical write, Light Sci. Appl.
  // 2023 Table 1; docs/converters_energy.md §5) = 0.595 nJ for "up"; "down" keeps ELight's ratio 40/9.
  double e_up_j = 0.5948e-9;
  double e_down_j = 0.5948e-9 * 40.0 / 9.0;
  PcmWriteSchedule schedule = PcmWriteSchedule::parallel_cells;

  int zero_level() const { return levels - 1; }
  double t_min() const;    // beta^(L-1): 0.128 for the defaults
  double step_db() const;  // -10 log10(beta)
  void validate() const;   // levels >= 2, 0 < beta < 1, times/energies finite and >= 0
};

// T_level = beta^level, level in [0, L-1].
double transmission(const PcmLevelSpec& spec, int level);

// ELight's log quantiser on a normalised magnitude a = |w~| (w~ = tanh(w)/max|tanh(w)|, a in [0, 1];
// the sign is ignored): u = a (1 - T_min) + T_min, level = whichever of floor(log_beta u),
// ceil(log_beta u) minimises |u - beta^level| (exact ties go to the floor, the higher transmission:
// ptcsim's choice), clamped to [0, L-1]. Level boundaries: u = (beta^j + beta^(j+1)) / 2.
int level_of(const PcmLevelSpec& spec, double a);
// sign(w) (L-1 - level_of(|w|)); 0 for w = 0.
int signed_level_of(const PcmLevelSpec& spec, double w_norm);
// Dequantised normalised weight of a signed level: sign (beta^j - T_min) / (1 - T_min),
// j = L-1 - |L_s| (ELight's w^ before its scale alpha).
double level_weight(const PcmLevelSpec& spec, int signed_level);

struct QuantizedBlock {
  std::vector<int> levels;  // signed levels, one per weight
  double tanh_max = 0;      // max |tanh(w)| over the block (0 for an all-zero block: all levels 0)
};
// Steps 1-3 of ELight's quantiser over n weights: w~ = tanh(w)/max|tanh(w)|, then signed_level_of.
QuantizedBlock quantize_block(const PcmLevelSpec& spec, const float* w, int64_t n);

struct PcmWriteCost {
  int64_t writes = 0;          // level steps (programming pulses), sum over both arrays = sum |dL_s|
  int64_t up_steps = 0;        // Low->High steps
  int64_t down_steps = 0;      // High->Low steps
  int64_t max_cell_steps = 0;  // most steps any one cell (pair) took in this write
  double time_s = 0;           // by spec.schedule
  double energy_j = 0;         // up_steps e_up + down_steps e_down
  // Writes one after another (blocks streamed onto the same PTC, ELight: sum over j):
  // counts, time and energy add; max_cell_steps takes the max.
  PcmWriteCost& operator+=(const PcmWriteCost& o);
};

// Cost of reprogramming a block from old to new signed levels (same size). Each array is charged
// for its own change (the positive array moves between max(L_s, 0) steps above zero, the negative
// array between max(-L_s, 0)); a device's time is its steps times t_up or t_down. ELight's
// original charges the negative array's Low->High branch with the positive array's difference;
// this implements the intended rule (docs/devices.md §3).
PcmWriteCost write_cost(const PcmLevelSpec& spec, const std::vector<int>& old_levels, const std::vector<int>& new_levels);

}  // namespace ptc::hw
