// Noise management (aihwkit IOParameters noise_management / nm_thres; docs/converters_energy.md §2):
// the input scale s before the DAC, against a reference written here from aihwkit's definition
// (y = s W DAC(x / s), DAC = clip to the bound and round to the step), and the same bits on the
// image-window convolution path as on im2col + gemm.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/hardware_gemm.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

// Forwards gemm() and declines the convolution shortcut: the executor then runs im2col + gemm().
class NoShortcut : public models::MappedGemm {
 public:
  explicit NoShortcut(HardwareGemm& g) : m_g(g) {}
  void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
            bool y_trans) override {
    m_g.gemm(layer, group, sample, x, x_trans, n, y, y_trans);
  }

 private:
  HardwareGemm& m_g;
};

IoSpec with_nm(NoiseManagement nm, double thres) {
  IoSpec io;
  io.dac = {8, 1.0, 0};  // 8 bits over [-1, 1]: 254 steps
  io.noise_management = nm;
  io.nm_thres = thres;
  return io;
}

}  // namespace

TEST_CASE("noise management: abs_max, capped abs_max, constant and none scale the inputs as aihwkit defines them",
          "[noise_management]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const int64_t layer = 1;
  const auto& t = wl.layers[layer].gemms[0];
  const int64_t k = 8, kk = 64, n = 6;
  // Inputs of a few magnitudes, some above 1 (clipped unless normalised).
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (int64_t c = 0; c < t.cols; ++c)
    for (int64_t j = 0; j < n; ++j)
      x[static_cast<size_t>(c * n + j)] =
          static_cast<float>((0.4 + 0.5 * static_cast<double>(j)) * std::sin(0.71 * static_cast<double>(c) + j));
  const double step = 2.0 / 254.0;
  struct Case {
    NoiseManagement nm;
    double thres;
  };
  for (const Case cs : {Case{NoiseManagement::abs_max, 0}, Case{NoiseManagement::abs_max, 1.2},
                        Case{NoiseManagement::constant, 0.8}, Case{NoiseManagement::none, 0}}) {
    HardwareGemm hg(wl, ideal, with_nm(cs.nm, cs.thres), RandomStream(1, 0));
    std::vector<float> y(static_cast<size_t>(t.rows * n));
    hg.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
    int64_t clipped = 0;
    for (int64_t j = 0; j < n; ++j) {
      double amax = 0;
      for (int64_t c = 0; c < t.cols; ++c) amax = std::max(amax, std::abs(static_cast<double>(x[c * n + j])));
      const double s = cs.nm == NoiseManagement::none       ? 1.0
                       : cs.nm == NoiseManagement::constant ? cs.thres
                       : cs.thres > 0                       ? std::min(amax, cs.thres)
                                                            : amax;
      std::vector<double> xq(static_cast<size_t>(t.cols));
      for (int64_t c = 0; c < t.cols; ++c) {
        const double v = static_cast<double>(x[c * n + j]) / s;
        clipped += std::abs(v) > 1;
        xq[c] = std::nearbyint(std::min(1.0, std::max(-1.0, v)) / step) * step;
      }
      for (int64_t r = 0; r < t.rows; ++r) {
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < t.cols; ++c) {
          const double w = t.blocks[static_cast<size_t>(((r / k) * t.Q + c / k) * kk + (r % k) * k + c % k)];
          ref += w * xq[c];
          mag += std::abs(w);
        }
        ref *= s;
        CHECK(y[static_cast<size_t>(r * n + j)] == Approx(ref).margin(1e-5 * mag * s));
      }
    }
    // abs_max never clips; the others do with these inputs (up to 2.9 in magnitude).
    if (cs.nm == NoiseManagement::abs_max && cs.thres == 0)
      CHECK(clipped == 0);
    else
      CHECK(clipped > 0);
  }
}

TEST_CASE("noise management none with an ideal DAC: inputs above 1 reach the ADC, which clips each block's partial sums",
          "[noise_management]") {
  // DAC ideal, 8-bit ADC with bound 1 on the fused kernel: with raw inputs up to 2.9 the partial
  // sums exceed the bound, so the kernel must clip (the no-clipping shortcut holds only for
  // abs-max normalised inputs). Reference: y_r = sum_q b_pq ADC(sum_c wn_pq,rc x_c), ADC = round
  // to the step 2/254 of the value clipped to [-1, 1].
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const int64_t layer = 1, k = 8, kk = 64, n = 5;
  const auto& t = wl.layers[layer].gemms[0];
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (int64_t c = 0; c < t.cols; ++c)
    for (int64_t j = 0; j < n; ++j)
      x[static_cast<size_t>(c * n + j)] = static_cast<float>((0.5 + 0.6 * static_cast<double>(j)) * std::cos(0.3 * c + j));
  IoSpec io;
  io.adc = {8, 1.0, 0};
  io.noise_management = NoiseManagement::none;
  HardwareGemm hg(wl, ideal, io, RandomStream(1, 0));
  std::vector<float> y(static_cast<size_t>(t.rows * n));
  hg.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
  const double step = 2.0 / 254.0;
  int64_t clipped = 0;
  for (int64_t r = 0; r < t.rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t p = r / k, i = r % k;
      double ref = 0;
      for (int64_t q = 0; q < t.Q; ++q) {
        const int64_t b = p * t.Q + q;
        double bmax = 0, part = 0;
        for (int64_t e = 0; e < kk; ++e) bmax = std::max(bmax, static_cast<double>(std::abs(t.blocks[b * kk + e])));
        if (bmax == 0) continue;
        for (int64_t c = 0; c < k; ++c) part += t.blocks[b * kk + i * k + c] / bmax * x[(q * k + c) * n + j];
        clipped += std::abs(part) > 1;
        ref += bmax * std::nearbyint(std::min(1.0, std::max(-1.0, part)) / step) * step;
      }
      CHECK(y[static_cast<size_t>(r * n + j)] == Approx(ref).margin(2e-4));
    }
  CHECK(clipped > 100);  // the case the shortcut would get wrong is exercised
}

TEST_CASE("noise management: the image-window convolution path gives the im2col path's logits", "[noise_management]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  const models::Preprocess pre = models::preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const models::Dataset test = models::load_fashion_mnist("test");
  models::Tensor in;
  models::fill_batch(test, pre, 0, 6, in);
  IdealRealizer ideal(wl);
  for (NoiseManagement nm : {NoiseManagement::constant, NoiseManagement::none}) {
    IoSpec io = with_nm(nm, 2.0);
    io.adc = {8, 8.0, 0};
    HardwareGemm direct(wl, ideal, io, RandomStream(1, 0)), via(wl, ideal, io, RandomStream(1, 0));
    NoShortcut im2col(via);
    models::Executor a(g), b(g);
    a.set_mapped(&direct, wl.layer_index());
    b.set_mapped(&im2col, wl.layer_index());
    const models::Tensor ya = a.run(in);
    const models::Tensor& yb = b.run(in);
    REQUIRE(ya.f.size() == yb.f.size());
    for (size_t j = 0; j < ya.f.size(); ++j) CHECK(ya.f[j] == Approx(yb.f[j]).margin(1e-4).epsilon(1e-4));
    // And noise management acts: abs_max gives other logits.
    IoSpec am = with_nm(NoiseManagement::abs_max, 0);
    am.adc = io.adc;
    HardwareGemm plain(wl, ideal, am, RandomStream(1, 0));
    models::Executor c(g);
    c.set_mapped(&plain, wl.layer_index());
    const models::Tensor& yc = c.run(in);
    double moved = 0;
    for (size_t j = 0; j < ya.f.size(); ++j) moved = std::max(moved, static_cast<double>(std::abs(yc.f[j] - ya.f[j])));
    CHECK(moved > 1e-2);
  }
}
