// Device physics against the published values: DOCTOR's ring encoding and thermo-optic shift
// (docs/devices.md §1, docs/noise.md §3) and aihwkit's PCMLike model (docs/devices.md §2 tables).
#include <catch2/catch.hpp>
#include <cmath>

#include "hw/physics/mrr.h"
#include "hw/physics/pcm.h"

using namespace ptc::hw;

TEST_CASE("MRR encoding reproduces DOCTOR's numbers", "[physics][mrr]") {
  MrrRing ring;  // a = 0.865, r = 0.87
  CHECK(mrr_weight_scale(ring) == Approx(0.9601).margin(5e-5));
  CHECK(mrr_weight(ring, 0.0) == Approx(-0.9992).margin(5e-5));
  CHECK(mrr_weight(ring, M_PI / 2) == Approx(0.9218).margin(5e-5));
  CHECK(mrr_weight(ring, M_PI) == Approx(0.9601).margin(5e-5));
  CHECK(mrr_min_weight(ring) == Approx(-0.9992).margin(5e-5));
  CHECK(mrr_max_weight(ring) == Approx(0.9218).margin(5e-5));
  // phi at w = 0 is 0.286 rad, dw/dphi there 3.47 per rad.
  double phi0 = mrr_phase_for_weight(ring, 0.0);
  CHECK(phi0 == Approx(0.286).margin(5e-4));
  CHECK(mrr_weight_slope(ring, phi0) == Approx(3.47).margin(5e-3));
  // The analytic slope agrees with a finite difference.
  double h = 1e-6;
  CHECK(mrr_weight_slope(ring, 0.7) == Approx((mrr_weight(ring, 0.7 + h) - mrr_weight(ring, 0.7 - h)) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("MRR inverse mapping round-trips inside the realisable range and clips outside", "[physics][mrr]") {
  MrrRing ring;
  for (double w = -0.999; w <= 0.92; w += 0.0137)
    REQUIRE(mrr_weight(ring, mrr_phase_for_weight(ring, w)) == Approx(w).margin(1e-9));
  // Above +0.9218 the phase clamps at pi/2: the systematic clipping error of the encoding.
  CHECK(mrr_phase_for_weight(ring, 0.95) == Approx(M_PI / 2));
  CHECK(mrr_weight(ring, mrr_phase_for_weight(ring, 0.95)) == Approx(0.9218).margin(5e-5));
  // A block scaled so that max|w| maps to the weight scale: negatives are exact, the largest
  // positive value is clipped to 0.9218/0.9601 of itself.
  const float w[4] = {-2.0f, 1.0f, 0.0f, 2.0f};
  float phase[4], scale = 0;
  mrr_encode_block(ring, w, 4, phase, scale);
  CHECK(scale == Approx(2.0 / 0.9601).epsilon(1e-4));
  CHECK(mrr_weight(ring, phase[0]) * scale == Approx(-2.0).epsilon(1e-5));
  CHECK(mrr_weight(ring, phase[1]) * scale == Approx(1.0).epsilon(1e-5));
  CHECK(mrr_weight(ring, phase[3]) * scale == Approx(2.0 * 0.9218 / 0.9601).epsilon(1e-3));
}

TEST_CASE("MRR thermo-optic phase shift per kelvin (DOCTOR GTD chain)", "[physics][mrr]") {
  CHECK(mrr_phase_per_kelvin(1553.2034, 5.150) == Approx(0.03696).margin(5e-6));
  CHECK(mrr_phase_per_kelvin(1542.0445, 5.113) == Approx(0.03723).margin(5e-6));
  // 1 K of drift at w = 0 moves the weight by ~13 % of the block max (3.47 x 0.037).
  MrrRing ring;
  double phi0 = mrr_phase_for_weight(ring, 0.0);
  double dw = mrr_weight(ring, phi0 + mrr_phase_per_kelvin(1553.2034, 5.150)) - mrr_weight(ring, phi0);
  CHECK(dw / mrr_weight_scale(ring) == Approx(0.13).margin(0.01));
}

TEST_CASE("PCM-like noise model oracle table", "[physics][pcm]") {
  PcmLikeParams p;
  struct Row {
    double g_rel, mu_nu, sigma_nu, q, sigma_prog;
  };
  for (Row r :
       {Row{1.0, 0.049, 0.008, 0.0088, 1.055}, Row{0.5, 0.049, 0.008, 0.0138, 0.953}, Row{0.25, 0.049, 0.0114, 0.0217, 0.681},
        Row{0.1, 0.0601, 0.0229, 0.0393, 0.448}, Row{0.01, 0.0958, 0.045, 0.176, 0.283}}) {
    INFO("g_rel " << r.g_rel);
    CHECK(pcm_mu_nu(r.g_rel) == Approx(r.mu_nu).margin(5e-5));
    CHECK(pcm_sigma_nu(r.g_rel) == Approx(r.sigma_nu).margin(5e-5));
    CHECK(pcm_read_q(r.g_rel) == Approx(r.q).epsilon(3e-3));  // table: 3 significant digits
    CHECK(pcm_sigma_prog_us(p, r.g_rel * p.g_max_us) == Approx(r.sigma_prog).margin(5e-4));
  }
}

TEST_CASE("PCM drift and read-noise time factors", "[physics][pcm]") {
  PcmLikeParams p;
  const double hour = 3600, day = 86400, year = 365 * day;
  struct Row {
    double t, sqrt_ln, drift, read_rel;
  };
  for (Row r : {Row{0, 4.18, 1, 0.037}, Row{1, 4.19, 0.998, 0.037}, Row{hour, 4.76, 0.775, 0.042}, Row{day, 5.09, 0.664, 0.045},
                Row{30 * day, 5.41, 0.562, 0.048}, Row{year, 5.64, 0.497, 0.050}, Row{10 * year, 5.84, 0.444, 0.051}}) {
    INFO("t_inf " << r.t << " s");
    CHECK(pcm_read_noise_time_factor(p, r.t) == Approx(r.sqrt_ln).margin(5e-3));
    CHECK(pcm_drift_factor(p, r.t, 0.049) == Approx(r.drift).margin(5e-4));
    CHECK(pcm_read_q(1.0) * pcm_read_noise_time_factor(p, r.t) == Approx(r.read_rel).margin(5e-4));
  }
  // Programming clips at 0; nu is |mu + sigma xi|.
  CHECK(pcm_program_us(p, 0.0, -1.0) == 0.0);
  // A polynomial that goes negative is not clipped (aihwkit multiplies its value by xi): the
  // device still spreads by |sigma| (it used to get no programming noise at all).
  PcmLikeParams neg = p;
  neg.prog_c0 = -1;
  neg.prog_c1 = neg.prog_c2 = 0;
  CHECK(pcm_sigma_prog_us(neg, 5.0) == Approx(-1.0));
  CHECK(pcm_program_us(neg, 5.0, 1.0) == Approx(5.0 - neg.prog_scale));
  CHECK(pcm_program_us(neg, 5.0, -1.0) == Approx(5.0 + neg.prog_scale));
  CHECK(pcm_draw_nu(p, 25.0, -10.0) == Approx(std::abs(0.049 - 0.08)));
  // Read: drift then noise; Q from the programmed or the target conductance.
  double g = pcm_read_us(p, 20.0, 25.0, 0.049, hour, 1.0, true);
  double gd = 20.0 * pcm_drift_factor(p, hour, 0.049);
  CHECK(g == Approx(gd * (1 + pcm_read_q(0.8) * pcm_read_noise_time_factor(p, hour))));
  CHECK(pcm_read_us(p, 20.0, 25.0, 0.049, hour, 1.0, false) ==
        Approx(gd * (1 + pcm_read_q(1.0) * pcm_read_noise_time_factor(p, hour))));
}

#include "hw/physics/rng.h"

TEST_CASE("counter-based streams: pure functions of (seed, stream, index) with normal moments", "[physics][rng]") {
  RandomStream a(42, 7), b(42, 7), c(42, 8), d(43, 7);
  CHECK(a.normal(12345) == b.normal(12345));
  CHECK(a.normal(12345) != c.normal(12345));
  CHECK(a.normal(12345) != d.normal(12345));
  // Order does not matter: index k is the same value whether drawn first or last.
  double late = a.normal(999999);
  for (int k = 0; k < 10; ++k) a.normal(k);
  CHECK(a.normal(999999) == late);
  // Moments of 200k draws: mean 0 +- 5 sigma/sqrt(n), variance 1 +- 5 sqrt(2/n).
  const int n = 200000;
  double s = 0, s2 = 0, u = 0;
  for (int k = 0; k < n; ++k) {
    double z = a.normal(k);
    s += z;
    s2 += z * z;
    u += a.uniform(k);
  }
  double mean = s / n, var = s2 / n - mean * mean;
  CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(var - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(u / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  float buf[5];
  a.fill_normal(100, 5, buf);
  for (int k = 0; k < 5; ++k) CHECK(buf[k] == static_cast<float>(a.normal(100 + k)));
  CHECK(a.derive(1).stream() != a.derive(2).stream());
}

#include "hw/characterize.h"
#include "models/error.h"

TEST_CASE("device characterisation reproduces the reference oracle values", "[physics][device]") {
  PcmLikeParams p;
  // Drift only: the mean drift factor at g_rel = 1 (nu ~ |N(0.049, 0.008)|) is the table's 0.775 /
  // 0.664 / 0.497 up to the small spread term exp(sigma^2 L^2 / 2) (< 0.7 %).
  PcmEffects drift_only{false, true, false, true};
  auto d = characterize_pcm(p, 1.0, {3600, 86400, 31536000}, 20000, 5, drift_only);
  CHECK(d.g_mean_us[0] / 25 == Approx(0.775).margin(0.005));
  CHECK(d.g_mean_us[1] / 25 == Approx(0.664).margin(0.005));
  CHECK(d.g_mean_us[2] / 25 == Approx(0.497).margin(0.005));
  // Programming only: sigma_prog(g_rel = 1) = 1.055 uS (MC error of the std ~ 0.5 %).
  PcmEffects prog_only{true, false, false, true};
  auto s = characterize_pcm(p, 1.0, {0}, 20000, 6, prog_only);
  CHECK(s.g_std_us[0] == Approx(1.055).epsilon(0.03));
  CHECK(s.g_mean_us[0] == Approx(25.0).margin(0.05));
  // Everything on: read noise adds 3.7 % of g at t_inf = 0: sqrt(1.055^2 + (25*0.037)^2) = 1.40.
  auto all = characterize_pcm(p, 1.0, {0}, 20000, 7);
  CHECK(all.g_std_us[0] == Approx(std::hypot(1.055, 25 * 0.0088 * 4.18)).epsilon(0.03));
  // Same seed, same numbers.
  CHECK(characterize_pcm(p, 1.0, {0}, 1000, 7).g_mean_us == characterize_pcm(p, 1.0, {0}, 1000, 7).g_mean_us);
  CHECK_THROWS_AS(characterize_pcm(p, 1.5, {0}, 10, 0), ptc::Error);

  MrrRing ring;
  double dphi = mrr_phase_per_kelvin(1553.2034, 5.150);
  // Small phase noise at w = 0: std = |dw/dphi| sigma S = 3.47 * 0.001 * S.
  auto m = characterize_mrr(ring, {0.0, 1.0}, 0.0, 0.001, dphi, 50000, 3);
  CHECK(m.scale == Approx(1.0 / 0.9601).epsilon(1e-4));
  CHECK(m.effective_std[0] == Approx(3.47 * 0.001 * m.scale).epsilon(0.02));
  // +1 K at w = 0 moves the weight by about 13 % of the block max (docs/devices.md §1).
  auto t = characterize_mrr(ring, {0.0, 1.0}, 1.0, 0.0, dphi, 1, 3);
  CHECK(t.effective_mean[0] == Approx(0.13).margin(0.01));
}
