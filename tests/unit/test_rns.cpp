// RNS arithmetic of the RNS photonic core (Mirage, ISCA 2024; Blueprint, Nature Communications 2024;
// docs/rns.md §1–§3): moduli rules, CRT, modular MAC and block floating point against independent
// references (Blueprint's published moduli table, brute force, int64 and double arithmetic).
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <random>

#include "hw/rns/rns.h"
#include "models/error.h"

using namespace ptc::hw::rns;

namespace {

int64_t ref_dot(const std::vector<int32_t>& x, const std::vector<int32_t>& w) {
  int64_t s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += int64_t{x[i]} * w[i];
  return s;
}

// Largest product of `n` pairwise-coprime integers in [2, hi], by brute force over all n-subsets
// (n <= 3): independent of the pruned search in blueprint_moduli.
double brute_max_log2(int64_t hi, int n) {
  double best = 0;
  for (int64_t a = 2; a <= hi; ++a) {
    if (n == 1) best = std::max(best, std::log2(double(a)));
    for (int64_t b = a + 1; n >= 2 && b <= hi; ++b) {
      if (std::gcd(a, b) != 1) continue;
      if (n == 2) best = std::max(best, std::log2(double(a) * b));
      for (int64_t c = b + 1; n == 3 && c <= hi; ++c)
        if (std::gcd(a, c) == 1 && std::gcd(b, c) == 1) best = std::max(best, std::log2(double(a) * b * c));
    }
  }
  return best;
}

}  // namespace

TEST_CASE("rns: Blueprint's moduli rule reproduces its h = 128 table", "[rns]") {
  // Blueprint (Nature Communications 2024), moduli for dot-product length h = 128 and b-bit
  // converters: b_out = 2b + log2(128) - 1, fewest moduli below 2^b with log2 M >= b_out.
  const std::vector<std::pair<int, std::vector<int64_t>>> table = {
      {4, {15, 14, 13, 11}}, {5, {31, 29, 28, 27}}, {6, {63, 62, 61, 59}}, {7, {127, 126, 125}}, {8, {255, 254, 253}}};
  const std::vector<int> b_out = {14, 16, 18, 20, 22};
  const std::vector<double> log2m = {14.87, 19.37, 23.74, 20.93, 23.97};
  for (size_t i = 0; i < table.size(); ++i) {
    const int b = table[i].first;
    CAPTURE(b);
    CHECK(output_bits(b, b, 128) == b_out[i]);
    const auto got = blueprint_moduli(b, b_out[i]);
    CHECK(got == table[i].second);
    CHECK(named_moduli("blueprint_b" + std::to_string(b)) == table[i].second);
    CHECK(log2_range(got) == Approx(log2m[i]).margin(0.005));
    // Fewest: no set with one modulus fewer reaches b_out (brute force, sets of up to 3).
    if (got.size() - 1 <= 3) CHECK(brute_max_log2((1 << b) - 1, int(got.size()) - 1) < b_out[i]);
    for (int64_t m : got) CHECK(adc_bits(m) == b);  // each ADC needs only b bits, independent of h
  }
  // The rule for other lengths: h = 16 with 6-bit converters needs 2*6 + 4 - 1 = 15 bits.
  CHECK(output_bits(6, 6, 16) == 15);
  CHECK(output_bits(6, 6, 100) == 18);  // ceil(log2 100) = 7
  const auto m16 = blueprint_moduli(6, 15);
  CHECK(m16.size() == 3);  // 63 * 62 * 61 = 238266 >= 2^15, two moduli cannot (< 2^12)
  CHECK(log2_range(m16) >= 15);
  CHECK_THROWS_AS(blueprint_moduli(1, 4), ptc::Error);
  CHECK_THROWS_AS(blueprint_moduli(4, 62), ptc::Error);
}

TEST_CASE("rns: special and redundant moduli sets", "[rns]") {
  CHECK(special_moduli(5) == std::vector<int64_t>{31, 32, 33});
  CHECK(named_moduli("special_k6") == std::vector<int64_t>{63, 64, 65});
  for (int k : {5, 6, 7}) CHECK(log2_range(special_moduli(k)) == Approx(3.0 * k).margin(0.01));  // 15.0, 18.0, 21.0
  CHECK_NOTHROW(check_moduli(special_moduli(12), "s"));
  // Redundant moduli: larger than every base modulus, coprime with all (64 shares 2 with 62).
  CHECK(redundant_moduli({63, 62, 61, 59}, 2) == std::vector<int64_t>{65, 67});
  CHECK(redundant_moduli({15, 14, 13, 11}, 3) == std::vector<int64_t>{17, 19, 23});
  CHECK(redundant_moduli({255, 254, 253}, 2) == std::vector<int64_t>{257, 259});
  CHECK_THROWS_WITH(named_moduli("blueprint_b9"), Catch::Contains("known: blueprint_b4 .. blueprint_b8, special_k2"));
  CHECK_THROWS_WITH(named_moduli("mirage"), Catch::Contains("unknown moduli set \"mirage\""));
  CHECK_THROWS_WITH(check_moduli({15, 14, 22}, "device.moduli"),
                    Catch::Contains("device.moduli: moduli must be pairwise coprime, 14 and 22 share the factor 2"));
  CHECK_THROWS_WITH(check_moduli({7, 1}, "device.moduli"), Catch::Contains("device.moduli[1]: a modulus must be >= 2"));
  CHECK_THROWS_WITH(check_moduli({(1LL << 31) - 1, (1LL << 31) + 1, 5}, "m"), Catch::Contains("below 2^62"));
}

TEST_CASE("rns: CRT reconstructs every value of a small range and random values of a large one", "[rns]") {
  const Crt small({3, 4, 5});
  REQUIRE(small.range() == 60);
  for (int64_t x = 0; x < 60; ++x) CHECK(small.reconstruct(small.residues(x).data()) == x);
  for (int64_t x = -30; x < 30; ++x) CHECK(small.to_signed(small.reconstruct(small.residues(x).data())) == x);
  const Crt big({255, 254, 253, 257, 259});  // M ~ 2^40
  std::mt19937_64 gen(7);
  std::uniform_int_distribution<int64_t> u(-(big.range() / 2), big.range() - big.range() / 2 - 1);
  for (int i = 0; i < 2000; ++i) {
    const int64_t x = u(gen);
    CHECK(big.to_signed(big.reconstruct(big.residues(x).data())) == x);
  }
  for (int64_t x : {-(big.range() / 2), big.range() - big.range() / 2 - 1, int64_t{0}, int64_t{-1}})
    CHECK(big.to_signed(big.reconstruct(big.residues(x).data())) == x);
}

TEST_CASE("rns: the bit-sliced modular multiplier equals x w mod m", "[rns]") {
  for (int64_t m : {13, 31, 32, 33, 63, 64, 65, 127, 255}) {
    CAPTURE(m);
    int bad = 0;
    for (int64_t x = 0; x < m; ++x)
      for (int64_t w = 0; w < m; ++w) bad += mmu_multiply(x, w, m) != (x * w) % m;
    CHECK(bad == 0);
  }
}

TEST_CASE("rns: noise-free RNS dot products equal the int64 reference bit for bit", "[rns]") {
  std::mt19937 gen(11);
  for (int b = 4; b <= 8; ++b) {
    CAPTURE(b);
    const Crt crt(named_moduli("blueprint_b" + std::to_string(b)));
    const int32_t lo = -(1 << (b - 1)), hi = (1 << (b - 1)) - 1;  // full b-bit two's complement range
    std::uniform_int_distribution<int32_t> u(lo, hi);
    int bad = 0;
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int32_t> x(128), w(128);
      for (auto& v : x) v = u(gen);
      for (auto& v : w) v = u(gen);
      bad += rns_dot(crt, x.data(), w.data(), 128) != ref_dot(x, w);
    }
    CHECK(bad == 0);
    // Edge cases: full-range negatives (largest positive result), opposite signs (most negative),
    // alternating extremes, zeros, a single non-zero term.
    const std::vector<std::pair<int32_t, int32_t>> edges = {{lo, lo}, {lo, hi}, {hi, hi}, {hi, lo}, {0, lo}};
    for (auto [xv, wv] : edges) {
      std::vector<int32_t> x(128, xv), w(128, wv);
      CHECK(rns_dot(crt, x.data(), w.data(), 128) == ref_dot(x, w));
    }
    std::vector<int32_t> x(128), w(128);
    for (int i = 0; i < 128; ++i) x[i] = i % 2 ? lo : hi, w[i] = i % 3 ? hi : lo;
    CHECK(rns_dot(crt, x.data(), w.data(), 128) == ref_dot(x, w));
    std::vector<int32_t> one(128, 0);
    one[127] = lo;
    CHECK(rns_dot(crt, one.data(), w.data(), 128) == int64_t{lo} * w[127]);
  }
  // A special set, length 16 with 6-bit operands: 16 * 32 * 32 = 2^14 < 2^18 / 2.
  const Crt sp(special_moduli(6));
  std::vector<int32_t> x(16, -32), w(16, -32);
  CHECK(rns_dot(sp, x.data(), w.data(), 16) == 16384);
  // Outside the range: 9-bit operands over 128 terms need 24 bits; blueprint_b4 has 14.87.
  std::vector<int32_t> big(128, 255);
  CHECK_THROWS_WITH(rns_dot(Crt(named_moduli("blueprint_b4")), big.data(), big.data(), 128),
                    Catch::Contains("outside the signed RNS range"));
}

TEST_CASE("rns: block floating point quantisation and dot products", "[rns]") {
  BfpSpec spec;
  spec.group = 16;
  spec.mantissa_bits = 6;
  std::mt19937 gen(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int n = 128 + 5;  // a short last group
  std::vector<float> x(n), w(n);
  for (int i = 0; i < n; ++i) x[i] = nd(gen) * (i < 16 ? 1e-3f : 1.f), w[i] = nd(gen) * 0.05f;
  x[20] = 0;
  for (int i = 32; i < 48; ++i) x[i] = 0;  // an all-zero group
  const BfpVector qx = bfp_quantize(x.data(), n, spec), qw = bfp_quantize(w.data(), n, spec);
  REQUIRE(qx.exponent.size() == 9);
  const int32_t qmax = spec.max_mantissa();
  REQUIRE(qmax == 31);
  for (int g = 0; g < 9; ++g) {
    int32_t gmax = 0;
    for (int i = g * 16; i < std::min(n, g * 16 + 16); ++i) {
      CHECK(std::abs(qx.mantissa[i]) <= qmax);
      // Rounding: the error is at most half a mantissa step 2^(e-1).
      CHECK(std::abs(qx.value(i) - x[i]) <= std::ldexp(0.5, qx.exponent[g]) * (1 + 1e-12));
      gmax = std::max(gmax, std::abs(qx.mantissa[i]));
    }
    // The shared exponent is the smallest that fits: the group's largest mantissa uses the top bit.
    if (g != 2) CHECK(gmax >= (qmax + 1) / 2);
  }
  CHECK(qx.exponent[2] == 0);
  CHECK(qx.mantissa[20] == 0);
  // Exactly representable values come back exactly.
  for (const std::vector<float>& exact : {std::vector<float>{-31.f, 1.f, 3.f, 31.f}, std::vector<float>{0.5f, -0.25f, 0.125f}}) {
    const BfpVector qe = bfp_quantize(exact.data(), int64_t(exact.size()), spec);
    for (size_t i = 0; i < exact.size(); ++i) CHECK(qe.value(int64_t(i)) == exact[i]);
  }
  CHECK(bfp_quantize(std::vector<float>{0.5f}.data(), 1, spec).exponent[0] == -5);  // 0.5 = 16 * 2^-5

  // BFP dot through the RNS equals the same BFP dot through int64, bit for bit, and both are
  // close to the float dot product.
  const Crt crt(blueprint_moduli(6, output_bits(6, 6, 16)));
  const double via_rns =
      bfp_dot(qx, qw, [&](const int32_t* a, const int32_t* b, int64_t len) { return rns_dot(crt, a, b, len); });
  const double via_int = bfp_dot(qx, qw, [](const int32_t* a, const int32_t* b, int64_t len) {
    int64_t s = 0;
    for (int64_t i = 0; i < len; ++i) s += int64_t{a[i]} * b[i];
    return s;
  });
  CHECK(via_rns == via_int);
  double fdot = 0, bound = 0;
  for (int i = 0; i < n; ++i) {
    fdot += double(x[i]) * w[i];
    const double ex = std::ldexp(0.5, qx.exponent[i / 16]), ew = std::ldexp(0.5, qw.exponent[i / 16]);
    bound += std::abs(double(x[i])) * ew + std::abs(double(w[i])) * ex + ex * ew;
  }
  CHECK(std::abs(via_rns - fdot) <= bound);

  const std::vector<float> bad = {1.f, NAN};
  CHECK_THROWS_WITH(bfp_quantize(bad.data(), 2, spec), Catch::Contains("value 1 is not finite"));
  spec.mantissa_bits = 1;
  CHECK_THROWS_WITH(bfp_quantize(x.data(), n, spec), Catch::Contains("bfp.mantissa_bits: expected integer in [2,24], got 1"));
}
