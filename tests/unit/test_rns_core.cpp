// The RNS tensor core as a device technology (docs/rns.md §7): its own GEMM run by the executor
// against an independent block-by-block BFP reference (noise-free: the logits bit for bit), the
// channel phase errors from per-read noise against the closed form 2 Q(pi / (m sigma)), a uniform
// temperature deviation against the residue shift round(dphi/dT dT m / 2 pi), and the mapping of
// ring-phase offsets onto modulus channels.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hw/noise/doctor_noise.h"
#include "hw/rns/rns_core.h"
#include "hw/training_gemm.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::models;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

// Written from docs/rns.md §3 and §6, independently of RnsTile: per block row and k-input segment,
// BFP (one exponent per row of the block, one per input segment; with group_tiles = j one
// exponent per j consecutive segments of the whole row or input vector, the last group shorter),
// the int64 dot product of the mantissas, the exponents applied; partial sums added in q order.
class BfpReference : public MappedGemm {
 public:
  BfpReference(const CompiledWorkload& wl, int bits, int64_t shift, int group_tiles = 1)
      : m_wl(wl), m_bits(bits), m_shift(shift), m_j(group_tiles) {}
  void gemm(int64_t layer, int64_t group, int64_t, const float* x, bool x_trans, int64_t n, float* y, bool y_trans) override {
    const GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
    const int64_t k = m_wl.spec.block_size;
    rns::BfpSpec b;
    b.group = int(k * m_j);
    b.mantissa_bits = m_bits;
    for (int64_t v = 0; v < n; ++v) {
      std::vector<float> xs(t.Q * k, 0.f);
      for (int64_t c = 0; c < t.cols; ++c) xs[c] = x_trans ? x[v * t.cols + c] : x[c * n + v];
      const rns::BfpVector qx = rns::bfp_quantize(xs.data(), t.Q * k, b);
      for (int64_t r = 0; r < t.rows; ++r) {
        const int64_t p = r / k, i = r % k;
        std::vector<float> wrow(t.Q * k);
        for (int64_t q = 0; q < t.Q; ++q)
          for (int64_t j = 0; j < k; ++j) wrow[q * k + j] = t.blocks[((p * t.Q + q) * k + i) * k + j];
        const rns::BfpVector qw = rns::bfp_quantize(wrow.data(), t.Q * k, b);
        float acc = 0.f;
        for (int64_t q = 0; q < t.Q; ++q) {
          int64_t d = 0;
          for (int64_t j = 0; j < k; ++j) d += int64_t{qx.mantissa[q * k + j]} * qw.mantissa[q * k + j];
          acc += float(std::ldexp(double(d + m_shift), qx.exponent[q / m_j] + qw.exponent[q / m_j]));
        }
        (y_trans ? y[v * t.rows + r] : y[r * n + v]) = acc;
      }
      words += t.P * t.Q * k;
    }
  }
  int64_t words = 0;

 private:
  const CompiledWorkload& m_wl;
  int m_bits;
  int64_t m_shift;
  int m_j;
};

rns::RnsCoreConfig config(int bits, int redundant) {
  rns::RnsCoreConfig c;
  c.tile.base = rns::blueprint_moduli(bits, rns::output_bits(bits, bits, 8));
  c.tile.redundant = rns::redundant_moduli(c.tile.base, redundant);
  c.tile.input_bits = c.tile.weight_bits = bits;
  return c;
}

// Runs the second-to-last layer of `wl` on `core` with enough standard-normal input vectors
// (generator seed `seed`) for about 20,000 block reads on core `on`; returns the blocks of the
// layer mapped to that core (counted independently of the core) and the vector count.
struct Drive {
  int64_t on_core = 0, n = 0;
};
Drive drive(rns::RnsCore& core, const CompiledWorkload& wl, int on, unsigned seed) {
  const int64_t layer = int64_t(wl.layers.size()) - 2;
  const GemmTiles& t = wl.layers[layer].gemms[0];
  Drive d;
  for (int32_t c : t.core) d.on_core += c % 16 == on;
  REQUIRE(d.on_core > 0);
  d.n = 20000 / d.on_core + 1;
  std::vector<float> x(size_t(t.cols * d.n)), y(size_t(t.rows * d.n));
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : x) v = nd(gen);
  core.gemm(layer, 0, 0, x.data(), false, d.n, y.data(), false);
  return d;
}

}  // namespace

TEST_CASE("rns core: a noise-free RNS device gives the logits of an independent BFP reference bit for bit", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  const Dataset test = load_fashion_mnist("test");
  for (int bits : {4, 6}) {
    CAPTURE(bits);
    rns::RnsCore core(wl, config(bits, 1), RandomStream(3, 1));
    REQUIRE(core.mapped_gemm() == &core);
    BfpReference ref(wl, bits, 0);
    Executor a(g, 1), b(g, 1);
    a.set_mapped(core.mapped_gemm(), wl.layer_index());
    b.set_mapped(&ref, wl.layer_index());
    Tensor in;
    fill_batch(test, pre, 0, 4, in);
    const Tensor ya = a.run(in);
    const Tensor yb = b.run(in);
    REQUIRE(ya.f.size() == yb.f.size());
    int differ = 0;
    for (size_t i = 0; i < ya.f.size(); ++i) differ += ya.f[i] != yb.f[i];
    CHECK(differ == 0);
    // One RRNS word per block row and input vector, none of them erroneous.
    const rns::RrnsCounters c = core.total();
    CHECK(c.words == ref.words);
    CHECK(c.attempts == c.words);
    CHECK(c.residue_errors + c.detected + c.retried + c.failed + c.silent == 0);
    // The ADCs of one output: one per modulus channel, ceil(log2 m) = b bits (base) or b + 1 (redundant).
    const std::vector<int> adc = core.output_adc_bits();
    REQUIRE(adc.size() == config(bits, 1).tile.base.size() + 1);
    for (size_t i = 0; i + 1 < adc.size(); ++i) CHECK(adc[i] == bits);
    CHECK(adc.back() == bits + 1);
  }
}

TEST_CASE("rns core: per-read channel noise gives the residue error rate 2 Q(pi over m sigma)", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsCoreConfig cfg = config(6, 0);  // {63, 62, 61}
  cfg.sigma_phi_rad = 0.02;
  rns::RnsCore core(wl, cfg, RandomStream(5, 2));
  const int64_t layer = int64_t(wl.layers.size()) - 2;
  const GemmTiles& t = wl.layers[layer].gemms[0];
  const int64_t n = std::max<int64_t>(1, 120000 / (t.P * t.Q * 8));
  std::vector<float> x(t.cols * n), y(t.rows * n);
  std::mt19937 gen(2);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : x) v = nd(gen);
  core.gemm(layer, 0, 0, x.data(), false, n, y.data(), false);
  const rns::RrnsCounters c = core.counters(layer);
  REQUIRE(c.words == n * t.P * t.Q * 8);
  double p = 0;
  for (int64_t m : cfg.tile.base) p += rns::residue_error_probability(m, cfg.sigma_phi_rad);
  p /= double(cfg.tile.base.size());
  const double draws = double(c.attempts) * double(cfg.tile.base.size());
  const double expected = p * draws, sd = std::sqrt(draws * p * (1 - p));
  CAPTURE(p, expected, sd, c.residue_errors);
  CHECK(p > 0.01);
  CHECK(std::abs(double(c.residue_errors) - expected) < 5 * sd);
  // No redundancy: every wrong word is silent (k = 0 detects nothing).
  CHECK(c.detected == 0);
  CHECK(c.silent > 0);
  CHECK(c.silent <= c.residue_errors);
}

TEST_CASE("rns core: a temperature deviation shifts every residue by round(dphi dT m over 2 pi)", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  const Dataset test = load_fashion_mnist("test");
  rns::RnsCoreConfig cfg = config(6, 0);  // {63, 62, 61}
  cfg.dphi_dk_rad = 0.01;
  const int64_t rings = wl.spec.rows * wl.spec.cols * 64;
  Tensor in;
  fill_batch(test, pre, 0, 2, in);
  // dT = 6 K: delta = 0.06 rad moves every residue by round(0.06 m / 2 pi) = 1 (m = 61 .. 63), so
  // every word reads D + 1 -- a common shift of all residues is the CRT of D + 1, a silent error.
  // dT = 4 K: round(0.04 m / 2 pi) = 0, exact.
  for (double dt : {4.0, 6.0}) {
    CAPTURE(dt);
    const int64_t shift = dt == 6.0 ? 1 : 0;
    for (int64_t m : cfg.tile.base) REQUIRE(std::lround(cfg.dphi_dk_rad * dt * double(m) / (2 * M_PI)) == shift);
    rns::RnsCore core(wl, cfg, RandomStream(5, 3));
    core.set_ring_temperature_k(std::vector<double>(size_t(rings), dt));
    CHECK(core.channel_offset_rad(5, 3, 2) == Approx(0.01 * dt));
    BfpReference ref(wl, 6, shift);
    Executor a(g, 1), b(g, 1);
    a.set_mapped(&core, wl.layer_index());
    b.set_mapped(&ref, wl.layer_index());
    const Tensor ya = a.run(in);
    const Tensor yb = b.run(in);
    int differ = 0;
    for (size_t i = 0; i < ya.f.size(); ++i) differ += ya.f[i] != yb.f[i];
    CHECK(differ == 0);
    const rns::RrnsCounters c = core.total();
    CHECK(c.residue_errors == 3 * shift * c.words);
    CHECK(c.silent == shift * c.words);
  }
}

TEST_CASE("rns core: backward words of on-chip training see the chip's temperature deviation", "[rns-core]") {
  // As the forward words above: dT = 6 K at 0.01 rad/K moves every residue by 1 (m = 61..63), so
  // every backward word reads D + 1, silently; at 4 K every word is exact.
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsCoreConfig cfg = config(6, 0);
  cfg.dphi_dk_rad = 0.01;
  const int64_t rings = wl.spec.rows * wl.spec.cols * 64;
  const int M = 11, N = 3, K = 16;
  std::mt19937 gen(4);
  std::uniform_int_distribution<int> d(-31, 31);
  std::vector<float> A(M * K), B(K * N);
  for (auto& v : A) v = static_cast<float>(d(gen));
  for (auto& v : B) v = static_cast<float>(d(gen));
  for (int q = 0; q < K / 8; ++q) {  // a 31 in every segment: every BFP exponent is 0
    for (int m = 0; m < M; ++m) A[m * K + q * 8] = 31;
    for (int n = 0; n < N; ++n) B[q * 8 * N + n] = -31;
  }
  for (double dt : {4.0, 6.0}) {
    CAPTURE(dt);
    rns::RnsCore core(wl, cfg, RandomStream(5, 3));
    core.set_ring_temperature_k(std::vector<double>(size_t(rings), dt));
    std::unique_ptr<ChipBackwardGemm> bwd = core.backward_gemm(RandomStream(1, 1));
    std::vector<float> C(M * N);
    bwd->gemm({0, GemmPass::input_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    const int64_t shift = dt == 6.0 ? 1 : 0;
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        // Integer operands with a 31 in every segment: BFP exponents 0, each of the K / 8
        // segments' words reads D + shift.
        int64_t want = 0;
        for (int k = 0; k < K; ++k) want += static_cast<int64_t>(A[m * K + k]) * static_cast<int64_t>(B[k * N + n]);
        CHECK(C[m * N + n] == static_cast<float>(want + shift * (K / 8)));
      }
    const rns::RrnsCounters c = bwd->counters();
    CHECK(c.words == int64_t{M} * N * (K / 8));
    CHECK(c.silent == shift * c.words);
    CHECK(c.residue_errors == 3 * shift * c.words);
  }
}

TEST_CASE("rns core: ring-phase offsets reach modulus channel c of row i as ring (i, c) of the core", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  std::vector<float> map(size_t(16 * 64));
  for (size_t r = 0; r < map.size(); ++r) map[r] = 1e-4f * float(r);
  rns::RnsCoreConfig cfg = config(6, 2);
  cfg.noise.push_back(std::shared_ptr<const NoiseProcess>(fixed_phase_offset(map)));
  rns::RnsCore core(wl, cfg, RandomStream(5, 4));
  for (int64_t c : {0, 7, 15})
    for (int64_t i : {0, 5})
      for (int ch = 0; ch < core.channels(); ++ch)
        CHECK(core.channel_offset_rad(c, i, ch) == Approx(map[size_t(c * 64 + i * 8 + ch)]));
  CHECK(core.channel_std_rad(3, 3, 1) == 0.0);
}

TEST_CASE("rns core: the decoder locates corrected residues on their rings at the closed-form rate", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsCoreConfig cfg = config(6, 2);  // {63, 62, 61} + 2 redundant: single residues corrected
  cfg.sigma_phi_rad = 0.01;
  cfg.dphi_dk_rad = 0.01;
  rns::RnsCore core(wl, cfg, RandomStream(5, 6));
  REQUIRE(core.channels() == 5);
  // One drifting channel: ring (core 5, row 2, column 1) is 3.5 K off its lock, every other ring at its lock.
  const int64_t k = 8, kk = 64, hot = 5 * kk + 2 * k + 1;
  std::vector<double> dt(size_t(16 * kk), 0.0);
  dt[size_t(hot)] = 3.5;
  core.set_ring_temperature_k(dt);
  const Drive dr = drive(core, wl, 5, 3);
  const int64_t on5 = dr.on_core, n = dr.n;
  const RingObservations o = core.ring_observations();
  REQUIRE(o.reads.size() == size_t(16 * kk));
  REQUIRE(o.corrected.size() == o.reads.size());
  const rns::RrnsCounters c = core.total();
  // Single residue errors only (two at once ~ 1e-6 per word): every detected word is corrected.
  CHECK(c.failed + c.silent == 0);
  CHECK(c.detected == c.corrected);
  // Every ring of a row is read once per word of that row: n block reads per block on the core.
  CHECK(o.reads[size_t(hot)] == n * on5);
  CHECK(o.reads[size_t(5 * kk + 7 * k + 7)] == n * on5);
  // The drifting channel (modulus 62, channel 1): delta0 = 0.035 rad, sigma = 0.01 rad:
  // P(shift != 0) = Q((pi/m - delta0)/sigma) + Q((pi/m + delta0)/sigma).
  const auto Q = [](double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); };
  const double m = double(cfg.tile.base[1]), step = M_PI / m;
  const double p_hot = Q((step - 0.035) / 0.01) + Q((step + 0.035) / 0.01);
  const double reads = double(o.reads[size_t(hot)]);
  const double e_hot = reads * p_hot, sd_hot = std::sqrt(reads * p_hot * (1 - p_hot));
  CAPTURE(m, p_hot, e_hot, sd_hot, o.corrected[size_t(hot)]);
  CHECK(p_hot > 0.01);
  CHECK(std::abs(double(o.corrected[size_t(hot)]) - e_hot) < 5 * sd_hot);
  // Every other ring: per-read noise only, 2 Q(pi / (m sigma)) per channel ring; unused columns
  // (c >= 5) carry no channel and never count.
  double e_rest = 0;
  int64_t rest = 0;
  for (int64_t r = 0; r < 16 * kk; ++r) {
    if (r == hot) continue;
    rest += o.corrected[size_t(r)];
    const int64_t col = r % k;
    if (col >= 5) {
      CHECK(o.corrected[size_t(r)] == 0);
      continue;
    }
    const double mc = double(col < 3 ? cfg.tile.base[size_t(col)] : cfg.tile.redundant[size_t(col - 3)]);
    e_rest += double(o.reads[size_t(r)]) * 2 * Q(M_PI / (mc * 0.01));
  }
  CAPTURE(e_rest, rest);
  CHECK(std::abs(double(rest) - e_rest) < 5 * std::sqrt(e_rest) + 1);
  // The core's backward arithmetic for on-chip training (Technology::backward_gemm).
  CHECK(core.backward_gemm(RandomStream(1, 1)) != nullptr);
}

TEST_CASE("rns core: relock_rings re-bases only the marked rings and writes the weights on their rows", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  GlobalTemperatureParams gp;
  gp.hotspot = "corner";
  gp.t_max_steps = 1000;  // 1 K per 1000 steps
  rns::RnsCoreConfig cfg = config(6, 2);
  cfg.noise.push_back(std::shared_ptr<const NoiseProcess>(global_temperature_noise(gp)));
  rns::RnsCore a(wl, cfg, RandomStream(5, 7)), full(wl, cfg, RandomStream(5, 7));
  const int64_t k = 8, kk = 64;
  a.set_times(0, {NoiseTime{1000, 0.0}});
  std::vector<double> before;
  for (int64_t X = 0; X < 16; ++X)
    for (int64_t i = 0; i < k; ++i)
      for (int c = 0; c < a.channels(); ++c) before.push_back(a.channel_offset_rad(X, i, c));
  CHECK(before[0] != 0.0);  // core 0 is the hot corner
  // Marked: every ring of row 2 on core 0, ring (row 1, column 4) on core 3 (channel 4), and
  // ring (row 6, column 7) on core 9, which carries no channel (5 channels).
  std::vector<char> mask(size_t(16 * kk), 0);
  for (int64_t j = 0; j < k; ++j) mask[size_t(0 * kk + 2 * k + j)] = 1;
  mask[size_t(3 * kk + 1 * k + 4)] = 1;
  mask[size_t(9 * kk + 6 * k + 7)] = 1;
  // Writes: the k weights of the marked row in every block mapped to core 0 or 3; none for core 9.
  int64_t expected = 0;
  for (const auto& L : wl.layers)
    for (const auto& t : L.gemms)
      for (int32_t c : t.core) expected += (c % 16 == 0 || c % 16 == 3) ? k : 0;
  CHECK(a.relock_rings(1000, mask) == expected);
  for (int64_t step : {1000, 2000}) {
    CAPTURE(step);
    a.set_times(0, {NoiseTime{step, 0.0}});
    size_t idx = 0;
    for (int64_t X = 0; X < 16; ++X)
      for (int64_t i = 0; i < k; ++i)
        for (int c = 0; c < a.channels(); ++c, ++idx) {
          const bool marked = mask[size_t(X * kk + i * k + c)] != 0;
          // Linear schedule: the unmarked rings' offset doubles from step 1000 to 2000; a marked
          // ring measures it from step 1000 on (0, then the same again).
          const double want = marked ? (step == 1000 ? 0.0 : before[idx]) : before[idx] * double(step) / 1000.0;
          CHECK(a.channel_offset_rad(X, i, c) == Approx(want).margin(1e-6));
        }
  }
  // Every ring marked is the full re-calibration: the same writes and offsets.
  rns::RnsCore b(wl, cfg, RandomStream(5, 7));
  const int64_t all = full.relock(1000);
  CHECK(b.relock_rings(1000, std::vector<char>(size_t(16 * kk), 1)) == all);
  full.set_times(0, {NoiseTime{1500, 0.0}});
  b.set_times(0, {NoiseTime{1500, 0.0}});
  for (int64_t X : {0, 6, 15})
    for (int c = 0; c < b.channels(); ++c) CHECK(b.channel_offset_rad(X, 4, c) == full.channel_offset_rad(X, 4, c));
  CHECK(std::abs(b.channel_offset_rad(0, 4, 0)) > 0.0);
  CHECK_THROWS_WITH(b.relock_rings(0, std::vector<char>(3, 1)), Catch::Contains("mask of 1024 rings"));
}

TEST_CASE("rns core: retried words count as reads of their row's rings", "[rns-core]") {
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsCoreConfig cfg = config(6, 2);
  cfg.tile.max_retries = 2;
  cfg.sigma_phi_rad = 0.01;
  cfg.dphi_dk_rad = 0.01;
  rns::RnsCore core(wl, cfg, RandomStream(5, 8));
  // Two channels of one row drift (rings (core 2, row 4, columns 0 and 1) at 3.5 K): double residue
  // errors on that row are uncorrectable with 2 redundant moduli and retried; nothing else retries.
  const int64_t k = 8, kk = 64;
  std::vector<double> dt(size_t(16 * kk), 0.0);
  dt[size_t(2 * kk + 4 * k + 0)] = dt[size_t(2 * kk + 4 * k + 1)] = 3.5;
  core.set_ring_temperature_k(dt);
  const Drive dr = drive(core, wl, 2, 4);
  const int64_t on2 = dr.on_core, n = dr.n;
  const rns::RrnsCounters c = core.total();
  const RingObservations o = core.ring_observations();
  REQUIRE(c.retried > 20);  // ~ reads x p^2 = 20,000 x 0.059^2 ~ 70
  // Every ring of the drifting row was read once per first attempt and once per retry.
  for (int64_t j = 0; j < k; ++j) CHECK(o.reads[size_t(2 * kk + 4 * k + j)] == n * on2 + c.retried);
  CHECK(o.reads[size_t(2 * kk + 3 * k)] == n * on2);
  CHECK(c.attempts == c.words + c.retried);
}

TEST_CASE("rns core: backward words of on-chip training add their reads and corrections to the ring observations", "[rns-core]") {
  // A 4 x 4 array; ring (core 2, row 4, column 1) carries channel 1 (m = 62) of that row and sits
  // 10.2 K off its lock: 0.102 rad = 1.006 residue steps of 62, one wrong residue per word read
  // there, corrected by the 2 redundant moduli. Backward block (p, q) runs on core (p mod 4) 4 +
  // q mod 4: with M = 40 (P = 5), K = 24 (Q = 3), core 2 takes blocks (0, 2) and (4, 2), so row 4
  // of core 2 reads rows m = 4 and 36 of segment 2, N = 50 words each.
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  rns::RnsCoreConfig cfg = config(6, 2);
  cfg.dphi_dk_rad = 0.01;
  rns::RnsCore core(wl, cfg, RandomStream(5, 9));
  const int64_t k = 8, kk = 64, ring = 2 * kk + 4 * k + 1;
  std::vector<double> dt(size_t(16 * kk), 0.0);
  dt[size_t(ring)] = 10.2;
  core.set_ring_temperature_k(dt);
  const int M = 40, N = 50, K = 24;
  const std::vector<float> A = [] {
    std::mt19937 gen(8);
    std::normal_distribution<float> d;
    std::vector<float> v(M * K);
    for (auto& x : v) x = d(gen);
    return v;
  }();
  const std::vector<float> B(K * N, 0.25f);
  std::unique_ptr<ChipBackwardGemm> bwd = core.backward_gemm(RandomStream(1, 2));
  std::vector<float> C(M * N);
  bwd->gemm({0, GemmPass::input_gradient, 0}, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  const RingObservations before = core.ring_observations();
  for (size_t r = 0; r < before.reads.size(); ++r) REQUIRE((before.reads[r] == 0 && before.corrected[r] == 0));
  core.add_ring_observations(bwd->ring_observations());
  const RingObservations o = core.ring_observations();
  CHECK(bwd->counters().corrected == 2 * N);
  CHECK(o.corrected[size_t(ring)] == 2 * N);
  int64_t other = 0;
  for (size_t r = 0; r < o.corrected.size(); ++r) other += r == size_t(ring) ? 0 : o.corrected[r];
  CHECK(other == 0);
  for (int64_t j = 0; j < k; ++j) CHECK(o.reads[size_t(2 * kk + 4 * k + j)] == 2 * N);
  CHECK(o.reads[size_t(6 * kk + 4 * k)] == N);  // core 6 = row 1, column 2: block (1, 2) only
  CHECK(o.reads[size_t(3 * kk + 4 * k)] == 0);  // column 3: no segment q with q mod 4 = 3
  RingObservations bad;
  bad.reads.assign(7, 0);
  bad.corrected.assign(7, 0);
  CHECK_THROWS_WITH(core.add_ring_observations(bad), Catch::Contains("expected 1024 rings"));
}

TEST_CASE("rns core: a BFP group over several tiles gives the logits of an independent BFP reference bit for bit", "[rns-core]") {
  // group = j k (j = 2, 3): one exponent per j consecutive k-segments of every weight row and input
  // vector (docs/rns.md §3), still one word per block row; the reference quantises the whole row
  // with groups of j k values. The coarser exponents change the logits (vs j = 1), and re-programming
  // one block re-quantises its group's neighbours.
  const Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  const Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  const CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  const Dataset test = load_fashion_mnist("test");
  Tensor in;
  fill_batch(test, pre, 0, 4, in);
  std::vector<float> fine;
  for (int j : {1, 2, 3}) {
    CAPTURE(j);
    rns::RnsCoreConfig cfg = config(6, 1);
    cfg.tile.group_tiles = j;
    rns::RnsCore core(wl, cfg, RandomStream(3, 1));
    BfpReference ref(wl, 6, 0, j);
    Executor a(g, 1), b(g, 1);
    a.set_mapped(core.mapped_gemm(), wl.layer_index());
    b.set_mapped(&ref, wl.layer_index());
    const Tensor ya = a.run(in);
    const Tensor yb = b.run(in);
    REQUIRE(ya.f.size() == yb.f.size());
    int differ = 0;
    for (size_t i = 0; i < ya.f.size(); ++i) differ += ya.f[i] != yb.f[i];
    CHECK(differ == 0);
    CHECK(core.total().words == ref.words);
    if (j == 1)
      fine = ya.f;
    else {
      int moved = 0;
      for (size_t i = 0; i < fine.size(); ++i) moved += fine[i] != ya.f[i];
      CHECK(moved > 0);
    }
    // Re-programming: scale block 0 of the first layer's group by 64 and feed the same weights to
    // the reference's workload copy; the group's other blocks get new exponents too.
    CompiledWorkload wl2 = wl;
    std::vector<float> blocks = wl.layers[0].gemms[0].blocks;
    for (int64_t i = 0; i < 64; ++i) blocks[size_t(i)] *= 64.0f;
    wl2.layers[0].gemms[0].blocks = blocks;
    core.program(0, 0, blocks, 0.0);
    BfpReference ref2(wl2, 6, 0, j);
    Executor c(g, 1), d(g, 1);
    c.set_mapped(core.mapped_gemm(), wl.layer_index());
    d.set_mapped(&ref2, wl.layer_index());
    const Tensor yc = c.run(in), yd = d.run(in);
    int differ2 = 0;
    for (size_t i = 0; i < yc.f.size(); ++i) differ2 += yc.f[i] != yd.f[i];
    CHECK(differ2 == 0);
  }
}
