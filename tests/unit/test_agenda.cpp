// Small helpers of the simulation layer. The periodic instants of the recorder, the fleet
// recorder and the controller's timer (sim::next_multiple, sim/agenda.h): each is the next whole multiple of the period, k·period
// for the k-th, strictly later than the one before, over long horizons. Before, the quotient's
// absolute epsilon vanished past ~10^4 periods and a trace every 0.1 s returned 2,048.1 s for ever.
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/agenda.h"
#include "sim/params.h"

using ptc::sim::next_multiple;

TEST_CASE("next_multiple walks k times the period for two million periods", "[agenda]") {
  for (double p : {1e-4, 1e-3, 0.1, 0.3, 0.7, 1.0, 60.0, 3600.7}) {
    double t = 0;
    bool ok = true;
    for (int64_t k = 1; k <= 2000000 && ok; ++k) {
      const double n = next_multiple(p, t);
      // strictly later, and the k-th multiple (closed form k p) to rounding
      ok = n > t && std::abs(n - static_cast<double>(k) * p) <= 1e-12 * static_cast<double>(k) * p;
      if (!ok) FAIL_CHECK("period " << p << ": step " << k << " from " << t << " gave " << n);
      t = n;
    }
    CHECK(ok);
  }
}

TEST_CASE("next_multiple from an instant between multiples is the next multiple", "[agenda]") {
  CHECK(next_multiple(0.1, 0.05) == Approx(0.1).epsilon(1e-15));
  CHECK(next_multiple(60.0, 61.0) == 120.0);
  CHECK(next_multiple(60.0, 0.0) == 60.0);
  CHECK(next_multiple(0.1, 2048.15) == Approx(2048.2).epsilon(1e-15));
  // a rounding below a multiple counts as that multiple: the next one follows
  CHECK(next_multiple(0.1, 20481 * 0.1) == Approx(2048.2).epsilon(1e-15));
  // just before a multiple: that multiple, not the one after (no tolerance skips it)
  CHECK(next_multiple(3600.0, 3599.9999999) == 3600.0);
  CHECK(next_multiple(0.1, 99999.99999) == Approx(100000.0).epsilon(1e-15));
  // a quotient past 2^53: still strictly later
  CHECK(next_multiple(1e-9, 1e8) > 1e8);
}

// The "did you mean" of an unknown enumeration value or registered name (sim/params.cpp, with
// prefixes on) also names the one choice the value abbreviates or extends, as new users of the
// drift-compensation options typed them; for unknown keys it does not (an aihwkit name such as
// read_noise_scale must reach its own hint, not a key it happens to extend).

TEST_CASE("did_you_mean names the one choice a value abbreviates or extends", "[params]") {
  using ptc::sim::did_you_mean;
  CHECK(did_you_mean("per_col", {"per_layer", "per_tile", "per_column"}, true) == "per_column");
  CHECK(did_you_mean("aihwkit_tile", {"block", "aihwkit", "custom"}, true) == "aihwkit");
  CHECK(did_you_mean("per_col", {"per_layer", "per_tile", "per_column"}).empty());  // keys: no prefixes
  CHECK(did_you_mean("read_noise_scale", {"read_noise", "read_scale", "prog_scale"}).empty());
  CHECK(did_you_mean("abs_maxx", {"abs_max", "constant", "none"}) == "abs_max");
  CHECK(did_you_mean("PCM_READ", {"pcm_read", "additive"}) == "pcm_read");
  // two choices share the prefix: no guess; nothing alike: no guess
  CHECK(did_you_mean("per", {"per_layer", "per_tile", "per_column"}, true).empty());
  CHECK(did_you_mean("xyzzy", {"per_layer", "per_tile", "per_column"}).empty());
}
