// The controller's actions (sim/actions/) as plain C++: an Env with a plain clock instead of the
// kernel (the accelerator module is elaborated, the simulation never starts).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cmath>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/device/mrr_bank.h"
#include "models/compiler.h"
#include "models/onnx_import.h"
#include "sim/actions/actions.h"
#include "sim/sim_time.h"

using namespace ptc;

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

namespace {

const std::string kSrc = PTC_SOURCE_DIR;

// A chip (CNN3 on 4x4 cores of 8x8 rings, cyclic mapping) and a plain-clock Env around it.
struct Bench : sim::actions::Env {
  models::Graph g = models::import_onnx(kSrc + "/models/zoo/cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{});
  sim::Scenario s;
  models::Preprocess pre;
  models::Dataset test;
  std::atomic<bool> stop{false};
  sim::RunContext rc{s, g, pre, test, wl, stop};
  sim::actions::Learning lg{rc};
  std::unique_ptr<hw::Accelerator> acc;
  hw::RandomStream rs{1, 0xc0};
  double t_s = 0;
  int64_t cycles = 0, settles = 0;
  uint64_t draws = 0;
  std::vector<std::string> events;

  explicit Bench(const hw::MrrBankConfig& cfg, const std::string& name) {
    sim::configure_kernel_time();
    hw::AcceleratorConfig ac;
    acc = std::make_unique<hw::Accelerator>(name.c_str(), g, wl,
                                            std::make_unique<hw::MrrBank>(wl, cfg, hw::RandomStream(1, 0xde)), ac);
  }
  hw::Accelerator& chip() override { return *acc; }
  const sim::RunContext& ctx() const override { return rc; }
  double now_s() const override { return t_s; }
  void set_now() override { acc->tech().set_times(0, {hw::NoiseTime{0, t_s}}); }
  uint64_t next_draw() override { return (uint64_t{1} << 48) + draws++; }
  void charge_cycles(int64_t c, int64_t s_, const std::string&, int64_t) override { cycles += c, settles += s_; }
  double occupy_writes() override { return acc->take_write_time_s(); }
  void occupy_settles(int64_t n) override { settles += n; }
  void log_event(const std::string& type, const sim::Json&) override { events.push_back(type); }
  sim::actions::Learning& learning() override { return lg; }
  const hw::RandomStream& rng() const override { return rs; }
  int64_t calibrations() const override { return 0; }
  int64_t probe_cycles() const override {
    int64_t c = 0;
    for (const auto& L : wl.layers) c += L.chunks * wl.spec.block_size;
    return c;
  }
};

int64_t remap_changed(Bench& b) {
  sim::RemapSpec spec;
  spec.cost = "none";  // ||e||_1 per row-block and tile: needs no salience
  return sim::actions::remap(b, spec, "test").changed;
}

}  // namespace

TEST_CASE(
    "actions: a noise-free probe reads back W* up to the ring encoding, a fabrication offset raises the error, k cycles per "
    "chunk",
    "[actions]") {
  Bench b(hw::MrrBankConfig{}, "chip_probe");
  const double err = sim::actions::probe(b);
  CHECK(err > 0);
  CHECK(err < 5e-3);  // the ring's finite extinction: weights at the block's extremes are not reached exactly
  hw::MrrBankConfig cfg;
  const int64_t rings = b.wl.spec.rows * b.wl.spec.cols * b.wl.spec.block_size * b.wl.spec.block_size;
  hw::RandomStream r(3, 1);
  std::vector<float> offset;
  for (int64_t i = 0; i < rings; ++i) offset.push_back(static_cast<float>(0.05 * r.normal(static_cast<uint64_t>(i))));
  cfg.noise = {hw::fixed_phase_offset(offset)};
  Bench off(cfg, "chip_probe_offset");
  CHECK(sim::actions::probe(off) > 5 * err);
  int64_t chunks = 0;
  for (const auto& L : b.wl.layers) chunks += L.chunks;
  CHECK(b.cycles == chunks * b.wl.spec.block_size);
  CHECK(b.settles == b.wl.chunks);
  CHECK(b.events == std::vector<std::string>{"probe"});
}

TEST_CASE("actions: remapping keeps every chunk under a temperature common to all cores and moves chunks when cores differ",
          "[actions]") {
  // A thermal offset shared by every core (the data-centre field): every tile realises a
  // row-block identically, so no assignment is better than the identity (0 chunks changed).
  Bench common(hw::MrrBankConfig{}, "chip_common");
  const int64_t kk = common.wl.spec.block_size * common.wl.spec.block_size;
  const int64_t cores = common.wl.spec.rows * common.wl.spec.cols;
  common.acc->tech().set_ring_temperature_k(std::vector<double>(static_cast<size_t>(cores * kk), 0.8));
  CHECK(remap_changed(common) == 0);

  // Per-ring fabrication offsets differ from core to core: some row-blocks fit other tiles better.
  hw::MrrBankConfig cfg;
  hw::RandomStream r(7, 1);
  std::vector<float> offset;
  for (int64_t i = 0; i < cores * kk; ++i) offset.push_back(static_cast<float>(0.05 * r.normal(static_cast<uint64_t>(i))));
  cfg.noise = {hw::fixed_phase_offset(offset)};
  Bench varied(cfg, "chip_varied");
  const int64_t changed = remap_changed(varied);
  CHECK(changed > varied.wl.chunks / 4);
  // The charge is DOCTOR's (R k + R^3) cycles per chunk.
  const int64_t R = varied.wl.spec.rows, k = varied.wl.spec.block_size;
  CHECK(varied.cycles == (R * k + R * R * R) * varied.wl.chunks);
}
