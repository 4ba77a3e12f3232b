// Converter noise on the fused kernels (hw/hardware_gemm.h, docs/converters_energy.md §1): the
// noise injected before the ADC and after the DAC has mean 0 and the requested std, checked
// against the closed-form output std of the block layout; the draws are a pure function of
// (seed, draw, element), so the logits are the same bytes at 1 and 2 threads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "hw/hardware_gemm.h"
#include "hw/physics/normal16.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::models;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

struct Moments {
  double mean = 0, var = 0;
  int64_t n = 0;
};

// Standardised differences z = (y_noisy - y_clean) / sd(row, column) over `draws` draws of one
// weight layer of LeNet-5 (a Gemm: gemm() with x [cols, n], n columns), inputs uniform in [-1, 1].
// sd = s_j sigma sqrt(sum_q c_rq^2), s_j = max_i |x_ij| (abs-max normalisation), with
//   ADC noise: c_rq = scale_pq (one noise sample per block partial sum, times the block scale);
//   DAC noise: c_rc = W_eff[r, c] over the real input columns (one sample per normalised input).
Moments standardised_noise(bool adc_noise, double sigma, int64_t draws, int64_t n) {
  const Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  int64_t layer = -1;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    if (wl.layers[l].op == "Gemm" && wl.layers[l].gemms[0].rows >= 64) layer = static_cast<int64_t>(l);
  REQUIRE(layer >= 0);
  const GemmTiles& t = wl.layers[layer].gemms[0];
  const int64_t k = 8;
  IdealRealizer ideal(wl);
  std::vector<float> wn(t.blocks.size()), scale(static_cast<size_t>(t.P * t.Q));
  ideal.realize(layer, 0, 0, wn.data(), scale.data());
  // 20-bit converters: quantisation far below sigma; DAC bound 2 so the noise of the largest
  // normalised input (1) is never clipped, ADC bound 8 = k (no clipping).
  IoSpec clean{{20, 2.0, 0}, {20, 8.0, 0}};
  IoSpec noisy = clean;
  (adc_noise ? noisy.adc : noisy.dac).noise_std = sigma;
  HardwareGemm hc(wl, ideal, clean, RandomStream(9, 1)), hn(wl, ideal, noisy, RandomStream(9, 1));
  std::vector<double> row_sd(static_cast<size_t>(t.rows));
  for (int64_t r = 0; r < t.rows; ++r) {
    double s2 = 0;
    const int64_t p = r / k, i = r % k;
    for (int64_t q = 0; q < t.Q; ++q) {
      const float sc = scale[p * t.Q + q];
      if (adc_noise) {
        s2 += static_cast<double>(sc) * sc;
      } else {
        for (int64_t j = 0; j < k && q * k + j < t.cols; ++j) {
          const double w = static_cast<double>(wn[((p * t.Q + q) * k + i) * k + j]) * sc;
          s2 += w * w;
        }
      }
    }
    row_sd[r] = sigma * std::sqrt(s2);
  }
  std::mt19937 gen(12345);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(t.cols * n)), yc(static_cast<size_t>(t.rows * n)), yn(yc.size());
  double sum = 0, sum2 = 0;
  int64_t cnt = 0;
  for (int64_t d = 0; d < draws; ++d) {
    for (float& v : x) v = u(gen);
    std::vector<float> colmax(static_cast<size_t>(n), 0.0f);
    for (int64_t c = 0; c < t.cols; ++c)
      for (int64_t j = 0; j < n; ++j) colmax[j] = std::max(colmax[j], std::abs(x[c * n + j]));
    hc.set_draw_base(static_cast<uint64_t>(100 * d));
    hn.set_draw_base(static_cast<uint64_t>(100 * d));
    hc.gemm(layer, 0, d % 3, x.data(), false, n, yc.data(), false);
    hn.gemm(layer, 0, d % 3, x.data(), false, n, yn.data(), false);
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const double z = (static_cast<double>(yn[r * n + j]) - yc[r * n + j]) / (colmax[j] * row_sd[r]);
        sum += z;
        sum2 += z * z;
        ++cnt;
      }
  }
  Moments m;
  m.n = cnt;
  m.mean = sum / static_cast<double>(cnt);
  m.var = sum2 / static_cast<double>(cnt) - m.mean * m.mean;
  return m;
}

}  // namespace

TEST_CASE("ADC output noise has mean 0 and std noise_std times the block scales (closed form)", "[noisy][converters]") {
  for (double sigma : {0.02, 0.1}) {
    const Moments m = standardised_noise(true, sigma, 12, 48);
    INFO("sigma " << sigma << ": " << m.n << " outputs, mean " << m.mean << ", var " << m.var);
    REQUIRE(m.n > 40000);
    // Standardised: mean 0 +- 4 standard errors, variance 1 +- 4 sqrt(2 / n) (Gaussian).
    CHECK(std::abs(m.mean) < 4 / std::sqrt(static_cast<double>(m.n)));
    CHECK(std::abs(m.var - 1) < 4 * std::sqrt(2.0 / static_cast<double>(m.n)));
  }
}

TEST_CASE("DAC noise has mean 0 and std noise_std times the effective weight norm (closed form)", "[noisy][converters]") {
  for (double sigma : {0.02, 0.1}) {
    const Moments m = standardised_noise(false, sigma, 24, 128);
    INFO("sigma " << sigma << ": " << m.n << " outputs, mean " << m.mean << ", var " << m.var);
    REQUIRE(m.n > 40000);
    // Each output sums the same row's input noise: outputs of one column are correlated across
    // rows, so the tolerances are those of 128 x 24 independent columns (the mean of a column's
    // z has variance <= 1, the mean of its z^2 variance <= 2): 4 standard errors at worst.
    CHECK(std::abs(m.mean) < 4 / std::sqrt(128.0 * 24));
    CHECK(std::abs(m.var - 1) < 4 * std::sqrt(2 / (128.0 * 24)));
  }
}

TEST_CASE("converter noise: the same logits at 1 and 2 threads, other draws give other logits", "[noisy][converters]") {
  const Dataset test = load_fashion_mnist("test");
  for (const char* name : {"lenet5_fmnist", "cnn3_fmnist"}) {
    const Graph g = import_onnx(kZoo + name + ".onnx");
    const Preprocess pre = preprocess_for(g, kZoo + name + ".onnx");
    const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
    IdealRealizer ideal(wl);
    Tensor in;
    fill_batch(test, pre, 0, 7, in);
    for (int which : {0, 1, 2}) {  // clean, ADC noise, DAC noise
      IoSpec io{{8, 1.0, 0}, {8, 8.0, 0}};
      if (which == 1) io.adc.noise_std = 0.02;
      if (which == 2) io.dac.noise_std = 0.02;
      HardwareGemm hg(wl, ideal, io, RandomStream(3, 0x5e));
      std::vector<std::vector<float>> out;
      for (int threads : {1, 2}) {
        Executor ex(g, threads);
        ex.set_mapped(&hg, wl.layer_index());
        hg.set_draw_base(0);
        out.push_back(ex.run(in).f);
      }
      Executor ex(g, 2);
      ex.set_mapped(&hg, wl.layer_index());
      hg.set_draw_base(50);
      const std::vector<float> redrawn = ex.run(in).f;
      INFO(name << ", converters " << which);
      REQUIRE(out[0].size() == 70u);
      CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
      for (int64_t i = 0; i < 7; ++i) {
        const bool same = std::memcmp(redrawn.data() + i * 10, out[0].data() + i * 10, 10 * sizeof(float)) == 0;
        CHECK(same == (which == 0));  // noiseless: every draw is the same
      }
    }
  }
}

namespace {

// A stream of standard normals checked against Phi: the empirical CDF at 11 points (binomial
// error, 5 sigma), mean, variance and kurtosis within 5 standard errors, neighbour correlation ~ 0.
struct NormalSample {
  static constexpr double kZ[11] = {-4.5, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4.5};
  int64_t n = 0, below[11] = {};
  double m1 = 0, m2 = 0, m4 = 0, lag = 0, prev = 0;

  void add(double v) {
    m1 += v;
    m2 += v * v;
    m4 += v * v * v * v;
    if (n > 0) lag += v * prev;
    for (int k = 0; k < 11; ++k) below[k] += v < kZ[k];
    prev = v;
    ++n;
  }

  void check() const {
    const double N = static_cast<double>(n);
    for (int k = 0; k < 11; ++k) {
      const double p = 0.5 * std::erfc(-kZ[k] / std::sqrt(2.0)), f = static_cast<double>(below[k]) / N;
      INFO("z " << kZ[k] << ": " << f << " vs " << p);
      CHECK(std::abs(f - p) <= 5 * std::sqrt(p * (1 - p) / N) + 1e-7);
    }
    CHECK(std::abs(m1 / N) < 5 / std::sqrt(N));
    CHECK(std::abs(m2 / N - 1) < 5 * std::sqrt(2 / N));
    CHECK(std::abs(m4 / N - 3) < 5 * std::sqrt(96 / N));
    CHECK(std::abs(lag / (N - 1)) < 5 / std::sqrt(N));
  }
};

}  // namespace

TEST_CASE("converter normals: a pure function of the index, standard normal CDF and moments", "[converters][rng]") {
  const RandomStream r(17, 0xc0);
  // The same numbers whatever the range asked for (chunk boundaries at multiples of 512 crossed).
  std::vector<float> all(5000), part(1777);
  r.fill_normal_inv(100, 5000, all.data());
  r.fill_normal_inv(100 + 1333, 1777, part.data());
  CHECK(std::memcmp(all.data() + 1333, part.data(), part.size() * sizeof(float)) == 0);
  float one;
  r.fill_normal_inv(100 + 4999, 1, &one);
  CHECK(one == all[4999]);
  // Another stream and the other bulk generator give other numbers.
  std::vector<float> other(5000), fast(5000);
  r.derive(1).fill_normal_inv(100, 5000, other.data());
  r.fill_normal_fast(100, 5000, fast.data());
  CHECK(std::memcmp(all.data(), other.data(), all.size() * sizeof(float)) != 0);
  CHECK(std::memcmp(all.data(), fast.data(), all.size() * sizeof(float)) != 0);
  // 4 M numbers: empirical CDF against Phi(z) = erfc(-z / sqrt 2) / 2 (binomial error, 5 sigma),
  // mean, variance and kurtosis within 5 standard errors, correlation of neighbours ~ 0.
  const int64_t n = 4 << 20;
  std::vector<float> x(static_cast<size_t>(n));
  r.fill_normal_inv(uint64_t{1} << 40, n, x.data());
  NormalSample sample;
  for (const float v : x) sample.add(v);
  sample.check();
}

namespace {

// Phi^-1(v) for v in (0, 1/2) in double by bisection on Phi(z) = erfc(-z / sqrt 2) / 2: an
// independent reference for the generator's polynomial.
double inverse_normal_cdf(double v) {
  double lo = -40, hi = 0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < v ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// xoshiro128+ (Blackman and Vigna, ACM TOMS 2021, figure 4), one lane.
struct Xoshiro128Plus {
  uint32_t s[4];
  uint32_t next() {
    const uint32_t result = s[0] + s[3], t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >> 21);
    return result;
  }
};

}  // namespace

TEST_CASE("16-bit converter normals: every magnitude within 5e-5 of the exact inverse normal CDF", "[converters][rng]") {
  // Magnitudes m >= 8 (the polynomial; smaller ones take the tail path): all 32,760 of them.
  double worst = 0;
  for (uint32_t m = 8; m < 32768; ++m) {
    const double exact = inverse_normal_cdf((m + 0.5) / 65536.0);
    const float neg = hw::n16::normal_of(2 * m + 1, false), pos = hw::n16::normal_of(2 * m + 1, true);
    worst = std::max(worst, std::abs(neg - exact));
    CHECK(pos == -neg);
  }
  INFO("largest error " << worst);
  CHECK(worst < 5e-5);
  // Tail magnitudes: 8 more bits, v = (256 m + b + 1/2) 2^-24, within the 24-bit generator's 3.2e-5.
  double worst_tail = 0;
  for (uint64_t index = 0; index < 4000; ++index) {
    const uint32_t m = static_cast<uint32_t>(index % 8);
    const float x = hw::n16::tail_normal(5, 7, 3, index, m, false);
    // The 8 bits are unknown here: x must lie within the piece of m, and at a grid point's inverse.
    const double lo = inverse_normal_cdf(m / 65536.0 + 2.98e-8), hi = inverse_normal_cdf((m + 1) / 65536.0);
    CHECK(x >= lo - 3.5e-5);
    CHECK(x <= hi + 3.5e-5);
    const double v = 0.5 * std::erfc(-static_cast<double>(x) / std::sqrt(2.0));  // ~ (fine + 1/2) 2^-24
    const double fine = std::round(v * 16777216.0 - 0.5);
    worst_tail = std::max(worst_tail, std::abs(x - inverse_normal_cdf((fine + 0.5) / 16777216.0)));
  }
  INFO("largest tail error " << worst_tail);
  CHECK(worst_tail < 3.5e-5);
}

TEST_CASE("16-bit converter normals: xoshiro128+ lanes seeded by Philox, AVX-512 and bulk steps = portable step",
          "[converters][rng]") {
  for (uint64_t block : {0ull, 1ull, 777ull, (1ull << 26) - 1}) {
    uint32_t st[4][16], ref_st[4][16];
    hw::n16::seed_lanes(11, 0xabc, block, st);
    std::memcpy(ref_st, st, sizeof st);
    Xoshiro128Plus ref[16];
    for (int l = 0; l < 16; ++l) ref[l] = Xoshiro128Plus{{st[0][l], st[1][l], st[2][l], st[3][l]}};
    const int steps = 4096;  // 131,072 normals: about 32 tail magnitudes per block
    std::vector<float> portable(32 * steps), vec(32 * steps);
    for (int s = 0; s < steps; ++s)
      hw::n16::step_portable(st, 11, 0xabc, block, s, portable.data() + 32 * s, portable.data() + 32 * s + 16);
    int tails = 0;
    for (int s = 0; s < steps; ++s)
      for (int l = 0; l < 16; ++l) {
        const uint32_t w = ref[l].next(), ml = (w >> 1) & 0x7fff, mh = (w >> 16) & 0x7fff;
        if (ml >= 8)
          CHECK(portable[32 * s + l] == hw::n16::normal_of(2 * ml + 1, w & 1));
        else
          ++tails;
        if (mh >= 8)
          CHECK(portable[32 * s + 16 + l] == hw::n16::normal_of(2 * mh + 1, w >> 31));
        else
          ++tails;
      }
    CHECK(tails > 0);
    // the bulk steps (AVX2 + FMA where the CPU has them and PTC_NO_AVX2 is unset) from the same states
    uint32_t bulk_st[4][16];
    std::memcpy(bulk_st, ref_st, sizeof ref_st);
    std::vector<float> bulk(32 * steps);
    hw::n16::steps(bulk_st, 11, 0xabc, block, 0, steps / 2, bulk.data());
    hw::n16::steps(bulk_st, 11, 0xabc, block, steps / 2, steps - steps / 2, bulk.data() + 32 * (steps / 2));
    CHECK(std::memcmp(bulk.data(), portable.data(), bulk.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(bulk_st, st, sizeof st) == 0);
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) {
      hw::n16::LanesAvx512 lanes;
      lanes.seed = 11;
      lanes.stream = 0xabc;
      lanes.block = block;
      hw::n16::seed_lanes(11, 0xabc, block, lanes);  // in registers: the same states as the array seeding
      uint32_t reg_st[4][16];
      std::memcpy(reg_st[0], &lanes.s0, sizeof reg_st[0]);
      std::memcpy(reg_st[1], &lanes.s1, sizeof reg_st[1]);
      std::memcpy(reg_st[2], &lanes.s2, sizeof reg_st[2]);
      std::memcpy(reg_st[3], &lanes.s3, sizeof reg_st[3]);
      CHECK(std::memcmp(reg_st, ref_st, sizeof ref_st) == 0);
      alignas(64) float lo[16], hi[16];
      for (int s = 0; s < steps; ++s) {
        lanes.next(lo, hi);
        std::memcpy(vec.data() + 32 * s, lo, sizeof lo);
        std::memcpy(vec.data() + 32 * s + 16, hi, sizeof hi);
      }
      CHECK(std::memcmp(vec.data(), portable.data(), vec.size() * sizeof(float)) == 0);
    }
#endif
  }
  uint32_t st[4][16];
  CHECK_THROWS_AS(hw::n16::seed_lanes(1, 2, 1ull << 26, st), std::out_of_range);
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f")) {
    hw::n16::LanesAvx512 lanes;
    CHECK_THROWS_AS(hw::n16::seed_lanes(1, 2, 1ull << 26, lanes), std::out_of_range);
  }
#endif
}

TEST_CASE("16-bit converter normals: CDF, moments and tail frequencies of 16 M numbers", "[converters][rng]") {
  // 16 M numbers from 512 blocks of 32,768: empirical CDF at 11 points (binomial error, 5 sigma),
  // mean, variance, kurtosis, neighbour correlation, and the tail counts beyond 3.7 to 5 sigma
  // (without the tail path every |x| would be <= 4.33: 0 beyond 4.5 where 109 are expected).
  const int64_t per_block = 32768, blocks = 512, n = per_block * blocks;
  const double tails[] = {3.7, 4.0, 4.5, 5.0};
  int64_t beyond[4] = {};
  NormalSample sample;
  std::vector<float> x(static_cast<size_t>(per_block));
  for (int64_t b = 0; b < blocks; ++b) {
    uint32_t st[4][16];
    hw::n16::seed_lanes(23, 0x77, static_cast<uint64_t>(b), st);
    for (int64_t s = 0; s < per_block / 32; ++s)
      hw::n16::step_portable(st, 23, 0x77, static_cast<uint64_t>(b), static_cast<uint64_t>(s), x.data() + 32 * s,
                             x.data() + 32 * s + 16);
    for (const float v : x) {
      sample.add(v);
      for (int k = 0; k < 4; ++k) beyond[k] += std::abs(v) > tails[k];
    }
  }
  sample.check();
  const double N = static_cast<double>(n);
  for (int k = 0; k < 4; ++k) {
    const double expected = N * std::erfc(tails[k] / std::sqrt(2.0));
    INFO("|x| > " << tails[k] << ": " << beyond[k] << " vs " << expected);
    CHECK(std::abs(static_cast<double>(beyond[k]) - expected) <= 5 * std::sqrt(expected) + 1);
  }
}
