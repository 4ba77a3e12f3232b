// On-chip training on the chip's arithmetic (docs/onchip_training.md §2): the backward products
// of hw::ChipBackwardGemm against independent references written from the definitions (BFP per
// h-segment with an int64 dot product; per-segment abs-max normalisation, DAC and ADC), the
// residue error rate of the backward words against the closed form, and the GradientEngine's
// hardware hooks (every mapped layer's products routed, the forward equal to the Executor's mapped
// run, gradient fidelity of 6-bit RNS vs a 6-bit analog core on CNN3).
#include <cblas.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <mutex>
#include <random>

#include "hw/rns/rns_core.h"
#include "hw/rns/rns_gemm.h"
#include "hw/training_gemm.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/gradients.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::models;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

std::vector<float> randn(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// BFP of one segment from the definition (docs/rns.md §3): e = the smallest integer with
// max|x| / 2^e <= 2^(b-1) - 1, q = round half away from zero of x / 2^e.
void bfp(const std::vector<double>& x, int bits, std::vector<int64_t>& q, int& e) {
  const double mm = std::ldexp(1.0, bits - 1) - 1;
  double mx = 0;
  for (double v : x) mx = std::max(mx, std::abs(v));
  q.assign(x.size(), 0);
  e = 0;
  if (mx == 0) return;
  e = -200;
  while (mx / std::ldexp(1.0, e) > mm) ++e;
  for (size_t i = 0; i < x.size(); ++i) q[i] = std::llround(x[i] / std::ldexp(1.0, e));  // llround: half away
}

// C = beta C + alpha op(A) op(B) on BFP segments of h along K, int64 products, segments summed in
// double in segment order. With group_tiles = j, the exponent is shared by j consecutive segments
// (the values of the group, zero-padded segments included, quantised together).
std::vector<float> bfp_reference(bool ta, bool tb, int M, int N, int K, float alpha, const std::vector<float>& A, int lda,
                                 const std::vector<float>& B, int ldb, float beta, std::vector<float> C, int h, int bits,
                                 int group_tiles = 1) {
  const int Q = (K + h - 1) / h;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = 0;
      for (int q0 = 0; q0 < Q; q0 += group_tiles) {
        const int segs = std::min(group_tiles, Q - q0), len = segs * h;
        std::vector<double> a(len, 0.0), b(len, 0.0);
        for (int j = 0; j < len && q0 * h + j < K; ++j) {
          const int kk = q0 * h + j;
          a[j] = ta ? A[kk * lda + m] : A[m * lda + kk];
          b[j] = tb ? B[n * ldb + kk] : B[kk * ldb + n];
        }
        std::vector<int64_t> qa, qb;
        int ea = 0, eb = 0;
        bfp(a, bits, qa, ea);
        bfp(b, bits, qb, eb);
        for (int s = 0; s < segs; ++s) {
          int64_t d = 0;
          for (int j = s * h; j < (s + 1) * h; ++j) d += qa[j] * qb[j];
          acc += std::ldexp(static_cast<double>(d), ea + eb);
        }
      }
      float& c = C[m * N + n];
      c = beta == 0.0f ? alpha * static_cast<float>(acc) : beta * c + alpha * static_cast<float>(acc);
    }
  return C;
}

rns::RnsTileSpec six_bit_spec(int h, int redundant = 0) {
  rns::RnsTileSpec s;
  s.base = rns::blueprint_moduli(6, rns::output_bits(6, 6, h));
  if (redundant > 0) s.redundant = rns::redundant_moduli(s.base, redundant);
  s.input_bits = s.weight_bits = 6;
  return s;
}

double q_func(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}

}  // namespace

TEST_CASE("training gemm: RNS arithmetic without noise equals an independent BFP int64 reference", "[training_gemm]") {
  const int h = 8;
  const rns::RnsTile tile(six_bit_spec(h), h, "tile");
  ChipBackwardGemm g(tile, std::vector<double>(3, 0.0), RandomStream(1, 2));
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int M = 7, N = 5, K = 21;  // K not a multiple of h: the last segment is short
      const int lda = ta ? M : K, ldb = tb ? K : N;
      std::vector<float> A = randn(static_cast<size_t>(M * K), 3 + ta), B = randn(static_cast<size_t>(K * N), 5 + tb, 0.01f);
      std::vector<float> C0 = randn(static_cast<size_t>(M * N), 9);
      for (float beta : {0.0f, 1.0f}) {
        std::vector<float> C = C0;
        g.gemm({0, GemmPass::weight_gradient, 0}, ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, beta, C.data(), N);
        const std::vector<float> want = bfp_reference(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, beta, C0, h, 6);
        for (int i = 0; i < M * N; ++i) {
          INFO("ta " << ta << " tb " << tb << " beta " << beta << " entry " << i);
          CHECK(C[i] == want[i]);  // bit for bit
        }
      }
    }
  CHECK(g.counters().words == 2 * 4 * 7 * 5 * 3);  // calls x M N segments, one word each
  CHECK(g.counters().residue_errors == 0);
  CHECK(g.reads() == g.counters().words);
}

TEST_CASE("training gemm: RNS backward words with a BFP group over several segments equal the BFP reference", "[training_gemm]") {
  // group_tiles = 2 and 3 on K = 61 (Q = 8 segments, the last short; the last group of 3 has 2
  // segments): one exponent per 2 or 3 segments of each row of op(A) and column of op(B); one
  // word per segment as before.
  const int h = 8, M = 9, N = 4, K = 61;
  for (int j : {2, 3}) {
    CAPTURE(j);
    rns::RnsTileSpec spec = six_bit_spec(h);
    spec.group_tiles = j;
    const rns::RnsTile tile(spec, h, "tile");
    ChipBackwardGemm g(tile, std::vector<double>(3, 0.0), RandomStream(1, 2));
    std::vector<float> A = randn(static_cast<size_t>(M * K), 13), B = randn(static_cast<size_t>(K * N), 15, 0.01f);
    for (int i = 0; i < M; ++i)
      A[static_cast<size_t>(i * K + 20)] *= 50.0f;  // one large value per row: exponents differ by group
    std::vector<float> C(static_cast<size_t>(M * N)), C1 = C;
    g.gemm({0, GemmPass::input_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    const std::vector<float> want = bfp_reference(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, h, 6, j);
    const std::vector<float> fine = bfp_reference(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, h, 6, 1);
    int moved = 0;
    for (int i = 0; i < M * N; ++i) {
      INFO("entry " << i);
      CHECK(C[i] == want[i]);
      moved += fine[i] != want[i];
    }
    CHECK(moved > 0);  // the coarser group quantises differently
    CHECK(g.counters().words == int64_t{M} * N * 8);
  }
}

TEST_CASE("training gemm: integer operands within the mantissa give the exact integer product on RNS", "[training_gemm]") {
  const int h = 8, M = 6, N = 4, K = 19;
  const rns::RnsTile tile(six_bit_spec(h), h, "tile");
  ChipBackwardGemm g(tile, std::vector<double>(3, 0.0), RandomStream(1, 2));
  std::mt19937 gen(11);
  std::uniform_int_distribution<int> d(-31, 31);
  std::vector<float> A(M * K), B(K * N), C(M * N, 0.0f);
  for (auto& v : A) v = static_cast<float>(d(gen));
  for (auto& v : B) v = static_cast<float>(d(gen));
  g.gemm({0, GemmPass::input_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      int64_t want = 0;
      for (int k = 0; k < K; ++k) want += static_cast<int64_t>(A[m * K + k]) * static_cast<int64_t>(B[k * N + n]);
      CHECK(C[m * N + n] == static_cast<float>(want));
    }
}

TEST_CASE("training gemm: backward RNS words err at the closed-form residue error rate", "[training_gemm]") {
  const int h = 8, M = 40, N = 50, K = 64;
  const rns::RnsTileSpec spec = six_bit_spec(h);
  const rns::RnsTile tile(spec, h, "tile");
  const double sigma = 0.03;
  ChipBackwardGemm g(tile, std::vector<double>(3, sigma), RandomStream(4, 7));
  const std::vector<float> A = randn(M * K, 1), B = randn(K * N, 2);
  std::vector<float> C(M * N);
  for (uint64_t site = 0; site < 12; ++site)
    g.gemm({1, GemmPass::weight_gradient, site}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  const rns::RrnsCounters c = g.counters();
  double p = 0;  // expected wrong residues per word: sum over channels of 2 Q(pi / (m sigma))
  for (int64_t m : spec.base) p += 2 * q_func(M_PI / (static_cast<double>(m) * sigma));
  const double words = static_cast<double>(c.words);
  REQUIRE(words == 12.0 * M * N * (K / h));
  INFO("residue errors " << c.residue_errors << " expected " << p * words);
  CHECK(std::abs(static_cast<double>(c.residue_errors) - p * words) < 5 * std::sqrt(p * words));
  // Same site, same draws: a repeated call is identical (a pure function of the site); another
  // site, pass or layer draws other noise.
  std::vector<float> C1(M * N), C2(M * N);
  g.gemm({2, GemmPass::input_gradient, 3}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C1.data(), N);
  g.gemm({2, GemmPass::input_gradient, 3}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C2.data(), N);
  CHECK(C1 == C2);
  for (const BackwardSite& other : {BackwardSite{2, GemmPass::input_gradient, 4}, BackwardSite{2, GemmPass::weight_gradient, 3},
                                    BackwardSite{3, GemmPass::input_gradient, 3}}) {
    g.gemm(other, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C2.data(), N);
    CHECK(C1 != C2);
  }
}

TEST_CASE("training gemm: backward RNS words read the phase offsets of the core and row their block runs on", "[training_gemm]") {
  // A 2 x 3 array of cores; row i of core X carries the same deterministic offset on every channel,
  // 0, 0.06 or 0.2 rad for s = (X + i) mod 3, which moves each residue of {63, 62, 61} by s, so a
  // word there reads D + s (the CRT of a common shift), silently. Block (p, q) of h rows of op(A)
  // and segment q runs on core (p mod 2) 3 + (q mod 3), row m on row m mod h (training_gemm.h);
  // M = 20 leaves a short last block (rows 0..3 of its core).
  const int h = 8, M = 20, N = 3, K = 40;  // P = 3 row blocks, Q = 5 segments
  const rns::RnsTileSpec spec = six_bit_spec(h);
  const rns::RnsTile tile(spec, h, "tile");
  const double off[3] = {0.0, 0.06, 0.2};
  for (int sft = 0; sft < 3; ++sft)
    for (int64_t m : spec.base) REQUIRE(std::lround(off[sft] * double(m) / (2 * M_PI)) == sft);
  RnsPlacement place;
  place.rows = 2;
  place.cols = 3;
  for (int X = 0; X < 6; ++X)
    for (int i = 0; i < h; ++i)
      for (int c = 0; c < 3; ++c) {
        place.offset_rad.push_back(off[(X + i) % 3]);
        place.std_rad.push_back(0.0);
      }
  ChipBackwardGemm g(tile, place, RandomStream(3, 3));
  const std::vector<float> A = randn(M * K, 31), B = randn(K * N, 32, 0.1f);
  std::vector<float> C(M * N);
  g.gemm({0, GemmPass::input_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  const int Q = 5;
  int64_t shifted = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = 0;
      for (int q = 0; q < Q; ++q) {
        std::vector<double> a(h), b(h);
        for (int j = 0; j < h; ++j) a[j] = A[m * K + q * h + j], b[j] = B[(q * h + j) * N + n];
        std::vector<int64_t> qa, qb;
        int ea = 0, eb = 0;
        bfp(a, 6, qa, ea);
        bfp(b, 6, qb, eb);
        int64_t d = 0;
        for (int j = 0; j < h; ++j) d += qa[j] * qb[j];
        const int X = ((m / h) % 2) * 3 + q % 3, sft = (X + m % h) % 3;
        shifted += sft != 0;
        acc += std::ldexp(static_cast<double>(d + sft), ea + eb);
      }
      INFO("m " << m << " n " << n);
      CHECK(C[m * N + n] == static_cast<float>(acc));
    }
  const rns::RrnsCounters c = g.counters();
  CHECK(c.words == int64_t{M} * N * Q);
  CHECK(c.silent == shifted);
  CHECK(c.residue_errors == 3 * shifted);
}

TEST_CASE("training gemm: backward RNS words count their reads and corrected residues on the rings they ran on",
          "[training_gemm]") {
  // {63, 62, 61} + 2 redundant moduli; on a 2 x 3 array, channel 1 (m = 62) of row i of core X is
  // off by one residue step (2 pi / 62 rad) when X + i is odd, nothing else errs: every word read
  // there has one wrong residue, which the code corrects (no retry, exact value). Expected per ring
  // (X, i, j), from the placement (block (p, q) on core (p mod 2) 3 + q mod 3, row m on m mod h):
  // reads = the words read on row i of core X, corrected = those words on ring j = 1 of a shifted
  // row, 0 elsewhere (the layout of RnsCore::ring_observations).
  const int h = 8, M = 20, N = 3, K = 40, Q = 5;
  const rns::RnsTileSpec spec = six_bit_spec(h, 2);
  const rns::RnsTile tile(spec, h, "tile");
  const int ch = 5;
  REQUIRE(spec.base[1] == 62);
  RnsPlacement place;
  place.rows = 2;
  place.cols = 3;
  for (int X = 0; X < 6; ++X)
    for (int i = 0; i < h; ++i)
      for (int c = 0; c < ch; ++c) {
        place.offset_rad.push_back(c == 1 && (X + i) % 2 == 1 ? 2 * M_PI / 62 : 0.0);
        place.std_rad.push_back(0.0);
      }
  ChipBackwardGemm g(tile, place, RandomStream(5, 5));
  const std::vector<float> A = randn(M * K, 41), B = randn(K * N, 42, 0.1f);
  std::vector<float> C(M * N), E(M * N);
  g.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  E = bfp_reference(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, E, h, 6);
  for (int i = 0; i < M * N; ++i) CHECK(C[i] == E[i]);  // every error corrected
  std::vector<int64_t> reads(6 * h * h, 0), fixed(6 * h * h, 0);
  int64_t shifted = 0;
  for (int m = 0; m < M; ++m)
    for (int q = 0; q < Q; ++q)
      for (int n = 0; n < N; ++n) {
        const int X = ((m / h) % 2) * 3 + q % 3, i = m % h;
        for (int j = 0; j < h; ++j) ++reads[(X * h + i) * h + j];
        if ((X + i) % 2 == 1) ++fixed[(X * h + i) * h + 1], ++shifted;
      }
  const RingObservations o = g.ring_observations();
  REQUIRE(o.reads.size() == reads.size());
  REQUIRE(o.corrected.size() == fixed.size());
  CHECK(o.reads == reads);
  CHECK(o.corrected == fixed);
  const rns::RrnsCounters c = g.counters();
  CHECK(c.corrected == shifted);
  CHECK(c.retried == 0);
  CHECK(c.silent == 0);
}

TEST_CASE(
    "training gemm: analog arithmetic is the float product with ideal converters and errs within half an ADC step per segment at "
    "6 bits",
    "[training_gemm]") {
  const int h = 8, M = 9, N = 7, K = 30;
  const std::vector<float> A = randn(M * K, 21), B = randn(K * N, 22, 0.1f);
  std::vector<double> exact(M * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) exact[m * N + n] += double(A[m * K + k]) * B[k * N + n];
  IoSpec ideal;
  ChipBackwardGemm gi(ideal, h, RandomStream(1, 1));
  std::vector<float> C(M * N);
  gi.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (int i = 0; i < M * N; ++i) CHECK(C[i] == Approx(exact[i]).margin(1e-5));
  // 6-bit ADC over the normalised partial sums (bound h: no clipping), ideal DAC: each segment's
  // partial sum y is rounded to the step 2h / (2^6 - 2), so |error| <= sum over segments of
  // a_max b_max step / 2 (a_max, b_max the segment's abs-max scales).
  IoSpec io;
  io.adc.bits = 6;
  io.adc.bound = h;
  ChipBackwardGemm ga(io, h, RandomStream(1, 1));
  ga.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  const double step = 2.0 * h / 62.0;
  double err_analog = 0, err_rns = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double bound = 0;
      for (int k0 = 0; k0 < K; k0 += h) {
        double am = 0, bm = 0;
        for (int j = k0; j < std::min(K, k0 + h); ++j)
          am = std::max(am, double(std::abs(A[m * K + j]))), bm = std::max(bm, double(std::abs(B[j * N + n])));
        bound += am * bm * step / 2;
      }
      const double e = std::abs(C[m * N + n] - exact[m * N + n]);
      CHECK(e <= bound * (1 + 1e-5) + 1e-6);
      err_analog += e;
    }
  // The RNS core at the same 6 bits (BFP mantissas, exact integer sums): far closer (Blueprint's
  // point, docs/rns.md §3: the analog core rounds its partial sums, the RNS core does not).
  const rns::RnsTile tile(six_bit_spec(h), h, "tile");
  ChipBackwardGemm gr(tile, std::vector<double>(3, 0.0), RandomStream(1, 1));
  gr.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (int i = 0; i < M * N; ++i) err_rns += std::abs(C[i] - exact[i]);
  // The analog core at equal converter bits also quantises its operands (6-bit DACs, step max/31
  // against BFP's max/31 to 2 max/31): alone that errs no more than the RNS product; the 6-bit ADC
  // on top makes it several times worse.
  IoSpec dac_only, both;
  dac_only.dac.bits = both.dac.bits = both.adc.bits = 6;
  both.adc.bound = h;
  double err_dac = 0, err_both = 0;
  ChipBackwardGemm gd(dac_only, h, RandomStream(1, 1)), gb(both, h, RandomStream(1, 1));
  gd.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (int i = 0; i < M * N; ++i) err_dac += std::abs(C[i] - exact[i]);
  gb.gemm({0, GemmPass::weight_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (int i = 0; i < M * N; ++i) err_both += std::abs(C[i] - exact[i]);
  INFO("mean |error|: analog ADC only " << err_analog / (M * N) << ", DAC only " << err_dac / (M * N) << ", DAC + ADC "
                                        << err_both / (M * N) << ", RNS " << err_rns / (M * N));
  CHECK(err_dac < 1.5 * err_rns);
  CHECK(err_both > 2 * err_rns);
}

namespace {

// Exact products through the hook, counting the calls per (layer, pass); optionally zeroing the
// input-gradient products.
class CountingGemm : public BackwardGemm {
 public:
  explicit CountingGemm(bool zero_dx) : m_zero_dx(zero_dx) {}
  void gemm(const BackwardSite& at, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
            int ldb, float beta, float* C, int ldc) override {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      ++calls[{at.layer, static_cast<int>(at.pass)}];
    }
    if (m_zero_dx && at.pass == GemmPass::input_gradient) alpha = 0.0f;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
  }
  std::map<std::pair<int64_t, int>, int64_t> calls;

 private:
  bool m_zero_dx;
  std::mutex m_mutex;
};

const Dataset& test_set() {
  static const Dataset d = load_fashion_mnist("test");
  return d;
}

}  // namespace

TEST_CASE("gradients: the hardware backward hook carries both products of every mapped layer", "[training_gemm]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  std::vector<std::string> w;
  for (const auto& l : wl.layers) w.push_back(l.weight);
  GradientEngine e(g, w, 2);
  Tensor x;
  fill_batch(test_set(), pre, 0, 6, x);
  std::vector<int64_t> y(test_set().labels.begin(), test_set().labels.begin() + 6);
  const auto plain = e.loss_and_grad(x, y);
  CountingGemm exact(false);
  e.set_hardware(nullptr, wl.layer_index(), &exact);
  const auto hooked = e.loss_and_grad(x, y);
  CHECK(hooked.loss == plain.loss);
  REQUIRE(hooked.grad.size() == plain.grad.size());
  for (size_t l = 0; l < w.size(); ++l) {
    INFO("layer " << l);
    // The hook runs the same cblas products, but conv and gemm call the same shapes: same bits.
    CHECK(hooked.grad[l] == plain.grad[l]);
    CHECK(exact.calls[{int64_t(l), int(GemmPass::weight_gradient)}] > 0);
    // No input gradient is needed below the first layer.
    CHECK((exact.calls[{int64_t(l), int(GemmPass::input_gradient)}] > 0) == (l > 0));
  }
  // Input gradients zeroed on the hardware: only the last layer still learns.
  CountingGemm zero(true);
  e.set_hardware(nullptr, wl.layer_index(), &zero);
  const auto cut = e.loss_and_grad(x, y);
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    double s = 0;
    for (float v : cut.grad[l]) s += std::abs(v);
    CHECK(s == 0.0);
  }
  CHECK(cut.grad.back() == plain.grad.back());
  // Restored: exact again; a node that is not a weight layer is refused.
  e.set_hardware(nullptr, {}, nullptr);
  CHECK(e.loss_and_grad(x, y).grad == plain.grad);
  CHECK_THROWS_WITH(e.set_hardware(nullptr, {{"no_such_node", 0}}, &exact), Catch::Contains("no_such_node"));
}

TEST_CASE(
    "gradients: the hardware forward equals the Executor's mapped run, and 6-bit RNS gradients beat 6-bit analog ones on CNN3",
    "[training_gemm]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const int64_t h = 8;
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, h, "cyclic"});
  std::vector<std::string> w;
  for (const auto& l : wl.layers) w.push_back(l.weight);
  const rns::RnsTileSpec spec = six_bit_spec(static_cast<int>(h));
  // Noisy channels (sigma 0.05 rad: ~0.4 % wrong residues per word): equal losses need every
  // sample to read the same draws in both (sample s of the batch is sample s of the mapped model).
  rns::RnsGemm fwd(wl, spec, std::vector<double>(3, 0.05), RandomStream(3, 3));
  const int64_t N = 16;
  Tensor x;
  fill_batch(test_set(), pre, 40, N, x);
  std::vector<int64_t> y(test_set().labels.begin() + 40, test_set().labels.begin() + 40 + N);
  // Forward: the engine's logits through the RNS GEMM give the Executor's mapped loss.
  Executor ex(g, 1);
  ex.set_mapped(&fwd, wl.layer_index());
  const Tensor& z = ex.run(x);
  double want = 0;
  for (int64_t s = 0; s < N; ++s) {
    const float* r = z.f.data() + s * 10;
    double mx = r[0], sum = 0;
    for (int c = 1; c < 10; ++c) mx = std::max(mx, double(r[c]));
    for (int c = 0; c < 10; ++c) sum += std::exp(r[c] - mx);
    want += std::log(sum) - (r[y[s]] - mx);
  }
  want /= N;
  GradientEngine e(g, w, 2);
  const auto exact = e.loss_and_grad(x, y);
  const rns::RnsTile tile(spec, h, "tile");
  ChipBackwardGemm rns_b(tile, std::vector<double>(3, 0.0), RandomStream(5, 5));
  e.set_hardware(&fwd, wl.layer_index(), &rns_b);
  const auto on_rns = e.loss_and_grad(x, y);
  CHECK(on_rns.loss == Approx(want).epsilon(1e-6));
  CHECK(on_rns.loss != exact.loss);  // the forward really ran on the BFP core
  // Gradient fidelity: cosine between the hardware and the exact gradient, per layer, with the
  // exact forward so that only the backward arithmetic differs.
  IoSpec io;
  io.dac.bits = io.adc.bits = 6;
  io.adc.bound = static_cast<double>(h);
  ChipBackwardGemm ana_b(io, h, RandomStream(5, 5));
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
    return ab / std::sqrt(aa * bb);
  };
  e.set_hardware(nullptr, wl.layer_index(), &rns_b);
  const auto g_rns = e.loss_and_grad(x, y);
  e.set_hardware(nullptr, wl.layer_index(), &ana_b);
  const auto g_ana = e.loss_and_grad(x, y);
  for (size_t l = 0; l < w.size(); ++l) {
    const double cr = cosine(g_rns.grad[l], exact.grad[l]), ca = cosine(g_ana.grad[l], exact.grad[l]);
    INFO("layer " << l << ": cosine RNS " << cr << ", analog " << ca);
    CHECK(cr > 0.99);
    CHECK(cr > ca);
  }
}
