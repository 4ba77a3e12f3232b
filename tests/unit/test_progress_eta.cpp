// The progress line's ETA from the work left (sim/progress_eta.h), against hand computations.
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/progress_eta.h"

using ptc::sim::progress_eta_s;

TEST_CASE("progress ETA - log-spaced evaluations early in the run, from the work left", "[progress]") {
  // 20 evaluations of about 1 s; 5 done (5 s) at a simulated-time fraction of 1e-5; outside the
  // evaluations the run advances 1/20 of its span per wall second: 15 x 1 s + (1 - 1e-5) x 20 s.
  const double eta = progress_eta_s(1e-5, 1.0 / 20, 5, 20, 5.0);
  CHECK(eta == Approx(15.0 + (1 - 1e-5) * 20.0));  // (the old wall x (1 - frac) / frac: about 5e5 s)
}

TEST_CASE("progress ETA - no evaluations, all done, unknown", "[progress]") {
  CHECK(progress_eta_s(0.25, 0.01, 0, 0, 0) == Approx(75.0));     // (1 - 0.25) / 0.01 per s
  CHECK(progress_eta_s(0.5, 0.01, 10, 10, 3.0) == Approx(50.0));  // every evaluation done: the rest only
  CHECK(progress_eta_s(1.0, 0, 0, 5, 0) == 0);
  CHECK(std::isnan(progress_eta_s(0.1, 0.01, 0, 5, 0)));  // evaluations left, none timed yet
  CHECK(std::isnan(progress_eta_s(0.1, 0, 2, 5, 1.0)));   // no rate measured yet
}
