// Static device-to-device (fabrication) variation: one fixed offset per device, drawn once for the
// chip's life (docs/noise.md §6):
//   MRR ring d: phase offset   dphi_d   = phase_sigma_rad    * xi_phase(d)      (rad, added to phi)
//               resonance      dlambda_d = resonance_sigma_nm * xi_res(d)       (nm)
//   PCM device d: gain         g_d = max(0, 1 + gain_sigma_rel * xi_gain(d))   (g_eff = g_d * g)
//                 offset       o_d = offset_sigma_rel * xi_off(d)              (fraction of g_max)
// The xi are independent standard normals, one Philox sub-stream per quantity.
// No fabrication or device-to-device spread is published in the sources used (DOCTOR, aihwkit, the
// hardware sources of docs/converters_energy.md §5); every default below is an [assumption] to be
// swept (docs/noise.md §6).
//
// Contract: every offset is a pure function of (seed/stream of the RandomStream, quantity, device
// index): the order or subset of devices asked, and the thread, do not change any value.
// Device index of ring (i, j, x, l) in a CoreArray [R, C, k, k]: ((i C + j) k + x) k + l.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/noise/doctor_noise.h"
#include "hw/physics/rng.h"

namespace ptc::hw {

struct StaticVariationParams {
  // Residual static phase error per ring after trimming [assumption]: the order of DOCTOR's PV
  // noise (mean std ~0.009 rad at x = 0.5 "high", docs/noise.md §2); 0.01 rad ~ 3.5 % of a block's
  // max weight at w = 0 (docs/devices.md §1).
  double phase_sigma_rad = 0.01;
  // Fabrication resonance offset per ring [assumption]: untrimmed offsets are not in the sources
  // used; after heater trimming only the residual phase above remains, so 0 by default.
  double resonance_sigma_nm = 0.0;
  // PCM per-device conductance gain spread [assumption]: the order of aihwkit's programming noise
  // at g_max (sigma_prog = 1.055 uS = 4.2 % of g_max, docs/devices.md §2 table).
  double gain_sigma_rel = 0.04;
  // PCM per-device additive offset, fraction of g_max [assumption]: 0 by default.
  double offset_sigma_rel = 0.0;

  void validate() const;  // every sigma finite and >= 0
};

// Offset maps over a CoreArray, each [R, C, k, k] row-major.
struct StaticOffsetMap {
  std::vector<float> phase_rad, resonance_nm, gain, offset_rel;
};

class StaticVariation {
 public:
  StaticVariation(const StaticVariationParams& p, const RandomStream& rng);

  double phase_offset_rad(uint64_t device) const;
  double resonance_offset_nm(uint64_t device) const;
  double gain(uint64_t device) const;
  double offset_rel(uint64_t device) const;

  StaticOffsetMap offsets(const CoreArray& a) const;
  // phase[d] += dphi_d + dlambda_d * phase_per_nm_rad[l] over an [R, C, k, k] phase map, where
  // phase_per_nm_rad (k entries, one per bank column l) is d phi / d lambda of that column's ring,
  // e.g. mrr_phase_per_kelvin(lambda_l, R_l, 1.0) (0.362 rad/nm at 1553.2 nm, 5.150 um).
  void add_phase_offsets(const CoreArray& a, const std::vector<double>& phase_per_nm_rad, float* phase) const;

  const StaticVariationParams& params() const { return m_p; }

 private:
  StaticVariationParams m_p;
  RandomStream m_phase, m_resonance, m_gain, m_offset;
};

}  // namespace ptc::hw
