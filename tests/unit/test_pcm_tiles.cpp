// PCM conductance-scaling tiles (docs/devices.md §2.1), aihwkit's reference read without read noise
// (docs/pcm_drift_compensation.md §2) and the digital block gains drift compensation per tile or
// column uses: checked against hand computations and closed forms.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "hw/hardware_gemm.h"
#include "hw/physics/pcm.h"
#include "models/accuracy.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

// aihwkit's TileModuleArray.get_split_sizes: ceil(size / max) parts, the first size % parts one larger.
std::vector<int64_t> split_sizes(int64_t size, int64_t max) {
  const int64_t n = (size + max - 1) / max, base = size / n, extra = size % n;
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(base + (i < extra));
  return v;
}

}  // namespace

TEST_CASE("PCM scale tiles: a hand-computed 4 x 6 layer, every tile's largest |w| at g_max, the rest in proportion",
          "[pcm_tiles]") {
  // k = 2: P = 2 block rows, Q = 3 block columns. Tiles of at most 2 rows x 4 cols: 2 row parts
  // (1 block each) and ceil(6 / 4) = 2 column parts of Q = 3 blocks split 2 + 1.
  const int64_t k = 2, P = 2, Q = 3, kk = k * k;
  int64_t n_tiles = 0;
  const std::vector<int32_t> tile = pcm_tile_of_blocks(PcmScaleTile{2, 4}, P, Q, 4, 6, n_tiles);
  REQUIRE(n_tiles == 4);
  CHECK(tile == std::vector<int32_t>{0, 0, 1, 2, 2, 3});
  // Weights W[r][c] = (r + 1) (c + 1) / 10 with alternating signs, laid out [P, Q, k, k].
  std::vector<float> latent(static_cast<size_t>(P * Q * kk));
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 6; ++c)
      latent[static_cast<size_t>(((r / k) * Q + c / k) * kk + (r % k) * k + c % k)] =
          static_cast<float>(((r + c) % 2 ? -1 : 1) * (r + 1) * (c + 1) / 10.0);
  // Tile maxima by hand: tile 0 = rows 0-1, cols 0-3: 2 * 4 / 10; tile 1 = rows 0-1, cols 4-5:
  // 2 * 6 / 10; tile 2 = rows 2-3, cols 0-3: 4 * 4 / 10; tile 3 = rows 2-3, cols 4-5: 4 * 6 / 10.
  const double tmax[4] = {0.8, 1.2, 1.6, 2.4};
  const double gmax = 25.0;
  std::vector<float> scale, tp(latent.size()), tn(latent.size());
  CHECK(pcm_map_pair_targets(latent, P * Q, kk, gmax, true, scale, tp, tn, &tile, n_tiles) == 2 * P * Q * kk);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 6; ++c) {
      const int64_t b = (r / k) * Q + c / k;
      const size_t j = static_cast<size_t>(b * kk + (r % k) * k + c % k);
      const double m = tmax[tile[static_cast<size_t>(b)]], w = latent[j];
      CHECK(scale[static_cast<size_t>(b)] == Approx(m).epsilon(1e-6));
      CHECK(tp[j] == Approx(std::max(w, 0.0) / m * gmax).epsilon(1e-6));
      CHECK(tn[j] == Approx(std::max(-w, 0.0) / m * gmax).epsilon(1e-6));
    }
  // The largest |w| of each tile (row 1 or 3, last column of the tile) maps to g_max exactly.
  const int64_t corner[4][2] = {{1, 3}, {1, 5}, {3, 3}, {3, 5}};
  for (const auto& rc : corner) {
    const int64_t r = rc[0], c = rc[1], b = (r / k) * Q + c / k;
    const size_t j = static_cast<size_t>(b * kk + (r % k) * k + c % k);
    CHECK(std::max(tp[j], tn[j]) == Approx(gmax).epsilon(1e-6));
  }
  // Per block (no tiles): block (0, 0) has max |w| 2 * 2 / 10 = 0.4.
  std::vector<float> s2, tp2(latent.size()), tn2(latent.size());
  pcm_map_pair_targets(latent, P * Q, kk, gmax, true, s2, tp2, tn2);
  CHECK(s2[0] == Approx(0.4).epsilon(1e-6));
  CHECK(std::max(tp2[3], tn2[3]) == Approx(gmax).epsilon(1e-6));
}

TEST_CASE("PCM scale tiles: aihwkit's 512 x 512 tiles split a layer as its TileModuleArray does, in whole blocks",
          "[pcm_tiles]") {
  // A 1030 x 1030 matrix in 8 x 8 blocks: P = Q = 129; aihwkit splits 1030 into 3 parts
  // (344, 343, 343); in blocks, 129 splits into 3 x 43.
  const int64_t P = 129, Q = 129;
  int64_t n_tiles = 0;
  const std::vector<int32_t> tile =
      pcm_tile_of_blocks(PcmScaleTile{kAihwkitTileSize, kAihwkitTileSize}, P, Q, 1030, 1030, n_tiles);
  CHECK(split_sizes(1030, 512).size() == 3);
  REQUIRE(n_tiles == 9);
  CHECK(split_sizes(Q, 43) == std::vector<int64_t>{43, 43, 43});
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) CHECK(tile[static_cast<size_t>(p * Q + q)] == (p / 43) * 3 + q / 43);
  // A layer within 512 x 512 is one tile; block mode is one tile per block.
  pcm_tile_of_blocks(PcmScaleTile{512, 512}, 16, 36, 128, 288, n_tiles);
  CHECK(n_tiles == 1);
  const std::vector<int32_t> blocks = pcm_tile_of_blocks(PcmScaleTile{}, 2, 3, 16, 24, n_tiles);
  CHECK(n_tiles == 6);
  CHECK(blocks == std::vector<int32_t>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("PCM scale tiles: on CNN3, aihwkit tiles keep W exactly (noise-free) and put one weight per tile at wn = 1",
          "[pcm_tiles]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  PcmPairConfig cfg;
  cfg.programming_noise = cfg.drift = cfg.read_noise = false;
  cfg.scale_tile = {kAihwkitTileSize, kAihwkitTileSize};
  PcmPair pcm(wl, cfg, RandomStream(3, 0));
  const int64_t kk = 64;
  int64_t multi_block_tiles = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t gi = 0; gi < wl.layers[l].gemms.size(); ++gi) {
      const auto& t = wl.layers[l].gemms[gi];
      std::vector<float> wn(t.blocks.size()), scale(static_cast<size_t>(t.P * t.Q));
      pcm.realize(static_cast<int64_t>(l), static_cast<int64_t>(gi), 0, wn.data(), scale.data());
      const auto& tile = pcm.scale_tiles(static_cast<int64_t>(l), static_cast<int64_t>(gi));
      REQUIRE(tile.size() == static_cast<size_t>(t.P * t.Q));
      std::vector<float> tmax(t.P * t.Q, 0.0f), wmax(t.P * t.Q, 0.0f);
      for (int64_t b = 0; b < t.P * t.Q; ++b)
        for (int64_t i = 0; i < kk; ++i) {
          const size_t j = static_cast<size_t>(b * kk + i);
          CHECK(wn[j] * scale[b] == Approx(t.blocks[j]).margin(1e-6));
          tmax[tile[b]] = std::max(tmax[tile[b]], std::abs(wn[j]));
          wmax[tile[b]] = std::max(wmax[tile[b]], std::abs(t.blocks[j]));
        }
      for (int64_t b = 0; b < t.P * t.Q; ++b) {
        CHECK(scale[b] == wmax[tile[b]]);  // every block carries its tile's max|W|
        if (wmax[tile[b]] > 0) CHECK(tmax[tile[b]] == Approx(1.0f).epsilon(1e-6));
      }
      if (t.P * t.Q > 1) ++multi_block_tiles;
    }
  CHECK(multi_block_tiles > 0);
}

TEST_CASE("PCM: a noiseless reference read equals the device without read noise, and restoring it is exact", "[pcm_tiles]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  PcmPairConfig noisy, quiet;
  quiet.read_noise = false;
  PcmPair a(wl, noisy, RandomStream(9, 0)), b(wl, quiet, RandomStream(9, 0));
  a.set_time(3600);
  b.set_time(3600);
  const auto& t = wl.layers[0].gemms[0];
  std::vector<float> wa(t.blocks.size()), wb(t.blocks.size()), wa2(t.blocks.size()), s(static_cast<size_t>(t.P * t.Q));
  a.realize(0, 0, 0, wa.data(), s.data());
  b.realize(0, 0, 0, wb.data(), s.data());
  CHECK(wa != wb);  // the read noise is there
  CHECK(a.set_noiseless_reads(true));
  a.realize(0, 0, 0, wa2.data(), s.data());
  CHECK(wa2 == wb);  // programming noise and drift as drawn, no read noise
  CHECK(a.set_noiseless_reads(false));
  a.realize(0, 0, 0, wa2.data(), s.data());
  CHECK(wa2 == wa);
  CHECK_FALSE(b.set_noiseless_reads(true));  // nothing to leave out
}

TEST_CASE("hardware GEMM: block gains scale each block's partial sums after the ADC (ideal and 8-bit fused paths)",
          "[pcm_tiles]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  IdealRealizer ideal(wl);
  const int64_t k = 8, layer = static_cast<int64_t>(wl.layers.size()) - 1;
  const auto& t = wl.layers[layer].gemms[0];
  const int64_t n = 5;
  std::vector<float> x(static_cast<size_t>(t.cols * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) + 0.2);
  // Gains depending on block column and row: y_r = sum_c W[r, c] g(q(c), r) x_c (ideal I/O).
  std::vector<float> gains(static_cast<size_t>(t.P * t.Q * k));
  const auto gain_of = [](int64_t q, int64_t r) {
    return static_cast<float>(0.8 + 0.05 * static_cast<double>(q % 3) + 0.01 * static_cast<double>(r % 5));
  };
  for (int64_t b = 0; b < t.P * t.Q; ++b)
    for (int64_t i = 0; i < k; ++i) gains[static_cast<size_t>(b * k + i)] = gain_of(b % t.Q, (b / t.Q) * k + i);
  {
    HardwareGemm hg(wl, ideal, IoSpec{}, RandomStream(1, 0));
    hg.set_block_gains(layer, 0, gains);
    std::vector<float> y(static_cast<size_t>(t.rows * n));
    hg.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (int64_t c = 0; c < t.cols; ++c)
          ref += static_cast<double>(t.blocks[static_cast<size_t>(((r / k) * t.Q + c / k) * k * k + (r % k) * k + c % k)]) *
                 gain_of(c / k, r) * x[static_cast<size_t>(c * n + j)];
        CHECK(y[static_cast<size_t>(r * n + j)] == Approx(ref).margin(1e-4));
      }
    CHECK_THROWS_AS(hg.set_block_gains(layer, 0, std::vector<float>(3, 1.0f)), ptc::Error);
  }
  {
    // 8-bit DAC and ADC (fused kernel): a gain per output row common to all blocks is a digital
    // factor after the ADC, so y_r(gains) = g_r y_r(no gains) (float rounding only).
    IoSpec io;
    io.dac = {8, 1.0, 0};
    io.adc = {8, 8.0, 0};
    HardwareGemm plain(wl, ideal, io, RandomStream(1, 0)), gained(wl, ideal, io, RandomStream(1, 0));
    std::vector<float> rg(gains.size());
    for (int64_t b = 0; b < t.P * t.Q; ++b)
      for (int64_t i = 0; i < k; ++i) rg[static_cast<size_t>(b * k + i)] = gain_of(0, (b / t.Q) * k + i);
    gained.set_block_gains(layer, 0, rg);
    std::vector<float> y0(static_cast<size_t>(t.rows * n)), y1(y0.size());
    plain.gemm(layer, 0, 0, x.data(), false, n, y0.data(), false);
    gained.gemm(layer, 0, 0, x.data(), false, n, y1.data(), false);
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t j = 0; j < n; ++j)
        CHECK(y1[static_cast<size_t>(r * n + j)] ==
              Approx(gain_of(0, r) * y0[static_cast<size_t>(r * n + j)]).epsilon(1e-5).margin(1e-6));
  }
}

TEST_CASE(
    "hardware GEMM: uniform block gains equal the per-layer output gain on CNN3 (conv and dense paths with ideal and 8-bit "
    "converters)",
    "[pcm_tiles]") {
  // A gain common to every block and row of a layer is the per-layer digital gain: the network's
  // logits agree (float rounding only) on every execution path, the image-window convolution included.
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  const models::Preprocess pre = models::preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const models::Dataset test = models::load_fashion_mnist("test");
  models::Tensor in;
  models::fill_batch(test, pre, 0, 8, in);
  IdealRealizer ideal(wl);
  IoSpec io8;
  io8.dac = {8, 1.0, 0};
  io8.adc = {8, 8.0, 0};
  const float gains[] = {1.25f, 0.8f, 1.1f, 0.9f};
  for (const IoSpec& io : {IoSpec{}, io8}) {
    HardwareGemm by_layer(wl, ideal, io, RandomStream(1, 0)), by_block(wl, ideal, io, RandomStream(1, 0));
    for (size_t l = 0; l < wl.layers.size(); ++l) {
      by_layer.set_gain(static_cast<int64_t>(l), gains[l % 4]);
      for (size_t gi = 0; gi < wl.layers[l].gemms.size(); ++gi) {
        const auto& t = wl.layers[l].gemms[gi];
        by_block.set_block_gains(static_cast<int64_t>(l), static_cast<int64_t>(gi),
                                 std::vector<float>(static_cast<size_t>(t.P * t.Q * 8), gains[l % 4]));
      }
    }
    models::Executor a(g), b(g);
    a.set_mapped(&by_layer, wl.layer_index());
    b.set_mapped(&by_block, wl.layer_index());
    by_layer.prepare_batch();
    by_block.prepare_batch();
    const models::Tensor ya = a.run(in);
    const models::Tensor& yb = b.run(in);
    REQUIRE(ya.f.size() == yb.f.size());
    double diff = 0;
    for (size_t j = 0; j < ya.f.size(); ++j) {
      CHECK(yb.f[j] == Approx(ya.f[j]).margin(1e-3).epsilon(1e-4));
      diff = std::max(diff, static_cast<double>(std::abs(yb.f[j] - ya.f[j])));
    }
    // And the gains do act: without them the logits differ.
    HardwareGemm plain(wl, ideal, io, RandomStream(1, 0));
    models::Executor c(g);
    c.set_mapped(&plain, wl.layer_index());
    const models::Tensor& yc = c.run(in);
    double moved = 0;
    for (size_t j = 0; j < ya.f.size(); ++j) moved = std::max(moved, static_cast<double>(std::abs(yc.f[j] - ya.f[j])));
    CHECK(moved > 100 * std::max(diff, 1e-6));
  }
}
