// A minimum conductance on the single pair (aihwkit SinglePairConductanceConverter g_min,
// device.g_min_us; docs/devices.md §2), against references written here from its definition: a
// weight w of a scale tile with max|W| = s maps onto g+_T = max(w, 0) / s (g_max - g_min) + g_min
// and g-_T = max(-w, 0) / s (g_max - g_min) + g_min, and reads (g+ - g-) / (g_max - g_min) s.
// Every device is programmed as aihwkit's PCMLike does, max(0, g_T + sigma_prog(g_T) xi) (Joshi et
// al., Nat. Commun. 2020, Methods), so its mean and variance are those of a rectified normal.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "models/compiler.h"
#include "models/error.h"
#include "models/onnx_import.h"
#include "pcm_pair_fixture.h"

using namespace ptc;
using namespace ptc::hw;
using namespace ptc::test_pcm;

namespace {
// Pooled standardised residuals of the weights read over `chips` instances, against the reference
// of a pair whose zero sits at gmin_ref (mean and variance of (g+ - g-) per weight).
void residuals(PcmPair& pcm, const Layer& L, const PcmLikeParams& d, double gmin_ref, int chips, double& zm, double& zv) {
  const auto& t = L.t();
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  std::vector<float> w, s;
  REQUIRE(pcm.select_instance(0));
  read(pcm, t, w, s);
  const double span = d.g_max_us - gmin_ref;
  std::vector<double> mean(w.size()), sd(w.size()), ref_scale(w.size() / static_cast<size_t>(kk), 0.0);
  for (size_t j = 0; j < w.size(); ++j) {
    // the block's scale from the layer's own weights (max|W| of its k x k block), not the device's
    double sc = 0;
    for (int64_t i = 0; i < kk; ++i) sc = std::max(sc, std::abs(static_cast<double>(t.blocks[(j / kk) * kk + i])));
    ref_scale[j / kk] = sc;
    const double x = sc > 0 ? t.blocks[j] / sc : 0.0;
    const double tp = std::max(x, 0.0) * span + gmin_ref, tn = std::max(-x, 0.0) * span + gmin_ref;
    double ep, ep2, en, en2;
    rectified(tp, pcm_sigma_prog_us(d, tp), ep, ep2);
    rectified(tn, pcm_sigma_prog_us(d, tn), en, en2);
    mean[j] = ep - en;
    sd[j] = std::sqrt(ep2 - ep * ep + en2 - en * en);
  }
  // the device scales each block by its own max|W| (the reference's, computed from the weights)
  size_t scale_mismatch = 0;
  for (size_t b = 0; b < ref_scale.size(); ++b) scale_mismatch += s[b] != static_cast<float>(ref_scale[b]);
  CHECK(scale_mismatch == 0);
  double z1 = 0, z2 = 0, n = 0;
  for (int k = 1; k <= chips; ++k) {
    REQUIRE(pcm.select_instance(k));
    read(pcm, t, w, s);
    for (size_t j = 0; j < w.size(); ++j) {
      const double z = (static_cast<double>(w[j]) * span - mean[j]) / sd[j];
      z1 += z;
      z2 += z * z;
      n += 1;
    }
  }
  zm = z1 / n;
  zv = z2 / n - zm * zm;
  INFO("g_min reference " << gmin_ref << " uS: mean " << zm << ", variance " << zv << " over " << n);
}
}  // namespace

TEST_CASE("PCM g_min: without noise the pair holds the weight exactly, and bad values are refused", "[pcm_gmin]") {
  const Layer L;
  const auto& t = L.t();
  PcmPairConfig quiet;
  quiet.programming_noise = quiet.drift = quiet.read_noise = false;
  quiet.g_min_us = 5.0;
  PcmPair pcm(L.wl, quiet, RandomStream(3, 0));
  std::vector<float> w, s;
  read(pcm, t, w, s);
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  double worst = 0;
  for (size_t j = 0; j < w.size(); ++j)
    worst = std::max(
        worst, std::abs(static_cast<double>(w[j]) * s[j / kk] - t.blocks[j]) / std::max(1e-30, static_cast<double>(s[j / kk])));
  CHECK(worst < 1e-6);
  PcmPairConfig bad = quiet;
  bad.g_min_us = 25.0;
  CHECK_THROWS_WITH(PcmPair(L.wl, bad, RandomStream(3, 0)), Catch::Contains("must be in [0, device.g_max_us)"));
  bad.g_min_us = -1.0;
  CHECK_THROWS_WITH(PcmPair(L.wl, bad, RandomStream(3, 0)), Catch::Contains("got -1"));
  bad.g_min_us = 2.0;
  bad.f_lst = {1.0, 3.0};
  CHECK_THROWS_WITH(PcmPair(L.wl, bad, RandomStream(3, 0)), Catch::Contains("one conductance pair per weight"));
}

TEST_CASE("PCM g_min 5 uS: each weight's programming spread is that of two devices lifted by g_min", "[pcm_gmin]") {
  const Layer L;
  PcmPairConfig cfg;
  cfg.drift = cfg.read_noise = false;
  cfg.g_min_us = 5.0;
  PcmPair pcm(L.wl, cfg, RandomStream(11, 0));
  double zm = 0, zv = 0;
  residuals(pcm, L, cfg.device, 5.0, 40, zm, zv);
  const double n = 40.0 * static_cast<double>(L.t().blocks.size());
  CHECK(std::abs(zm) < 5 / std::sqrt(n));
  CHECK(std::abs(zv - 1) < 5 * std::sqrt(2 / n));
  // The same chips against the pair without g_min (its zero device at 0 uS, the range g_max): far
  // off, so the test tells the two mappings apart.
  double zm0 = 0, zv0 = 0;
  residuals(pcm, L, cfg.device, 0.0, 40, zm0, zv0);
  CHECK(std::abs(zv0 - 1) > 50 * std::sqrt(2 / n));
}
