// Static device-to-device variation: statistics, determinism and order independence.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/noise/static_variation.h"
#include "hw/physics/mrr.h"
#include "models/error.h"

using namespace ptc::hw;

namespace {

struct Moments {
  double mean = 0, sd = 0;
};
Moments moments(const std::vector<float>& v) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
  }
  const double n = static_cast<double>(v.size());
  return {s / n, std::sqrt(s2 / n - (s / n) * (s / n))};
}

}  // namespace

TEST_CASE("static variation: per-device statistics match the sigmas", "[static_variation]") {
  StaticVariationParams p;
  p.phase_sigma_rad = 0.02;
  p.resonance_sigma_nm = 0.3;
  p.gain_sigma_rel = 0.05;
  p.offset_sigma_rel = 0.01;
  StaticVariation v(p, RandomStream(2024, 0));
  CoreArray a{16, 16, 16};  // 65,536 devices
  StaticOffsetMap m = v.offsets(a);
  REQUIRE(m.phase_rad.size() == 65536u);
  const double n = 65536;
  // Sample mean within 4 standard errors; sample sd within 4 of its standard errors (sigma/sqrt(2n)).
  auto check = [&](const std::vector<float>& x, double mu, double sigma) {
    Moments mo = moments(x);
    CHECK(std::abs(mo.mean - mu) < 4 * sigma / std::sqrt(n));
    CHECK(std::abs(mo.sd - sigma) < 4 * sigma / std::sqrt(2 * n));
  };
  check(m.phase_rad, 0.0, 0.02);
  check(m.resonance_nm, 0.0, 0.3);
  check(m.gain, 1.0, 0.05);
  check(m.offset_rel, 0.0, 0.01);
  // Gaussian shape: fraction within one sigma 0.6827 (binomial sd 0.0018).
  int inside = 0;
  for (float x : m.phase_rad) inside += std::abs(x) < 0.02;
  CHECK(inside / n == Approx(0.6827).margin(0.008));
  // The four quantities are independent draws: |correlation| below 4/sqrt(n).
  double c = 0;
  for (size_t d = 0; d < m.gain.size(); ++d) c += (m.phase_rad[d] / 0.02) * ((m.gain[d] - 1.0) / 0.05);
  CHECK(std::abs(c / n) < 4 / std::sqrt(n));
  // Neighbouring rings are uncorrelated too.
  double nb = 0;
  for (size_t d = 1; d < m.phase_rad.size(); ++d) nb += m.phase_rad[d] * m.phase_rad[d - 1];
  CHECK(std::abs(nb / (n - 1) / (0.02 * 0.02)) < 4 / std::sqrt(n));
}

TEST_CASE("static variation: deterministic, order independent, seed dependent", "[static_variation]") {
  StaticVariationParams p;
  CoreArray a;  // DOCTOR 4 x 4 x 8 x 8
  StaticVariation v1(p, RandomStream(7, 3)), v2(p, RandomStream(7, 3)), other(p, RandomStream(8, 3));
  StaticOffsetMap m1 = v1.offsets(a), m2 = v2.offsets(a);
  CHECK(m1.phase_rad == m2.phase_rad);
  CHECK(m1.gain == m2.gain);
  // Asking single devices in reverse order, or a second time, gives the map's values.
  for (int64_t d = a.rings() - 1; d >= 0; --d) {
    CHECK(static_cast<float>(v2.phase_offset_rad(static_cast<uint64_t>(d))) == m1.phase_rad[d]);
    CHECK(static_cast<float>(v2.gain(static_cast<uint64_t>(d))) == m1.gain[d]);
  }
  // Ring (i, j, x, l) has device index ((i C + j) k + x) k + l.
  const int64_t i = 2, j = 1, x = 5, l = 6;
  CHECK(m1.phase_rad[((i * a.cols + j) * a.k + x) * a.k + l] ==
        static_cast<float>(v1.phase_offset_rad(static_cast<uint64_t>(((i * 4 + j) * 8 + x) * 8 + l))));
  // Another seed: a different chip.
  StaticOffsetMap mo = other.offsets(a);
  int same = 0;
  for (size_t d = 0; d < mo.phase_rad.size(); ++d) same += mo.phase_rad[d] == m1.phase_rad[d];
  CHECK(same == 0);
  // Defaults: phase and gain spread on, resonance and additive offset off.
  CHECK(p.phase_sigma_rad == 0.01);
  CHECK(p.gain_sigma_rel == 0.04);
  for (float r : m1.resonance_nm) REQUIRE(r == 0.0f);
  for (float o : m1.offset_rel) REQUIRE(o == 0.0f);
}

TEST_CASE("static variation: phase offsets with resonance converted per bank column", "[static_variation]") {
  StaticVariationParams p;
  p.phase_sigma_rad = 0.01;
  p.resonance_sigma_nm = 0.2;
  StaticVariation v(p, RandomStream(11, 0));
  CoreArray a{2, 2, 4};
  // d phi / d lambda of DOCTOR's chain: 0.03696 rad/K / 0.102 nm/K = 0.3624 rad/nm at 1553.2 nm, 5.15 um.
  const double per_nm = mrr_phase_per_kelvin(1553.2034, 5.150, 1.0);
  CHECK(per_nm * 0.102 == Approx(0.03696).margin(5e-5));
  std::vector<double> k_per_nm = {per_nm, 2 * per_nm, 0.0, -per_nm};
  std::vector<float> phase(a.rings(), 0.25f);
  v.add_phase_offsets(a, k_per_nm, phase.data());
  StaticOffsetMap m = v.offsets(a);
  for (int64_t d = 0; d < a.rings(); ++d)
    CHECK(phase[d] == Approx(0.25 + m.phase_rad[d] + m.resonance_nm[d] * k_per_nm[d % 4]).margin(1e-6));
  CHECK_THROWS_AS(v.add_phase_offsets(a, {1.0}, phase.data()), ptc::Error);
  // Gain is clipped at zero (a conductance cannot turn negative).
  StaticVariationParams big;
  big.gain_sigma_rel = 3.0;
  StaticVariation g(big, RandomStream(1, 1));
  int zeros = 0;
  for (uint64_t d = 0; d < 4000; ++d) {
    REQUIRE(g.gain(d) >= 0.0);
    zeros += g.gain(d) == 0.0;
  }
  CHECK(zeros / 4000.0 == Approx(0.3694).margin(0.03));  // P(1 + 3 xi < 0) = Phi(-1/3)
  StaticVariationParams bad;
  bad.phase_sigma_rad = -0.1;
  CHECK_THROWS_WITH(StaticVariation(bad, RandomStream(1, 0)), Catch::Contains("phase_sigma_rad"));
}
