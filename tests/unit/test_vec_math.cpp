// Vectorised kernels of the performance work: float transcendental functions against
// libm, the lane-parallel Philox against Random123, the fast normals' purity and moments, the MRR
// realisation against a brute-force double-precision evaluation of the same noise, and the fused
// per-block ADC against a direct evaluation of the block formula.
#include <catch2/catch.hpp>

#include <Random123/philox.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "hw/device/mrr_bank.h"
#include "hw/hardware_gemm.h"
#include "hw/physics/rng.h"
#include "hw/physics/vec_math.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

TEST_CASE("vec_math: log, sincos(2 pi u) and cos match libm", "[perf][vecmath]") {
  double worst_log = 0, worst_sc = 0, worst_cos = 0;
  for (int i = 1; i <= 200000; ++i) {
    float u = static_cast<float>(i) / 200001.0f;  // (0, 1)
    float x = std::ldexp(u, (i % 60) - 30);       // 2^-30 .. 2^29
    worst_log = std::max(worst_log, std::abs(vmath::log_f(x) - std::log(static_cast<double>(x))) /
                                        std::max(1.0, std::abs(std::log(static_cast<double>(x)))));
    float c, s;
    vmath::sincos_2pi_f(u, c, s);
    worst_sc = std::max({worst_sc, std::abs(c - std::cos(2 * M_PI * u)), std::abs(s - std::sin(2 * M_PI * u))});
    float xc = (u - 0.5f) * 2 * 100.0f;  // [-100, 100]
    worst_cos = std::max(worst_cos, std::abs(vmath::cos_f(xc) - std::cos(static_cast<double>(xc))));
  }
  CHECK(worst_log < 3e-7);
  CHECK(worst_sc < 3e-7);
  CHECK(worst_cos < 3e-7);
  CHECK(vmath::log_f(1.0f) == 0.0f);
  CHECK(vmath::cos_f(0.0f) == 1.0f);
}

TEST_CASE("vec_math: lane-parallel Philox4x32-10 (portable and dispatched) equals Random123's", "[perf][vecmath]") {
  constexpr int L = vmath::kLanes;
  r123::Philox4x32 ph;
  r123::Philox4x32 keys;  // a second generator only to draw varied counters and keys
  int mismatches = 0, checked = 0;
  for (uint32_t trial = 0; trial < 200; ++trial) {
    r123::Philox4x32::ctr_type seed_ctr = {{trial, 0x51u, 0, 0}};
    auto kk = keys(seed_ctr, {{0xabcdef01u, 0x2345u}});
    const uint32_t k0 = trial == 0 ? 0xdeadbeefu : kk[0], k1 = trial == 0 ? 0x12345678u : kk[1];
    uint32_t in[4][L];
    for (int i = 0; i < L; ++i) {
      r123::Philox4x32::ctr_type sc = {{trial, static_cast<uint32_t>(i), 0x77u, 0}};
      auto r = keys(sc, {{1u, 2u}});
      in[0][i] = trial == 0 ? 1000u * i + 7 : r[0];
      in[1][i] = trial == 0 ? static_cast<uint32_t>(i) : r[1];
      in[2][i] = trial == 0 ? 0xffffffffu - i : r[2];
      in[3][i] = trial == 0 ? 42u : r[3];
    }
    for (int path = 0; path < 2; ++path) {
      uint32_t c0[L], c1[L], c2[L], c3[L];
      std::copy(in[0], in[0] + L, c0), std::copy(in[1], in[1] + L, c1), std::copy(in[2], in[2] + L, c2),
          std::copy(in[3], in[3] + L, c3);
      if (path == 0)
        vmath::philox4x32_10(c0, c1, c2, c3, k0, k1);
      else
        vmath::philox4x32_10_fast(c0, c1, c2, c3, k0, k1);
      for (int i = 0; i < L; ++i) {
        auto r = ph({{in[0][i], in[1][i], in[2][i], in[3][i]}}, {{k0, k1}});
        mismatches += r[0] != c0[i] || r[1] != c1[i] || r[2] != c2[i] || r[3] != c3[i];
        ++checked;
      }
    }
  }
  CHECK(checked == 200 * 2 * L);
  CHECK(mismatches == 0);
}

TEST_CASE("normal_pair and normals give normal() bit for bit, from any first index", "[perf][rng]") {
  // The bulk forms compute each Box-Muller pair once; normal(i) computes the pair of i and keeps
  // one half. Every value must be the same double.
  const RandomStream s(12345, 678);
  int mismatches = 0;
  for (uint64_t p = 0; p < 5000; ++p) {
    double e = 0, o = 0;
    s.normal_pair(p, e, o);
    mismatches += e != s.normal(2 * p) || o != s.normal(2 * p + 1);
  }
  CHECK(mismatches == 0);
  for (uint64_t first : {0ull, 1ull, 2ull, 7ull, 1000001ull}) {
    for (int64_t n : {0, 1, 2, 3, 8, 513}) {
      std::vector<double> z(static_cast<size_t>(n) + 1, -7.0);
      s.normals(first, n, z.data());
      for (int64_t j = 0; j < n; ++j) mismatches += z[static_cast<size_t>(j)] != s.normal(first + static_cast<uint64_t>(j));
      mismatches += z[static_cast<size_t>(n)] != -7.0;  // nothing written past n
      std::vector<float> f(static_cast<size_t>(n));
      s.fill_normal(first, n, f.data());
      for (int64_t j = 0; j < n; ++j)
        mismatches += f[static_cast<size_t>(j)] != static_cast<float>(s.normal(first + static_cast<uint64_t>(j)));
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("fast normals: pure functions of the index, standard normal moments and tails", "[perf][rng]") {
  RandomStream a(42, 7);
  std::vector<float> all(300), part(97);
  a.fill_normal_fast(0, 300, all.data());
  a.fill_normal_fast(101, 97, part.data());  // unaligned start and length
  for (int j = 0; j < 97; ++j) CHECK(part[j] == all[101 + j]);
  CHECK(all[5] != static_cast<float>(a.normal(5)));  // its own counter range
  std::vector<float> other(300);
  RandomStream(42, 8).fill_normal_fast(0, 300, other.data());
  CHECK(other[0] != all[0]);
  const int n = 400000;
  std::vector<float> z(n);
  a.fill_normal_fast(12345, n, z.data());
  double s = 0, s2 = 0, s4 = 0;
  int64_t tail = 0;
  for (float v : z) {
    s += v, s2 += double(v) * v, s4 += double(v) * v * v * v;
    tail += std::abs(v) > 3;
  }
  double mean = s / n, var = s2 / n - mean * mean, kurt = s4 / n;
  CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(var - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(kurt - 3) < 5 * std::sqrt(96.0 / n));  // var of z^4 is 105 - 9 = 96
  // P(|z| > 3) = 0.0026998; binomial 5-sigma band.
  double p = 0.0026998, sd = std::sqrt(p * (1 - p) / n);
  CHECK(std::abs(double(tail) / n - p) < 5 * sd);
}

namespace {
const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";
}

TEST_CASE("MRR realize equals a brute-force double evaluation of phase + offsets + noise, crosstalk, T(phi)", "[perf][mrr]") {
  // kappa 0.1 /um (DOCTOR's): the noise couples through 5 diagonals: at k = 8 the banded product
  // is built (band 0), at k = 16 the diagonal form only. kappa 0.02 /um couples every ring of the
  // bank above 2^-24 (same-row neighbour 0.30, next row 0.018): at k = 8 the banded product with
  // the full band, at k = 16 more than 16 diagonals, so the dense form.
  const int64_t k = GENERATE(8, 16), kk = k * k;
  const double kappa = GENERATE(0.1, 0.02);
  CrosstalkParams xp;
  xp.kappa_per_um = kappa;
  INFO("k = " << k << ", kappa = " << kappa << " /um");
  models::Graph g = models::import_onnx(kZoo + "lenet5_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, k, "cyclic"});
  GlobalTemperatureParams gtp;
  gtp.hotspot = "corner";
  MrrBankConfig cfg;
  // Given out of stage order on purpose: the bank composes them in DOCTOR's order.
  cfg.noise = {crosstalk_noise(xp), global_temperature_noise(gtp), phase_variation_noise(PhaseVariationParams{})};
  const RandomStream rng(3, 0);
  MrrBank bank(wl, cfg, rng);
  const int64_t step = 7000;
  bank.set_step(step);
  const CoreArray arr{4, 4, k};
  PhaseVariation pv(arr, PhaseVariationParams{}, rng.derive(11));
  const std::vector<float> sd = pv.std_map(step);
  GlobalTemperature gt(arr, gtp);
  std::vector<float> off(static_cast<size_t>(arr.rings()), 0.0f);
  gt.add_shift(static_cast<double>(step), off.data());
  const ThermalCrosstalk xt(k, xp);
  const std::vector<double>& M = xt.matrix();
  const double a = 0.865, r = 0.87;
  double worst = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    const auto& t = wl.layers[l].gemms[0];
    std::vector<float> wn(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
    const uint64_t draw = 77;
    bank.realize(static_cast<int64_t>(l), 0, draw, wn.data(), sc.data());
    const std::vector<float>& ph = bank.phases(static_cast<int64_t>(l), 0);
    for (int64_t b = 0; b < t.P * t.Q; ++b) {
      const int64_t core = t.core[b];
      std::vector<float> noise(kk);
      rng.derive(12)
          .derive(draw)
          .derive(static_cast<uint64_t>(l) << 20)
          .derive(static_cast<uint64_t>(t.chunk[b]))
          .fill_normal_fast(static_cast<uint64_t>(core * kk), kk, noise.data());
      std::vector<double> phi(kk), phx(kk, 0.0);
      for (int64_t i = 0; i < kk; ++i)
        phi[i] = double(ph[b * kk + i]) + off[core * kk + i] + double(sd[core * kk + i]) * noise[i];
      for (int64_t i = 0; i < kk; ++i)
        for (int64_t j = 0; j < kk; ++j)
          if (M[i * kk + j] >= 1e-12) phx[i] += M[i * kk + j] * phi[j];
      for (int64_t i = 0; i < kk; ++i) {
        double c = std::cos(phx[i]);
        double w = 2 * (a * a + r * r - 2 * a * r * c) / (1 + a * a * r * r - 2 * a * r * c) - 1;
        worst = std::max(worst, std::abs(w - wn[b * kk + i]));
      }
    }
  }
  INFO("worst |w - reference| = " << worst);
  CHECK(worst < 2e-5);
}

TEST_CASE("fused per-block ADC equals the block formula y_p = s sum_q scale_pq ADC(wn_pq x_q)", "[perf][adc]") {
  models::Graph g = models::import_onnx(kZoo + "lenet5_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  // Coarse: many partial sums change level; bound 8 = k: no partial sum can clip (the kernel
  // skips clipping), bound 2: many clip.
  const double bound = GENERATE(8.0, 2.0);
  IoSpec io;
  io.adc = {6, bound, 0};
  HardwareGemm hg(wl, ideal, io, RandomStream(1, 0));
  // The largest layer; n = 37 vectors (not a multiple of the kernel's 16-column tile).
  size_t L = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    if (wl.layers[l].gemms[0].blocks.size() > wl.layers[L].gemms[0].blocks.size()) L = l;
  const auto& t = wl.layers[L].gemms[0];
  const int64_t n = 37, k = 8;
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  RandomStream(5, 5).fill_normal_fast(0, static_cast<int64_t>(x.size()), x.data());
  std::vector<float> y(static_cast<size_t>(t.rows * n));
  hg.gemm(static_cast<int64_t>(L), 0, 0, x.data(), false, n, y.data(), false);
  std::vector<float> wn(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
  ideal.realize(static_cast<int64_t>(L), 0, 0, wn.data(), sc.data());
  const double step = io.adc.step();
  int64_t off_by_more = 0;
  double worst_levels = 0;
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t c = 0; c < t.cols; ++c) s = std::max(s, std::abs(double(x[c * n + j])));
    for (int64_t row = 0; row < t.rows; ++row) {
      const int64_t p = row / k, i = row % k;
      double yref = 0, slack = 0;
      for (int64_t q = 0; q < t.Q; ++q) {
        double part = 0;
        for (int64_t jj = 0; jj < k && q * k + jj < t.cols; ++jj)
          part += double(wn[((p * t.Q + q) * k + i) * k + jj]) * (x[(q * k + jj) * n + j] / s);
        double v = std::min(std::max(part, -bound), bound) / step;
        yref += sc[p * t.Q + q] * std::nearbyint(v) * step;
        slack += sc[p * t.Q + q] * step;  // one level per block if a float sum lands across a rounding boundary
      }
      double err = std::abs(y[row * n + j] - s * yref);
      if (err > 1e-4 * (1 + std::abs(s * yref))) ++off_by_more;
      worst_levels = std::max(worst_levels, err / (s * slack));
    }
  }
  INFO("outputs off the double-precision formula: " << off_by_more << ", worst in levels: " << worst_levels);
  CHECK(off_by_more <= t.rows * n / 100);  // rounding-boundary cases only
  CHECK(worst_levels <= 1.0);
}

TEST_CASE("convolution windows read from the image give the same bits as im2col + gemm", "[perf][adc]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  MrrBankConfig cfg;
  cfg.noise = {phase_variation_noise(PhaseVariationParams{}), crosstalk_noise(CrosstalkParams{})};
  MrrBank bank(wl, cfg, RandomStream(1, 0xde));
  bank.set_step(10000);
  // Layer 1: 64 -> 64 channels, 3x3, pad 1 on 28 x 28 (im2col [576, 784]); layer 0 has one channel.
  for (int64_t L : {0, 1}) {
    const auto& t = wl.layers[static_cast<size_t>(L)].gemms[0];
    models::SameWidthConv cv;
    cv.channels = t.cols / 9;
    cv.ih = cv.iw = cv.out_h = 28;
    cv.kh = cv.kw = 3;
    cv.pt = cv.pl = 1;
    const int64_t n = 28 * 28;
    std::vector<float> image(static_cast<size_t>(cv.channels * n)), col(static_cast<size_t>(t.cols * n), 0.0f);
    RandomStream(7, 7).fill_normal_fast(0, static_cast<int64_t>(image.size()), image.data());
    for (size_t i = 0; i < image.size(); i += 3) image[i] = std::max(image[i], 0.0f);  // some ReLU-like zeros
    for (int64_t c = 0; c < cv.channels; ++c)                                          // im2col by its definition
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j)
          for (int64_t oh = 0; oh < 28; ++oh)
            for (int64_t ow = 0; ow < 28; ++ow) {
              const int64_t ih = oh + i - 1, iw = ow + j - 1;
              if (ih >= 0 && ih < 28 && iw >= 0 && iw < 28)
                col[static_cast<size_t>(((c * 3 + i) * 3 + j) * n + oh * 28 + ow)] =
                    image[static_cast<size_t>((c * 28 + ih) * 28 + iw)];
            }
    for (double bound : {8.0, 1.5}) {
      IoSpec io;
      io.dac = {8, 1.0, 0};
      io.adc = {8, bound, 0};
      HardwareGemm hg(wl, bank, io, RandomStream(1, 0x5e));
      hg.set_draw_base(3);
      std::vector<float> y1(static_cast<size_t>(t.rows * n)), y2(y1.size());
      hg.gemm(L, 0, 2, col.data(), false, n, y1.data(), false);
      REQUIRE(hg.conv_same_width(L, 0, 2, image.data(), cv, y2.data()));
      INFO("layer " << L << ", ADC bound " << bound);
      CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
      double mx = 0;
      for (float v : y1) mx = std::max(mx, std::abs(double(v)));
      CHECK(mx > 0.1);  // a real output, not all zeros
    }
    // Ideal ADC (with and without the DAC): a dense product on the panels, the same values as
    // gemm()'s sgemm up to the order of the float sums.
    for (int dac_bits : {0, 8}) {
      IoSpec io;
      io.dac = {dac_bits, 1.0, 0};
      HardwareGemm hg(wl, bank, io, RandomStream(1, 0x5e));
      std::vector<float> y1(static_cast<size_t>(t.rows * n)), y2(y1.size());
      hg.gemm(L, 0, 1, col.data(), false, n, y1.data(), false);
      REQUIRE(hg.conv_same_width(L, 0, 1, image.data(), cv, y2.data()));
      double worst = 0, mx = 0;
      for (size_t i = 0; i < y1.size(); ++i) {
        worst = std::max(worst, std::abs(double(y1[i]) - y2[i]));
        mx = std::max(mx, std::abs(double(y1[i])));
      }
      INFO("layer " << L << ", DAC bits " << dac_bits << ": worst difference " << worst << " of max " << mx);
      CHECK(mx > 0.1);
      CHECK(worst <= 1e-5 * mx);
    }
    // With converter noise (docs/converters_energy.md §2) the windows are read the same way and
    // every DAC / ADC sample keeps its element number: the same bits as im2col + gemm.
    for (const auto& [dac_noise, adc_noise] : {std::pair{0.01, 0.0}, std::pair{0.0, 0.02}, std::pair{0.01, 0.02}}) {
      IoSpec noisy;
      noisy.dac = {8, 1.0, dac_noise};
      noisy.adc = {8, 8.0, adc_noise};
      HardwareGemm hn(wl, bank, noisy, RandomStream(1, 0x5e));
      hn.set_draw_base(3);
      std::vector<float> y1(static_cast<size_t>(t.rows * n)), y3(y1.size());
      hn.gemm(L, 0, 2, col.data(), false, n, y1.data(), false);
      INFO("layer " << L << ", DAC noise " << dac_noise << ", ADC noise " << adc_noise);
      REQUIRE(hn.conv_same_width(L, 0, 2, image.data(), cv, y3.data()));
      CHECK(std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)) == 0);
    }
    // Bound management (a full scale of 1.5 clips often): the clipped block columns are
    // recomputed from the raw windows with the same numbers as from the im2col matrix.
    for (const double noise : {0.0, 0.02}) {
      IoSpec bm;
      bm.dac = {8, 1.0, noise};
      bm.adc = {8, 1.5, noise};
      bm.bound_management = BoundManagement::iterative;
      HardwareGemm h1(wl, bank, bm, RandomStream(1, 0x5e)), h2(wl, bank, bm, RandomStream(1, 0x5e));
      h1.set_draw_base(3);
      h2.set_draw_base(3);
      std::vector<float> y1(static_cast<size_t>(t.rows * n)), y3(y1.size());
      h1.gemm(L, 0, 2, col.data(), false, n, y1.data(), false);
      INFO("layer " << L << ", bound management, converter noise " << noise);
      REQUIRE(h2.conv_same_width(L, 0, 2, image.data(), cv, y3.data()));
      CHECK(h1.bound_reruns() > 100);
      CHECK(h1.bound_reruns() == h2.bound_reruns());
      CHECK(std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)) == 0);
    }
  }
}
