// Noisy execution: the compiled workload on tensor cores (effective block weights, DAC/ADC per
// block, digital accumulation), checked against the ideal executor and the reference
// sensitivities of DOCTOR's encoding (docs/devices.md §1).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "hw/device/mrr_bank.h"
#include "hw/hardware_gemm.h"
#include "models/accuracy.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::models;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

struct Setup {
  Graph g;
  Preprocess pre;
  CompiledWorkload wl;
  explicit Setup(const std::string& name)
      : g(import_onnx(kZoo + name + ".onnx")),
        pre(preprocess_for(g, kZoo + name + ".onnx")),
        wl(compile(g, TilingSpec{4, 4, 8, "cyclic"})) {}
};

const Dataset& test_set() {
  static const Dataset d = load_fashion_mnist("test");
  return d;
}

// DOCTOR's MRR bank ("high" phase variation, thermal crosstalk) behind 8-bit DAC and ADC.
struct MrrHardware {
  static MrrBankConfig config() {
    MrrBankConfig cfg;
    cfg.noise = {phase_variation_noise(PhaseVariationParams{}), crosstalk_noise(CrosstalkParams{})};
    return cfg;
  }
  static IoSpec converters() {
    IoSpec io;
    io.dac = {8, 1.0, 0};
    io.adc = {8, 8.0, 0};
    return io;
  }
  MrrBank bank;
  HardwareGemm hg;
  MrrHardware(const Setup& s, uint64_t seed)
      : bank(s.wl, config(), RandomStream(seed, 0xde)), hg(s.wl, bank, converters(), RandomStream(seed, 0x5e)) {}
};

double accuracy_with(Setup& s, HardwareGemm* hwg, int64_t n) {
  Executor ex(s.g);
  if (hwg) ex.set_mapped(hwg, s.wl.layer_index());
  return evaluate_accuracy(ex, test_set(), s.pre, n, 100).accuracy();
}

}  // namespace

TEST_CASE("ideal tensor cores reproduce the dense executor", "[noisy]") {
  for (const char* name : {"lenet5_fmnist", "cnn3_fmnist"}) {
    Setup s(name);
    IdealRealizer ideal(s.wl);
    HardwareGemm hwg(s.wl, ideal, IoSpec{}, RandomStream(1, 0));
    Executor dense(s.g), tiled(s.g);
    tiled.set_mapped(&hwg, s.wl.layer_index());
    Tensor in;
    fill_batch(test_set(), s.pre, 0, 16, in);
    Tensor yd = dense.run(in);
    const Tensor& yt = tiled.run(in);
    REQUIRE(yd.shape == yt.shape);
    for (size_t j = 0; j < yd.f.size(); ++j) REQUIRE(yt.f[j] == Approx(yd.f[j]).margin(1e-3).epsilon(1e-4));
  }
}

TEST_CASE("8-bit DAC and per-block ADC cost little accuracy, 2-bit ADC costs a lot", "[noisy]") {
  Setup s("cnn3_fmnist");
  IdealRealizer ideal(s.wl);
  const int64_t n = 500;
  double acc_ideal = accuracy_with(s, nullptr, n);
  IoSpec io8;
  io8.dac = {8, 1.0, 0};
  io8.adc = {8, 8.0, 0};
  HardwareGemm g8(s.wl, ideal, io8, RandomStream(1, 0));
  double acc8 = accuracy_with(s, &g8, n);
  IoSpec io2 = io8;
  io2.adc = {2, 8.0, 0};
  HardwareGemm g2(s.wl, ideal, io2, RandomStream(1, 0));
  double acc2 = accuracy_with(s, &g2, n);
  std::printf("CNN3 (%lld images): ideal %.3f, 8-bit DAC/ADC %.3f, 2-bit ADC %.3f\n", static_cast<long long>(n), acc_ideal, acc8,
              acc2);
  CHECK(std::abs(acc8 - acc_ideal) <= 0.02);
  CHECK(acc2 < acc_ideal - 0.1);
}

TEST_CASE("MRR banks under DOCTOR's noise: clipping only, high phase variation, +1 K", "[noisy][mrr]") {
  Setup s("cnn3_fmnist");
  const int64_t n = 1000;
  double acc_ideal = accuracy_with(s, nullptr, n);

  auto mrr_accuracy = [&](const MrrBankConfig& cfg, int64_t step) {
    MrrBank bank(s.wl, cfg, RandomStream(3, 0));
    bank.set_step(step);
    HardwareGemm g(s.wl, bank, IoSpec{}, RandomStream(3, 1));
    return accuracy_with(s, &g, n);
  };
  double acc_clip = mrr_accuracy(MrrBankConfig{}, 0);
  MrrBankConfig pv;
  pv.noise = {phase_variation_noise(PhaseVariationParams{})};  // "high", edge -> corner
  double acc_pv = mrr_accuracy(pv, 10000);                     // mid-schedule, x = 0.5
  MrrBankConfig hot;
  hot.noise = {global_temperature_noise(GlobalTemperatureParams{})};  // linear, uniform hotspot
  double acc_hot = mrr_accuracy(hot, 20000);                          // +1 K
  std::printf("CNN3 on MRR banks (%lld images): ideal %.3f, encoding only %.3f, high PV at x=0.5 %.3f, +1 K %.3f\n",
              static_cast<long long>(n), acc_ideal, acc_clip, acc_pv, acc_hot);
  // The encoding alone clips positive weights above 0.9218/0.9601 of the block max: a small loss.
  CHECK(acc_clip >= acc_ideal - 0.03);
  // ~0.009 rad of phase noise (~3 % of the block max per weight) is a clear drop ...
  CHECK(acc_pv < acc_ideal - 0.01);
  // ... and +1 K shifts every weight by ~13 % of its block max: far worse.
  CHECK(acc_hot < acc_ideal - 0.2);
}

#include "hw/device/pcm_pair.h"

TEST_CASE("PCM pairs: exact at t = 0 without noise, degrade with drift - writes are counted", "[noisy][pcm]") {
  Setup s("cnn3_fmnist");
  const int64_t n = 500;
  double acc_ideal = accuracy_with(s, nullptr, n);
  PcmPairConfig drift_only;
  drift_only.programming_noise = false;
  drift_only.read_noise = false;
  PcmPair d(s.wl, drift_only, RandomStream(5, 0));
  int64_t weights = 0;
  for (const auto& L : s.wl.layers)
    for (const auto& t : L.gemms) weights += static_cast<int64_t>(t.blocks.size());
  CHECK(d.writes() == 2 * weights);       // first programming writes both devices of every pair
  CHECK(d.program_all() == 2 * weights);  // re-programming re-writes every device (drift restarts)
  HardwareGemm gd(s.wl, d, IoSpec{}, RandomStream(5, 1));
  double acc_drift0 = accuracy_with(s, &gd, n);  // t = 0: drift factor 1, g = target exactly
  d.set_time(3600);
  double acc_drift1h = accuracy_with(s, &gd, n);

  PcmPairConfig full;
  PcmPair p(s.wl, full, RandomStream(5, 0));
  HardwareGemm gp(s.wl, p, IoSpec{}, RandomStream(5, 1));
  double acc_t0 = accuracy_with(s, &gp, n);
  p.set_time(86400);
  double acc_day = accuracy_with(s, &gp, n);
  std::printf(
      "CNN3 on PCM pairs (%lld images): ideal %.3f; drift only: t=0 %.3f, 1 h %.3f; all effects: t=0 %.3f, 1 day %.3f "
      "(no drift compensation)\n",
      static_cast<long long>(n), acc_ideal, acc_drift0, acc_drift1h, acc_t0, acc_day);
  CHECK(acc_drift0 == Approx(acc_ideal).margin(0.0021));
  // Uncompensated drift shrinks W x against the digital biases (nu grows at low conductance).
  CHECK(acc_drift1h < acc_drift0 - 0.05);
  // Programming + read noise at t = 0 (4 % of g_max) cost little; a day of drift costs a lot.
  CHECK(acc_t0 >= acc_ideal - 0.03);
  CHECK(acc_day < acc_t0 - 0.05);
}

TEST_CASE("every image is its own draw: logits do not depend on how images are batched", "[noisy][mrr]") {
  // CNN3 ends in a 2-D MatMul: each of its rows must be its own sample, as for Gemm and Conv.
  Setup s("cnn3_fmnist");
  MrrHardware hw(s, 2);
  MrrBank& bank = hw.bank;
  HardwareGemm& hg = hw.hg;
  Executor ex(s.g, 2);
  ex.set_mapped(&hg, s.wl.layer_index());
  auto logits = [&](int64_t first, int64_t n, uint64_t draw_base) {
    bank.set_times(draw_base, std::vector<NoiseTime>(static_cast<size_t>(n), NoiseTime{5000, 0.0}));
    hg.set_draw_base(draw_base);
    Tensor in;
    fill_batch(test_set(), s.pre, first, n, in);
    return ex.run(in).f;
  };
  std::vector<float> all = logits(0, 12, 0), parts = logits(0, 5, 0), rest = logits(5, 7, 5);
  parts.insert(parts.end(), rest.begin(), rest.end());
  REQUIRE(all.size() == parts.size());
  CHECK(std::memcmp(all.data(), parts.data(), all.size() * sizeof(float)) == 0);
  // ... and other draws of the same images give other logits (the noise is really per draw).
  std::vector<float> redrawn = logits(0, 12, 100);
  for (int64_t i = 0; i < 12; ++i) CHECK(std::memcmp(redrawn.data() + i * 10, all.data() + i * 10, 10 * sizeof(float)) != 0);
}

TEST_CASE("sample-parallel execution: the same logits at 1, 2 and 3 threads, batches split unevenly", "[noisy][mrr]") {
  // With weight layers on the hardware model, threads > 1 run slices of the batch through
  // single-threaded sub-executors (models/executor.h); every sample must come out bit for bit
  // as at 1 thread, whatever the split.
  for (const char* name : {"lenet5_fmnist", "cnn3_fmnist", "vgg8_fmnist"}) {
    Setup s(name);
    MrrHardware hw(s, 4);
    MrrBank& bank = hw.bank;
    HardwareGemm& hg = hw.hg;
    bank.set_times(40, std::vector<NoiseTime>(7, NoiseTime{3000, 0.0}));
    hg.set_draw_base(40);
    Tensor in;
    fill_batch(test_set(), s.pre, 3, 7, in);
    std::vector<std::vector<float>> out;
    for (int threads : {1, 2, 3}) {
      Executor ex(s.g, threads);
      ex.set_mapped(&hg, s.wl.layer_index());
      out.push_back(ex.run(in).f);
      CHECK(ex.run(in).shape == Shape{7, 10});
    }
    INFO(name);
    REQUIRE(out[0].size() == 70u);
    CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(out[0].data(), out[2].data(), out[0].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("sample-parallel execution follows set_mapped: dense weights, the hardware, another hardware model", "[noisy][mrr]") {
  Setup s("cnn3_fmnist");
  MrrHardware hw(s, 6);
  hw.bank.set_times(0, std::vector<NoiseTime>(6, NoiseTime{3000, 0.0}));
  hw.hg.set_draw_base(0);
  Tensor in;
  fill_batch(test_set(), s.pre, 0, 6, in);
  Executor dense(s.g, 1), ex(s.g, 2);
  const std::vector<float> ideal = dense.run(in).f;
  ex.set_mapped(&hw.hg, s.wl.layer_index());
  const std::vector<float> noisy = ex.run(in).f;  // sample-parallel
  ex.set_mapped(nullptr, {});
  const std::vector<float> again = ex.run(in).f;  // dense weights: the ideal logits
  REQUIRE(again.size() == ideal.size());
  for (size_t j = 0; j < ideal.size(); ++j) CHECK(again[j] == Approx(ideal[j]).margin(1e-4));
  CHECK(std::memcmp(noisy.data(), ideal.data(), ideal.size() * sizeof(float)) != 0);
  ex.set_mapped(&hw.hg, s.wl.layer_index());
  const std::vector<float> noisy2 = ex.run(in).f;
  CHECK(std::memcmp(noisy.data(), noisy2.data(), noisy.size() * sizeof(float)) == 0);
  // Another hardware model (other noise seeds): the sub-executors must follow it.
  MrrHardware other(s, 7);
  other.bank.set_times(0, std::vector<NoiseTime>(6, NoiseTime{3000, 0.0}));
  other.hg.set_draw_base(0);
  ex.set_mapped(&other.hg, s.wl.layer_index());
  const std::vector<float> switched = ex.run(in).f;
  Executor fresh(s.g, 2);
  fresh.set_mapped(&other.hg, s.wl.layer_index());
  const std::vector<float> expected = fresh.run(in).f;
  CHECK(std::memcmp(switched.data(), expected.data(), expected.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(switched.data(), noisy.data(), noisy.size() * sizeof(float)) != 0);
}
