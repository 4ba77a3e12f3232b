#include "hw/physics/mrr.h"

#include <algorithm>
#include <cmath>

namespace ptc::hw {

double mrr_transmission(const MrrRing& g, double phi) {
  double c = std::cos(phi), ar = g.a * g.r;
  return (g.a * g.a + g.r * g.r - 2 * ar * c) / (1 + ar * ar - 2 * ar * c);
}

double mrr_weight(const MrrRing& g, double phi) {
  return 2 * mrr_transmission(g, phi) - 1;
}

// T is monotone in cos(phi): its extremes over any interval containing 0 and pi are at 0 and pi.
double mrr_weight_scale(const MrrRing& g) {
  return std::min(std::abs(mrr_weight(g, 0.0)), std::abs(mrr_weight(g, M_PI)));
}

double mrr_min_weight(const MrrRing& g) {
  return mrr_weight(g, 0.0);
}
double mrr_max_weight(const MrrRing& g) {
  return mrr_weight(g, M_PI / 2);
}

double mrr_phase_for_weight(const MrrRing& g, double w_norm) {
  double t = (w_norm + 1) / 2, ar = g.a * g.r;
  double denom = 2 * ar * (1 - t);
  double c = denom != 0 ? (g.a * g.a + g.r * g.r - t * (1 + ar * ar)) / denom : 0.0;
  return std::acos(std::clamp(c, 0.0, 1.0));
}

double mrr_weight_slope(const MrrRing& g, double phi) {
  // T = (A - B c) / (D - B c) with A = a^2 + r^2, B = 2 a r, D = 1 + a^2 r^2, c = cos phi:
  // dT/dphi = B sin(phi) (D - A) / (D - B c)^2; dw/dphi = 2 dT/dphi.
  double A = g.a * g.a + g.r * g.r, B = 2 * g.a * g.r, D = 1 + g.a * g.a * g.r * g.r, c = std::cos(phi);
  return 2 * B * std::sin(phi) * (D - A) / ((D - B * c) * (D - B * c));
}

void mrr_encode_block(const MrrRing& g, const float* w, int64_t n, float* phase, float& scale) {
  float mx = 0;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, std::abs(w[i]));
  scale = static_cast<float>(mx / mrr_weight_scale(g));
  float inv = scale > 0 ? 1.0f / scale : 0.0f;
  for (int64_t i = 0; i < n; ++i) phase[i] = static_cast<float>(mrr_phase_for_weight(g, w[i] * inv));
}

double mrr_phase_per_kelvin(double lambda_nm, double radius_um, double dlambda_dt, double n_g) {
  double lambda_m = lambda_nm * 1e-9, radius_m = radius_um * 1e-6;
  double dn_eff = dlambda_dt * 1e-9 * n_g / lambda_m;
  return 2 * M_PI * dn_eff * (2 * M_PI * radius_m) / lambda_m;
}

}  // namespace ptc::hw
