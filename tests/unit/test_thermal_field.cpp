// Physical thermal field: closed forms of the daily cycle, OU statistics and the RC response.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/noise/thermal_field.h"

using namespace ptc::hw;

TEST_CASE("daily cycle and RC self-heating follow their closed forms", "[thermal]") {
  ThermalFieldParams p;
  p.ou_sigma_k = 0;
  p.daily_amplitude_k = 2.0;
  ThermalField f(16, 64, p, RandomStream(1, 0));
  CHECK(f.ambient_k(0) == Approx(300.0));
  CHECK(f.ambient_k(6 * 3600) == Approx(302.0));  // quarter day: peak
  CHECK(f.ambient_k(18 * 3600) == Approx(298.0));
  // RC: after one time constant at full load, 1 - 1/e of the steady-state rise; then cooling.
  f.advance_self_heating(3, p.rc_tau_s, 1.0);
  CHECK(f.self_heating_k(3) == Approx(p.self_heating_k * (1 - std::exp(-1.0))));
  // Exactness: two half steps equal one full step.
  ThermalField g(16, 64, p, RandomStream(1, 0));
  g.advance_self_heating(3, p.rc_tau_s / 2, 1.0);
  g.advance_self_heating(3, p.rc_tau_s / 2, 1.0);
  CHECK(g.self_heating_k(3) == Approx(f.self_heating_k(3)).epsilon(1e-12));
  f.advance_self_heating(3, 1e6, 0.0);
  CHECK(f.self_heating_k(3) == Approx(0.0).margin(1e-12));
  CHECK(f.self_heating_k(4) == 0.0);
}

TEST_CASE("OU fluctuation: stationary std, correlation e^{-dt/tau}, order independence", "[thermal]") {
  ThermalFieldParams p;
  p.daily_amplitude_k = 0;
  p.ou_sigma_k = 0.4;
  p.ou_tau_s = 600;
  ThermalField f(1, 1, p, RandomStream(9, 0));
  // Sample on the grid spacing (tau/10) over a long record.
  const int n = 40000;
  double s = 0, s2 = 0, c = 0;
  double prev = f.ou_k(0);
  for (int i = 1; i <= n; ++i) {
    double x = f.ou_k(i * 60.0);
    s += x;
    s2 += x * x;
    c += x * prev;
    prev = x;
  }
  double var = s2 / n - (s / n) * (s / n);
  CHECK(std::sqrt(var) == Approx(0.4).epsilon(0.05));
  CHECK(c / n / var == Approx(std::exp(-0.1)).margin(0.02));
  // Any order, same bits.
  ThermalField g(1, 1, p, RandomStream(9, 0));
  CHECK(g.ou_k(123456.7) == f.ou_k(123456.7));
  // Sensors: noise around the true value, quantised to the resolution.
  double r = f.sensor_k(0, 1000, 7);
  CHECK(std::abs(r - f.core_k(0, 1000)) < 0.1);
  CHECK(std::abs(r / 0.01 - std::round(r / 0.01)) < 1e-6);
}

TEST_CASE("Monte-Carlo instances draw their own static ring offsets, the environment is shared", "[thermal]") {
  // Ring offsets are fabrication offsets (N(0, sigma^2) per ring): instance k >= 1 draws its own,
  // instance 0 is the chip's draw again when re-selected; the ambient temperature is unchanged.
  ThermalFieldParams p;
  p.ring_offset_sigma_k = 0.2;
  const int64_t cores = 16, rings = 64, n = cores * rings;
  ThermalField f(cores, rings, p, RandomStream(3, 0));
  std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) a[static_cast<size_t>(i)] = f.ring_offset_k(i / rings, i % rings);
  const double amb = f.core_k(5, 4000.0);
  f.select_instance(1);
  for (int64_t i = 0; i < n; ++i) b[static_cast<size_t>(i)] = f.ring_offset_k(i / rings, i % rings);
  CHECK(f.core_k(5, 4000.0) == amb);
  double sa = 0, sb = 0, sab = 0;
  for (int64_t i = 0; i < n; ++i) {
    sa += a[static_cast<size_t>(i)] * a[static_cast<size_t>(i)];
    sb += b[static_cast<size_t>(i)] * b[static_cast<size_t>(i)];
    sab += a[static_cast<size_t>(i)] * b[static_cast<size_t>(i)];
  }
  // std of each draw within 5 standard errors (sigma / sqrt(2 n)) of sigma; correlation within
  // 5 / sqrt(n) of 0.
  const double se = p.ring_offset_sigma_k / std::sqrt(2.0 * n);
  CHECK(std::abs(std::sqrt(sa / n) - p.ring_offset_sigma_k) < 5 * se);
  CHECK(std::abs(std::sqrt(sb / n) - p.ring_offset_sigma_k) < 5 * se);
  CHECK(std::abs(sab / std::sqrt(sa * sb)) < 5.0 / std::sqrt(static_cast<double>(n)));
  f.select_instance(0);
  for (int64_t i = 0; i < n; ++i) CHECK(f.ring_offset_k(i / rings, i % rings) == a[static_cast<size_t>(i)]);
}
