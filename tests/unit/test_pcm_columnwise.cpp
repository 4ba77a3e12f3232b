// PCM column-wise weight scaling (aihwkit MappingParameter weight_scaling_columnwise with
// weight_scaling_omega = 1; docs/devices.md §2.1): every output's largest |w| within its scale
// tile maps to g_max and the output's scale is applied digitally after the ADC. Checked against a
// hand-computed layer, aihwkit's programming-noise closed form and the block gains it multiplies.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "hw/hardware_gemm.h"
#include "hw/physics/pcm.h"
#include "models/compiler.h"
#include "models/error.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

double phi(double z) {
  return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
}
double cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

// aihwkit PCMLikeNoiseModel programming noise at g_max = 25 uS (Nandakumar et al. ICECS 2019):
// sigma = max(-1.1731 u^2 + 1.9650 u + 0.2635, 0) uS, u = g_T / g_max; g_prog = max(0, g_T + sigma xi).
double sigma_prog(double g_target_us) {
  const double u = g_target_us / 25.0;
  return std::max(-1.1731 * u * u + 1.9650 * u + 0.26348, 0.0);
}
// Moments of the rectified error Y - a, Y = max(0, a + s xi), xi ~ N(0, 1), c = a / s:
// E[Y - a] = s phi(c) - a Phi(-c); E[(Y - a)^2] = s^2 (Phi(c) - c phi(c)) + a^2 Phi(-c).
double err_mean(double a, double s) {
  return s * phi(a / s) - a * cdf(-a / s);
}
double err_sq(double a, double s) {
  return s * s * (cdf(a / s) - a / s * phi(a / s)) + a * a * cdf(-a / s);
}

}  // namespace

TEST_CASE("PCM column-wise scaling: a hand-computed 4 x 6 layer, every output's largest |w| in its tile at g_max",
          "[pcm_columnwise]") {
  // k = 2, P = 2, Q = 3; tiles of at most 2 x 4: column parts cols 0-3 and 4-5 (test_pcm_tiles.cpp).
  const int64_t k = 2, P = 2, Q = 3, kk = k * k;
  int64_t n_tiles = 0;
  const std::vector<int32_t> tile = pcm_tile_of_blocks(PcmScaleTile{2, 4}, P, Q, 4, 6, n_tiles);
  REQUIRE(n_tiles == 4);
  std::vector<float> latent(static_cast<size_t>(P * Q * kk));
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 6; ++c)
      latent[static_cast<size_t>(((r / k) * Q + c / k) * kk + (r % k) * k + c % k)] =
          static_cast<float>(((r + c) % 2 ? -1 : 1) * (r + 1) * (c + 1) / 10.0);
  const double gmax = 25.0;
  std::vector<float> scale, rs, tp(latent.size()), tn(latent.size());
  CHECK(pcm_map_pair_targets_columnwise(latent, P, Q, k, gmax, true, scale, rs, tp, tn, &tile, n_tiles) == 2 * P * Q * kk);
  REQUIRE(rs.size() == static_cast<size_t>(P * Q * k));
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 6; ++c) {
      const int64_t b = (r / k) * Q + c / k;
      const size_t j = static_cast<size_t>(b * kk + (r % k) * k + c % k);
      // Row r within the column range of its tile: max |w| = (r + 1) (last column + 1) / 10.
      const double m = (r + 1) * (c < 4 ? 4 : 6) / 10.0, w = latent[j];
      CHECK(scale[static_cast<size_t>(b)] == 1.0f);
      CHECK(rs[static_cast<size_t>(b * k + r % k)] == Approx(m).epsilon(1e-6));
      CHECK(tp[j] == Approx(std::max(w, 0.0) / m * gmax).epsilon(1e-6));
      CHECK(tn[j] == Approx(std::max(-w, 0.0) / m * gmax).epsilon(1e-6));
      if (c == 3 || c == 5) CHECK(std::max(tp[j], tn[j]) == Approx(gmax).epsilon(1e-6));  // each output's max at g_max
    }
  // Per block (no tiles): row r of block column q has max |w| = (r + 1) (2 q + 2) / 10.
  std::vector<float> s2, rs2, tp2(latent.size()), tn2(latent.size());
  pcm_map_pair_targets_columnwise(latent, P, Q, k, gmax, true, s2, rs2, tp2, tn2);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t q = 0; q < Q; ++q)
      CHECK(rs2[static_cast<size_t>(((r / k) * Q + q) * k + r % k)] == Approx((r + 1) * (2 * q + 2) / 10.0).epsilon(1e-6));
  // Not first: only changed targets count as writes.
  latent[0] = 0.05f;  // row 0 of block 0: its max (col 3) is unchanged, so only this weight's devices change
  std::vector<float> s3, rs3;
  CHECK(pcm_map_pair_targets_columnwise(latent, P, Q, k, gmax, false, s3, rs3, tp, tn, &tile, n_tiles) == 1);
}

TEST_CASE(
    "PCM column-wise scaling: on CNN3 the programming error of every weight follows aihwkit's noise closed form in units of "
    "its output's max",
    "[pcm_columnwise]") {
  // Programming noise only: the effective weight is w_eff = m (g+ - g-) / g_max with m the output's
  // max|W| in its tile, so (w_eff - w) g_max / m = (Y+ - a+) - (Y- - a-) with the rectified
  // programming draws Y = max(0, a + sigma(a) xi) of the two devices (targets a = |w| g_max / m on
  // one, 0 on the other). The sum of its squares over every weight of the network is checked against
  // the closed-form expectation; per-tile scaling (m = the tile's max) must follow the same law with
  // its own m, and the two sums differ by far more than the Monte-Carlo error.
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  const int64_t k = 8, kk = 64;
  double obs_sq[2] = {0, 0}, exp_sq[2] = {0, 0}, obs_mean = 0, exp_mean = 0;
  int64_t n = 0;
  for (int cw = 0; cw < 2; ++cw) {
    PcmPairConfig cfg;
    cfg.drift = cfg.read_noise = false;
    cfg.scale_tile = {kAihwkitTileSize, kAihwkitTileSize, cw == 1};
    PcmPair pcm(wl, cfg, RandomStream(11, 0));
    for (size_t l = 0; l < wl.layers.size(); ++l)
      for (size_t gi = 0; gi < wl.layers[l].gemms.size(); ++gi) {
        const auto& t = wl.layers[l].gemms[gi];
        std::vector<float> wn(t.blocks.size()), scale(static_cast<size_t>(t.P * t.Q));
        pcm.realize(static_cast<int64_t>(l), static_cast<int64_t>(gi), 0, wn.data(), scale.data());
        const std::vector<float>& rs = pcm.row_scales(static_cast<int64_t>(l), static_cast<int64_t>(gi));
        const std::vector<int32_t>& tile = pcm.scale_tiles(static_cast<int64_t>(l), static_cast<int64_t>(gi));
        REQUIRE(rs.size() == (cw ? static_cast<size_t>(t.P * t.Q * k) : 0));
        // The scale of every weight, from the dense matrix: its output row's (or its tile's) max|W|.
        std::vector<double> m_of(t.blocks.size(), 0.0);
        {
          std::vector<double> tmax(static_cast<size_t>(t.P * t.Q), 0.0);  // indexed by tile (< P Q)
          for (int64_t b = 0; b < t.P * t.Q; ++b)
            for (int64_t i = 0; i < kk; ++i) {
              const size_t tb = static_cast<size_t>(tile[static_cast<size_t>(b)]);
              tmax[tb] = std::max(tmax[tb], static_cast<double>(std::abs(t.blocks[static_cast<size_t>(b * kk + i)])));
            }
          // Row maxima over the tile's blocks of the same block-row, straight from the dense layout.
          std::vector<double> rowmax(static_cast<size_t>(t.P * k * t.P * t.Q), 0.0);  // [tile][output row]
          for (int64_t b = 0; b < t.P * t.Q; ++b)
            for (int64_t i = 0; i < kk; ++i) {
              const int64_t r = (b / t.Q) * k + i / k, tb = tile[static_cast<size_t>(b)];
              double& v = rowmax[static_cast<size_t>(tb * t.P * k + r)];
              v = std::max(v, static_cast<double>(std::abs(t.blocks[static_cast<size_t>(b * kk + i)])));
            }
          for (int64_t b = 0; b < t.P * t.Q; ++b)
            for (int64_t i = 0; i < kk; ++i) {
              const int64_t r = (b / t.Q) * k + i / k, tb = tile[static_cast<size_t>(b)];
              m_of[static_cast<size_t>(b * kk + i)] =
                  cw ? rowmax[static_cast<size_t>(tb * t.P * k + r)] : tmax[static_cast<size_t>(tb)];
            }
        }
        for (int64_t b = 0; b < t.P * t.Q; ++b)
          for (int64_t i = 0; i < kk; ++i) {
            const size_t j = static_cast<size_t>(b * kk + i);
            const double m = m_of[j], w = t.blocks[j];
            const double eff = cw ? static_cast<double>(wn[j]) * scale[b] * rs[static_cast<size_t>(b * k + i / k)]
                                  : static_cast<double>(wn[j]) * scale[b];
            if (cw) CHECK(scale[b] == 1.0f);
            if (cw) CHECK(rs[static_cast<size_t>(b * k + i / k)] == Approx(m).epsilon(1e-6));
            if (m == 0) {
              CHECK(eff == 0.0);  // an all-zero (padding) output row carries nothing
              continue;
            }
            const double a = std::abs(w) * 25.0 / m, e = (eff - w) * 25.0 / m;
            const double sa = sigma_prog(a), s0 = sigma_prog(0);
            const double mu_on = err_mean(a, sa), mu_off = err_mean(0, s0);
            obs_sq[cw] += e * e;
            exp_sq[cw] += err_sq(a, sa) + err_sq(0, s0) - 2 * mu_on * mu_off;
            if (cw) {
              // Signed: e = (Y_on - a) - (Y_off) for w > 0, the negative for w < 0 (w = 0: both off, mean 0).
              obs_mean += w >= 0 ? e : -e;
              exp_mean += w == 0 ? 0.0 : mu_on - mu_off;
              ++n;
            }
          }
      }
  }
  REQUIRE(n > 80000);
  // Relative std of a sum of ~10^5 squared errors is below 1 %.
  CHECK(obs_sq[1] == Approx(exp_sq[1]).epsilon(0.03));
  CHECK(obs_sq[0] == Approx(exp_sq[0]).epsilon(0.03));
  CHECK(obs_mean / static_cast<double>(n) == Approx(exp_mean / static_cast<double>(n)).margin(0.01));
}

TEST_CASE("hardware GEMM: row scales multiply the block gains after the ADC (ideal and 8-bit fused paths)", "[pcm_columnwise]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const int64_t k = 8, layer = 1;
  const auto& t = wl.layers[layer].gemms[0];
  const int64_t n = 7;
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(0.23 * static_cast<double>(i)) + 0.1);
  std::vector<float> rs(static_cast<size_t>(t.P * t.Q * k)), bg(rs.size()), prod(rs.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i] = static_cast<float>(0.5 + 0.03 * static_cast<double>(i % 11));
    bg[i] = static_cast<float>(0.9 + 0.02 * static_cast<double>(i % 7));
    prod[i] = rs[i] * bg[i];
  }
  IoSpec io8;
  io8.dac = {8, 1.0, 0};
  io8.adc = {8, 8.0, 0};
  for (const IoSpec& io : {IoSpec{}, io8}) {
    HardwareGemm both(wl, ideal, io, RandomStream(1, 0)), one(wl, ideal, io, RandomStream(1, 0)),
        plain(wl, ideal, io, RandomStream(1, 0));
    both.set_row_scales(layer, 0, rs);
    both.set_block_gains(layer, 0, bg);
    one.set_block_gains(layer, 0, prod);
    CHECK(both.block_gains(layer, 0) == bg);  // compensation reads back its own gains only
    std::vector<float> y0(static_cast<size_t>(t.rows * n)), y1(y0.size()), y2(y0.size());
    both.gemm(layer, 0, 0, x.data(), false, n, y0.data(), false);
    one.gemm(layer, 0, 0, x.data(), false, n, y1.data(), false);
    plain.gemm(layer, 0, 0, x.data(), false, n, y2.data(), false);
    CHECK(y0 == y1);
    CHECK(y0 != y2);
    if (io.adc.ideal()) {
      // Independently: y_r = sum_c W_rc rs(b, i) bg(b, i) x_c on the ideal path.
      for (int64_t r = 0; r < t.rows; ++r)
        for (int64_t j = 0; j < n; ++j) {
          double ref = 0;
          for (int64_t c = 0; c < t.cols; ++c) {
            const int64_t b = (r / k) * t.Q + c / k;
            ref += static_cast<double>(t.blocks[static_cast<size_t>(b * k * k + (r % k) * k + c % k)]) *
                   rs[static_cast<size_t>(b * k + r % k)] * bg[static_cast<size_t>(b * k + r % k)] *
                   x[static_cast<size_t>(c * n + j)];
          }
          CHECK(y0[static_cast<size_t>(r * n + j)] == Approx(ref).margin(1e-4));
        }
    }
    // Clearing the row scales leaves the block gains alone; clearing both restores the plain GEMM.
    both.set_row_scales(layer, 0, {});
    one.set_block_gains(layer, 0, bg);
    both.gemm(layer, 0, 0, x.data(), false, n, y0.data(), false);
    one.gemm(layer, 0, 0, x.data(), false, n, y1.data(), false);
    CHECK(y0 == y1);
    both.set_block_gains(layer, 0, {});
    both.gemm(layer, 0, 0, x.data(), false, n, y0.data(), false);
    CHECK(y0 == y2);
    CHECK_THROWS_AS(both.set_row_scales(layer, 0, std::vector<float>(5, 1.0f)), ptc::Error);
  }
}
