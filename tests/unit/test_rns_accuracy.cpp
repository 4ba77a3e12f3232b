// Compiled layers on RNS tiles (docs/rns.md §6): the RnsGemm hook against an independent
// block-by-block BFP reference, and Blueprint's inference claim ("A Blueprint for Precise and
// Fault-Tolerant Analog Neural Networks", Nature Communications 2024: 6-bit RNS reaches >= 99 % of
// FP32 accuracy) on ptcsim's CNN3 / Fashion-MNIST with 8 x 8 tiles. The accuracy case takes
// minutes and is hidden: run it with `ptc_unit_tests "[rns-accuracy]"`.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hw/hardware_gemm.h"
#include "hw/rns/rns_gemm.h"
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

double accuracy(const Graph& g, const Preprocess& pre, const CompiledWorkload& wl, MappedGemm* mg, int64_t n) {
  static const Dataset test = load_fashion_mnist("test");
  Executor ex(g);
  if (mg) ex.set_mapped(mg, wl.layer_index());
  return evaluate_accuracy(ex, test, pre, n, 100).accuracy();
}

}  // namespace

TEST_CASE("rns: compiled layers on RNS tiles equal a block-by-block BFP reference bit for bit", "[rns]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsTileSpec spec;
  spec.base = rns::blueprint_moduli(6, rns::output_bits(6, 6, 8));
  rns::RnsGemm rg(wl, spec, std::vector<double>(3, 0.0), RandomStream(1, 7));
  {  // groups of several tiles: refused when built, not at the first product
    rns::RnsTileSpec grouped = spec;
    grouped.group_tiles = 2;
    CHECK_THROWS_WITH(rns::RnsGemm(wl, grouped, std::vector<double>(3, 0.0), RandomStream(1, 7)),
                      Catch::Contains("group_tiles = 1, got 2"));
  }
  std::mt19937 gen(4);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t k = 8, n = 3;
  for (int64_t layer = 0; layer < int64_t(wl.layers.size()); ++layer) {
    CAPTURE(layer);
    const GemmTiles& t = wl.layers[layer].gemms[0];
    std::vector<float> x(t.cols * n), y(t.rows * n), yt(t.rows * n), xt(t.cols * n);
    for (auto& v : x) v = std::max(0.f, nd(gen));
    for (int64_t c = 0; c < t.cols; ++c)
      for (int64_t v = 0; v < n; ++v) xt[v * t.cols + c] = x[c * n + v];
    rg.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
    rg.gemm(layer, 0, 0, xt.data(), true, n, yt.data(), true);
    rns::BfpSpec b;
    b.group = int(k);
    int bad = 0, bad_t = 0;
    for (int64_t v = 0; v < n; ++v) {
      std::vector<float> xs(t.Q * k, 0.f);
      for (int64_t c = 0; c < t.cols; ++c) xs[c] = x[c * n + v];
      for (int64_t r = 0; r < t.rows; ++r) {
        const int64_t p = r / k, i = r % k;
        float acc = 0.f;
        for (int64_t q = 0; q < t.Q; ++q) {
          const rns::BfpVector qx = rns::bfp_quantize(xs.data() + q * k, k, b);
          const rns::BfpVector qw = rns::bfp_quantize(t.blocks.data() + ((p * t.Q + q) * k + i) * k, k, b);
          int64_t d = 0;
          for (int64_t j = 0; j < k; ++j) d += int64_t{qx.mantissa[j]} * qw.mantissa[j];
          acc += float(std::ldexp(double(d), qx.exponent[0] + qw.exponent[0]));
        }
        bad += y[r * n + v] != acc;
        bad_t += yt[v * t.rows + r] != acc;
      }
    }
    CHECK(bad == 0);
    CHECK(bad_t == 0);
  }
  CHECK(rg.counters(0).words == 2 * 3 * wl.layers[0].gemms[0].P * wl.layers[0].gemms[0].Q * 8);
}

TEST_CASE("rns: 6-bit RNS tiles keep 99 percent of the FP32 accuracy of CNN3", "[.][rns-accuracy]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  const int64_t n = 1000;
  const double fp32 = accuracy(g, pre, wl, nullptr, n);
  // RNS: 6-bit BFP mantissas, Blueprint's rule for h = k = 8 (b_out = 14 bits) -> {63, 62, 61},
  // 6-bit ADCs, noise-free.
  rns::RnsTileSpec spec;
  spec.base = rns::blueprint_moduli(6, rns::output_bits(6, 6, 8));
  REQUIRE(spec.base == std::vector<int64_t>{63, 62, 61});
  rns::RnsGemm rg(wl, spec, std::vector<double>(3, 0.0), RandomStream(1, 7));
  const double acc_rns = accuracy(g, pre, wl, &rg, n);
  // Conventional analog core: 6-bit DAC and 6-bit ADC over the full partial-sum range of a block.
  IdealRealizer ideal(wl);
  IoSpec io;
  io.dac = {6, 1.0, 0};
  io.adc = {6, 8.0, 0};
  HardwareGemm analog(wl, ideal, io, RandomStream(1, 8));
  const double acc_analog = accuracy(g, pre, wl, &analog, n);
  WARN("CNN3, " << n << " test images: FP32 " << fp32 << ", RNS 6-bit " << acc_rns << ", analog 6-bit " << acc_analog);
  CHECK(acc_rns >= 0.99 * fp32);
  // Not asserted: with 8-input tiles b_out is only 14 bits, and the 6-bit analog core stays close
  // (measured 0.927 against FP32 0.937 and RNS 0.932 on 1,000 images); Blueprint's gap is for
  // long dot products (h = 128, b_out = 18).
  // The RNS core did compute through its words: one per block row and input vector.
  int64_t words = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l) words += rg.counters(int64_t(l)).words;
  CHECK(words > 0);
  CHECK(rg.counters(0).residue_errors == 0);
}
