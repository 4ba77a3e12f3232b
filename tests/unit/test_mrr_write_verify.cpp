// MRR tuning noise and write-verify (docs/swim.md §6). The ring law is written here from DOCTOR's
// all-pass ring (Lu et al., JLT 2024; Bogaerts et al., "Silicon microring resonators", Laser
// Photonics Rev. 2012, eq. for an all-pass ring): T(phi) = (a^2 + r^2 - 2 a r cos phi) /
// (1 + a^2 r^2 - 2 a r cos phi), w = 2 T - 1, and inverted in closed form; the verification loop
// (read, compare with the target weight, move the set point by the phase error the read shows,
// re-write with a fresh tuning error) is simulated independently with its own random numbers.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "hw/device/mrr_bank.h"
#include "hw/noise/noise_process.h"
#include "models/compiler.h"
#include "models/onnx_import.h"
#include "tests/unit/largest_layer.h"

using namespace ptc;
using namespace ptc::hw;
using ptc::test::largest_layer;
using ptc::test::Layer;
using ptc::test::read_group;

namespace {
constexpr double a = 0.865, r = 0.87;  // DOCTOR's MRRConfig_5um_LQ

double weight(double phi) {
  const double c = std::cos(phi);
  return 2 * (a * a + r * r - 2 * a * r * c) / (1 + a * a * r * r - 2 * a * r * c) - 1;
}
// Inverse on [0, pi]: t = (w + 1) / 2, cos phi = (a^2 + r^2 - t (1 + a^2 r^2)) / (2 a r (1 - t)).
double phase_of(double w) {
  const double t = (w + 1) / 2;
  const double c = (a * a + r * r - t * (1 + a * a * r * r)) / (2 * a * r * (1 - t));
  return std::acos(std::max(-1.0, std::min(1.0, c)));
}
// The bank's controller inverts a read on its encoding branch [0, pi/2].
double controller_phase(double w) {
  return std::min(phase_of(w), std::acos(-1.0) / 2);
}
double full_scale() {  // min(|w(0)|, |w(pi/2 .. 2 pi)| extremes) = min(|2 Tmin - 1|, |2 Tmax - 1|)
  return std::min(std::abs(weight(0)), std::abs(weight(std::acos(-1.0))));
}

}  // namespace

TEST_CASE("MRR tuning noise: every ring lands at its set point plus N(0, sigma^2), per Monte-Carlo instance", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  MrrBankConfig cfg;
  cfg.tuning_sigma_rad = 0.03;
  cfg.instances = 3;
  MrrBank bank(L.wl, cfg, RandomStream(5, 0));
  const std::vector<float>& phi = bank.phases(static_cast<int64_t>(L.li), 0);
  auto errors = [&](const std::vector<float>& w, std::vector<double>& e) {
    e.clear();
    for (size_t j = 0; j < w.size(); ++j)  // away from resonance and from pi, where the inverse folds
      if (phi[j] > 0.25 && phi[j] < 1.3) e.push_back(phase_of(w[j]) - phi[j]);
  };
  const std::vector<float> w0 = read_group(bank, L.li, t);
  std::vector<double> e0, e1;
  errors(w0, e0);
  REQUIRE(e0.size() > 20000);
  double m = 0, v = 0;
  for (double x : e0) m += x / static_cast<double>(e0.size());
  for (double x : e0) v += (x - m) * (x - m) / static_cast<double>(e0.size() - 1);
  const double se = cfg.tuning_sigma_rad / std::sqrt(static_cast<double>(e0.size()));
  INFO("mean " << m << " std " << std::sqrt(v) << " n " << e0.size());
  CHECK(std::abs(m) < 5 * se);
  CHECK(std::abs(std::sqrt(v) - cfg.tuning_sigma_rad) < 5 * se / std::sqrt(2.0) + 2e-4);  // + float read resolution
  // Instance 1: its own draws (uncorrelated with instance 0's), the same law; back to 0: the same bits.
  REQUIRE(bank.select_instance(1));
  errors(read_group(bank, L.li, t), e1);
  REQUIRE(e1.size() == e0.size());
  double c01 = 0, v1 = 0;
  for (size_t i = 0; i < e0.size(); ++i) {
    c01 += e0[i] * e1[i];
    v1 += e1[i] * e1[i];
  }
  c01 /= std::sqrt(v * static_cast<double>(e0.size() - 1) * v1);
  CHECK(std::abs(c01) < 5 / std::sqrt(static_cast<double>(e0.size())));
  CHECK(std::abs(std::sqrt(v1 / static_cast<double>(e1.size())) - cfg.tuning_sigma_rad) < 5 * se);
  REQUIRE(bank.select_instance(0));
  CHECK(read_group(bank, L.li, t) == w0);
  CHECK_THROWS(bank.select_instance(3));  // the bank keeps write state for 3 instances only
}

TEST_CASE("MRR write-verify: re-writes and failures follow an independent simulation of the closed loop", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  MrrBankConfig cfg;
  cfg.tuning_sigma_rad = 0.04;  // no read noise: every read is the ring's weight now
  MrrBank bank(L.wl, cfg, RandomStream(7, 0));
  const int64_t li = static_cast<int64_t>(L.li);
  const std::vector<float> phi = bank.phases(li, 0);
  const std::vector<float> before = read_group(bank, L.li, t);
  std::vector<uint8_t> mask(t.blocks.size(), 0);
  for (size_t j = 0; j < mask.size(); j += 3) mask[j] = 1;
  VerifySpec spec;
  spec.tolerance = 0.02;
  spec.max_iterations = 4;
  spec.reads = 1;
  const double tol = spec.tolerance * full_scale();
  const int64_t writes0 = bank.writes();
  const VerifyResult res = bank.verify(li, 0, mask, spec, 0.0);
  const std::vector<float> after = read_group(bank, L.li, t);
  // The loop per weight, from its first (one-shot) state, simulated 40 times with std::mt19937.
  std::mt19937_64 gen(2024);
  std::normal_distribution<double> eps(0.0, cfg.tuning_sigma_rad);
  const int kSims = 40;
  double e_writes = 0, v_writes = 0, e_fail = 0, v_fail = 0;
  int64_t verified = 0, outside_lo = 0, outside_hi = 0;
  for (size_t j = 0; j < mask.size(); ++j) {
    if (!mask[j]) {
      CHECK(after[j] == before[j]);
      continue;
    }
    ++verified;
    const double target = weight(phi[j]);
    // Outside the tolerance (a float read's resolution either side of the boundary).
    outside_lo += std::abs(after[j] - target) > tol + 1e-5;
    outside_hi += std::abs(after[j] - target) > tol - 1e-5;
    // The first read is the state the bank has (its one-shot tuning error is in `before`).
    double s1 = 0, s2 = 0, fails = 0;
    for (int s = 0; s < kSims; ++s) {
      double corr = 0, e = 0;
      double w = before[j];
      int writes = 0;
      for (int64_t it = 0;; ++it) {
        if (std::abs(w - target) <= tol) break;
        if (it == spec.max_iterations) {
          ++fails;
          break;
        }
        corr -= controller_phase(w) - phi[j];
        e = eps(gen);
        ++writes;
        w = weight(phi[j] + corr + e);
      }
      s1 += writes;
      s2 += writes * writes;
    }
    const double m = s1 / kSims, var = s2 / kSims - m * m, pf = fails / kSims;
    e_writes += m;
    v_writes += var;
    e_fail += pf;
    v_fail += pf * (1 - pf);
  }
  REQUIRE(res.weights == verified);
  CHECK(res.unconverged >= outside_lo);
  CHECK(res.unconverged <= outside_hi);
  CHECK(bank.writes() - writes0 == res.writes);
  CHECK(res.reads == verified + res.writes);  // one read per attempt
  INFO("re-writes " << res.writes << " expected " << e_writes << " +- " << std::sqrt(v_writes));
  CHECK(std::abs(static_cast<double>(res.writes) - e_writes) < 5 * std::sqrt(v_writes) + 0.02 * e_writes);
  INFO("failures " << res.unconverged << " expected " << e_fail << " +- " << std::sqrt(v_fail));
  CHECK(std::abs(static_cast<double>(res.unconverged) - e_fail) < 5 * std::sqrt(v_fail) + 0.05 * e_fail + 2);
  // Rounds: a block re-tunes at most max_iterations times, and at least once when it re-wrote a ring.
  for (size_t b = 0; b < res.block_rounds.size(); ++b) {
    CHECK(res.block_rounds[b] <= spec.max_iterations);
    CHECK((res.block_rounds[b] > 0) == (res.block_rewrites[b] > 0));
  }
}

TEST_CASE("MRR write-verify: the closed loop removes static phase offsets in one re-tune, in every instance", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  const int64_t li = static_cast<int64_t>(L.li);
  MrrBankConfig cfg;
  cfg.noise.push_back(static_phase_noise(0.02));  // fabrication offsets, no tuning or read noise
  cfg.instances = 2;
  MrrBank bank(L.wl, cfg, RandomStream(9, 0));
  const std::vector<float> phi = bank.phases(li, 0);
  VerifySpec spec;
  spec.tolerance = 0.005;
  spec.max_iterations = 5;
  const double tol = spec.tolerance * full_scale();
  // Rings well inside the encoding branch (offsets of 0.02 rad cannot push them past 0 or pi/2).
  std::vector<uint8_t> mask(t.blocks.size(), 0);
  for (size_t j = 0; j < mask.size(); ++j) mask[j] = phi[j] > 0.2 && phi[j] < 1.35;
  std::vector<int64_t> out(2, 0);
  std::vector<std::vector<float>> pre(2);
  for (int64_t k = 0; k < 2; ++k) {
    REQUIRE(bank.select_instance(k));
    pre[k] = read_group(bank, L.li, t);
    for (size_t j = 0; j < mask.size(); ++j) out[k] += mask[j] && std::abs(pre[k][j] - weight(phi[j])) > tol;
  }
  REQUIRE(pre[0] != pre[1]);  // each instance its own fabrication offsets
  REQUIRE(out[0] > 1000);
  REQUIRE(bank.select_instance(0));  // verification is programming: the chip's own instance
  const VerifyResult res = bank.verify(li, 0, mask, spec, 0.0);
  CHECK(res.writes == out[0]);  // each out-of-tolerance ring corrected by exactly one re-tune
  CHECK(res.unconverged == 0);
  for (size_t b = 0; b < res.block_rounds.size(); ++b) CHECK(res.block_rounds[b] <= 1);
  for (int64_t k = 0; k < 2; ++k) {
    REQUIRE(bank.select_instance(k));
    const std::vector<float> w = read_group(bank, L.li, t);
    int64_t bad = 0;
    for (size_t j = 0; j < mask.size(); ++j) {
      if (mask[j] && std::abs(pre[k][j] - weight(phi[j])) > tol) {
        bad += std::abs(w[j] - weight(phi[j])) > 1e-4;  // the inverse is exact: only float resolution is left
      } else {                                          // accepted at the first read, or not selected: untouched
        bad += w[j] != pre[k][j];
      }
    }
    INFO("instance " << k);
    CHECK(bad == 0);
  }
}
