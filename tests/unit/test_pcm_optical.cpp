// ELight optical PCM technology: weights on the geometric level ladder, level-step write counting
// and transmission drift (ELight, Zhu et al. ASP-DAC 2022; docs/devices.md §3; closed forms
// written out here).
#include <catch2/catch.hpp>
#include <cmath>

#include "hw/device/pcm_optical.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

using namespace ptc;

namespace {
struct Setup {
  models::Graph g = models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/lenet5_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{});
};
}  // namespace

TEST_CASE("optical PCM: every effective weight sits on the nearest ELight level", "[pcm_optical]") {
  Setup s;
  hw::PcmOptical t(s.wl, hw::PcmOpticalConfig{});
  const auto& L = s.wl.layers[1].gemms[0];
  std::vector<float> wn(L.blocks.size()), sc(L.P * L.Q);
  t.realize(1, 0, 0, wn.data(), sc.data());
  const double beta = 0.872, tmin = std::pow(beta, 15);
  int checked = 0;
  for (int64_t b = 0; b < L.P * L.Q; ++b) {
    double tmax = 0;
    for (int i = 0; i < 64; ++i) tmax = std::max(tmax, std::abs(std::tanh(double(L.blocks[b * 64 + i]))));
    if (tmax == 0) continue;
    for (int i = 0; i < 64; ++i) {
      double w = L.blocks[b * 64 + i];
      double eff = double(wn[b * 64 + i]) * sc[b];
      double what = std::tanh(eff) / tmax;  // dequantised normalised level value
      double u = std::abs(std::tanh(w)) / tmax * (1 - tmin) + tmin;
      double uq = std::abs(what) * (1 - tmin) + tmin;  // = beta^j of the chosen level
      double j = std::log(uq) / std::log(beta);
      REQUIRE(std::abs(j - std::round(j)) < 1e-3);  // on the ladder
      int jj = static_cast<int>(std::round(j));
      for (int d : {-1, 1}) {  // no other level is nearer in transmission
        int k = jj + d;
        if (k < 0 || k > 15) continue;
        CHECK(std::abs(u - std::pow(beta, jj)) <= std::abs(u - std::pow(beta, k)) + 1e-9);
      }
      if (w != 0 && jj < 15) CHECK((what > 0) == (w > 0));
      ++checked;
    }
  }
  CHECK(checked > 1000);
}

TEST_CASE("optical PCM: writes count level steps of both cells, unchanged weights cost nothing", "[pcm_optical]") {
  Setup s;
  hw::PcmOptical t(s.wl, hw::PcmOpticalConfig{});
  const int64_t w0 = t.writes();
  // Deployment from fresh cells (both at the zero level): one step per level of every weight.
  int64_t expect0 = 0;
  for (size_t l = 0; l < s.wl.layers.size(); ++l)
    for (int v : t.levels(l, 0)) expect0 += std::abs(v);
  CHECK(w0 == expect0);
  CHECK(t.program(0, 0, s.wl.layers[0].gemms[0].blocks, 1.0) == 0);
  // Negating a block: the positive cell walks L steps down and the negative one L steps up.
  std::vector<float> neg = s.wl.layers[0].gemms[0].blocks;
  for (auto& x : neg) x = -x;
  int64_t expect = 0;
  for (int v : t.levels(0, 0)) expect += 2 * std::abs(v);
  const auto before = t.write_cost_total();
  CHECK(t.program(0, 0, neg, 2.0) == expect);
  const auto after = t.write_cost_total();
  CHECK(after.up_steps - before.up_steps == expect / 2);
  CHECK(after.down_steps - before.down_steps == expect / 2);
  // Asymmetric energy: 0.595 nJ per up step, 40/9 of it per down step (ELight's ratio).
  CHECK(after.energy_j - before.energy_j == Approx(expect / 2 * 0.5948e-9 * (1 + 40.0 / 9.0)).epsilon(1e-9));
}

TEST_CASE("optical PCM: drift scales the realised weight linearly, w(t) = ((t_inf+t0)/t0)^-nu w(0)", "[pcm_optical]") {
  // The optical multiply is linear in transmission: both cells of a pair decay by the same factor
  // d, so the weight they realise is d times the weight at programming, for every level alike.
  Setup s;
  hw::PcmOpticalConfig cfg;
  cfg.nu_opt = 0.05;
  hw::PcmOptical t(s.wl, cfg);
  const auto& L = s.wl.layers[1].gemms[0];
  const int64_t nb = L.P * L.Q;
  std::vector<float> a(L.blocks.size()), b(L.blocks.size()), sa(nb), sb(nb);
  t.set_time(hw::NoiseTime{0, 0.0});
  t.realize(1, 0, 0, a.data(), sa.data());
  // Closed form of w(0) from the levels: atanh(w^ max|tanh W_block|), w^ = (beta^j - T_min)/(1 - T_min).
  const double beta = 0.872, tmin = std::pow(beta, 15);
  const auto& lv = t.levels(1, 0);
  for (int64_t blk = 0; blk < nb; ++blk) {
    double tmax = 0;
    for (int i = 0; i < 64; ++i) tmax = std::max(tmax, std::abs(std::tanh(double(L.blocks[blk * 64 + i]))));
    for (int i = 0; i < 64; ++i) {
      const int ls = lv[blk * 64 + i];
      const double what = ls == 0 ? 0.0 : (ls > 0 ? 1 : -1) * (std::pow(beta, 15 - std::abs(ls)) - tmin) / (1 - tmin);
      CHECK(double(a[blk * 64 + i]) * sa[blk] == Approx(std::atanh(what * tmax)).margin(1e-5));
    }
  }
  for (double t_inf : {1.0, 1000.0, 3.1536e7}) {
    t.set_time(hw::NoiseTime{0, t_inf});
    t.realize(1, 0, 0, b.data(), sb.data());
    const double d = std::pow((t_inf + 20.0) / 20.0, -0.05);  // t0 = 20 s
    int moved = 0;
    for (int64_t blk = 0; blk < nb; ++blk) {
      CHECK(sb[blk] == sa[blk]);  // the digital block scale is that of programming
      for (int i = 0; i < 64; ++i) {
        const double w0 = double(a[blk * 64 + i]) * sa[blk], wt = double(b[blk * 64 + i]) * sb[blk];
        CHECK(wt == Approx(d * w0).margin(1e-6));
        moved += std::abs(w0) > 0.05 && std::abs(wt - w0) > 1e-4;
      }
    }
    CHECK(moved > 100);  // drift visibly moves the weights
  }
}

TEST_CASE("optical PCM: a drift compensation alpha = 1/d restores the programmed weights exactly", "[pcm_optical]") {
  // aihwkit's global compensation (Le Gallo et al., Adv. Electron. Mater. 2018): alpha = reference
  // readout / readout at t. With a uniform multiplicative drift the one-hot readout mean |w| scales
  // by d, so alpha w(t) = w(0) for every weight.
  Setup s;
  hw::PcmOpticalConfig cfg;
  cfg.nu_opt = 0.02;
  hw::PcmOptical t(s.wl, cfg);
  const auto& L = s.wl.layers[0].gemms[0];
  std::vector<float> a(L.blocks.size()), b(L.blocks.size()), sa(L.P * L.Q), sb(L.P * L.Q);
  t.set_time(hw::NoiseTime{0, 0.0});
  t.realize(0, 0, 0, a.data(), sa.data());
  t.set_time(hw::NoiseTime{0, 3.1536e7});
  t.realize(0, 0, 0, b.data(), sb.data());
  double ra = 0, rb = 0;
  for (size_t i = 0; i < a.size(); ++i) ra += std::abs(a[i] * sa[i / 64]), rb += std::abs(b[i] * sb[i / 64]);
  const double alpha = ra / rb;
  CHECK(alpha == Approx(std::pow((3.1536e7 + 20.0) / 20.0, 0.02)).epsilon(1e-5));
  for (size_t i = 0; i < a.size(); ++i) CHECK(alpha * b[i] * sb[i / 64] == Approx(a[i] * sa[i / 64]).margin(1e-5));
}
