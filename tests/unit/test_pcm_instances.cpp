// Monte-Carlo chip instances of the PCM technologies (accuracy.instances; docs/devices.md §2.4):
// an instance is an independent re-programming of the same targets, so across instances one
// device's programmed conductance has aihwkit's programming-noise spread (Joshi et al., Nat.
// Commun. 2020, Methods: sigma_prog = 0.26348 + 1.9650 u - 1.1731 u^2 uS at g_max = 25 uS,
// u = g_T / g_max), and switching back reproduces an instance bit for bit.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "hw/device/pcm_table.h"
#include "models/compiler.h"
#include "models/error.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {
const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

std::vector<float> read_layer(Technology& t, const models::GemmTiles& g) {
  std::vector<float> w(g.blocks.size()), s(static_cast<size_t>(g.P * g.Q));
  t.realize(0, 0, 0, w.data(), s.data());
  return w;
}
}  // namespace

TEST_CASE("PCM Monte-Carlo instances: one device's spread across instances is aihwkit's programming noise", "[pcm_instances]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  PcmPairConfig cfg;
  cfg.drift = false;
  cfg.read_noise = false;  // the realised weight is (g+ - g-) / g_max of the programmed devices
  PcmPair pcm(wl, cfg, RandomStream(5, 0));
  pcm.set_time(0);
  const models::GemmTiles& t = wl.layers[0].gemms[0];
  const int64_t kk = wl.spec.block_size * wl.spec.block_size, blocks = t.P * t.Q;
  // The device at each block's largest |w| has g_T = g_max on one side and 0 on the other.
  std::vector<int64_t> at_max;
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t best = b * kk;
    for (int64_t j = b * kk; j < (b + 1) * kk; ++j)
      if (std::abs(t.blocks[static_cast<size_t>(j)]) > std::abs(t.blocks[static_cast<size_t>(best)])) best = j;
    if (t.blocks[static_cast<size_t>(best)] != 0) at_max.push_back(best);
  }
  REQUIRE(at_max.size() >= 4);
  const std::vector<float> chip = read_layer(pcm, t);
  const int K = 400;
  std::vector<double> sum(at_max.size(), 0), sum2(at_max.size(), 0);
  std::vector<float> first;
  for (int k = 1; k <= K; ++k) {
    REQUIRE(pcm.select_instance(k));
    const std::vector<float> w = read_layer(pcm, t);
    if (k == 1) first = w;
    for (size_t i = 0; i < at_max.size(); ++i) {
      const double x = std::abs(w[static_cast<size_t>(at_max[i])]) * 25.0;  // uS, g_max = 25
      sum[i] += x;
      sum2[i] += x * x;
    }
  }
  // Per device: mean and variance across instances, pooled over the devices.
  const double s1 = 0.26348 + 1.9650 - 1.1731, s0 = 0.26348;  // sigma_prog at u = 1 and u = 0
  const double pi = std::acos(-1.0);
  const double mean_expected = 25.0 - s0 / std::sqrt(2 * pi);  // g- = max(0, s0 xi): E = s0 / sqrt(2 pi)
  const double var_expected = s1 * s1 + s0 * s0 * (0.5 - 1 / (2 * pi));
  double mean = 0, var = 0;
  for (size_t i = 0; i < at_max.size(); ++i) {
    const double m = sum[i] / K;
    mean += m / static_cast<double>(at_max.size());
    var += (sum2[i] / K - m * m) * K / (K - 1) / static_cast<double>(at_max.size());
  }
  const double n = static_cast<double>(at_max.size()) * K;
  CHECK(std::abs(mean - mean_expected) < 5 * std::sqrt(var_expected / n));
  CHECK(std::abs(var / var_expected - 1) < 5 * std::sqrt(2.0 / (n - at_max.size())));
  // Instance 0 is the chip, reproduced exactly; instance 1 likewise.
  REQUIRE(pcm.select_instance(0));
  CHECK(read_layer(pcm, t) == chip);
  REQUIRE(pcm.select_instance(1));
  CHECK(read_layer(pcm, t) == first);
  CHECK(first != chip);
  // Programming is the chip's (instance 0) only.
  CHECK_THROWS_WITH(pcm.program(0, 0, t.blocks, 10), Catch::Contains("Monte-Carlo instance 1 is selected"));
  REQUIRE(pcm.select_instance(0));
  CHECK(pcm.program(0, 0, t.blocks, 10) == 2 * static_cast<int64_t>(t.blocks.size()));  // every device re-written
}

TEST_CASE("pcm_table Monte-Carlo instances: persistent draws differ per instance, read time and instance 0 are kept",
          "[pcm_instances]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  PcmTableConfig cfg;
  cfg.table = parse_pcm_table_csv(
      "g_target_rel,t_s,g_mean_rel,g_std_rel\n0,1,0,0.01\n1,1,0.9,0.03\n0,1e9,0,0.01\n1,1e9,0.8,0.05\n", "t.csv");
  cfg.persistent_fraction = 1.0;  // all of the spread is fixed at programming
  PcmTable tab(wl, cfg, RandomStream(5, 0));
  tab.set_time(3600);
  const models::GemmTiles& t = wl.layers[0].gemms[0];
  const std::vector<float> chip = read_layer(tab, t);
  REQUIRE(tab.select_instance(3));
  const std::vector<float> three = read_layer(tab, t);
  CHECK(three != chip);
  // Same table mean at the same instant: the layer means agree within the spread.
  double d = 0;
  for (size_t j = 0; j < chip.size(); ++j) d += (three[j] - chip[j]) / static_cast<double>(chip.size());
  CHECK(std::abs(d) < 0.01);
  REQUIRE(tab.select_instance(0));
  CHECK(read_layer(tab, t) == chip);
}
