// The controller's actions (sim/actions/) as plain C++: an Env with a plain clock instead of the
// kernel (the accelerator module is elaborated, the simulation never starts).
#define CATCH_CONFIG_RUNNER
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/device/mrr_bank.h"
#include "hw/physics/pcm.h"
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
  Bench(std::unique_ptr<hw::Technology> tech, const std::string& name) {
    sim::configure_kernel_time();
    acc = std::make_unique<hw::Accelerator>(name.c_str(), g, wl, std::move(tech), hw::AcceleratorConfig{});
  }
  hw::Accelerator& chip() override { return *acc; }
  const sim::RunContext& ctx() const override { return rc; }
  double now_s() const override { return t_s; }
  void set_now() override { acc->tech().set_times(0, {hw::NoiseTime{0, t_s}}); }
  uint64_t next_draw() override { return (uint64_t{1} << 48) + draws++; }
  double charge_cycles(int64_t c, int64_t s_, const std::string&, int64_t) override {
    cycles += c, settles += s_;
    return acc->cycles_time_s(c, s_);
  }
  double occupy_writes() override { return acc->take_write_time_s(); }
  double occupy_settles(int64_t n) override {
    settles += n;
    return acc->cycles_time_s(0, n);
  }
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

// A technology with known drift: the programmed weights exactly, each device read at t as
// w ((t + t0) / t0)^-nu with nu(layer, scale tile, weight row) given by the test (t0 = 20 s).
class KnownDrift : public hw::Technology {
 public:
  using Nu = std::function<double(int64_t layer, int64_t tile, int64_t row)>;
  KnownDrift(const models::CompiledWorkload& wl, hw::PcmScaleTile st, Nu nu) : m_wl(wl), m_nu(std::move(nu)) {
    for (const auto& L : wl.layers) {
      m_tiles.emplace_back();
      for (const auto& t : L.gemms) {
        int64_t n = 0;
        m_tiles.back().push_back(st.per_block() ? std::vector<int32_t>{}
                                                : hw::pcm_tile_of_blocks(st, t.P, t.Q, t.rows, t.cols, n));
      }
    }
  }
  std::string name() const override { return "known_drift"; }
  int64_t program(int64_t, int64_t, const std::vector<float>&, double) override { return 0; }
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override {
    return m_wl.layers.at(layer).gemms.at(group).blocks;
  }
  void set_times(uint64_t, const std::vector<hw::NoiseTime>& times) override { m_t = times.front().t_s; }
  int64_t writes() const override { return 0; }
  const std::vector<int32_t>& scale_tiles(int64_t layer, int64_t group) const override { return m_tiles.at(layer).at(group); }
  double factor(int64_t layer, int64_t tile, int64_t row) const { return std::pow((m_t + 20.0) / 20.0, -m_nu(layer, tile, row)); }
  void realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const override {
    const auto& t = m_wl.layers.at(layer).gemms.at(group);
    const auto& tiles = m_tiles.at(layer).at(group);
    const int64_t k = m_wl.spec.block_size, kk = k * k;
    for (int64_t b = 0; b < t.P * t.Q; ++b) {
      float mx = 0;
      for (int64_t i = 0; i < kk; ++i) mx = std::max(mx, std::abs(t.blocks[static_cast<size_t>(b * kk + i)]));
      scale[b] = mx;
      const int64_t tile = tiles.empty() ? b : tiles[static_cast<size_t>(b)];
      for (int64_t i = 0; i < k; ++i) {
        const double d = factor(layer, tile, (b / t.Q) * k + i);
        for (int64_t j = 0; j < k; ++j)
          wn[b * kk + i * k + j] = mx > 0 ? static_cast<float>(t.blocks[static_cast<size_t>(b * kk + i * k + j)] / mx * d) : 0.0f;
      }
    }
  }

 private:
  const models::CompiledWorkload& m_wl;
  Nu m_nu;
  std::vector<std::vector<std::vector<int32_t>>> m_tiles;
  double m_t = 0;
};

// KnownDrift with Monte-Carlo instances and noiseless reads whose copy (instance 1) fails to read:
// what a measurement leaves selected when it throws.
class FailingCopy : public KnownDrift {
 public:
  using KnownDrift::KnownDrift;
  bool select_instance(int64_t k) override {
    instance = k;
    return true;
  }
  bool set_noiseless_reads(bool on) override {
    noiseless = on;
    return true;
  }
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override {
    if (instance == 1) throw std::runtime_error("instance 1 cannot be read");
    KnownDrift::realize(layer, group, draw, wn, scale);
  }
  int64_t instance = 0;
  bool noiseless = false;
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

namespace {

// Reference readout at t = 0, compensation at t; returns the bench for inspection.
void compensate_at(Bench& b, const sim::DriftCompensationSpec& spec, double t_s, std::vector<std::vector<double>>& ref) {
  b.t_s = 0;
  sim::actions::compensate_drift(b, true, spec, ref);
  b.t_s = t_s;
  sim::actions::compensate_drift(b, false, spec, ref);
}

}  // namespace

TEST_CASE("actions: per-column drift compensation restores every column of a drifted noise-free layer exactly",
          "[actions][pcm_tiles]") {
  // nu differs from weight row to weight row (an aihwkit output column) and from tile to tile, but
  // not along a row within a tile: alpha per (tile, row) = ((t + t0) / t0)^nu undoes it exactly.
  for (const bool aihwkit_tiles : {false, true}) {
    const hw::PcmScaleTile st = aihwkit_tiles ? hw::PcmScaleTile{512, 512} : hw::PcmScaleTile{};
    const auto nu = [](int64_t l, int64_t tile, int64_t r) {
      return 0.02 + 0.01 * static_cast<double>(r % 5) + 0.003 * static_cast<double>((tile + l) % 4);
    };
    models::Graph g0 = models::import_onnx(kSrc + "/models/zoo/cnn3_fmnist.onnx");
    models::CompiledWorkload wl0 = models::compile(g0, models::TilingSpec{});
    Bench b(std::make_unique<KnownDrift>(wl0, st, nu), aihwkit_tiles ? "chip_col_aihwkit" : "chip_col_block");
    // KnownDrift reads the bench's own workload (same graph, same compilation).
    REQUIRE(wl0.layers.size() == b.wl.layers.size());
    sim::DriftCompensationSpec spec;
    spec.granularity = "per_column";
    std::vector<std::vector<double>> ref;
    const int64_t k = b.wl.spec.block_size, kk = k * k;
    std::vector<std::vector<std::vector<float>>> eff0(b.wl.layers.size());
    b.t_s = 0;
    b.set_now();
    for (size_t l = 0; l < b.wl.layers.size(); ++l)
      for (size_t gi = 0; gi < b.wl.layers[l].gemms.size(); ++gi) {
        eff0[l].emplace_back();
        b.acc->effective(static_cast<int64_t>(l), static_cast<int64_t>(gi), 0, eff0[l].back());
      }
    const double t = 3.15e7;
    compensate_at(b, spec, t, ref);
    std::vector<float> eff;
    int64_t checked = 0;
    for (size_t l = 0; l < b.wl.layers.size(); ++l)
      for (size_t gi = 0; gi < b.wl.layers[l].gemms.size(); ++gi) {
        const auto& tt = b.wl.layers[l].gemms[gi];
        b.acc->effective(static_cast<int64_t>(l), static_cast<int64_t>(gi), 0, eff);
        const auto& gains = b.acc->block_gains(static_cast<int64_t>(l), static_cast<int64_t>(gi));
        REQUIRE(gains.size() == static_cast<size_t>(tt.P * tt.Q * k));
        for (int64_t r = 0; r < tt.rows; ++r)
          for (int64_t c = 0; c < tt.cols; ++c) {
            const int64_t bl = (r / k) * tt.Q + c / k;
            const size_t j = static_cast<size_t>(bl * kk + (r % k) * k + c % k);
            if (eff0[l][gi][j] == 0) continue;
            CHECK(std::abs(eff[j]) < 0.8f * std::abs(eff0[l][gi][j]));  // it did drift
            CHECK(eff[j] * gains[static_cast<size_t>(bl * k + r % k)] == Approx(eff0[l][gi][j]).epsilon(2e-5));
            ++checked;
          }
        CHECK(b.acc->output_gain(static_cast<int64_t>(l)) == 1.0);
      }
    CHECK(checked > 1000);
  }
}

TEST_CASE("actions: a drift compensation that fails on a Monte-Carlo copy leaves this chip selected with its ordinary reads",
          "[actions][pcm_tiles]") {
  models::Graph g0 = models::import_onnx(kSrc + "/models/zoo/cnn3_fmnist.onnx");
  models::CompiledWorkload wl0 = models::compile(g0, models::TilingSpec{});
  Bench b(std::make_unique<FailingCopy>(wl0, hw::PcmScaleTile{}, [](int64_t, int64_t, int64_t) { return 0.05; }),
          "chip_failing_copy");
  b.s.accuracy.instances = 2;
  const auto& tech = dynamic_cast<const FailingCopy&>(b.acc->tech());
  sim::DriftCompensationSpec spec;
  spec.noiseless_reference = true;
  std::vector<std::vector<double>> ref;
  // The copies are compensated first (instance 0 last): instance 1 throws with the noiseless
  // reference reads on and the copy selected.
  CHECK_THROWS_WITH(sim::actions::compensate_drift(b, true, spec, ref), Catch::Contains("instance 1 cannot be read"));
  CHECK(tech.instance == 0);
  CHECK(b.acc->instance() == 0);
  CHECK_FALSE(tech.noiseless);
}

TEST_CASE("actions: per-tile drift compensation gives each tile alpha = ((t + t0) / t0)^nu_tile and per layer the weighted ratio",
          "[actions][pcm_tiles]") {
  // Scale tiles half a layer wide: the last (fully connected) layer has 2 tiles, drifting with
  // nu = 0.03 and 0.08. Per tile alpha is the inverse drift factor of the tile; one alpha per
  // layer is sum |W| / sum |W| d_tile (the readout ratio, a closed form).
  models::Graph g0 = models::import_onnx(kSrc + "/models/zoo/cnn3_fmnist.onnx");
  models::CompiledWorkload wl0 = models::compile(g0, models::TilingSpec{});
  const int64_t k = wl0.spec.block_size, last = static_cast<int64_t>(wl0.layers.size()) - 1;
  const auto& tl = wl0.layers[static_cast<size_t>(last)].gemms[0];
  const hw::PcmScaleTile st{1 << 20, k * ((tl.Q + 1) / 2)};
  const auto nu = [](int64_t, int64_t tile, int64_t) { return tile == 0 ? 0.03 : 0.08; };
  const double t = 86400, t0 = 20;
  const double d0 = std::pow((t + t0) / t0, -0.03), d1 = std::pow((t + t0) / t0, -0.08);
  {
    Bench b(std::make_unique<KnownDrift>(wl0, st, nu), "chip_tile");
    const auto& tiles = b.acc->tech().scale_tiles(last, 0);
    REQUIRE(*std::max_element(tiles.begin(), tiles.end()) == 1);
    sim::DriftCompensationSpec spec;
    spec.granularity = "per_tile";
    std::vector<std::vector<double>> ref;
    compensate_at(b, spec, t, ref);
    const auto& gains = b.acc->block_gains(last, 0);
    for (int64_t bl = 0; bl < tl.P * tl.Q; ++bl)
      for (int64_t i = 0; i < k; ++i) {
        if ((bl / tl.Q) * k + i >= tl.rows) continue;
        CHECK(gains[static_cast<size_t>(bl * k + i)] ==
              Approx(1.0 / (tiles[static_cast<size_t>(bl)] == 0 ? d0 : d1)).epsilon(1e-5));
      }
  }
  {
    Bench b(std::make_unique<KnownDrift>(wl0, st, nu), "chip_layer");
    const auto& tiles = b.acc->tech().scale_tiles(last, 0);
    sim::DriftCompensationSpec spec;  // per_layer
    std::vector<std::vector<double>> ref;
    compensate_at(b, spec, t, ref);
    double sw = 0, swd = 0;
    for (int64_t r = 0; r < tl.rows; ++r)
      for (int64_t c = 0; c < tl.cols; ++c) {
        const int64_t bl = (r / k) * tl.Q + c / k;
        const double w = std::abs(tl.blocks[static_cast<size_t>(bl * k * k + (r % k) * k + c % k)]);
        sw += w;
        swd += w * (tiles[static_cast<size_t>(bl)] == 0 ? d0 : d1);
      }
    CHECK(b.acc->output_gain(last) == Approx(sw / swd).epsilon(1e-5));
    CHECK(b.acc->block_gains(last, 0).empty());
  }
}
