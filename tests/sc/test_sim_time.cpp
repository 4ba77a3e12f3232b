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

TEST_CASE("1 ns resolution: a one-year horizon fits, ~585 years is the limit", "[sc]") {
  ptc::sim::configure_kernel_time();
  CHECK(sc_get_time_resolution() == sc_time(1, SC_NS));
  // 2^64 ns = 1.8447e10 s = 584.5 years (closed form).
  CHECK(ptc::sim::max_sim_time_s() == Approx(18446744073.709553).epsilon(1e-9));
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
