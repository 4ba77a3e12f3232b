// Several conductance pairs per weight (aihwkit NPairConductanceConverter, device.f_lst;
// docs/devices.md §2.2), against references written here from its definition: with F = sum f_i,
// a weight w of a scale tile with max|W| = s maps onto W = |w| / s x F g_max; pair i (least
// significant first) takes clamp((W - L_i) / f_i, 0, g_max), L_i = g_max sum_{i' < i} f_i', on the
// side of w's sign (the other side at 0); the weight reads sum_i f_i (g+_i - g-_i) / (F g_max).
// Every device is programmed as aihwkit's PCMLike does: max(0, g_T + sigma_prog(g_T) xi), so its
// mean and variance are those of a rectified normal (Joshi et al., Nat. Commun. 2020, Methods).
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

TEST_CASE("PCM f_lst: without noise the pairs hold the weight exactly and every device is written", "[pcm_npair]") {
  const Layer L;
  const auto& t = L.t();
  PcmPairConfig quiet;
  quiet.programming_noise = quiet.drift = quiet.read_noise = false;
  PcmPair one(L.wl, quiet, RandomStream(3, 0));
  PcmPairConfig q3 = quiet;
  q3.f_lst = {1.0, 3.0};
  PcmPair two(L.wl, q3, RandomStream(3, 0));
  std::vector<float> w1, s1, w2, s2;
  read(one, t, w1, s1);
  read(two, t, w2, s2);
  CHECK(s1 == s2);
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  double worst = 0;
  for (size_t j = 0; j < w2.size(); ++j)
    worst = std::max(worst, std::abs(static_cast<double>(w2[j]) * s2[j / kk] - t.blocks[j]) /
                                std::max(1e-30, static_cast<double>(s2[j / kk])));
  CHECK(worst < 1e-6);
  // Writes at programming: one per device, two devices per pair.
  int64_t weights = 0;
  for (const auto& layer : L.wl.layers)
    for (const auto& g : layer.gemms) weights += static_cast<int64_t>(g.blocks.size());
  CHECK(one.writes() == 2 * weights);
  CHECK(two.writes() == 4 * weights);
  PcmPairConfig bad = quiet;
  bad.f_lst = {1.0, 0.0};
  CHECK_THROWS_WITH(PcmPair(L.wl, bad, RandomStream(3, 0)), Catch::Contains("f_lst factor must be > 0"));
}

TEST_CASE("PCM f_lst [1, 3]: each weight's programming spread is that of its pairs' devices", "[pcm_npair]") {
  const Layer L;
  const auto& t = L.t();
  PcmPairConfig cfg;
  cfg.drift = cfg.read_noise = false;
  cfg.f_lst = {1.0, 3.0};
  PcmPair pcm(L.wl, cfg, RandomStream(11, 0));
  const PcmLikeParams& d = cfg.device;
  const double gmax = d.g_max_us, F = 4.0;
  std::vector<float> w, s;
  read(pcm, t, w, s);
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  // Reference mean and standard deviation of sum_i f_i (g+_i - g-_i) per weight.
  std::vector<double> mean(w.size()), sd(w.size());
  int64_t upper = 0;  // weights reaching the more significant pair
  for (size_t j = 0; j < w.size(); ++j) {
    const double sc = s[j / kk], x = sc > 0 ? t.blocks[j] / sc : 0.0, W = std::abs(x) * F * gmax;
    double m = 0, v = 0, lower = 0;
    for (double f : cfg.f_lst) {
      const double on = std::clamp((W - lower) / f, 0.0, gmax);
      const double tp = x >= 0 ? on : 0.0, tn = x >= 0 ? 0.0 : on;  // the other side stays at 0
      double ep, ep2, en, en2;
      rectified(tp, pcm_sigma_prog_us(d, tp), ep, ep2);
      rectified(tn, pcm_sigma_prog_us(d, tn), en, en2);
      m += f * (ep - en);
      v += f * f * (ep2 - ep * ep + en2 - en * en);
      lower += f * gmax;
    }
    if (W > gmax) ++upper;
    mean[j] = m;
    sd[j] = std::sqrt(v);
  }
  REQUIRE(upper > 100);  // the split is exercised
  // Pooled standardised residuals over 40 chips (instances): mean 0, variance 1.
  double z1 = 0, z2 = 0, n = 0;
  for (int k = 1; k <= 40; ++k) {
    REQUIRE(pcm.select_instance(k));
    read(pcm, t, w, s);
    for (size_t j = 0; j < w.size(); ++j) {
      const double z = (static_cast<double>(w[j]) * F * gmax - mean[j]) / sd[j];
      z1 += z;
      z2 += z * z;
      n += 1;
    }
  }
  const double zm = z1 / n, zv = z2 / n - zm * zm;
  INFO("mean " << zm << ", variance " << zv << " over " << n);
  CHECK(std::abs(zm) < 5 / std::sqrt(n));
  CHECK(std::abs(zv - 1) < 5 * std::sqrt(2 / n));
}
