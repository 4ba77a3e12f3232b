// DOCTOR's noise processes against the published model and its derived values (docs/noise.md §2-§4).
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "hw/noise/doctor_noise.h"
#include "hw/noise/noise_process.h"
#include "models/error.h"

using namespace ptc::hw;

TEST_CASE("global temperature: schedules, hotspot maps, phase per kelvin", "[noise][doctor]") {
  CoreArray a;
  GlobalTemperatureParams p;
  p.hotspot = "corner";
  GlobalTemperature gtd(a, p);
  const auto& h = gtd.hotspot_map();
  CHECK(std::accumulate(h.begin(), h.end(), 0.0) / 16 == Approx(0.1735).margin(5e-5));
  CHECK(gtd.hotspot(0, 0) == 1.0);
  CHECK(gtd.hotspot(1, 1) == Approx(std::exp(-std::sqrt(2.0))));
  // Linear: +1 K per 20k steps, +0.5 K over the 10k-image test set.
  CHECK(gtd.temperature_k(10000) == Approx(300.5));
  // Central channels: 0.03696 rad/K at 1553.2034 nm / 5.150 um ... 0.03723 at 1542.0445 nm / 5.113 um.
  CHECK(gtd.phase_per_kelvin(0) == Approx(0.03696).margin(5e-6));
  CHECK(gtd.phase_per_kelvin(7) == Approx(0.03723).margin(5e-6));
  for (int l = 0; l < 8; ++l) CHECK((gtd.phase_per_kelvin(l) > 0.0369 && gtd.phase_per_kelvin(l) < 0.0373));
  std::vector<float> phase(a.rings(), 0.0f);
  gtd.add_shift(10000, phase.data());
  CHECK(phase[0] == Approx(0.5 * gtd.phase_per_kelvin(0)).epsilon(1e-6));  // core (0,0), hotspot 1
  int64_t core11 = 1 * 4 + 1, idx = (core11 * 8 + 3) * 8 + 5;              // ring row 3, column 5
  CHECK(phase[idx] == Approx(0.5 * std::exp(-std::sqrt(2.0)) * gtd.phase_per_kelvin(5)).epsilon(1e-6));

  GlobalTemperatureParams c;
  c.schedule = "cosine";
  GlobalTemperature cos_gtd(a, c);
  CHECK(cos_gtd.temperature_k(0) == Approx(300.0));
  CHECK(cos_gtd.temperature_k(20000 * M_PI / 10) == Approx(300.5));  // 10x = pi: peak of 300.25 - 0.25 cos
  GlobalTemperatureParams u;
  u.schedule = "uneven";
  CHECK(GlobalTemperature(a, u).temperature_k(10000) == Approx(300.125));
  u.schedule = "sine";
  CHECK_THROWS_AS(GlobalTemperature(a, u), ptc::Error);
}

TEST_CASE("thermal crosstalk of a 256 x 256 bank: sparse rows from the ring offsets, no dense matrix, kappa 0 refused",
          "[noise][doctor]") {
  // DOCTOR's kappa and pitches: a phase of 1 on one ring reaches its row neighbours as
  // exp(-kappa d) and nothing below 1e-12; building it must not need the (k^2)^2 matrix (34 GB).
  const int64_t k = 256, n = k * k;
  const ThermalCrosstalk xt(k, CrosstalkParams{});
  std::vector<float> phase(static_cast<size_t>(n), 0.0f);
  const int64_t r = 100, c = 3, at = r * k + c;
  phase[static_cast<size_t>(at)] = 1.0f;
  xt.apply(phase.data(), 1);
  for (int64_t dc = -3; dc <= 4; ++dc) {
    const double want = dc == 0 ? 1.0 : std::exp(-0.1 * 60.0 * std::abs(double(dc)));
    CHECK(phase[static_cast<size_t>(at + dc)] == Approx(want < 1e-12 ? 0.0 : want).margin(1e-12));
  }
  CHECK(phase[static_cast<size_t>(at + k)] == Approx(std::exp(-0.1 * 200.0)).epsilon(1e-6));  // 2e-9: kept (>= 1e-12)
  CHECK(phase[static_cast<size_t>(at + 2 * k)] == 0.0f);                                      // 4e-18: dropped
  CHECK(xt.coupling_at(1, 1) == Approx(std::exp(-0.1 * std::sqrt(200.0 * 200.0 + 60.0 * 60.0))));
  CrosstalkParams flat;
  flat.kappa_per_um = 0;  // every ring coupled to every other: (k^2)^2 = 4.3e9 entries
  CHECK_THROWS_WITH(ThermalCrosstalk(k, flat), Catch::Contains("raise kappa_per_um or lower hw.cores.block_size"));
  // The limit counts what an MRR bank keeps in all. At k = 128 and kappa 0 the sparse rows alone,
  // (k^2)^2 entries of 4 + 8 bytes = 3.22 GB, are under 4 GB; with the dense float noise form
  // ((k^2)^2 x 4 bytes = 1.07 GB) they are 4.29 GB: refused, naming the parameter's JSON path.
  flat.json_path = "noise[2]";
  CHECK_THROWS_WITH(ThermalCrosstalk(128, flat),
                    Catch::StartsWith("noise[2].kappa_per_um: 0 /um couples each ring of a 128 x 128 bank") &&
                        Catch::Contains("3.22 GB of sparse couplings plus 1.07 GB for the dense float matrix") &&
                        Catch::Contains("4.29 GB in all, limit 4 GB"));
  // At k = 64 both forms fit ((4096^2) x 16 bytes = 0.27 GB): built.
  CHECK_NOTHROW(ThermalCrosstalk(64, flat));
}

TEST_CASE("thermal crosstalk coupling of DOCTOR's 8x8 bank", "[noise][doctor]") {
  ThermalCrosstalk xt(8, CrosstalkParams{});
  const auto& m = xt.matrix();
  CHECK(m[0] == 1.0);
  CHECK(m[1] == Approx(0.0025).margin(3e-5));  // nearest horizontal: exp(-0.1*60)
  CHECK(m[8] == Approx(2e-9).margin(1e-10));   // nearest vertical: exp(-0.1*200)
  // With no other noise, crosstalk adds the static offset sum_{j != i} M_ij phi_j.
  std::vector<float> phase(64, 0.3f);
  xt.apply(phase.data(), 1);
  double row0 = std::accumulate(m.begin(), m.begin() + 64, 0.0);
  CHECK(phase[0] == Approx(0.3 * row0).epsilon(1e-6));
  CHECK(phase[0] > 0.3f);
}

TEST_CASE("phase variation: core mean map, momentum, order independence", "[noise][doctor]") {
  CoreArray a;
  PhaseVariationParams p;
  RandomStream rng(1234, 0);
  PhaseVariation pv(a, p, rng);
  // Converging core map: src/2 at step 0 ("edge" x 1e-4 / 2), tgt ("corner" x 1e-3) in the limit.
  CHECK(pv.core_mean(0)[0] == Approx(8e-4 / 2));
  CHECK(pv.core_mean(0)[3] == Approx(2e-4 / 2));
  CHECK(pv.core_mean(1000)[0] == Approx(8e-3));
  CHECK(pv.core_mean(1000)[15] == Approx(2e-3));
  // Frozen (released code): 0.9 src/2 + 0.1 tgt = 1.16e-3 at (0,0) down to 2.9e-4 at (3,3).
  PhaseVariationParams fz = p;
  fz.core_mean_mode = "frozen";
  PhaseVariation pvf(a, fz, rng);
  CHECK(pvf.core_mean(5000)[0] == Approx(1.16e-3));
  CHECK(pvf.core_mean(5000)[15] == Approx(2.9e-4));

  // Asking steps in any order gives the same bits (fresh instance vs. walked instance).
  PhaseVariation walked(a, p, rng), direct(a, p, rng);
  for (int64_t s = 0; s <= 700; s += 7) walked.std_map(s);
  std::vector<float> w = walked.std_map(700);
  CHECK(direct.std_map(700) == w);
  CHECK(direct.std_map(3) == walked.std_map(3));

  // Momentum 0.9: S(s) = 0.9 S(s-1) + 0.1 S_new(s) with S_new independent over steps, so the
  // ring-level part of the map (deviation from its core's mean, which removes the persistent
  // core component) is an AR(1): correlation at lag 10 is 0.9^10 = 0.35, ~10-step memory.
  PhaseVariation q(a, p, rng);
  auto ring_part = [](std::vector<float> m) {
    for (int c = 0; c < 16; ++c) {
      double mu = std::accumulate(m.begin() + c * 64, m.begin() + (c + 1) * 64, 0.0) / 64;
      for (int j = 0; j < 64; ++j) m[c * 64 + j] -= static_cast<float>(mu);
    }
    return m;
  };
  std::vector<float> s0 = ring_part(q.std_map(5000)), s10 = ring_part(q.std_map(5010)), s40 = ring_part(q.std_map(5040));
  auto corr = [](const std::vector<float>& x, const std::vector<float>& y) {
    double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size(), my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
      syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
  };
  CHECK(corr(s0, s10) == Approx(std::pow(0.9, 10)).margin(0.12));
  CHECK(corr(s0, s40) < 0.2);
}

TEST_CASE("phase variation magnitude: 'high' at x = 0.5 gives mean S ~ 0.009 rad (frozen core map)", "[noise][doctor]") {
  CoreArray a;
  PhaseVariationParams p;
  p.core_mean_mode = "frozen";
  PhaseVariation pv(a, p, RandomStream(7, 0));
  const auto& s = pv.std_map(10000);
  double mean = std::accumulate(s.begin(), s.end(), 0.0) / s.size();
  CHECK(mean == Approx(0.009).margin(0.0005));
  CHECK(*std::min_element(s.begin(), s.end()) >= 0.001f);

  // Fresh forward-pass noise is zero-mean with the map's std.
  double sum = 0, sum2_ratio = 0;
  const int draws = 400;
  for (int d = 0; d < draws; ++d) {
    std::vector<float> phase(a.rings(), 0.0f);
    pv.add_noise(10000, d, phase.data());
    for (size_t r = 0; r < phase.size(); ++r) {
      sum += phase[r];
      sum2_ratio += (phase[r] / s[r]) * (phase[r] / s[r]);
    }
  }
  double n = double(draws) * a.rings();
  CHECK(std::abs(sum / n) < 5 * mean / std::sqrt(n));
  CHECK(sum2_ratio / n == Approx(1.0).margin(5 * std::sqrt(2.0 / n)));
}

// A device's per-read noise from its ring-phase processes (hw::per_read_std, shared by the MRR
// bank and the RNS core): variances add, nullptr is "none at this step", a single process's std
// is used as it is, and a vector breaking the contract is one error naming the process.
namespace {
class FixedReadStd : public ptc::hw::PhaseNoise {
 public:
  explicit FixedReadStd(std::vector<float> sd, int64_t none_at = -1) : m_sd(std::move(sd)), m_none_at(none_at) {}
  const std::vector<float>* read_std(int64_t step) override { return step == m_none_at ? nullptr : &m_sd; }

 private:
  std::vector<float> m_sd;
  int64_t m_none_at;
};
}  // namespace

TEST_CASE("per-read noise of several processes adds in variance, nullptr is none, bad vectors are named errors", "[noise]") {
  using ptc::hw::PhaseNoise;
  std::vector<std::unique_ptr<PhaseNoise>> procs;
  procs.push_back(std::make_unique<FixedReadStd>(std::vector<float>{0.3f, 0.0f, 1e-40f, 0.01f}, 7));
  const std::vector<std::string> where = {"noise[0] \"a\"", "noise[1] \"b\""};
  std::vector<float> sd;
  CHECK_FALSE(ptc::hw::per_read_std(procs, where, 7, 4, sd));  // none at step 7
  CHECK(sd.empty());
  REQUIRE(ptc::hw::per_read_std(procs, where, 3, 4, sd));
  CHECK(sd == std::vector<float>{0.3f, 0.0f, 1e-40f, 0.01f});  // one process: its bits
  procs.push_back(std::make_unique<FixedReadStd>(std::vector<float>{0.4f, 0.2f, 0.0f, 0.01f}));
  REQUIRE(ptc::hw::per_read_std(procs, where, 3, 4, sd));
  CHECK(sd[0] == Approx(0.5).epsilon(1e-7));  // sqrt(0.3^2 + 0.4^2)
  CHECK(sd[1] == Approx(0.2).epsilon(1e-7));
  CHECK(sd[3] == Approx(0.01 * std::sqrt(2.0)).epsilon(1e-7));
  REQUIRE(ptc::hw::per_read_std(procs, where, 7, 4, sd));  // only the second at step 7
  CHECK(sd == std::vector<float>{0.4f, 0.2f, 0.0f, 0.01f});
  // a vector of the wrong length, at a later step, names the process and the rule
  procs.push_back(std::make_unique<FixedReadStd>(std::vector<float>{0.1f}));
  CHECK_THROWS_WITH(ptc::hw::per_read_std(procs, {"noise[0]", "noise[1]", "noise[2] \"c\" (plug-in libc.so)"}, 300, 4, sd),
                    "noise[2] \"c\" (plug-in libc.so): read_std at step 300 gives 1 value; the array has 4 rings (one std per "
                    "ring, [R, C, k, k])");
  procs.pop_back();
  procs.push_back(std::make_unique<FixedReadStd>(std::vector<float>{0.1f, -1e-9f, 0.1f, 0.1f}));
  CHECK_THROWS_WITH(ptc::hw::per_read_std(procs, {"noise[0]", "noise[1]", "noise[2]"}, 0, 4, sd),
                    "noise[2]: read_std at step 0 gives ring 1 the std -1e-09 rad; a std must be finite and >= 0");
}
