// Residue errors under phase noise and redundant-RNS (RRNS) decoding (Mirage, ISCA 2024;
// Blueprint, Nature Communications 2024; docs/rns.md §4–§5), against closed forms: the Gaussian
// tail 2 Q(pi / (m sigma_phi)), exhaustive error injection, the Poisson-binomial distribution of
// the number of wrong residues and the geometric law of independent retries.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hw/physics/rng.h"
#include "hw/rns/rns_tile.h"
#include "hw/rns/rrns.h"
#include "models/error.h"

using namespace ptc::hw;
using namespace ptc::hw::rns;

namespace {

constexpr double kPi = 3.14159265358979323846;

// |measured - expected| within z binomial standard deviations of n draws.
bool within_binomial(int64_t count, int64_t n, double p, double z = 5) {
  return std::abs(double(count) / n - p) <= z * std::sqrt(p * (1 - p) / n) + 1e-12;
}

// Every value of the legitimate range on a stride, plus both ends and zero.
std::vector<int64_t> sample_values(const RrnsCode& c, int64_t stride) {
  const int64_t lo = -(c.legit_range() / 2), hi = c.legit_range() - c.legit_range() / 2 - 1;
  std::vector<int64_t> v = {lo, hi, 0, -1, 1};
  for (int64_t x = lo; x <= hi; x += stride) v.push_back(x);
  return v;
}

}  // namespace

TEST_CASE("rrns: the residue error rate matches 2 Q(pi over m sigma) over 10^6 draws", "[rrns]") {
  // Q(1), Q(2), Q(3) from tables of the standard normal distribution.
  CHECK(q_function(1) == Approx(0.158655254).epsilon(1e-8));
  CHECK(q_function(2) == Approx(0.022750132).epsilon(1e-8));
  CHECK(q_function(3) == Approx(0.001349898).epsilon(1e-7));
  CHECK(residue_error_probability(63, 0) == 0);
  // Rounding boundaries: a phase error just inside pi/m keeps the residue, just outside moves it.
  for (int64_t m : {13, 64, 255}) {
    const double half = kPi / m;
    CHECK(read_residue(0, m, 0.999 * half) == 0);
    CHECK(read_residue(0, m, 1.001 * half) == 1);
    CHECK(read_residue(0, m, -1.001 * half) == m - 1);  // wraps at 2 pi
    CHECK(read_residue(m - 1, m, 1.001 * half) == 0);
    CHECK(read_residue(5, m, 2 * kPi) == 5);
  }
  // sigma_phi chosen so that pi / (m sigma) = z: p_e = 2 Q(z) with table values of Q.
  const std::vector<std::tuple<int64_t, double, double>> cases = {
      {63, 2.0, 2 * 0.022750132}, {255, 3.0, 2 * 0.001349898}, {31, 1.0, 2 * 0.158655254}};
  const int64_t n = 1000000;
  int c = 0;
  for (auto [m, z, p] : cases) {
    CAPTURE(m, z);
    const double sigma = kPi / (m * z);
    CHECK(residue_error_probability(m, sigma) == Approx(p).epsilon(1e-6));
    const RandomStream s(42, 100 + c++);
    int64_t errors = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = i % m;
      errors += read_residue(r, m, sigma * s.normal(i)) != r;
    }
    CHECK(within_binomial(errors, n, p));
  }
}

TEST_CASE("rrns: every single residue error is corrected with k = 2", "[rrns]") {
  for (const std::string set : {"blueprint_b4", "blueprint_b6"}) {
    CAPTURE(set);
    const auto base = named_moduli(set);
    const RrnsCode code(base, redundant_moduli(base, 2));
    REQUIRE(code.correctable() == 1);
    int64_t words = 0, wrong = 0;
    for (int64_t v : sample_values(code, code.legit_range() / 600)) {
      auto r = code.encode(v);
      const auto clean = code.decode(r.data());
      wrong += clean.status != DecodeStatus::clean || clean.value != v;
      for (int ch = 0; ch < code.n() + code.k(); ++ch) {
        const int64_t m = code.moduli()[ch], keep = r[ch];
        for (int64_t off = 1; off < m; ++off) {
          r[ch] = (keep + off) % m;
          const auto d = code.decode(r.data());
          wrong += d.status != DecodeStatus::corrected || d.value != v;
          ++words;
        }
        r[ch] = keep;
      }
    }
    CHECK(words > 40000);
    CHECK(wrong == 0);
  }
  // k = 3 still corrects one error (floor(3/2)) with three 8-bit moduli.
  const RrnsCode k3({255, 254, 253}, redundant_moduli({255, 254, 253}, 3));
  int64_t wrong = 0;
  for (int64_t v : sample_values(k3, k3.legit_range() / 50)) {
    auto r = k3.encode(v);
    for (int ch = 0; ch < 6; ++ch) {
      const int64_t keep = r[ch];
      for (int64_t off : {int64_t{1}, k3.moduli()[ch] - 1, int64_t{100}}) {
        r[ch] = (keep + off) % k3.moduli()[ch];
        const auto d = k3.decode(r.data());
        wrong += d.status != DecodeStatus::corrected || d.value != v;
      }
      r[ch] = keep;
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("rrns: up to k residue errors are always detected", "[rrns]") {
  // k = 2: every pair of wrong residues leaves the legitimate range (code distance k + 1 = 3).
  const auto base = named_moduli("blueprint_b4");
  const RrnsCode k2(base, redundant_moduli(base, 2));
  int64_t undetected = 0, patterns = 0;
  for (int64_t v : sample_values(k2, k2.legit_range() / 20)) {
    auto r = k2.encode(v);
    for (int a = 0; a < 6; ++a)
      for (int b = a + 1; b < 6; ++b) {
        const int64_t ka = r[a], kb = r[b];
        for (int64_t oa = 1; oa < k2.moduli()[a]; ++oa)
          for (int64_t ob = 1; ob < k2.moduli()[b]; ++ob) {
            r[a] = (ka + oa) % k2.moduli()[a], r[b] = (kb + ob) % k2.moduli()[b];
            undetected += k2.decode(r.data()).status == DecodeStatus::clean;
            ++patterns;
          }
        r[a] = ka, r[b] = kb;
      }
  }
  CHECK(patterns > 50000);
  CHECK(undetected == 0);
  // k = 1 detects every single error and corrects none.
  const RrnsCode k1(base, redundant_moduli(base, 1));
  int64_t not_flagged = 0;
  for (int64_t v : sample_values(k1, 97)) {
    auto r = k1.encode(v);
    for (int ch = 0; ch < 5; ++ch) {
      const int64_t keep = r[ch];
      r[ch] = (keep + 1 + mod(v, k1.moduli()[ch] - 1)) % k1.moduli()[ch];  // a non-zero offset
      not_flagged += k1.decode(r.data()).status != DecodeStatus::uncorrectable;
      r[ch] = keep;
    }
  }
  CHECK(not_flagged == 0);
  // k = 0: plain RNS, every word is accepted.
  const RrnsCode k0(base, {});
  auto r = k0.encode(1234);
  r[0] = (r[0] + 1) % 15;
  CHECK(k0.decode(r.data()).status == DecodeStatus::clean);
  CHECK(k0.decode(r.data()).value != 1234);
  CHECK_THROWS_WITH(RrnsCode(base, {21}), Catch::Contains("pairwise coprime"));
  CHECK_THROWS_WITH(RrnsCode({63, 62}, {61}), Catch::Contains("redundant modulus 61 must be larger than every base modulus"));
}

TEST_CASE("rrns: Monte-Carlo word outcomes follow the Poisson-binomial error counts", "[rrns]") {
  // Blueprint's 6-bit set with two redundant moduli {65, 67}, one phase noise on every channel.
  const auto base = named_moduli("blueprint_b6");
  const RrnsCode code(base, redundant_moduli(base, 2));
  const double sigma = 0.0216;  // p_e from 1.4 % (m = 59) to 3.1 % (m = 67)
  std::vector<double> p, sig(6, sigma);
  for (int64_t m : code.moduli()) p.push_back(residue_error_probability(m, sigma));
  const auto d = error_count_distribution(p);
  REQUIRE(d.size() == 7);
  const RandomStream s(9, 1);
  const int64_t n = 200000;
  int64_t e0 = 0, e1 = 0, e2plus = 0, bad = 0, silent_multi = 0;
  RrnsCounters total;
  for (int64_t w = 0; w < n; ++w) {
    RrnsCounters c;
    const int64_t v = (w * 7919) % code.legit_range() - code.legit_range() / 2;
    const WordResult r = noisy_word(code, v, sig, s, uint64_t(w) * 6, 0, c);
    total += c;
    // Per word, exactly: no error -> accepted as is; one error -> corrected; two -> detected.
    if (c.residue_errors == 0) ++e0, bad += c.detected != 0 || r.value != v;
    if (c.residue_errors == 1) ++e1, bad += c.corrected != 1 || r.value != v;
    if (c.residue_errors >= 2) ++e2plus;
    if (c.residue_errors == 2) bad += c.detected != 1;
    if (c.silent) silent_multi += c.residue_errors >= 2;
    bad += c.silent && c.residue_errors < 2;
  }
  CHECK(bad == 0);
  CHECK(within_binomial(e0, n, d[0]));
  CHECK(within_binomial(e1, n, d[1]));
  // P_uncorr = 1 - sum_{e <= floor(k/2)} P(e) (generalised to per-modulus p_e).
  CHECK(within_binomial(e2plus, n, 1 - d[0] - d[1]));
  CHECK(total.words == n);
  CHECK(total.silent == silent_multi);
  CHECK(total.corrected >= e1);
  CHECK(total.failed + total.silent <= e2plus);
  // Detected = every word with 1 or 2 errors, plus the detected share of >= 3 errors.
  CHECK(total.detected >= e1);
  CHECK(total.detected <= n - e0);
  CHECK(within_binomial(total.residue_errors, n * 6, (p[0] + p[1] + p[2] + p[3] + p[4] + p[5]) / 6, 6));
}

TEST_CASE("rrns: retries recompute uncorrectable words independently", "[rrns]") {
  const auto base = named_moduli("blueprint_b6");
  const RrnsCode code(base, redundant_moduli(base, 2));
  const std::vector<double> sig(6, 0.04);  // p_e ~ 6 % (m = 59) to 12 % (m = 67)
  const int64_t n = 100000;
  // Per-attempt probability q that a word is uncorrectable, measured without retries.
  const RandomStream s0(5, 1), s1(5, 2);
  RrnsCounters once;
  for (int64_t w = 0; w < n; ++w) noisy_word(code, w % 1000, sig, s0, uint64_t(w) * 6, 0, once);
  const double q = double(once.failed) / n;
  REQUIRE(q > 0.02);
  // With R = 3, attempts are independent redraws: P(attempts > j) = q^j, P(failed) = q^4.
  const int R = 3;
  RrnsCounters tot;
  std::vector<int64_t> at_least(R + 2, 0);
  for (int64_t w = 0; w < n; ++w) {
    const WordResult r = noisy_word(code, w % 1000, sig, s1, uint64_t(w) * 6 * (R + 1), R, tot);
    for (int j = 1; j <= r.attempts; ++j) ++at_least[j];
    if (r.failed) CHECK(r.attempts == R + 1);
  }
  CHECK(tot.attempts == n + tot.retried);
  CHECK(tot.retried == at_least[2] + at_least[3] + at_least[4]);
  for (int j = 2; j <= R + 1; ++j) {
    CAPTURE(j);
    const double expect = std::pow(q, j - 1);
    // binomial error of the count plus the propagated error of the estimate q
    const double tol = 5 * std::sqrt(expect * (1 - expect) / n) + 5 * (j - 1) * std::pow(q, j - 2) * std::sqrt(q * (1 - q) / n);
    CHECK(std::abs(double(at_least[j]) / n - expect) <= tol);
  }
  CHECK(std::abs(double(tot.failed) / n - std::pow(q, 4)) <=
        5 * std::sqrt(std::pow(q, 4) / n) + 4 * std::pow(q, 3) * 5 * std::sqrt(q / n));
  CHECK_THROWS_WITH(noisy_word(code, 0, {0.1}, s0, 0, 0, tot),
                    Catch::Contains("expected 6 channel sigmas and offsets, got 1 and 1"));
}

TEST_CASE("rrns: an RNS tile computes BFP rows exactly without noise and errs only on flagged or silent words", "[rrns]") {
  const int64_t h = 16;
  RnsTileSpec spec;
  spec.base = blueprint_moduli(6, output_bits(6, 6, h));  // 15 bits: {63, 62, 61}
  REQUIRE(spec.base == std::vector<int64_t>{63, 62, 61});
  spec.redundant = redundant_moduli(spec.base, 2);
  spec.max_retries = 1;
  const RnsTile tile(spec, h, "tile");
  std::mt19937 gen(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t rows = 24;
  std::vector<float> w(rows * h);
  for (auto& v : w) v = nd(gen) * 0.1f;
  std::vector<RnsTile::Weights> qrow;
  for (int64_t r = 0; r < rows; ++r) qrow.push_back(tile.quantize_weights(w.data() + r * h, 1));
  const auto qall = tile.quantize_weights(w.data(), rows);
  BfpSpec bx, bw;
  bx.group = bw.group = h;
  const std::vector<double> quiet(5, 0.0), loud(5, 0.035);
  RrnsCounters none;
  int64_t inexact = 0, mismatched = 0, expected_mismatch = 0, errors_seen = 0;
  for (int v = 0; v < 400; ++v) {
    std::vector<float> x(h);
    for (auto& e : x) e = std::max(0.f, nd(gen));  // post-ReLU activations
    // Reference: the same BFP quantisation, integer dot product in int64 (bfp_dot), as float.
    const BfpVector rx = bfp_quantize(x.data(), h, bx);
    std::vector<float> ref(rows), y(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const BfpVector rw = bfp_quantize(w.data() + r * h, h, bw);
      ref[r] = float(bfp_dot(rx, rw, [](const int32_t* a, const int32_t* b, int64_t n) {
        int64_t s = 0;
        for (int64_t i = 0; i < n; ++i) s += int64_t{a[i]} * b[i];
        return s;
      }));
    }
    tile.matvec(qall, x.data(), quiet, RandomStream(1, 1), 0, y.data(), none);
    for (int64_t r = 0; r < rows; ++r) inexact += y[r] != ref[r];
    // Noisy, row by row: a row differs from the reference exactly when its word was silent or
    // failed (then y = 0).
    for (int64_t r = 0; r < rows; ++r) {
      RrnsCounters c;
      float yr = 0;
      tile.matvec(qrow[r], x.data(), loud, RandomStream(2, 1), uint64_t(v * rows + r) * tile.words_stride(), &yr, c);
      mismatched += yr != ref[r];
      expected_mismatch += c.silent + (c.failed && ref[r] != 0);
      errors_seen += c.residue_errors;
      if (c.failed) CHECK(yr == 0);
    }
  }
  CHECK(inexact == 0);
  CHECK(none.words == 400 * rows);
  CHECK(none.residue_errors == 0);
  CHECK(errors_seen > 1000);  // the noisy case did exercise the decoder
  CHECK(mismatched == expected_mismatch);
  CHECK(expected_mismatch > 50);  // silent and failed words did occur
  // Moduli too small for the tile length, and a redundant modulus sharing a factor.
  CHECK_THROWS_WITH(RnsTile(spec, 128, "device.tile"), Catch::Contains("device.tile: a dot product of 128 terms"));
  spec.redundant = {65, 66};
  CHECK_THROWS_WITH(RnsTile(spec, h, "device.tile"),
                    Catch::Contains("device.tile.moduli + redundant: moduli must be pairwise coprime"));
}

TEST_CASE("rrns: segment phase offsets and noise of an RNS tile give the predicted residue errors", "[rrns]") {
  const int64_t h = 16, rows = 32;
  RnsTileSpec spec;
  spec.base = {63, 62, 61};
  const RnsTile tile(spec, h, "tile");  // k = 0: every residue error reaches the output
  std::mt19937 gen(8);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> w(rows * h), x(h);
  for (auto& v : w) v = nd(gen);
  for (auto& v : x) v = nd(gen);
  const auto qw = tile.quantize_weights(w.data(), rows);
  BfpSpec b;
  b.group = h;
  const BfpVector qx = bfp_quantize(x.data(), h, b);
  // Switched-in segments of each channel: the set bits of the input residues.
  std::vector<int> active(3, 0);
  for (int c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h; ++i) active[c] += __builtin_popcountll(uint64_t(mod(qx.mantissa[i], spec.base[c])));
  const Crt crt(spec.base);
  const int64_t nseg = tile.segments(rows);
  REQUIRE(nseg == rows * 3 * h * 6);

  // (a) The same offset delta on every segment: channel c's residue moves by round(A_c delta m_c / 2 pi).
  for (double delta : {0.0, 0.0005, 0.002, -0.003}) {
    CAPTURE(delta);
    std::vector<float> off(nseg, float(delta));
    std::vector<float> y(rows);
    RrnsCounters c;
    tile.matvec_segments(qw, x.data(), off.data(), nullptr, RandomStream(1, 1), 0, y.data(), c);
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t d = 0;
      for (int64_t i = 0; i < h; ++i) d += int64_t{qx.mantissa[i]} * qw.mantissa[r * h + i];
      std::vector<int64_t> res(3);
      for (int ch = 0; ch < 3; ++ch) {
        const double shift = double(active[ch]) * double(float(delta)) * double(spec.base[ch]) / (2 * kPi);
        res[ch] = mod(d + std::llround(shift), spec.base[ch]);
      }
      const int64_t got = crt.to_signed(crt.reconstruct(res.data()));
      bad += y[r] != float(std::ldexp(double(got), qx.exponent[0] + qw.exponent[r]));
    }
    CHECK(bad == 0);
    if (delta == 0) CHECK(c.residue_errors == 0);
  }

  // (b) Gaussian noise of std s on every segment: channel c has sigma = s sqrt(A_c), so a word
  // carries sum_c 2 Q(pi / (m_c s sqrt(A_c))) wrong residues on average.
  const double s = 0.025 / std::sqrt(double(active[1]));  // p_e ~ 4 % on the m = 62 channel
  std::vector<float> zero(nseg, 0.f), sd(nseg, float(s));
  double expect = 0, var = 0;
  for (int c = 0; c < 3; ++c) {
    const double p = 2 * q_function(kPi / (spec.base[c] * double(float(s)) * std::sqrt(double(active[c]))));
    expect += p, var += p * (1 - p);
  }
  RrnsCounters c;
  std::vector<float> y(rows);
  const int reps = 1000;
  for (int rep = 0; rep < reps; ++rep)
    tile.matvec_segments(qw, x.data(), zero.data(), sd.data(), RandomStream(3, 1), uint64_t(rep) * rows * tile.words_stride(),
                         y.data(), c);
  const double words = double(reps) * rows;
  CHECK(c.words == reps * rows);
  CHECK(expect > 0.01);
  CHECK(std::abs(double(c.residue_errors) / words - expect) <= 5 * std::sqrt(var / words));
}
