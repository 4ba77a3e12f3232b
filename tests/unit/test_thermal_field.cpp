// Physical thermal field: closed forms of the daily cycle, OU statistics and the RC response.
#include <catch2/catch.hpp>
#include <cmath>

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
