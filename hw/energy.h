// Energy and latency of one inference on the tensor-core array (docs/converters_energy.md §3-§5).
// Every default cites its source; [assumption] marks values with no primary source (sweep them).
//
// Per compute cycle of the R x C array of k x k cores (one input vector through one chunk):
//   DAC conversions C*k (inputs broadcast down the core rows), ADC + PD/TIA conversions R*C*k,
//   digital accumulations R*C*k; laser and ring hold power for the compute time.
// Chunk switching (cyclic mapping, more than one chunk): MRR cores are re-tuned once per chunk and
// inference (one thermo-optic settle of microseconds); non-volatile cells stay resident (one PCM
// array per block, the cores' periphery reads one at a time; nothing is written per inference).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/compiler.h"

namespace ptc::hw {

// How a weight cell holds and changes its value, which decides how it is priced: thermo-optic
// (MRR heaters: hold power while on, a settle time and energy per re-tune) or non-volatile (PCM:
// no hold power, energy and time per cell write). A device declares its kind (device registry).
enum class WeightCell { thermo_optic, nonvolatile };
const char* weight_cell_name(WeightCell c);

// How an ADC's energy per conversion scales with its bits b, anchored at the reference point
// (adc_ref_pj at adc_ref_bits; docs/converters_energy.md §3):
//   linear   E = E_ref * b / b_ref       (SAR: power ~ b f; SimPhony, Lightening-Transformer)
//   walden   E = E_ref * 2^(b - b_ref)   (Walden figure of merit, E = FOM * 2^b: R. H. Walden,
//            "Analog-to-digital converter survey and analysis", IEEE JSAC 17(4), 1999)
//   thermal  E = E_ref * 4^(b - b_ref)   (thermal-noise-limited regime, E ~ 4^b: B. Murmann, "A/D
//            converter trends: Power dissipation, scaling and digitally assisted architectures",
//            CICC 2008)
enum class AdcLaw { linear, walden, thermal };
const char* adc_law_name(AdcLaw l);
AdcLaw adc_law_from_name(const std::string& name);  // throws ptc::Error for an unknown name

struct EnergyParams {
  WeightCell cell = WeightCell::thermo_optic;
  double clock_ghz = 5.0;  // 5 GHz: DOTA, DPTC, SCATTER, Albireo (docs/converters_energy.md §5)
  int dac_bits = 8, adc_bits = 8, input_bits = 8;
  // Converters at reference points, scaled with bits (docs/converters_energy.md §3): SAR ADC E ~ N,
  // DAC E ~ 2^N / (N + 1).
  double adc_ref_pj = 1.48;  // 8 b, 10 GS/s SAR, 14 nm (SimPhony adc.yml)
  int adc_ref_bits = 8;
  AdcLaw adc_law = AdcLaw::linear;  // scaling of the ADC energy with bits (above)
  double dac_ref_pj = 3.57;         // 8 b, 14 GS/s, 16 nm (SimPhony dac.yml)
  int dac_ref_bits = 8;
  double tia_pj = 0.6;           // 3 mW at 5 GHz, 14 nm (SimPhony tia.yml)
  double digital_add_pj = 0.03;  // 32-bit accumulate [assumption]
  // Laser link budget (SimPhony energy.py): P_dBm = S_PD + IL + 10 log10(fan-out);
  // P_wall = 10^(P_dBm/10) mW / WPE * 2^b_in / (1 - 10^(-ER/10)).
  double pd_sensitivity_dbm = -27.0;  // SimPhony, SCATTER
  double insertion_loss_db = 3.0;     // coupling 0.7 (SCATTER) + rings, splitters, waveguide [assumption]
  double wall_plug_efficiency = 0.2;  // LT, SimPhony, SCATTER
  double extinction_ratio_db = 10.0;  // MZM, LT variant (SimPhony mzm.yml)
  // MRR rings
  double ring_hold_mw = 0.275;  // static hold power per ring (LT default.yaml)
  double ring_settle_us = 4.0;  // thermo-optic tuning latency (CrossLight Table II)
  // PCM cells
  double pcm_write_pj = 13.4;  // GST optical write (Rios et al. 2015)
  double pcm_write_us = 1.0;   // ns (optical) to us (electrical) [assumption]
  // Write-verify (docs/swim.md §1): one read-back of one weight (a pair's difference) [assumption];
  // a verification re-write of one pair is one write pulse (pcm_write_us) and two device writes.
  double pcm_verify_read_us = 0.1;
  double pcm_verify_read_pj = 2.0;
  // MRR write-verify (docs/swim.md §6): one read-back of one weight (a probe through the ring and
  // its detector) [assumption]; re-tuned rings settle together (ring_settle_us per round).
  double mrr_verify_read_us = 0.01;
  double mrr_verify_read_pj = 1.0;
};

struct InferenceCost {
  double compute_s = 0, reprogram_s = 0, latency_s = 0;
  double laser_w = 0;  // wall-plug laser power while computing
  double dac_j = 0, adc_j = 0, tia_j = 0, digital_j = 0, laser_j = 0, hold_j = 0, reprogram_j = 0, total_j = 0;
  int64_t conversions_dac = 0, conversions_adc = 0, reprogrammed_blocks = 0;
  // Streaming: images per pass (hw.mapping.images_per_pass). latency_s and total_j are a lone
  // image's (a whole pass); a full pass shares reprogram_s and reprogram_j among its images.
  int64_t images_per_pass = 1;
  double image_in_full_pass_s() const { return compute_s + reprogram_s / static_cast<double>(images_per_pass); }
  double image_in_full_pass_j() const { return total_j - reprogram_j + reprogram_j / static_cast<double>(images_per_pass); }
  nlohmann::json to_json() const;
};

double adc_energy_pj(const EnergyParams& p, int bits);
double dac_energy_pj(const EnergyParams& p, int bits);
// Wall-plug laser power (W) for `fanout` photodetectors.
double laser_wall_power_w(const EnergyParams& p, double fanout);

// Per-pass programming of the streaming mapping, priced by the device (hw/streaming.h StreamPlan):
// it replaces the per-chunk re-programming estimate of the energy table.
struct StreamingWrites {
  double time_s = 0, energy_j = 0;
  int64_t programmings = 0;  // block programmings per pass
};

// wl.spec.mapping "streaming" needs `streaming` (the device's per-pass cost), others ignore it.
InferenceCost inference_cost(const models::CompiledWorkload& wl, const EnergyParams& p,
                             const StreamingWrites* streaming = nullptr);

// Cycles per inference in which each core of the mapping holds a block: for every layer, every
// (chunk, core) pair that has a block computes the layer's num_vectors cycles; the other cycles
// the core idles (docs/converters_energy.md §3). `cores` entries (core index = models' core).
std::vector<int64_t> core_active_cycles(const models::CompiledWorkload& wl, int64_t cores);

// Energy of one core output's ADCs in pJ (the sum of the converter law over out_bits).
double output_adcs_pj(const EnergyParams& p, const std::vector<int>& out_bits);

// A device with several ADCs per core output (an RNS core: one per modulus channel at its own
// bits, `out_bits`; docs/rns.md §7): the cost's ADC conversions, ADC energy and PD/TIA energy
// scale to them and the total follows. No-op for an empty `out_bits` (one ADC at hw.adc.bits).
void price_output_adcs(InferenceCost& c, const EnergyParams& p, const std::vector<int>& out_bits);

}  // namespace ptc::hw
