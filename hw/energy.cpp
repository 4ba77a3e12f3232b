#include "hw/energy.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "models/error.h"

namespace ptc::hw {

const char* weight_cell_name(WeightCell c) {
  return c == WeightCell::thermo_optic ? "thermo_optic" : "nonvolatile";
}

const char* adc_law_name(AdcLaw l) {
  return l == AdcLaw::linear ? "linear" : l == AdcLaw::walden ? "walden" : "thermal";
}

AdcLaw adc_law_from_name(const std::string& name) {
  for (AdcLaw l : {AdcLaw::linear, AdcLaw::walden, AdcLaw::thermal})
    if (name == adc_law_name(l)) return l;
  throw Error("unknown ADC energy law \"" + name + "\" (known: linear, walden, thermal)");
}

double adc_energy_pj(const EnergyParams& p, int bits) {
  if (bits <= 0) return 0.0;
  switch (p.adc_law) {
    case AdcLaw::walden:
      return p.adc_ref_pj * std::ldexp(1.0, bits - p.adc_ref_bits);
    case AdcLaw::thermal:
      return p.adc_ref_pj * std::ldexp(1.0, 2 * (bits - p.adc_ref_bits));
    case AdcLaw::linear:
      break;
  }
  return p.adc_ref_pj * static_cast<double>(bits) / p.adc_ref_bits;
}

double dac_energy_pj(const EnergyParams& p, int bits) {
  auto f = [](int n) { return std::ldexp(1.0, n) / (n + 1); };
  return bits <= 0 ? 0.0 : p.dac_ref_pj * f(bits) / f(p.dac_ref_bits);
}

double laser_wall_power_w(const EnergyParams& p, double fanout) {
  double dbm = p.pd_sensitivity_dbm + p.insertion_loss_db + 10 * std::log10(fanout);
  double mw = std::pow(10.0, dbm / 10) / p.wall_plug_efficiency * std::ldexp(1.0, p.input_bits) /
              (1 - std::pow(10.0, -p.extinction_ratio_db / 10));
  return mw * 1e-3;
}

InferenceCost inference_cost(const models::CompiledWorkload& wl, const EnergyParams& p, const StreamingWrites* streaming) {
  if (!(p.clock_ghz > 0) || !(p.wall_plug_efficiency > 0 && p.wall_plug_efficiency <= 1))
    throw Error("energy: clock_ghz > 0 and wall_plug_efficiency in (0, 1] required");
  const double R = static_cast<double>(wl.spec.rows), C = static_cast<double>(wl.spec.cols),
               k = static_cast<double>(wl.spec.block_size);
  const double cycles = static_cast<double>(wl.cycles_per_inference);
  InferenceCost c;
  c.compute_s = cycles / (p.clock_ghz * 1e9);
  c.conversions_dac = static_cast<int64_t>(cycles * C * k);
  c.conversions_adc = static_cast<int64_t>(cycles * R * C * k);
  c.dac_j = static_cast<double>(c.conversions_dac) * dac_energy_pj(p, p.dac_bits) * 1e-12;
  c.adc_j = static_cast<double>(c.conversions_adc) * adc_energy_pj(p, p.adc_bits) * 1e-12;
  c.tia_j = static_cast<double>(c.conversions_adc) * p.tia_pj * 1e-12;
  c.digital_j = static_cast<double>(c.conversions_adc) * p.digital_add_pj * 1e-12;
  c.laser_w = laser_wall_power_w(p, R * C * k);
  c.laser_j = c.laser_w * c.compute_s;
  // Weights stay resident when every block owns a core (stationary), when there is one chunk, and
  // for non-volatile cells on the cyclic mapping: every block keeps its own PCM array, programmed
  // at deployment, and the R x C cores are the periphery (laser, modulators, DACs, detectors, ADCs)
  // that serves the chunks one after another (docs/converters_energy.md §3). The device model
  // keeps the same resident state (conductances drift from deployment, writes are the controller's).
  // Re-writing the weights in every pass is the streaming mapping (ELight), priced by the device.
  const bool resident = wl.spec.mapping == "stationary" || wl.chunks <= 1 || p.cell == WeightCell::nonvolatile;
  const double rings = R * C * k * k;
  if (wl.spec.mapping == "streaming") {
    // ELight: every block programmed onto its core on every pass, at the device's level-step cost.
    if (!streaming) throw Error("energy: the streaming mapping needs the device's per-pass programming cost");
    c.reprogrammed_blocks = streaming->programmings;
    c.images_per_pass = std::max<int64_t>(wl.spec.images_per_pass, 1);
    c.reprogram_s = streaming->time_s;
    c.reprogram_j = streaming->energy_j;
  } else if (!resident) {
    c.reprogrammed_blocks = wl.blocks;  // every block is loaded once per inference (idle cores load none)
    // Thermo-optic rings hold one block's set points at a time: all rings re-tune at once and
    // settle, once per chunk.
    c.reprogram_s = static_cast<double>(wl.chunks) * p.ring_settle_us * 1e-6;
    c.reprogram_j = static_cast<double>(wl.chunks) * rings * p.ring_hold_mw * 1e-3 * p.ring_settle_us * 1e-6;
  }
  c.latency_s = c.compute_s + c.reprogram_s;
  // MRR rings need holding power for as long as the inference takes; PCM is non-volatile. The
  // settles are in reprogram_j (rings held while they settle), so hold_j covers the compute time:
  // the rings' power is counted once over the latency.
  c.hold_j = p.cell == WeightCell::thermo_optic ? rings * p.ring_hold_mw * 1e-3 * c.compute_s : 0.0;
  c.total_j = c.dac_j + c.adc_j + c.tia_j + c.digital_j + c.laser_j + c.hold_j + c.reprogram_j;
  return c;
}

std::vector<int64_t> core_active_cycles(const models::CompiledWorkload& wl, int64_t cores) {
  std::vector<int64_t> active(static_cast<size_t>(std::max<int64_t>(cores, 0)), 0);
  for (const auto& L : wl.layers) {
    std::set<std::pair<int32_t, int32_t>> pairs;  // (chunk, core) with a block
    for (const auto& t : L.gemms)
      for (size_t b = 0; b < t.core.size(); ++b) pairs.emplace(t.chunk.at(b), t.core[b]);
    for (const auto& [chunk, core] : pairs)
      if (core >= 0 && core < cores) active[static_cast<size_t>(core)] += L.num_vectors;
  }
  return active;
}

nlohmann::json InferenceCost::to_json() const {
  nlohmann::json j = {{"latency_s", latency_s},
                      {"compute_s", compute_s},
                      {"reprogram_s", reprogram_s},
                      {"energy_j", total_j},
                      {"energy_breakdown_j",
                       {{"dac", dac_j},
                        {"adc", adc_j},
                        {"pd_tia", tia_j},
                        {"digital_accumulate", digital_j},
                        {"laser", laser_j},
                        {"ring_hold", hold_j},
                        {"reprogram", reprogram_j}}},
                      {"laser_wall_power_w", laser_w},
                      {"dac_conversions", conversions_dac},
                      {"adc_conversions", conversions_adc},
                      {"reprogrammed_blocks", reprogrammed_blocks}};
  if (images_per_pass > 1)
    j["full_pass"] = {{"images_per_pass", images_per_pass},
                      {"latency_per_image_s", image_in_full_pass_s()},
                      {"energy_per_image_j", image_in_full_pass_j()}};
  return j;
}

double output_adcs_pj(const EnergyParams& p, const std::vector<int>& out_bits) {
  double pj = 0;
  for (int b : out_bits) pj += adc_energy_pj(p, b);
  return pj;
}

void price_output_adcs(InferenceCost& c, const EnergyParams& p, const std::vector<int>& out_bits) {
  if (out_bits.empty()) return;
  const int64_t outputs = c.conversions_adc, ch = static_cast<int64_t>(out_bits.size());
  const double pj = output_adcs_pj(p, out_bits);
  c.conversions_adc = outputs * ch;
  c.adc_j = static_cast<double>(outputs) * pj * 1e-12;
  c.tia_j = static_cast<double>(c.conversions_adc) * p.tia_pj * 1e-12;
  c.total_j = c.dac_j + c.adc_j + c.tia_j + c.digital_j + c.laser_j + c.hold_j + c.reprogram_j;
}

}  // namespace ptc::hw
