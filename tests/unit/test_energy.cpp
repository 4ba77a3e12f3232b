// Energy and latency per inference against the published reference points and closed forms
// (docs/converters_energy.md).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "hw/energy.h"
#include "hw/hw_spec.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

TEST_CASE("converter energy scaling reproduces SimPhony's scaled reference points", "[energy]") {
  EnergyParams p;
  CHECK(adc_energy_pj(p, 8) == Approx(1.48));
  CHECK(adc_energy_pj(p, 4) == Approx(0.74).margin(0.005));  // "ADC 4 b at 5 GS/s (scaled) 0.74 pJ"
  CHECK(dac_energy_pj(p, 8) == Approx(3.57));
  CHECK(dac_energy_pj(p, 4) == Approx(0.40).margin(0.005));  // "DAC 4 b at 5 GS/s (scaled) 0.40 pJ"
  CHECK(adc_energy_pj(p, 0) == 0.0);
}

TEST_CASE("ADC energy laws: linear SAR, Walden 2^b and thermal-noise 4^b against their closed forms", "[energy]") {
  EnergyParams p;
  CHECK(p.adc_law == AdcLaw::linear);  // the default: every existing output unchanged
  // Walden's figure of merit from the 8-bit reference point: FOM = 1.48 pJ / 2^8 = 5.78125 fJ per
  // conversion step, E(b) = FOM 2^b; thermal-noise limited: E(b) = 1.48 pJ 4^(b - 8).
  const double fom_pj = 1.48 / 256;
  for (int b = 1; b <= 16; ++b) {
    p.adc_law = AdcLaw::linear;
    CHECK(adc_energy_pj(p, b) == Approx(1.48 * b / 8).epsilon(1e-12));
    p.adc_law = AdcLaw::walden;
    CHECK(adc_energy_pj(p, b) == Approx(fom_pj * std::pow(2.0, b)).epsilon(1e-12));
    p.adc_law = AdcLaw::thermal;
    CHECK(adc_energy_pj(p, b) == Approx(1.48 * std::pow(4.0, b - 8)).epsilon(1e-12));
  }
  p.adc_law = AdcLaw::walden;
  CHECK(adc_energy_pj(p, 6) == Approx(0.37));    // 1.48 / 4
  CHECK(adc_energy_pj(p, 14) == Approx(94.72));  // 1.48 x 64: a conventional core's b_out = 14 bits
  CHECK(adc_energy_pj(p, 0) == 0.0);
  // Blueprint's argument in numbers: three 6-bit residue ADCs ({63, 62, 61}) against one 14-bit ADC
  // for the same precision: 3 x 0.37 = 1.11 pJ vs 94.72 pJ (Walden), 3.33 vs 2.59 pJ (linear SAR).
  CHECK(3 * adc_energy_pj(p, 6) / adc_energy_pj(p, 14) == Approx(3.0 / 256));
  p.adc_law = AdcLaw::linear;
  CHECK(3 * adc_energy_pj(p, 6) / adc_energy_pj(p, 14) == Approx(18.0 / 14));
  // The reference point is the anchor of every law; the DAC law does not depend on it.
  for (AdcLaw l : {AdcLaw::linear, AdcLaw::walden, AdcLaw::thermal}) {
    p.adc_law = l;
    CHECK(adc_energy_pj(p, 8) == Approx(1.48));
    CHECK(dac_energy_pj(p, 6) == Approx(dac_energy_pj(EnergyParams{}, 6)));
    CHECK(adc_law_from_name(adc_law_name(l)) == l);
  }
  CHECK_THROWS_WITH(adc_law_from_name("murmann"), Catch::Contains("linear, walden, thermal"));
  // A whole inference: the ADC energy is conversions x the law's energy per conversion.
  models::Graph g = models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  p.adc_law = AdcLaw::walden;
  p.adc_bits = 6;
  InferenceCost c = inference_cost(wl, p);
  CHECK(c.adc_j == Approx(58066.0 * 128 * 0.37e-12));
  CHECK(c.dac_j == Approx(inference_cost(wl, EnergyParams{}).dac_j));
}

TEST_CASE("laser wall power from the link budget", "[energy]") {
  EnergyParams p;
  // -27 dBm + 3 dB + 10 log10(100) = -4 dBm = 0.398 mW; / 0.2 * 2^8 / (1 - 0.1)
  double want_w = std::pow(10.0, -0.4) * 1e-3 / 0.2 * 256 / 0.9;
  CHECK(laser_wall_power_w(p, 100) == Approx(want_w));
  p.input_bits = 4;
  CHECK(laser_wall_power_w(p, 100) == Approx(want_w / 16));
}

TEST_CASE("CNN3 on DOCTOR's array: conversions, compute time, chunk re-programming", "[energy]") {
  models::Graph g = models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  EnergyParams p;
  InferenceCost c = inference_cost(wl, p);
  CHECK(c.conversions_adc == 58066LL * 16 * 8);
  CHECK(c.conversions_dac == 58066LL * 4 * 8);
  CHECK(c.compute_s == Approx(58066 / 5e9));
  CHECK(c.reprogram_s == Approx(124 * 4e-6));  // 124 chunks x thermo-optic settling
  CHECK(c.latency_s == Approx(c.compute_s + c.reprogram_s));
  CHECK(c.adc_j == Approx(58066.0 * 128 * 1.48e-12));
  CHECK(c.total_j == Approx(c.dac_j + c.adc_j + c.tia_j + c.digital_j + c.laser_j + c.hold_j + c.reprogram_j));
  // The rings draw hold power once over the whole latency (compute and the 124 settles), not twice.
  const double ring_w = 4 * 4 * 8 * 8 * 0.275e-3;
  CHECK(c.hold_j + c.reprogram_j == Approx(ring_w * c.latency_s));
  CHECK(c.hold_j == Approx(ring_w * 58066 / 5e9));
  // Each block is loaded onto its core once per inference: the blocks, not chunks x cores.
  int64_t blocks = 0;
  for (const auto& L : wl.layers)
    for (const auto& t : L.gemms) blocks += t.P * t.Q;
  CHECK(c.reprogrammed_blocks == blocks);
  CHECK(blocks < 124 * 16);  // some chunks leave cores idle
  // PCM is non-volatile: no hold power, and every block keeps its own resident array, so the 124
  // chunks cost compute time only (the device's state is the one programmed at deployment).
  p.cell = WeightCell::nonvolatile;
  InferenceCost q = inference_cost(wl, p);
  CHECK(q.hold_j == 0.0);
  CHECK(q.reprogram_j == 0.0);
  CHECK(q.reprogram_s == 0.0);
  CHECK(q.reprogrammed_blocks == 0);
  CHECK(q.latency_s == Approx(58066 / 5e9));
  CHECK(q.total_j == Approx(c.dac_j + c.adc_j + c.tia_j + c.digital_j + c.laser_j));
  // A workload that fits (one chunk) keeps its weights resident.
  models::CompiledWorkload small =
      models::compile(models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/lenet5_fmnist.onnx"),
                      models::TilingSpec{64, 64, 8, "cyclic"});
  CHECK(inference_cost(small, EnergyParams{}).reprogram_s > 0);  // 5 layers = 5 chunks
  // The device name is kept for the caller to resolve in the device registry (test_scenario.cpp).
  const HwSpec mzi = parse_hw_spec(nlohmann::json::parse(R"({"device": {"name": "mzi"}})"));
  CHECK(mzi.device == "mzi");
  CHECK(mzi.device_path == "hw.device.name");
  CHECK(parse_hw_spec(nlohmann::json::parse(R"({"adc": {"bits": 4}, "clock_ghz": 8})")).energy.adc_bits == 4);
}

// Closed form of a core's active cycles (docs/converters_energy.md §3): under `cyclic`, core (r, c)
// holds a block of chunk (i, j) of a GEMM iff i R + r < P and j C + c < Q, so it computes
// num_vectors x ceil((P - r) / R) x ceil((Q - c) / C) cycles of it; under `streaming`, core i holds
// block-row g RC + i < P for all Q steps; under `stationary`, every block owns a core.
TEST_CASE("Per-core active cycles follow the mapping's closed form", "[energy]") {
  const models::Graph g = models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx");
  auto up = [](int64_t a, int64_t b) { return a > 0 ? (a + b - 1) / b : 0; };
  for (const char* mapping : {"cyclic", "streaming"}) {
    const int64_t R = 4, C = 4;
    const models::CompiledWorkload wl = models::compile(g, models::TilingSpec{R, C, 8, mapping});
    const std::vector<int64_t> got = core_active_cycles(wl, R * C);
    REQUIRE(got.size() == 16);
    int64_t busiest = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) {
        int64_t want = 0;
        for (const auto& L : wl.layers)
          for (const auto& t : L.gemms)
            want += std::string(mapping) == "cyclic" ? L.num_vectors * up(t.P - r, R) * up(t.Q - c, C)
                                                     : L.num_vectors * up(t.P - (r * C + c), R * C) * t.Q;
        CHECK(got[static_cast<size_t>(r * C + c)] == want);
        busiest = std::max(busiest, want);
      }
    // The busiest core computes in every cycle of an inference: chunks run one after another.
    CHECK(busiest == wl.cycles_per_inference);
  }
  const models::CompiledWorkload st = models::compile(g, models::TilingSpec{40, 40, 8, "stationary"});
  const std::vector<int64_t> got = core_active_cycles(st, st.blocks);
  int64_t want = 0, sum = 0;
  for (const auto& L : st.layers)
    for (const auto& t : L.gemms) want += L.num_vectors * t.P * t.Q;
  for (int64_t v : got) sum += v;
  CHECK(sum == want);
}
