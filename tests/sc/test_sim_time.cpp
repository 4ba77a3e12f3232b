// SystemC tests: one process per test (catch_discover_tests), sc_main defined here. Never reset
// kernel globals between tests.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

#include "models/error.h"
#include "sim/sim_time.h"

using namespace sc_core;

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

namespace {

// Waits `days` of simulated time in one next-event step, as deployment processes will.
SC_MODULE(Sleeper) {
  double days;
  double woke_s = -1;
  SC_CTOR(Sleeper) : days(0) {
    SC_THREAD(run);
  }
  void run() {
    wait(sc_time(days * 86400.0, SC_SEC));
    woke_s = sc_time_stamp().to_seconds();
  }
};

}  // namespace

TEST_CASE("1 ns resolution: a one-year horizon fits, ~292 years is the limit", "[sc]") {
  ptc::sim::configure_kernel_time();
  CHECK(sc_get_time_resolution() == sc_time(1, SC_NS));
  // The kernel counts 2^64 ns, but an sc_time built from seconds goes through a signed 64-bit
  // count: the last whole second below 2^63 ns = 9.223372036854775808e9 s (292.3 years) is the limit.
  CHECK(ptc::sim::max_sim_time_s() == 9223372036.0);
  CHECK(sc_time(ptc::sim::max_sim_time_s(), SC_SEC).value() == 9223372036000000000ULL);  // reads back exactly
  CHECK(sc_time(1.0e10, SC_SEC).value() != 10000000000000000000ULL);                     // past 2^63 ns it does not
  CHECK_THROWS_WITH(ptc::sim::check_horizon(9.3e9, "h"), Catch::Contains("292 years"));
  CHECK_NOTHROW(ptc::sim::check_horizon(365.0 * 86400, "scenario.horizon"));
  CHECK_THROWS_WITH(ptc::sim::check_horizon(1000.0 * 365 * 86400, "scenario.horizon"),
                    Catch::Contains("scenario.horizon") && Catch::Contains("1 ns resolution"));
  CHECK_THROWS_AS(ptc::sim::check_horizon(0, "h"), ptc::Error);
}

TEST_CASE("a 300-day wait lands exactly (it would wrap at the default 1 ps)", "[sc]") {
  ptc::sim::configure_kernel_time();
  Sleeper s("sleeper");
  s.days = 300;  // > 213.5 days = 2^64 ps
  sc_start();
  CHECK(s.woke_s == Approx(300 * 86400.0).epsilon(1e-12));
}
