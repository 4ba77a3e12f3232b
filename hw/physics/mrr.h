// Microring (MRR) weight-bank physics as in DOCTOR (Lu et al. JLT 2024; docs/devices.md §1;
// pytorch-onn mrr_op).
// All-pass ring with round-trip attenuation a and self-coupling r:
//   T(phi) = (a^2 + r^2 - 2 a r cos phi) / (1 + a^2 r^2 - 2 a r cos phi),  phi = 0 on resonance,
//   weight (balanced detection) w = 2 T - 1, per-block scale S = max|W| / weight_scale.
// Plain C++ (no SystemC); units in names.
#pragma once

#include <cstdint>

namespace ptc::hw {

struct MrrRing {
  double a = 0.865;  // round-trip amplitude attenuation (DOCTOR MRRConfig_5um_LQ)
  double r = 0.87;   // self-coupling (DOCTOR MRRConfig_5um_LQ)
};

double mrr_transmission(const MrrRing& ring, double phase_rad);
// w = 2 T(phi) - 1.
double mrr_weight(const MrrRing& ring, double phase_rad);
// min(|2 Tmin - 1|, |2 Tmax - 1|) over phi in [-2 pi, 2 pi] (0.9601 for DOCTOR's ring).
double mrr_weight_scale(const MrrRing& ring);
// Realisable normalised weights [2 T(0) - 1, 2 T(pi/2) - 1] = [-0.9992, +0.9218] for DOCTOR's ring.
double mrr_min_weight(const MrrRing& ring);
double mrr_max_weight(const MrrRing& ring);
// Inverse encoding for a normalised weight w/S: t = (w + 1)/2,
// cos phi = (a^2 + r^2 - t (1 + a^2 r^2)) / (2 a r (1 - t)) clamped to [0, 1]; phi in [0, pi/2].
double mrr_phase_for_weight(const MrrRing& ring, double w_norm);
// d w / d phi at phase phi (analytic).
double mrr_weight_slope(const MrrRing& ring, double phase_rad);

// Encodes a block of n weights: scale_out = max|w| / weight_scale (0 for an all-zero block, whose
// rings are then set to the phase of w = 0), phase_out[i] = mrr_phase_for_weight(w[i]/scale).
void mrr_encode_block(const MrrRing& ring, const float* w, int64_t n, float* phase_out, float& scale_out);

// Thermo-optic round-trip phase shift per kelvin (DOCTOR's chain, docs/noise.md §3):
//   d lambda = dlambda_dT * dT;  d n_eff = d lambda * n_g / lambda;  d phi = 2 pi d n_eff (2 pi R) / lambda.
double mrr_phase_per_kelvin(double lambda_nm, double radius_um, double dlambda_dt_nm_per_k = 0.102, double group_index = 4.3);

}  // namespace ptc::hw
