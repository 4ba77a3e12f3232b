// A device technology as the tensor cores see it over deployment time: programmed (latent)
// weights per compiled layer group, the device state they leave behind, and the effective weights
// the cores compute with at a given noise instant.
// Contract:
// - program() replaces the latent weights of one layer group ([P, Q, k, k], the compiled layout)
//   at simulated time t_s and returns the device writes it took (a device counts as written when
//   its programmed value changes; the first programming writes every device).
// - set_times() fixes the noise instant of the next realize() calls: draw d reads at
//   times[d - draw_base] (draws past the end use the last entry). Not thread-safe; call between
//   batches. realize() (BlockRealizer) stays const, thread-safe and a pure function of (state,
//   instant, draw).
// - Tile remapping (DOCTOR; docs/doctor.md §6) moves the row-blocks of a chunk to other core rows; a
//   technology that cannot remap says so with supports_remap() == false and throws if asked.
// - A technology whose numerics are not "effective weights" (the RNS modular core, docs/rns.md §7)
//   supplies its own GEMM with mapped_gemm(): the accelerator's executor then runs every weight
//   layer through it instead of the effective-weight HardwareGemm; the draw of sample s of a batch
//   is the draw base given to set_times() plus s. realize() still gives the weights such a core
//   computes with when noise-free (read-back, drift measurements).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "hw/device/block_realizer.h"
#include "hw/physics/pcm_levels.h"
#include "hw/physics/rng.h"
#include "models/mapped_gemm.h"

namespace ptc::hw {

// When a read happens: DOCTOR's schedule step (1 step = 1 served inference, plus remediation work
// converted to inferences) and simulated seconds since deployment start. draw_t_s (>= 0) names
// the instant whose random read draws the read takes (PCM read noise) when that is not t_s: a
// scheduled evaluation at T and the drift-compensation readout before it read one realisation,
// keyed to T, as aihwkit's drift_analog_weights(T) draws once for the readout and the forward
// passes after it (docs/pcm_drift_compensation.md §2). Drift still acts at t_s.
struct NoiseTime {
  int64_t step = 0;
  double t_s = 0;
  double draw_t_s = -1;
  double draw_instant_s() const { return draw_t_s >= 0 ? draw_t_s : t_s; }
};

// Write-verify of selected weights (SWIM, docs/swim.md §1). tolerance: accepted |read - target| of a
// weight as a fraction of its full scale (PCM: g_max of the pair's difference); max_iterations:
// re-writes at most; reads: read-backs averaged per verification read.
struct VerifySpec {
  double tolerance = 0.02;
  int64_t max_iterations = 20;
  int64_t reads = 1;
};
// What a write-verify did: weights verified, read-backs (each `reads` averaged reads counts as
// `reads`), device re-writes (a pair re-write is two device writes), weights still outside the
// tolerance at the cap.
struct VerifyResult {
  int64_t weights = 0, reads = 0, writes = 0, unconverged = 0;
  // Per block of the group (P Q entries): its read-backs and weight re-writes (one write pulse each,
  // all devices of the weight; the accelerator prices each core's share: a core verifies its
  // weights one after another).
  std::vector<int64_t> block_reads, block_rewrites;
  // Thermo-optic rings (MRR): re-tune rounds per block (the rings a round re-writes settle
  // together, one settle per round); empty for devices written cell by cell (PCM).
  std::vector<int64_t> block_rounds;
};

// Per-ring decoder observations, [cores, k, k] each: reads = word reads (attempts) through the
// ring's row, corrected = residues the decoder corrected on the ring's channels (free: a corrected
// word's residues that differ from its corrected value's locate the erring channels).
struct RingObservations {
  std::vector<int64_t> reads, corrected;
};

class ChipBackwardGemm;

class Technology : public BlockRealizer {
 public:
  virtual std::string name() const = 0;
  virtual int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) = 0;
  // True when program() re-writes every device of the group whatever changed (PCM pairs: fresh
  // programming noise and drift exponents for all, drift restarts), so all of them count as written
  // and every block takes write time; false: only devices whose value changes are written.
  virtual bool program_rewrites_group() const { return false; }
  virtual const std::vector<float>& programmed(int64_t layer, int64_t group) const = 0;
  virtual void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) = 0;
  void set_time(const NoiseTime& t) { set_times(0, {t}); }
  virtual bool supports_remap() const { return false; }
  // Row-block i (p mod R == i) of chunk `chunk` of (layer, group) runs on core row rows[i].
  virtual void set_tile_rows(int64_t layer, int64_t group, int64_t chunk, const std::vector<int>& rows);
  virtual std::vector<int> tile_rows(int64_t layer, int64_t group, int64_t chunk) const;
  // Conductance-scaling tiles of (layer, group) (PCM, docs/devices.md §2.1): the tile index of
  // every block; empty when every block is its own tile (the default, and every other technology).
  virtual const std::vector<int32_t>& scale_tiles(int64_t /*layer*/, int64_t /*group*/) const {
    static const std::vector<int32_t> none;
    return none;
  }
  // Digital scale per (block, output row) of (layer, group), [P Q k] (layout of HardwareGemm's
  // block gains): the mapping's per-output scale, applied to each block's partial sums after the
  // ADC, when the technology maps every output row to the full device range (PCM column-wise
  // weight scaling, docs/devices.md §2.1); the block scale of realize() is then 1. Empty: none.
  virtual const std::vector<float>& row_scales(int64_t /*layer*/, int64_t /*group*/) const {
    static const std::vector<float> none;
    return none;
  }
  // Reference reads for drift compensation (docs/pcm_drift_compensation.md §2): true re-reads the
  // current instant without read noise (aihwkit's reference: the programmed conductances), false
  // restores the ordinary read of that instant. Returns false if the technology has no read noise
  // to leave out (the reads are then unchanged).
  virtual bool set_noiseless_reads(bool /*on*/) { return false; }
  // Monte-Carlo chip instances (accuracy.instances; docs/devices.md §2.4): instance 0 is this chip;
  // instance k >= 1 is an independent copy with the same programming history (targets and times)
  // and its own random draws (programming noise, drift exponents, read noise). Switching redraws
  // from counter-based streams, so going back to an instance reproduces it exactly. Returns false
  // if the technology has no persistent per-chip draws to vary (then only k == 0 is accepted).
  // Programming is only allowed while instance 0 is selected.
  virtual bool select_instance(int64_t k) { return k == 0; }
  // While on, reads are a Monte-Carlo copy's measurements (accuracy.instances, docs/devices.md
  // §2.4): a device that keeps event counters or observations of its own reads (RNS) leaves them
  // alone, as they are the simulated chip's. The accelerator turns it on for every instance k >= 1,
  // whether or not the device varies its draws between instances.
  virtual void set_measuring_copy(bool on) { (void)on; }
  // Write-verify (SWIM, docs/swim.md §1): the devices of the weights marked in `mask` (block
  // layout [P, Q, k, k], nonzero = verify) of (layer, group) are read back at time t_s and re-written
  // until the read error is within the tolerance or the iteration cap is reached; the others keep
  // their state. The residual error is what that loop leaves. Part of the programming history:
  // Monte-Carlo instances replay it with their own draws. Devices without it throw.
  virtual VerifyResult verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec, double t_s);
  // Total device writes since construction.
  virtual int64_t writes() const = 0;
  // Cumulative write time (s, one cell after another within the technology's own schedule) and
  // energy (J) when the technology models them itself (ELight's asymmetric level steps); 0 when
  // the accelerator's energy table prices writes instead.
  virtual double write_time_s() const { return 0; }
  virtual double write_energy_j() const { return 0; }
  // True when the technology prices its writes itself (write_time_s / write_energy_j), even at 0 J.
  virtual bool prices_own_writes() const { return false; }
  // Devices on a transmission-level ladder (ELight's optical PCM, hw/physics/pcm_levels.h): the
  // ladder, and the signed levels [P, Q, k, k] of a layer group. Others: null, and signed_levels throws.
  virtual const PcmLevelSpec* level_spec() const { return nullptr; }
  virtual const std::vector<int>& signed_levels(int64_t layer, int64_t group) const;
  // Endurance budget of every physical cell [cores, k, k] in level steps (streaming mapping;
  // hw/streaming.h CellWear), null when unlimited; set_worn_cells() sticks the cells marked 1 at the
  // zero level in every block streamed through them (throws for devices without levels).
  virtual const std::vector<double>* endurance_budgets() const { return nullptr; }
  virtual void set_worn_cells(const std::vector<char>& worn);

  // Thermo-optic coupling (docs/noise.md §5, §7). A coupled technology (MRR)
  // turns each ring's temperature deviation from its lock temperature (K, [cores, k, k], the
  // core's deviation plus the ring's static offset) into a phase offset for the next reads;
  // relock() re-tunes every ring against the current temperature at DOCTOR step `step` and returns
  // the device writes that took. Uncoupled technologies (PCM) ignore both.
  virtual bool thermally_coupled() const { return false; }
  virtual void set_ring_temperature_k(const std::vector<double>& /*dt_k*/) {}
  virtual int64_t relock(int64_t /*step*/) { return 0; }
  // Selective re-calibration (RNS modulus channels, docs/rns.md §7): only the rings marked non-zero
  // in `rings` ([cores, k, k]) are re-tuned, each as relock() re-tunes it; returns the device writes
  // that took. Devices that re-calibrate only as a whole throw.
  virtual int64_t relock_rings(int64_t step, const std::vector<char>& rings);
  // What the device's decoder sees per ring (RNS: the residues it corrected, located on their
  // channel's ring), cumulative since construction; empty for devices without such counters.
  virtual RingObservations ring_observations() const { return {}; }
  // Adds the observations of words read outside the device's own GEMM (on-chip training's backward
  // words, ChipBackwardGemm::ring_observations) to ring_observations(); the same layout. Devices
  // without per-ring counters ignore them.
  virtual void add_ring_observations(const RingObservations& /*o*/) {}
  // The technology's own temperature model, if any (DOCTOR's global temperature: the
  // hotspot-weighted mean core temperature at step `step`, K); NaN when it has none.
  virtual double schedule_temperature_k(int64_t /*step*/) const;

  // The technology's own GEMM for the mapped layers (owned by the technology), or null: the
  // accelerator's effective-weight HardwareGemm (the default).
  virtual models::MappedGemm* mapped_gemm() { return nullptr; }
  // The backward products' arithmetic of on-chip training on a device with its own GEMM
  // (docs/onchip_training.md §2; noise draws from `stream`), or null: devices that compute with
  // effective weights train through the data path's converters (Accelerator::training_backward),
  // and an own-GEMM device without one cannot train on its arithmetic. A device that returns one
  // carries the registry tag "backward_arithmetic" (validate checks scenarios by the tag).
  virtual std::unique_ptr<ChipBackwardGemm> backward_gemm(const RandomStream& stream) const;
  // The ADCs that read one output of a core, by resolution (bits): empty = one ADC at the
  // configured hw.adc bits (the default); an RNS core reads one residue per modulus channel.
  virtual std::vector<int> output_adc_bits() const { return {}; }
  // What the device's parameters resolved to when they name a rule rather than the values (RNS
  // moduli "auto": the base and redundant moduli chosen), for stats.json; null for most devices.
  virtual nlohmann::json resolved() const { return nullptr; }
  // Event counters the technology keeps itself (cumulative since construction, e.g. the RNS
  // decoder's), (name, value) in a fixed order; empty for most technologies. They appear as extra
  // trace.csv columns and in summary.json; layer_counters() gives them per layer (stats.json).
  virtual std::vector<std::pair<std::string, int64_t>> counters() const { return {}; }
  virtual nlohmann::json layer_counters() const { return nullptr; }
  // Recomputations the technology made on the array since construction (RNS retries), each one
  // array cycle of one core (the accelerator charges them).
  virtual int64_t recomputations() const { return 0; }
  // Whether it can recompute at all (RNS with retries): the accelerator then classifies served
  // requests when they are booked, so that their recomputations lengthen their own service.
  virtual bool recomputes() const { return false; }
  // A stop request (SIGINT, SIGTERM), set by the accelerator for the duration of a stoppable
  // classification only. A GEMM that can run for minutes on one batch (RNS decoding under heavy
  // noise, with retries) checks it and returns early with its outputs unset; the accelerator then
  // drops the batch (Accelerator::classify).
  void set_stop_flag(const std::atomic<bool>* stop) { m_stop = stop; }

 protected:
  bool stop_requested() const { return m_stop && m_stop->load(std::memory_order_relaxed); }

 private:
  const std::atomic<bool>* m_stop = nullptr;
};

}  // namespace ptc::hw
