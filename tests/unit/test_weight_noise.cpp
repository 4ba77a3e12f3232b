// Weight noise per MVM (aihwkit IOParameters w_noise with ADDITIVE_CONSTANT and PCM_READ;
// docs/converters_energy.md §2): the hardware GEMM's output error against the closed-form variance
// of each output, written here from aihwkit's definitions, on a CNN3 layer with ideal converters.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
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

struct Moments {
  double mean = 0, var = 0, corr_cols = 0;
  int64_t n = 0;
};

// z = (y - W x) / sqrt(V) over every output, input vector and draw, with V the closed form:
// y_r = s sum_q b_pq (wn_pq x_n,q + sigma_pq,r xi), s = max|x|, b = block scale, so
// V_r = s^2 sum_q b_pq^2 sigma_pq,r^2 with sigma^2 = w^2 ||x_n,q||^2 (additive constant) or
// w^2 sum_c |wn_pq,rc| x_n,c^2 (PCM read). Columns 2m and 2m + 1 hold the same vector: their
// errors must be independent (a fresh draw per MVM).
Moments measure(WeightNoise type, double w, int draws, const ConverterSpec& adc = {}) {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const int64_t k = 8, kk = 64, layer = 1;
  const auto& t = wl.layers[layer].gemms[0];
  const int64_t n = 16;
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (int64_t c = 0; c < t.cols; ++c)
    for (int64_t j = 0; j < n; ++j)
      x[static_cast<size_t>(c * n + j)] =
          static_cast<float>(std::sin(0.37 * static_cast<double>(c) + 0.9 * static_cast<double>(j / 2)) + 0.3);
  IoSpec io;
  io.w_noise_type = type;
  io.w_noise = w;
  io.adc = adc;
  HardwareGemm hg(wl, ideal, io, RandomStream(5, 0));
  // Per block: max|W| and the normalised weights, from the compiled blocks.
  std::vector<double> bmax(static_cast<size_t>(t.P * t.Q), 0.0);
  for (int64_t b = 0; b < t.P * t.Q; ++b)
    for (int64_t i = 0; i < kk; ++i) bmax[b] = std::max(bmax[b], static_cast<double>(std::abs(t.blocks[b * kk + i])));
  Moments m;
  double s1 = 0, s2 = 0, sc = 0;
  int64_t npair = 0;
  std::vector<float> y(static_cast<size_t>(t.rows * n));
  std::vector<double> prev;  // the previous column's standardised errors
  for (int d = 0; d < draws; ++d) {
    hg.set_draw_base(static_cast<uint64_t>(d));
    hg.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < t.cols; ++c) s = std::max(s, static_cast<double>(std::abs(x[c * n + j])));
      std::vector<double> z(static_cast<size_t>(t.rows));
      for (int64_t r = 0; r < t.rows; ++r) {
        const int64_t p = r / k, i = r % k;
        double ref = 0, V = 0;
        for (int64_t q = 0; q < t.Q; ++q) {
          const int64_t b = p * t.Q + q;
          double sig2 = 0;
          for (int64_t c = 0; c < k && q * k + c < t.cols; ++c) {
            const double wv = t.blocks[b * kk + i * k + c], xv = x[(q * k + c) * n + j] / s;
            ref += wv * x[(q * k + c) * n + j];
            sig2 += type == WeightNoise::additive_constant ? xv * xv : (bmax[b] > 0 ? std::abs(wv) / bmax[b] : 0.0) * xv * xv;
          }
          V += bmax[b] * bmax[b] * w * w * sig2;
        }
        V *= s * s;
        z[r] = (y[r * n + j] - ref) / std::sqrt(V);
        s1 += z[r];
        s2 += z[r] * z[r];
        ++m.n;
      }
      if (j % 2 == 1) {
        for (int64_t r = 0; r < t.rows; ++r) sc += prev[r] * z[r];
        npair += t.rows;
      }
      prev = z;
    }
  }
  m.mean = s1 / static_cast<double>(m.n);
  m.var = s2 / static_cast<double>(m.n) - m.mean * m.mean;
  m.corr_cols = sc / static_cast<double>(npair);
  return m;
}

}  // namespace

TEST_CASE("weight noise per MVM: additive_constant has aihwkit's variance w^2 ||x||^2 per block, a fresh draw per MVM",
          "[weight_noise]") {
  const Moments m = measure(WeightNoise::additive_constant, 0.05, 8);
  REQUIRE(m.n == 64 * 16 * 8);
  // N = 8192 standardised errors: mean within 5 / sqrt(N), variance within 5 sqrt(2 / N).
  CHECK(std::abs(m.mean) < 5 / std::sqrt(8192.0));
  CHECK(m.var == Approx(1.0).margin(5 * std::sqrt(2 / 8192.0)));
  CHECK(std::abs(m.corr_cols) < 5 / std::sqrt(4096.0));  // the same vector twice: independent draws
}

TEST_CASE("weight noise per MVM: pcm_read has aihwkit's variance w^2 sum_j |w_ij| x_j^2 per block", "[weight_noise]") {
  const Moments m = measure(WeightNoise::pcm_read, 0.0175, 8);
  CHECK(std::abs(m.mean) < 5 / std::sqrt(8192.0));
  CHECK(m.var == Approx(1.0).margin(5 * std::sqrt(2 / 8192.0)));
  CHECK(std::abs(m.corr_cols) < 5 / std::sqrt(4096.0));
}

TEST_CASE("weight noise per MVM: with an 8-bit ADC (the fused kernel's case) the noise is still there", "[weight_noise]") {
  // ADC bound 8 = k: partial sums of |wn| <= 1 and |x_n| <= 1 never clip before the noise, and at
  // w = 0.2 the quantisation (step 16/254, variance step^2/12 per partial sum) adds well under 1 %
  // to the weight noise's variance.
  const Moments m = measure(WeightNoise::additive_constant, 0.2, 8, ConverterSpec{8, 8.0, 0});
  CHECK(std::abs(m.mean) < 5 / std::sqrt(8192.0));
  CHECK(m.var == Approx(1.0).margin(5 * std::sqrt(2 / 8192.0)));
}

TEST_CASE("weight noise per MVM: the network's convolutions take it too (8-bit converters)", "[weight_noise]") {
  // Only the convolutions on the array (the classifier digital), so the logits move only if the
  // image-window convolution path declines and the general path adds the noise.
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::TilingSpec ts{4, 4, 8, "cyclic"};
  ts.digital_layers = {"last"};
  models::CompiledWorkload wl = models::compile(g, ts);
  const models::Preprocess pre = models::preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const models::Dataset test = models::load_fashion_mnist("test");
  models::Tensor in;
  models::fill_batch(test, pre, 0, 4, in);
  IdealRealizer ideal(wl);
  IoSpec io;
  io.dac = {8, 1.0, 0};
  io.adc = {8, 8.0, 0};
  HardwareGemm plain(wl, ideal, io, RandomStream(1, 0));
  io.w_noise_type = WeightNoise::pcm_read;
  io.w_noise = 0.05;
  HardwareGemm noisy(wl, ideal, io, RandomStream(1, 0));
  models::Executor a(g), b(g);
  a.set_mapped(&plain, wl.layer_index());
  b.set_mapped(&noisy, wl.layer_index());
  const models::Tensor ya = a.run(in);
  const models::Tensor& yb = b.run(in);
  double moved = 0;
  for (size_t j = 0; j < ya.f.size(); ++j) moved = std::max(moved, static_cast<double>(std::abs(yb.f[j] - ya.f[j])));
  CHECK(moved > 1e-2);
}

TEST_CASE("weight noise per MVM: a pure function of the draw, off at w_noise 0, names checked", "[weight_noise]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const auto& t = wl.layers[1].gemms[0];
  const int64_t n = 3;
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(0.11 * static_cast<double>(i)));
  IoSpec noisy, off;
  noisy.w_noise_type = off.w_noise_type = WeightNoise::pcm_read;
  noisy.w_noise = 0.02;
  HardwareGemm a(wl, ideal, noisy, RandomStream(5, 0)), b(wl, ideal, noisy, RandomStream(5, 0)),
      c(wl, ideal, off, RandomStream(5, 0)), d(wl, ideal, IoSpec{}, RandomStream(5, 0));
  std::vector<float> ya(static_cast<size_t>(t.rows * n)), yb(ya.size()), yc(ya.size()), yd(ya.size());
  a.set_draw_base(3);
  b.set_draw_base(3);
  a.gemm(1, 0, 0, x.data(), false, n, ya.data(), false);
  b.gemm(1, 0, 0, x.data(), false, n, yb.data(), false);
  CHECK(ya == yb);
  b.set_draw_base(4);
  b.gemm(1, 0, 0, x.data(), false, n, yb.data(), false);
  CHECK(ya != yb);
  c.gemm(1, 0, 0, x.data(), false, n, yc.data(), false);
  d.gemm(1, 0, 0, x.data(), false, n, yd.data(), false);
  CHECK(yc == yd);  // w_noise = 0: the plain path
  CHECK(weight_noise_from_name("additive_constant") == WeightNoise::additive_constant);
  CHECK_THROWS_AS(weight_noise_from_name("pcm"), ptc::Error);
}

TEST_CASE("weight noise per MVM: the one-pass finish gives the bits of the separate passes", "[weight_noise]") {
  // Without bound management the general route adds the weight noise and the ADC noise, converts
  // and accumulates in one pass per block column; with it, in separate passes (the clipped pairs
  // are found between noise and ADC). With an ADC full scale nothing reaches (16 against partial
  // sums of at most 8 plus noise) bound management finds nothing, so both must give the same bits:
  // the one pass must round as the separate multiply and add did (no contraction into an FMA).
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  for (const WeightNoise type : {WeightNoise::pcm_read, WeightNoise::additive_constant}) {
    for (const int64_t layer : {int64_t{1}, int64_t{3}}) {
      const auto& t = wl.layers[static_cast<size_t>(layer)].gemms[0];
      const int64_t n = 300;  // more than one 256-column span
      std::vector<float> x(static_cast<size_t>(t.cols * n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(0.37 * static_cast<double>(i)));
      IoSpec one, sep;
      one.dac = sep.dac = ConverterSpec{8, 1.0, 0.01};
      one.adc = sep.adc = ConverterSpec{8, 16.0, 0.02};
      one.w_noise_type = sep.w_noise_type = type;
      one.w_noise = sep.w_noise = 0.0175;
      sep.bound_management = BoundManagement::iterative;
      HardwareGemm a(wl, ideal, one, RandomStream(9, 0)), b(wl, ideal, sep, RandomStream(9, 0));
      std::vector<float> ya(static_cast<size_t>(t.rows * n)), yb(ya.size());
      a.gemm(layer, 0, 0, x.data(), false, n, ya.data(), false);
      b.gemm(layer, 0, 0, x.data(), false, n, yb.data(), false);
      CHECK(b.bound_reruns() == 0);
      int64_t differ = 0;
      for (size_t i = 0; i < ya.size(); ++i) differ += std::memcmp(&ya[i], &yb[i], sizeof(float)) != 0;
      CHECK(differ == 0);
      CHECK(ya != std::vector<float>(ya.size(), 0.0f));
    }
  }
}
