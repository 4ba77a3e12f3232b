// SystemC tests of a fleet (hw.chips > 1, docs/fleet.md): the dispatcher and the chips' lanes in
// the full top, against a reference queue computed here. Each TEST_CASE runs in its own process
// (catch_discover_tests): SystemC elaborates once per process.
//
// Set-up: two noise-free MRR chips at 1 GHz (one cycle = 1 ns), requests replayed one by one at
// exact arrival instants t_i = i P (P >= 3 L: an idle chip serves each before the next arrives).
// A calibration claims chip 0's array (rank of the controller) from T = 10.5 P for D = 10 P, as a
// controller action does; requests 11..20 arrive during it.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <systemc>

#include "hw/energy.h"
#include "sim/agenda.h"
#include "sim/scenario.h"
#include "sim/sim_time.h"
#include "sim/top.h"
#include "tests/sc/sc_test_util.h"

using namespace sc_core;
using namespace ptc;
namespace fs = std::filesystem;
using sim::Json;

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

namespace {

const std::string kSrc = PTC_SOURCE_DIR;

using sctest::now;
using sctest::ns;

// Claims chip `chip`'s array at `at_s` (controller rank, after booked service) for `hold_s`,
// publishing the instant on the agenda as the controller does.
SC_MODULE(Calibrator) {
  sim::Agenda* agenda = nullptr;
  hw::Accelerator* acc = nullptr;
  int chip = 0;
  double at_s = 0, hold_s = 0, start_s = -1, end_s = -1;
  SC_CTOR(Calibrator) {
    SC_THREAD(run);
  }
  void run() {
    const int id = agenda->add("calibrator", chip);
    while (!agenda->next(id, at_s, sim::kNoCount).timed) {
    }
    acc->acquire(sim::kRankController, true);
    start_s = now();
    acc->occupy(hold_s, 0.0);
    end_s = now();
    acc->release();
    agenda->clear(id);
  }
};

// Records the completion instant of every request chip `chip` serves (a count threshold of the
// chip at served + 1, republished at once).
SC_MODULE(ChipObserver) {
  sim::Agenda* agenda = nullptr;
  sim::ChipLane* lane = nullptr;
  int chip = 0;
  std::vector<double> done_s;
  SC_CTOR(ChipObserver) {
    SC_THREAD(run);
  }
  void run() {
    const int id = agenda->add("observer", chip);
    while (true) {
      agenda->at(id, INFINITY, lane->served() + 1);
      agenda->await(id);
      if (!agenda->take_count_due(id)) continue;
      while (static_cast<int64_t>(done_s.size()) < lane->served()) done_s.push_back(now());
    }
  }
};

struct Result {
  double L = 0, P = 0, T = 0, D = 0;
  std::vector<double> arrivals;
  std::vector<double> done[2];
  double cal_start = -1, cal_end = -1;
};

// at_p: the arrival instants in units of P (default: 1, 2, ..., 30).
Result run_fleet(const std::string& dispatcher, std::vector<double> at_p = {}) {
  if (at_p.empty())
    for (int i = 1; i <= 30; ++i) at_p.push_back(i);
  sim::configure_kernel_time();
  sctest::TempDir tmp("ptc_sc_fleet_");
  Json j = {{"name", "sc_fleet"},
            {"seed", 5},
            {"model", kSrc + "/models/zoo/lenet5_fmnist.onnx"},
            {"hw", {{"clock_ghz", 1.0}, {"chips", 2}}},
            {"device", {{"name", "mrr"}}},
            {"traffic", {{"name", "trace"}, {"file", (tmp.dir / "arrivals.csv").string()}}},
            {"dispatcher", {{"name", dispatcher}}},
            {"horizon_s", 1.0},
            {"accuracy", {{"mode", "none"}}},
            {"trace", {{"every_requests", 0}}}};
  // The inference latency first (the same chips with closed-loop traffic), to place the arrivals.
  Json j0 = j;
  j0["traffic"] = {{"name", "back_to_back"}, {"requests", 1}};
  sim::Scenario s0 = sim::parse_scenario(j0, "sc_fleet_latency.json");
  sim::Prepared prep0 = sim::preflight(s0);
  Result r;
  r.L = hw::inference_cost(prep0.wl, s0.energy).latency_s;  // what the accelerator charges (checked below)
  r.P = std::ceil(3 * r.L / 1e-6) * 1e-6;                   // whole microseconds
  r.T = 10.5 * r.P;
  r.D = 10 * r.P;
  {
    std::ofstream f(tmp.dir / "arrivals.csv");
    f << "t_s\n";
    char b[64];
    for (double k : at_p) {
      r.arrivals.push_back(k * r.P);
      std::snprintf(b, sizeof b, "%.9f\n", k * r.P);
      f << b;
    }
  }
  sim::Scenario s = sim::parse_scenario(j, "sc_fleet.json");
  sim::Prepared prep = sim::preflight(s);
  std::atomic<bool> interrupted{false};
  std::string error;
  sim::RunContext ctx{s, prep.graph, prep.pre, prep.test, prep.wl, interrupted, true, &error};
  auto top = sim::build_top(ctx, tmp.dir / "out");
  REQUIRE(top->chips.size() == 2);
  Calibrator cal("calibrator");
  cal.agenda = &top->agenda;
  cal.acc = top->chips[0].accelerator.get();
  cal.chip = 0, cal.at_s = r.T, cal.hold_s = r.D;
  ChipObserver o0("observer0"), o1("observer1");
  o0.agenda = o1.agenda = &top->agenda;
  o0.lane = &top->runtime->lane(0), o1.lane = &top->runtime->lane(1);
  o0.chip = 0, o1.chip = 1;
  sc_start();
  REQUIRE(error == "");
  REQUIRE(ns(r.L) * 1e-9 == Approx(r.L).epsilon(1e-12));
  REQUIRE(top->chips[0].accelerator->inference_cost().latency_s == r.L);
  r.done[0] = o0.done_s, r.done[1] = o1.done_s;
  r.cal_start = cal.start_s, r.cal_end = cal.end_s;
  return r;
}

// The reference queue: requests assigned to chips, each chip FIFO and non-preemptive, chip 0
// unavailable during [T, T + D); completion = start + L.
std::vector<double> reference(const Result& r, const std::vector<int>& chip_of, int chip) {
  std::vector<double> out;
  double free = 0;
  for (size_t i = 0; i < r.arrivals.size(); ++i) {
    if (chip_of[i] != chip) continue;
    double start = std::max(r.arrivals[i], free);
    if (chip == 0 && start >= r.T && start < r.T + r.D) start = r.T + r.D;
    free = start + r.L;
    out.push_back(free);
  }
  return out;
}

void check_same(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("completion " << i);
    CHECK(ns(got[i]) == ns(want[i]));
  }
}

}  // namespace

TEST_CASE("Fleet dispatcher - drain_for_calibration sends every request arriving during a calibration to the other chip",
          "[sc][fleet]") {
  const Result r = run_fleet("drain_for_calibration");
  CHECK(ns(r.cal_start) == ns(r.T));
  CHECK(ns(r.cal_end) == ns(r.T + r.D));
  // Idle chips tie: least-loaded takes chip 0; requests 11..20 (arriving in (T, T + D)) go to chip 1.
  std::vector<int> chip_of(30, 0);
  for (int i = 11; i <= 20; ++i) chip_of[static_cast<size_t>(i - 1)] = 1;
  check_same(r.done[0], reference(r, chip_of, 0));
  check_same(r.done[1], reference(r, chip_of, 1));
  // No request waited: every completion is its arrival plus one latency.
  for (int c = 0; c < 2; ++c)
    for (double d : r.done[c]) CHECK(std::fmod(ns(d) - ns(r.L), ns(r.P)) == 0);
}

TEST_CASE("Fleet dispatcher - round_robin queues the calibrating chip's share behind the calibration", "[sc][fleet]") {
  const Result r = run_fleet("round_robin");
  std::vector<int> chip_of(30);
  for (size_t i = 0; i < 30; ++i) chip_of[i] = static_cast<int>(i % 2);
  check_same(r.done[0], reference(r, chip_of, 0));
  check_same(r.done[1], reference(r, chip_of, 1));
  // Chip 0's five requests of the calibration window complete back to back after it.
  int late = 0;
  for (double d : r.done[0])
    if (d > r.T + r.D) ++late;
  CHECK(late >= 5);
  CHECK(ns(r.done[0][5]) == ns(r.T + r.D + r.L));
}

TEST_CASE("Fleet dispatcher - least_loaded spreads a burst that arrives at an idle fleet after t = 0", "[sc][fleet]") {
  // Six requests at 2 P, each replayed as its own arrival: the chips have been idle since 0, so
  // the work already dispatched to a chip (queued, not yet booked) starts at 2 P, not at its past
  // free_at. Least-loaded alternates 0, 1, 0, 1, 0, 1 (ties to the lower index) and each chip
  // completes its three back to back: 2 P + L, + 2 L, + 3 L. (Adding the queued work to the past
  // free_at sent all six to chip 0, the last completing at 2 P + 6 L.)
  const Result r = run_fleet("least_loaded", {2, 2, 2, 2, 2, 2});
  std::vector<int> chip_of = {0, 1, 0, 1, 0, 1};
  check_same(r.done[0], reference(r, chip_of, 0));
  check_same(r.done[1], reference(r, chip_of, 1));
  REQUIRE(r.done[0].size() == 3);
  CHECK(ns(r.done[0][2]) == ns(2 * r.P + 3 * r.L));
}
