// Reference computation for tests, written from the papers and not from ptcsim's physics code:
// IBM aihwkit's PCMLike statistical model of PCM devices (Nandakumar et al., ICECS 2019, model fit
// on ~1M devices; Joshi et al., Nat. Commun. 11, 2473 (2020), Methods "PCM model"), as used for
// inference in aihwkit v1.1.0. One device programmed to g_T = u g_max (g_max = 25 uS, t0 = 20 s,
// t_read = 250 ns):
//   programming  g_p = max(0, g_T + (0.26348 + 1.9650 u - 1.1731 u^2) xi1)           [uS]
//   drift exp.   nu = |mu + sigma xi2|, mu = clamp(-0.0155 ln u + 0.0244, 0.049, 0.1),
//                sigma = clamp(-0.0125 ln u - 0.0059, 0.008, 0.045)  (u clipped >= 1e-7)
//   drift        g_d = g_p ((t_inf + t0)/t0)^-nu for t_inf > 0, g_d = g_p at t_inf = 0
//   1/f read     Q = min(0.0088 / max((g_p/g_max)^0.65, 1e-3), 0.2),
//                g = max(0, g_d + |g_d| Q sqrt(ln((t_inf + t0 + t_read)/(2 t_read))) xi3)
// Monte-Carlo with the standard library's generator (an independent stream from ptcsim's).
#pragma once

#include <algorithm>
#include <cmath>
#include <random>

namespace ptc::testref {

struct MeanStd {
  double mean = 0, std = 0;
};

// Mean and std of g/g_max over n devices programmed to u = g_T/g_max, read t_inf seconds after programming.
inline MeanStd pcm_like_read_stats(double u, double t_inf, int n, unsigned seed) {
  const double gmax = 25.0, t0 = 20.0, tr = 250e-9;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> xi(0.0, 1.0);
  const double ur = std::max(u, 1e-7);
  const double mu = std::clamp(-0.0155 * std::log(ur) + 0.0244, 0.049, 0.1);
  const double sg = std::clamp(-0.0125 * std::log(ur) - 0.0059, 0.008, 0.045);
  const double sprog = std::max(0.26348 + 1.9650 * u - 1.1731 * u * u, 0.0);
  const double tf = std::sqrt(std::log((t_inf + t0 + tr) / (2 * tr)));
  double s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double gp = std::max(0.0, u * gmax + sprog * xi(gen));
    const double nu = std::abs(mu + sg * xi(gen));
    const double gd = t_inf > 0 ? gp * std::pow((t_inf + t0) / t0, -nu) : gp;
    const double q = std::min(0.0088 / std::max(std::pow(std::max(gp / gmax, 1e-7), 0.65), 1e-3), 0.2);
    const double g = std::max(0.0, gd + std::abs(gd) * q * tf * xi(gen)) / gmax;
    s1 += g;
    s2 += g * g;
  }
  MeanStd r;
  r.mean = s1 / n;
  r.std = std::sqrt(std::max(s2 / n - r.mean * r.mean, 0.0));
  return r;
}

}  // namespace ptc::testref
