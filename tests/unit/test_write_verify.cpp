// Write-verify of PCM pairs (SWIM, docs/swim.md §1): the loop read -> compare -> re-write until
// |read - target| <= tolerance, with aihwkit's programming noise (Joshi et al., "Accurate deep
// neural network inference using computational phase-change memory", Nat. Commun. 2020, Methods:
// sigma_prog = 0.26348 + 1.9650 u - 1.1731 u^2 uS at g_max = 25 uS, u = g_T / g_max; a programmed
// conductance is clipped at 0). Without read noise every attempt is an independent draw, so the
// number of re-writes of a weight is a geometric count truncated at the cap and the accepted error
// is the programming error conditioned on |e| <= tolerance. The expectations below integrate that
// distribution numerically, written from the noise law alone (not from the simulator's code).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "hw/device/swim_variation.h"
#include "models/compiler.h"
#include "models/error.h"
#include "models/onnx_import.h"
#include "tests/unit/largest_layer.h"

using namespace ptc;
using namespace ptc::hw;
using ptc::test::largest_layer;
using ptc::test::Layer;
using ptc::test::read_group;

namespace {
constexpr double kGmax = 25.0;

double sigma_prog(double g) {
  const double u = g / kGmax;
  return 0.26348 + 1.9650 * u - 1.1731 * u * u;
}
double Phi(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}
double phi(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2 * std::acos(-1.0));
}

// X = max(0, t + s xi) - t: P(X in [a, b]) and E[(X - y)^2 ; X in [a, b]].
struct Clipped {
  double t, s;
  double prob(double a, double b) const {
    double p = (a <= -t && -t <= b) ? Phi(-t / s) : 0.0;
    const double l = std::max(a, -t);
    if (b > l) p += Phi(b / s) - Phi(l / s);
    return p;
  }
  double m2(double a, double b, double y) const {
    double m = (a <= -t && -t <= b) ? Phi(-t / s) * (t + y) * (t + y) : 0.0;
    const double l = std::max(a, -t), u = b;
    if (u > l) {
      const double L = l / s, U = u / s;
      const double p0 = Phi(U) - Phi(L);
      const double p1 = s * (phi(L) - phi(U));                   // int x phi_s
      const double p2 = s * s * (p0 + L * phi(L) - U * phi(U));  // int x^2 phi_s
      m += p2 - 2 * y * p1 + y * y * p0;
    }
    return m;
  }
};

// For one pair with targets (tp, tn): q = P(|e| <= tol) and E[e^2 ; |e| <= tol], e = X - Y.
void accept_stats(double tp, double tn, double tol, double& q, double& m2) {
  const Clipped X{tp, sigma_prog(tp)}, Y{tn, sigma_prog(tn)};
  // Y: point mass at -tn, density phi_s(y) above it (Simpson over [-tn, 8 s]).
  q = Phi(-tn / Y.s) * X.prob(-tn - tol, -tn + tol);
  m2 = Phi(-tn / Y.s) * X.m2(-tn - tol, -tn + tol, -tn);
  const double lo = std::max(-tn, -8 * Y.s), hi = 8 * Y.s;
  const int n = 2000;
  const double h = (hi - lo) / n;
  for (int i = 0; i <= n; ++i) {
    const double y = lo + i * h, w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
    const double d = phi(y / Y.s) / Y.s * w * h / 3;
    q += d * X.prob(y - tol, y + tol);
    m2 += d * X.m2(y - tol, y + tol, y);
  }
}

// Conductance targets of every weight of a block-layout group (SinglePair per block: the block's
// abs-max maps to g_max).
void targets(const models::GemmTiles& t, int64_t kk, std::vector<double>& tp, std::vector<double>& tn) {
  tp.assign(t.blocks.size(), 0);
  tn.assign(t.blocks.size(), 0);
  for (size_t b = 0; b < t.blocks.size() / kk; ++b) {
    double mx = 0;
    for (size_t j = b * kk; j < (b + 1) * kk; ++j) mx = std::max(mx, std::abs(static_cast<double>(t.blocks[j])));
    if (mx == 0) continue;
    for (size_t j = b * kk; j < (b + 1) * kk; ++j) {
      tp[j] = std::max(0.0, static_cast<double>(t.blocks[j])) / mx * kGmax;
      tn[j] = std::max(0.0, -static_cast<double>(t.blocks[j])) / mx * kGmax;
    }
  }
}

}  // namespace

TEST_CASE("PCM write-verify: re-writes, failures and residual error follow the programming-noise law", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  PcmPairConfig cfg;
  cfg.drift = false;
  cfg.read_noise = false;  // every verification read sees the programmed conductances exactly
  PcmPair pcm(L.wl, cfg, RandomStream(11, 0));
  pcm.set_time(0);
  const std::vector<float> before = read_group(pcm, L.li, t);
  std::vector<double> tp, tn;
  targets(t, kk, tp, tn);
  // Verify every other weight; the others must keep their one-shot state.
  std::vector<uint8_t> mask(t.blocks.size(), 0);
  for (size_t j = 0; j < mask.size(); j += 2) mask[j] = 1;
  VerifySpec spec;
  spec.tolerance = 0.02;  // 0.5 uS
  spec.max_iterations = 6;
  const double tol = spec.tolerance * kGmax;
  const int64_t writes0 = pcm.writes();
  const VerifyResult r = pcm.verify(static_cast<int64_t>(L.li), 0, mask, spec, 0.0);
  const std::vector<float> after = read_group(pcm, L.li, t);

  double e_rewrites = 0, v_rewrites = 0, e_fail = 0, v_fail = 0, e_m2 = 0, obs_m2 = 0, obs_m4 = 0;
  int64_t verified = 0, outside = 0, converged = 0;
  const int M = static_cast<int>(spec.max_iterations);
  for (size_t j = 0; j < mask.size(); ++j) {
    const double err = static_cast<double>(after[j]) * kGmax - (tp[j] - tn[j]);
    if (!mask[j]) {
      CHECK(after[j] == before[j]);
      continue;
    }
    ++verified;
    double q, m2;
    accept_stats(tp[j], tn[j], tol, q, m2);
    // N = re-writes: P(N >= i) = (1 - q)^i for i <= M.
    double en = 0, en2 = 0;
    for (int i = 1; i <= M; ++i) {
      en += std::pow(1 - q, i);
      en2 += (2 * i - 1) * std::pow(1 - q, i);
    }
    e_rewrites += en;
    v_rewrites += en2 - en * en;
    const double pf = std::pow(1 - q, M + 1);
    e_fail += pf;
    v_fail += pf * (1 - pf);
    if (std::abs(err) > tol + 1e-4) {
      ++outside;
    } else {
      ++converged;
      e_m2 += m2 / q;  // accepted error: e conditioned on |e| <= tol
      obs_m2 += err * err;
      obs_m4 += err * err * err * err;
    }
  }
  REQUIRE(r.weights == verified);
  CHECK(r.unconverged == outside);
  CHECK(pcm.writes() - writes0 == r.writes);
  CHECK(r.reads == verified + r.writes / 2);  // one read per attempt, one attempt per pair re-write plus the first
  const double rewrites = static_cast<double>(r.writes) / 2;
  INFO("re-writes " << rewrites << " expected " << e_rewrites << " +- " << std::sqrt(v_rewrites));
  CHECK(std::abs(rewrites - e_rewrites) < 5 * std::sqrt(v_rewrites));
  INFO("failures " << r.unconverged << " expected " << e_fail);
  CHECK(std::abs(static_cast<double>(r.unconverged) - e_fail) < 5 * std::sqrt(v_fail) + 1);
  // The accepted errors' second moment (an unbiased sum, its spread from the observed fourth moment).
  const double sd = std::sqrt(std::max(obs_m4 - obs_m2 * obs_m2 / static_cast<double>(converged), 0.0));
  INFO("sum e^2 " << obs_m2 << " expected " << e_m2 << " +- " << sd);
  CHECK(std::abs(obs_m2 - e_m2) < 5 * sd);
  // Verification helps: the accepted RMS error is well below the one-shot error of the same pairs.
  double oneshot = 0;
  for (size_t j = 0; j < mask.size(); ++j)
    if (mask[j]) oneshot += std::pow(static_cast<double>(before[j]) * kGmax - (tp[j] - tn[j]), 2);
  CHECK(obs_m2 < 0.25 * oneshot);
}

TEST_CASE("PCM write-verify: Monte-Carlo instances replay the verification with their own draws", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  PcmPairConfig cfg;
  PcmPair pcm(L.wl, cfg, RandomStream(12, 0));
  std::vector<uint8_t> mask(t.blocks.size(), 1);
  VerifySpec spec;
  spec.reads = 4;
  pcm.verify(static_cast<int64_t>(L.li), 0, mask, spec, 0.0);
  pcm.set_time(3600);
  const std::vector<float> chip = read_group(pcm, L.li, t);
  REQUIRE(pcm.select_instance(1));
  const std::vector<float> one = read_group(pcm, L.li, t);
  CHECK(one != chip);
  CHECK_THROWS_AS(pcm.verify(static_cast<int64_t>(L.li), 0, mask, spec, 0.0), Error);
  REQUIRE(pcm.select_instance(0));
  CHECK(read_group(pcm, L.li, t) == chip);
  REQUIRE(pcm.select_instance(1));
  CHECK(read_group(pcm, L.li, t) == one);
  // A bad mask or spec is one clear error.
  REQUIRE(pcm.select_instance(0));
  CHECK_THROWS_WITH(pcm.verify(static_cast<int64_t>(L.li), 0, std::vector<uint8_t>(3, 1), spec, 0.0),
                    Catch::Contains("mask has 3"));
  spec.reads = 0;
  CHECK_THROWS_WITH(pcm.verify(static_cast<int64_t>(L.li), 0, mask, spec, 0.0), Catch::Contains("reads >= 1"));
}

TEST_CASE("PCM write-verify: a re-written pair drifts from its own write", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  std::vector<double> tp, tn;
  targets(t, L.wl.spec.block_size * L.wl.spec.block_size, tp, tn);
  PcmPairConfig cfg;
  cfg.read_noise = false;
  cfg.programming_noise = false;  // only drift: conductance = g_T (t / t0)^-nu after t0
  PcmPair pcm(L.wl, cfg, RandomStream(13, 0));
  const double t_v = 1e5;  // verify after a day of drift: every drifted pair is outside 1 %
  std::vector<uint8_t> mask(t.blocks.size(), 0);
  for (size_t j = 0; j < mask.size(); ++j) mask[j] = tp[j] + tn[j] > 0.5 * kGmax;
  VerifySpec spec;
  spec.tolerance = 0.01;
  const VerifyResult r = pcm.verify(static_cast<int64_t>(L.li), 0, mask, spec, t_v);
  CHECK(r.unconverged == 0);
  CHECK(r.writes == 2 * r.weights);  // each drifted pair is re-written once and is then exact
  // Read at t_v on the deployment clock: the re-written pairs have not drifted yet (aihwkit's law
  // ((t + t0) / t0)^-nu at t = 0), the others have drifted for t_v.
  pcm.set_times(0, {NoiseTime{0, t_v}});
  const std::vector<float> w = read_group(pcm, L.li, t);
  int64_t exact = 0, drifted = 0;
  for (size_t j = 0; j < mask.size(); ++j) {
    const double target = tp[j] - tn[j];
    if (target == 0) continue;
    const double rel = static_cast<double>(w[j]) * kGmax / target;
    if (mask[j])
      exact += std::abs(rel - 1) < 1e-5;
    else
      drifted += rel < 0.99;  // ((1e5 + 20) / 20)^-nu < 0.99 unless nu < 0.0012
  }
  CHECK(exact == r.weights);
  int64_t unverified = 0;
  for (size_t j = 0; j < mask.size(); ++j) unverified += !mask[j] && tp[j] - tn[j] != 0;
  CHECK(drifted > 0.95 * static_cast<double>(unverified));
}

// SWIM's abstract variation (Yan, Hu, Shi, DAC 2022, public code SModule.set_noise): a weight held
// by N/m devices of m bits, each with Gaussian noise N(0, sigma^2) weighted by 2^(-i m) and scaled
// by the layer's max|W|, so std(dw) = sigma max|W| sqrt(sum_{i=1..N/m} 4^(-i m)); 0.577 sigma max|W|
// for N = 8, m = 1 (the geometric series (1 - 4^-8) / 3).
TEST_CASE("SWIM variation: noise std is sigma max|W| sqrt((1 - 4^-8) / 3), write-verified weights use write_var",
          "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  const int64_t kk = L.wl.spec.block_size * L.wl.spec.block_size;
  SwimVariationConfig cfg;  // dev_var 0.1, write_var 0.03, N 8, m 1
  cfg.verify_iterations = 7;
  SwimVariation dev(L.wl, cfg, RandomStream(21, 0));
  const double unit = std::sqrt((1 - std::pow(4.0, -8)) / 3);
  CHECK(dev.unit_std() == Approx(unit).epsilon(1e-12));
  double mx = 0;
  for (const auto& G : L.wl.layers[L.li].gemms)
    for (float w : G.blocks) mx = std::max(mx, std::abs(static_cast<double>(w)));
  // Real weights only (padding has no weight).
  std::vector<uint8_t> real(t.blocks.size(), 0);
  {
    // Padding sits at rows >= t.rows or columns >= t.cols of the tiled matrix.
    for (int64_t p = 0; p < t.P; ++p)
      for (int64_t q = 0; q < t.Q; ++q)
        for (int64_t i = 0; i < L.wl.spec.block_size; ++i)
          for (int64_t j = 0; j < L.wl.spec.block_size; ++j)
            if (p * L.wl.spec.block_size + i < t.rows && q * L.wl.spec.block_size + j < t.cols)
              real[static_cast<size_t>(((p * t.Q + q) * L.wl.spec.block_size + i) * L.wl.spec.block_size + j)] = 1;
  }
  std::vector<uint8_t> mask(t.blocks.size(), 0);
  int64_t n_ver = 0;
  for (size_t j = 0; j < mask.size(); ++j)
    if (real[j] && j % 3 == 0) mask[j] = 1, ++n_ver;
  const int64_t w0 = dev.writes();
  const VerifyResult r = dev.verify(static_cast<int64_t>(L.li), 0, mask, VerifySpec{}, 0.0);
  CHECK(r.weights == n_ver);
  CHECK(r.reads == 7 * n_ver);
  CHECK(r.writes == 7 * 8 * n_ver);  // 7 re-writes of the weight's 8 devices
  CHECK(dev.writes() - w0 == r.writes);
  double s_u = 0, s_v = 0;
  int64_t n_u = 0, n_v = 0;
  const int K = 20;
  std::vector<float> first;
  for (int k = 0; k < K; ++k) {
    REQUIRE(dev.select_instance(k));
    std::vector<float> wn(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
    dev.realize(static_cast<int64_t>(L.li), 0, 0, wn.data(), sc.data());
    if (k == 0) first = wn;
    for (size_t j = 0; j < wn.size(); ++j) {
      if (!real[j]) continue;
      CHECK(sc[j / kk] == static_cast<float>(mx));
      const double d = (static_cast<double>(wn[j]) * sc[j / kk] - t.blocks[j]) / mx;
      if (mask[j])
        s_v += d * d, ++n_v;
      else
        s_u += d * d, ++n_u;
    }
  }
  const double var_u = std::pow(0.1 * unit, 2), var_v = std::pow(0.03 * unit, 2);
  CHECK(std::abs(s_u / n_u / var_u - 1) < 5 * std::sqrt(2.0 / n_u));
  CHECK(std::abs(s_v / n_v / var_v - 1) < 5 * std::sqrt(2.0 / n_v));
  REQUIRE(dev.select_instance(0));
  std::vector<float> again(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
  dev.realize(static_cast<int64_t>(L.li), 0, 0, again.data(), sc.data());
  CHECK(again == first);
}

TEST_CASE("SWIM variation: weight quantisation to delta = max|W| / 2^bits before the noise", "[write_verify]") {
  Layer L = largest_layer();
  const models::GemmTiles& t = L.wl.layers[L.li].gemms[0];
  SwimVariationConfig cfg;
  cfg.dev_var = 0;
  cfg.weight_bits = 4;
  SwimVariation dev(L.wl, cfg, RandomStream(22, 0));
  double mx = 0;
  for (const auto& G : L.wl.layers[L.li].gemms)
    for (float w : G.blocks) mx = std::max(mx, std::abs(static_cast<double>(w)));
  const double delta = mx / 16;
  std::vector<float> wn(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
  dev.realize(static_cast<int64_t>(L.li), 0, 0, wn.data(), sc.data());
  int64_t bad = 0;
  for (size_t j = 0; j < wn.size(); ++j) {
    const double w = static_cast<double>(wn[j]) * sc[0];
    const double level = w / delta;
    bad += std::abs(level - std::round(level)) > 1e-4 || std::abs(w - t.blocks[j]) > delta / 2 + 1e-6;
  }
  CHECK(bad == 0);
}
