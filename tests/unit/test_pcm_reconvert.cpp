// aihwkit's re-converted reads (device.reconvert_at_read; docs/devices.md §2): at a read instant
// aihwkit's BaseNoiseModel.apply_drift_noise converts the *programmed* weights to conductances
// again (SinglePair / NPairConductanceConverter: each tile's max|w_prog| takes the full range
// F (g_max - g_min), the other device of a pair at g_min, pairs filled from the least significant),
// drifts them with the coefficients drawn at programming for each device position, and converts
// back. The reference below is written from that definition with a deterministic law, so every
// weight has a closed form: programming P(g) = g + 0.004 g^2 / uS + 0.3 uS (the idle device is not
// at zero, and the gain is not uniform, so each block's max|w_prog| differs from its max|w|),
// coefficient c(g_T) = 0.1 g_T / g_max, read R(g, c, t) = g (1 + t / s)^-c.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "pcm_pair_fixture.h"

using namespace ptc;
using namespace ptc::hw;
using namespace ptc::test_pcm;

namespace {

class ClosedFormLaw : public PcmLaw {
 public:
  explicit ClosedFormLaw(double g_max) : m_g_max(g_max) {}
  double program_us(double g, double) const override { return P(g); }
  double drift_coefficient(double g, double) const override { return 0.1 * g / m_g_max; }
  double read_us(double g, double, double c, double t, double, bool) const override { return R(g, c, t); }
  static double P(double g) { return g + 0.004 * g * g + 0.3; }
  static double R(double g, double c, double t) { return g * std::pow(1.0 + t, -c); }

 private:
  double m_g_max;
};

// The reference read of every weight of layer 1 (normalised as realize gives it) at t seconds:
// reconvert (aihwkit) or every device from its own programmed conductance. A weight w is
// normalised by its block's scale, or by its (block, row)'s row scale with column-wise scaling;
// each scale tile (`tile`, empty: the block) takes its own max|w_prog|.
std::vector<double> reference(const models::GemmTiles& t, const std::vector<float>& scale, const std::vector<float>& row_scale,
                              const std::vector<int32_t>& tile, size_t k, const PcmPairConfig& cfg, double t_s, bool reconvert) {
  const size_t kk = k * k;
  const double gmax = cfg.device.g_max_us, gmin = cfg.g_min_us;
  double F = 0;
  for (double f : cfg.f_lst) F += f;
  const double full = F * (gmax - gmin);
  const size_t n = t.blocks.size(), pairs = cfg.f_lst.size();
  // Targets of pair i of weight j, as the converter maps the trained weights.
  auto split = [&](double W, std::vector<double>& g) {  // W >= 0 in uS of the full range
    g.assign(pairs, 0.0);
    double lower = 0;
    for (size_t i = 0; i < pairs; ++i) {
      g[i] = std::clamp((W - lower) / cfg.f_lst[i] + gmin, gmin, gmax);
      lower += cfg.f_lst[i] * (gmax - gmin);
    }
  };
  std::vector<std::vector<double>> tp(n), tn(n);
  std::vector<double> wprog(n), out(n);
  for (size_t j = 0; j < n; ++j) {
    const size_t b = j / kk, row = (j % kk) / k;
    const double s = row_scale.empty() ? scale[b] : row_scale[b * k + row];
    const double x = s > 0 ? t.blocks[j] / s : 0.0;
    split(std::max(x, 0.0) * full, tp[j]);
    split(std::max(-x, 0.0) * full, tn[j]);
    double d = 0;
    for (size_t i = 0; i < pairs; ++i) d += cfg.f_lst[i] * (ClosedFormLaw::P(tp[j][i]) - ClosedFormLaw::P(tn[j][i]));
    wprog[j] = d / full;
  }
  const auto tile_of = [&](size_t j) { return tile.empty() ? j / kk : static_cast<size_t>(tile[j / kk]); };
  std::vector<double> tmax(n, 0.0);  // by tile (at most one per block)
  for (size_t j = 0; j < n; ++j) tmax[tile_of(j)] = std::max(tmax[tile_of(j)], std::abs(wprog[j]));
  for (size_t j = 0; j < n; ++j) {
    const double m = std::max(tmax[tile_of(j)], 1e-7);
    std::vector<double> gp, gn;
    if (reconvert) {
      split(std::max(wprog[j], 0.0) / m * full, gp);
      split(std::max(-wprog[j], 0.0) / m * full, gn);
    } else {
      gp = tp[j];
      gn = tn[j];
      for (auto& g : gp) g = ClosedFormLaw::P(g);
      for (auto& g : gn) g = ClosedFormLaw::P(g);
    }
    double acc = 0;
    for (size_t i = 0; i < pairs; ++i)
      acc += cfg.f_lst[i] *
             (ClosedFormLaw::R(gp[i], 0.1 * tp[j][i] / gmax, t_s) - ClosedFormLaw::R(gn[i], 0.1 * tn[j][i] / gmax, t_s));
    out[j] = reconvert ? acc / full * m : acc / full;
  }
  return out;
}

void check_against_reference(PcmPairConfig cfg) {
  const Layer L;
  const auto& t = L.t();
  const auto k = static_cast<size_t>(L.wl.spec.block_size);
  cfg.read_noise = false;
  cfg.law = std::make_shared<ClosedFormLaw>(cfg.device.g_max_us);
  for (bool reconvert : {true, false}) {
    cfg.reconvert_at_read = reconvert;
    PcmPair pcm(L.wl, cfg, RandomStream(5, 0));
    const std::vector<float>& rs = pcm.row_scales(1, 0);
    const std::vector<int32_t>& tiles = pcm.scale_tiles(1, 0);
    REQUIRE(rs.empty() != cfg.scale_tile.columnwise);
    REQUIRE(tiles.empty() == cfg.scale_tile.per_block());
    for (double t_s : {0.0, 3600.0, 3.15e7}) {
      pcm.set_time(t_s);
      std::vector<float> w, s;
      read(pcm, t, w, s);
      const std::vector<double> want = reference(t, s, rs, tiles, k, cfg, t_s, reconvert);
      double worst = 0, moved = 0;  // moved: how far the other mode's reference is (the test can tell them apart)
      const std::vector<double> other = reference(t, s, rs, tiles, k, cfg, t_s, !reconvert);
      for (size_t j = 0; j < w.size(); ++j) {
        worst = std::max(worst, std::abs(w[j] - want[j]));
        moved = std::max(moved, std::abs(other[j] - want[j]));
      }
      INFO("reconvert " << reconvert << ", pairs " << cfg.f_lst.size() << ", g_min " << cfg.g_min_us << ", t " << t_s);
      CHECK(worst < 2e-6);               // float storage of the conductances
      if (t_s > 0) CHECK(moved > 1e-3);  // at t = 0 both read w_prog (no drift): the same weights
    }
  }
}

}  // namespace

TEST_CASE("PCM reconvert_at_read: one pair per weight, against aihwkit's re-conversion", "[pcm_reconvert]") {
  check_against_reference(PcmPairConfig{});
}

TEST_CASE("PCM reconvert_at_read: f_lst [1, 2], pairs re-filled from the least significant", "[pcm_reconvert]") {
  PcmPairConfig cfg;
  cfg.f_lst = {1.0, 2.0};
  check_against_reference(cfg);
}

TEST_CASE("PCM reconvert_at_read: g_min 2 uS, both devices lifted", "[pcm_reconvert]") {
  PcmPairConfig cfg;
  cfg.g_min_us = 2.0;
  check_against_reference(cfg);
}

TEST_CASE("PCM reconvert_at_read: aihwkit tiles with column-wise scaling and f_lst [1, 3]", "[pcm_reconvert]") {
  PcmPairConfig cfg;
  cfg.scale_tile = {kAihwkitTileSize, kAihwkitTileSize, true};
  cfg.f_lst = {1.0, 3.0};
  check_against_reference(cfg);
}

// Without programming noise the programmed weights are the trained ones, so re-converting them
// gives back every device's target: both read models must read the same weights, read noise
// included, which holds only if they take the same draws (here on aihwkit tiles with column-wise
// scaling, two pairs, aihwkit's PCMLike law, Monte-Carlo instances 0 and 2, and noiseless reads).
TEST_CASE("PCM reconvert_at_read: without programming noise both read models take the same draws", "[pcm_reconvert]") {
  const Layer L;
  const auto& t = L.t();
  PcmPairConfig cfg;
  cfg.programming_noise = false;
  cfg.scale_tile = {kAihwkitTileSize, kAihwkitTileSize, true};
  cfg.f_lst = {1.0, 3.0};
  PcmPair dev(L.wl, cfg, RandomStream(9, 0));
  cfg.reconvert_at_read = true;
  PcmPair rec(L.wl, cfg, RandomStream(9, 0));
  auto max_diff = [&](hw::Technology& a, hw::Technology& b) {
    std::vector<float> w1, s1, w2, s2;
    read(a, t, w1, s1);
    read(b, t, w2, s2);
    REQUIRE(s1 == s2);
    double worst = 0;
    for (size_t j = 0; j < w1.size(); ++j) worst = std::max(worst, static_cast<double>(std::abs(w1[j] - w2[j])));
    return worst;
  };
  for (int64_t instance : {0, 2})
    for (bool noiseless : {false, true}) {
      dev.select_instance(instance);
      rec.select_instance(instance);
      dev.set_noiseless_reads(noiseless);
      rec.set_noiseless_reads(noiseless);
      dev.set_time(86400.0);
      rec.set_time(86400.0);
      INFO("instance " << instance << ", noiseless " << noiseless);
      CHECK(max_diff(dev, rec) < 1e-5);  // normalised weights within [-1, 1]: float rounding of the targets
    }
  // Another chip's read noise differs by far more than that bound (the check can fail).
  PcmPair other(L.wl, cfg, RandomStream(10, 0));
  other.set_time(86400.0);
  rec.select_instance(0);
  rec.set_noiseless_reads(false);
  rec.set_time(86400.0);
  CHECK(max_diff(other, rec) > 1e-3);
}

TEST_CASE("PCM reconvert_at_read: write-verify is refused", "[pcm_reconvert]") {
  const Layer L;
  PcmPairConfig cfg;
  cfg.reconvert_at_read = true;
  PcmPair pcm(L.wl, cfg, RandomStream(5, 0));
  VerifySpec spec;
  std::vector<uint8_t> mask(L.t().blocks.size(), 1);
  CHECK_THROWS_WITH(pcm.verify(1, 0, mask, spec, 1.0), Catch::Contains("device.reconvert_at_read"));
}
