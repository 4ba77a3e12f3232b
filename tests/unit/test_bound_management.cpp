// Bound management (aihwkit IOParameters bound_management = ITERATIVE, max_bm_factor, max_bm_res;
// docs/converters_energy.md §2 step 4): a block whose partial sums for an input vector leave the
// ADC range is recomputed with that vector's input divided by f = 2, 4, ... until none clips or
// a limit is reached, and its ADC outputs are multiplied back by f. Checked against a reference
// written here from that definition, in double: per block row p, block column q and vector j,
// part(f) = sum_c wn_pq[i, c] DAC(x_c / (s f)), f the smallest power of two whose part fits the
// bound (or the limit), y_r = s sum_q bmax_pq f ADC(part(f)); and the recomputations counted are
// sum log2 f over the clipped (block, vector) pairs. "Fits" is aihwkit's test (AnalogMVM's
// _finalize_output: discretise, then compare with the bound): a part clips when it rounds to a
// level beyond the bound's, |nearbyint(part / step)| > 2^(bits - 1) - 1.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/hardware_gemm.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

struct Reference {
  std::vector<double> y;  // [rows, n]
  int64_t reruns = 0, clipped_pairs = 0, still_clipped = 0;
  double peak = 0;  // the largest |part(1)| of any (block, vector) pair, real rows
};

// The definition above, for layer `layer` of `wl` with ideal weights, abs-max noise management,
// a `bits`-bit DAC over [-1, 1] and a `bits`-bit ADC over [-bound, bound]. before_rounding: a part
// clips when it lies beyond the bound, before the ADC rounds it (not aihwkit's test: the control).
Reference reference(const models::CompiledWorkload& wl, int64_t layer, const std::vector<float>& x, int64_t n, int bits,
                    double bound, bool managed, double max_factor, double max_res, int adc_bits = 0,
                    bool before_rounding = false) {
  const auto& t = wl.layers[static_cast<size_t>(layer)].gemms[0];
  const int64_t k = wl.spec.block_size, kk = k * k;
  if (adc_bits == 0) adc_bits = bits;
  const double dstep = 2.0 / (std::ldexp(1.0, bits) - 2), astep = 2 * bound / (std::ldexp(1.0, adc_bits) - 2);
  const auto dac = [&](double v) { return std::nearbyint(std::min(1.0, std::max(-1.0, v)) / dstep) * dstep; };
  const auto adc = [&](double v) { return std::nearbyint(std::min(bound, std::max(-bound, v)) / astep) * astep; };
  const double top = std::ldexp(1.0, adc_bits - 1) - 1;  // the bound's level
  Reference ref;
  ref.y.assign(static_cast<size_t>(t.rows * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t c = 0; c < t.cols; ++c) s = std::max(s, std::abs(static_cast<double>(x[static_cast<size_t>(c * n + j)])));
    if (s == 0) continue;
    for (int64_t p = 0; p < t.P; ++p)
      for (int64_t q = 0; q < t.Q; ++q) {
        const int64_t b = p * t.Q + q;
        double bmax = 0;
        for (int64_t e = 0; e < kk; ++e)
          bmax = std::max(bmax, static_cast<double>(std::abs(t.blocks[static_cast<size_t>(b * kk + e)])));
        if (bmax == 0) continue;
        const auto parts = [&](double f) {
          std::vector<double> part(static_cast<size_t>(k), 0.0);
          for (int64_t i = 0; i < k; ++i)
            for (int64_t c = 0; c < k && q * k + c < t.cols; ++c)
              part[static_cast<size_t>(i)] += t.blocks[static_cast<size_t>(b * kk + i * k + c)] / bmax *
                                              dac(x[static_cast<size_t>((q * k + c) * n + j)] / (s * f));
          return part;
        };
        const auto clips = [&](const std::vector<double>& part) {
          for (int64_t i = 0; i < k && p * k + i < t.rows; ++i)
            if (before_rounding ? std::abs(part[static_cast<size_t>(i)]) > bound
                                : std::abs(std::nearbyint(part[static_cast<size_t>(i)] / astep)) > top)
              return true;
          return false;
        };
        double f = 1;
        std::vector<double> part = parts(f);
        for (int64_t i = 0; i < k && p * k + i < t.rows; ++i)
          ref.peak = std::max(ref.peak, std::abs(part[static_cast<size_t>(i)]));
        if (clips(part)) ++ref.clipped_pairs;
        while (managed && clips(part) && !(f > max_factor) && !(f > max_res / dstep)) {
          f *= 2;
          ++ref.reruns;
          part = parts(f);
        }
        if (clips(part)) ++ref.still_clipped;
        for (int64_t i = 0; i < k && p * k + i < t.rows; ++i)
          ref.y[static_cast<size_t>((p * k + i) * n + j)] += s * bmax * f * adc(part[static_cast<size_t>(i)]);
      }
  }
  return ref;
}

struct Setup {
  models::CompiledWorkload wl;
  std::vector<float> x;
  int64_t n = 7;
  const int64_t layer = 1;
};

Setup setup(int k = 8) {
  Setup u;
  u.wl = models::compile(models::import_onnx(kZoo + "cnn3_fmnist.onnx"), models::TilingSpec{4, 4, k, "cyclic"});
  const auto& t = u.wl.layers[static_cast<size_t>(u.layer)].gemms[0];
  // Non-negative inputs of a ReLU layer, a few vectors concentrated on few inputs (large partial
  // sums against a tight ADC) and some spread out.
  u.x.assign(static_cast<size_t>(t.cols * u.n), 0.0f);
  for (int64_t c = 0; c < t.cols; ++c)
    for (int64_t j = 0; j < u.n; ++j) {
      const double v = std::abs(std::sin(0.37 * static_cast<double>(c) + 1.3 * static_cast<double>(j)));
      u.x[static_cast<size_t>(c * u.n + j)] = static_cast<float>(j % 2 ? v : std::pow(v, 0.25));
    }
  return u;
}

IoSpec io_spec(double bound, BoundManagement bm, double max_res, int adc_bits = 8) {
  IoSpec io;
  io.dac = {8, 1.0, 0};
  io.adc = {adc_bits, bound, 0};
  io.bound_management = bm;
  io.max_bm_res = max_res;
  return io;
}

// x_trans: the inputs given as [n, cols] (the fused kernel's general branch instead of its
// panel-by-panel one).
void compare(const Setup& u, HardwareGemm& hg, const Reference& ref, bool x_trans = false) {
  const auto& t = u.wl.layers[static_cast<size_t>(u.layer)].gemms[0];
  std::vector<float> y(static_cast<size_t>(t.rows * u.n)), xt(u.x.size());
  for (int64_t c = 0; c < t.cols; ++c)
    for (int64_t j = 0; j < u.n; ++j) xt[static_cast<size_t>(j * t.cols + c)] = u.x[static_cast<size_t>(c * u.n + j)];
  hg.gemm(u.layer, 0, 0, x_trans ? xt.data() : u.x.data(), x_trans, u.n, y.data(), false);
  double worst = 0;
  for (size_t e = 0; e < y.size(); ++e) worst = std::max(worst, std::abs(static_cast<double>(y[e]) - ref.y[e]));
  INFO("largest |y - reference| " << worst);
  CHECK(worst < 1e-4);
}

}  // namespace

TEST_CASE("bound management iterative: clipped blocks recomputed at the smallest power-of-two input reduction that fits",
          "[bound_management]") {
  const Setup u = setup();
  IdealRealizer ideal(u.wl);
  const double bound = 1.0;  // an 8-input block of |w|, |x| <= 1 reaches 8: tight on purpose
  const Reference ref = reference(u.wl, u.layer, u.x, u.n, 8, bound, true, 1000, 0.25);
  INFO("clipped pairs " << ref.clipped_pairs << ", reruns " << ref.reruns);
  REQUIRE(ref.clipped_pairs > 10);          // the case exercises the loop
  REQUIRE(ref.reruns > ref.clipped_pairs);  // and some pairs need more than one halving
  CHECK(ref.still_clipped == 0);
  HardwareGemm hg(u.wl, ideal, io_spec(bound, BoundManagement::iterative, 0.25), RandomStream(1, 0));
  compare(u, hg, ref);
  CHECK(hg.bound_reruns() == ref.reruns);
  // The same through the fused kernel's other input layout.
  HardwareGemm ht(u.wl, ideal, io_spec(bound, BoundManagement::iterative, 0.25), RandomStream(1, 0));
  compare(u, ht, ref, true);
  CHECK(ht.bound_reruns() == ref.reruns);
  // And through the per-block general path (a 23-bit ADC is beyond the fused kernel's 22).
  const Reference ref23 = reference(u.wl, u.layer, u.x, u.n, 8, bound, true, 1000, 0.25, 23);
  HardwareGemm hgen(u.wl, ideal, io_spec(bound, BoundManagement::iterative, 0.25, 23), RandomStream(1, 0));
  compare(u, hgen, ref23);
  CHECK(hgen.bound_reruns() == ref23.reruns);
  CHECK(ref23.reruns > ref23.clipped_pairs);
  // Without bound management the same blocks clip, and nothing is recomputed.
  HardwareGemm plain(u.wl, ideal, io_spec(bound, BoundManagement::none, 0.25), RandomStream(1, 0));
  compare(u, plain, reference(u.wl, u.layer, u.x, u.n, 8, bound, false, 1000, 0.25));
  CHECK(plain.bound_reruns() == 0);
}

TEST_CASE("bound management iterative stops at max_bm_res: f > max_bm_res / DAC step ends the loop clipped",
          "[bound_management]") {
  const Setup u = setup();
  IdealRealizer ideal(u.wl);
  const double bound = 1.0, dstep = 2.0 / 254.0;
  const double max_res = 1.5 * dstep;  // f = 2 is computed (1 <= 1.5), then 2 > 1.5 stops
  const Reference ref = reference(u.wl, u.layer, u.x, u.n, 8, bound, true, 1000, max_res);
  REQUIRE(ref.still_clipped > 0);          // some pairs needed more than one halving
  CHECK(ref.reruns == ref.clipped_pairs);  // exactly one recomputation per clipped pair
  HardwareGemm hg(u.wl, ideal, io_spec(bound, BoundManagement::iterative, max_res), RandomStream(1, 0));
  compare(u, hg, ref);
  CHECK(hg.bound_reruns() == ref.reruns);
}

// aihwkit discretises the output and then tests it against the bound, so a partial sum less than
// half an ADC step above the bound (it rounds to the bound's level) is not recomputed, and one
// more than half a step above it is. The bound is placed from the reference's largest first-pass
// partial sum m: m = bound + step / 4 (nothing recomputed, though m lies beyond the bound) and
// m = bound + 3 step / 4 (recomputed), step = 2 bound / 254. On the fused kernel (both input
// layouts) and on the per-block general route (4 x 4 blocks).
TEST_CASE("bound management tests the converted partial sum as aihwkit does: within half an ADC step above the bound is no clip",
          "[bound_management]") {
  for (const int k : {8, 4}) {
    const Setup u = setup(k);
    IdealRealizer ideal(u.wl);
    const double m = reference(u.wl, u.layer, u.x, u.n, 8, 1e9, false, 1000, 0.25).peak;
    REQUIRE(m > 0.5);
    for (const double over : {0.25, 0.75}) {
      const double bound = m / (1 + over * 2 / 254);  // m = bound + over step
      INFO("block size " << k << ", largest partial sum " << m << " = bound " << bound << " + " << over << " ADC step");
      const Reference ref = reference(u.wl, u.layer, u.x, u.n, 8, bound, true, 1000, 0.25);
      const Reference before = reference(u.wl, u.layer, u.x, u.n, 8, bound, true, 1000, 0.25, 0, true);
      INFO("recomputations: aihwkit's test " << ref.reruns << ", testing before rounding " << before.reruns);
      REQUIRE(before.reruns > 0);  // m lies beyond the bound either way
      if (over < 0.5)
        REQUIRE(ref.reruns == 0);  // but rounds to the bound's level
      else
        REQUIRE(ref.reruns > 0);
      for (const bool x_trans : {false, true}) {
        HardwareGemm hg(u.wl, ideal, io_spec(bound, BoundManagement::iterative, 0.25), RandomStream(1, 0));
        compare(u, hg, ref, x_trans);
        CHECK(hg.bound_reruns() == ref.reruns);
      }
    }
  }
}

// The threshold of that test: the last float that converts to the bound's level is half an ADC
// step above the bound (to a few float spacings), and the next float converts one level past it.
TEST_CASE("the ADC's clip edge is half a step above the bound, the last float that converts to the bound's level",
          "[bound_management]") {
  for (const int bits : {2, 4, 8, 12, 22})
    for (const double bound : {1.0, 8.0, 0.3, 3.7}) {
      const ConverterSpec adc{bits, bound, 0};
      const float e = adc.clip_edge(), step = static_cast<float>(adc.step()), inv = 1.0f / step;
      const double top = std::ldexp(1.0, bits - 1) - 1, half = bound + adc.step() / 2;
      INFO(bits << " bits, bound " << bound << ": edge " << e << ", bound + step / 2 = " << half);
      CHECK(std::abs(static_cast<double>(e) - half) <= 4 * static_cast<double>(std::nextafter(e, 1e30f) - e));
      CHECK(std::nearbyint(e * inv) == top);
      CHECK(std::nearbyint(std::nextafter(e, 1e30f) * inv) == top + 1);
    }
}
