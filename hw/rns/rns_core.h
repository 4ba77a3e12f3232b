// The RNS tensor core as a device technology (docs/rns.md §7): the compiled workload's weight
// layers run on RNS tiles (RnsTile, one k x k block = one tile of dot-product length h = k) through
// the technology's own GEMM (Technology::mapped_gemm), with the phase error of every modulus
// channel taken from the same processes as the MRR weight banks:
//   - the ring-phase noise processes (static variation, DOCTOR's phase variation, the global
//     temperature drift): channel c of row i of a block on core X is the ring (X, i, c mod k) of
//     the core's k x k grid; its deterministic offset adds to the channel's phase error and its
//     per-read std adds in variance;
//   - the chip's thermal field (hw::Thermal): a ring's temperature deviation from the calibration
//     (lock) temperature dT gives the offset dphi_dk * dT;
//   - the channel's own per-read Gaussian phase noise sigma_phi.
// Offsets stay on retries (a retry redraws only the random part). Re-calibration (relock) re-bases
// the processes measured from a reference and the thermal lock temperature, as for the MRR bank.
//
// A channel read with phase error delta ~ N(mu, sigma^2) shifts the residue by round(delta m / 2pi),
// independently of the residue; gemm() samples these shifts exactly but cheaply (one uniform per
// clean block, rns_core.cpp) and decodes only the words with a shifted residue.
//
// Contract: as Technology and models::MappedGemm. gemm() is thread-safe and a pure function of
// (weights, noise instant, layer, group, draw, input); the draws of sample s come from
// rng.derive(draw_base + s).derive(layer).derive(group). Counters are summed per layer under a
// lock (one set of books: each word counted once, when computed).
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "hw/device/technology.h"
#include "hw/noise/noise_process.h"
#include "hw/physics/rng.h"
#include "hw/rns/rns_tile.h"
#include "models/compiler.h"
#include "models/mapped_gemm.h"

namespace ptc::hw::rns {

struct RnsCoreConfig {
  RnsTileSpec tile;
  double sigma_phi_rad = 0.0;             // per-read Gaussian phase noise of every channel
  double dphi_dk_rad = 0.0;               // channel phase error per kelvin of deviation from the lock temperature
  NoiseList noise;                        // ring-phase processes (others are ignored); no linear coupling
  std::vector<std::string> noise_labels;  // how messages name noise[i] (hw::DeviceBuild::noise_labels)
};

class RnsCore : public Technology, public models::MappedGemm {
 public:
  // Quantises (programs) every block of the workload. The workload must outlive this object.
  RnsCore(const models::CompiledWorkload& wl, const RnsCoreConfig& cfg, const RandomStream& rng);

  std::string name() const override { return "rns"; }
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override { return m_latent.at(layer).at(group); }
  void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) override;
  int64_t writes() const override { return m_writes; }
  bool thermally_coupled() const override { return true; }
  void set_ring_temperature_k(const std::vector<double>& dt_k) override;
  int64_t relock(int64_t step) override;
  double schedule_temperature_k(int64_t step) const override;
  models::MappedGemm* mapped_gemm() override { return this; }
  // Backward words of on-chip training (training_gemm.h): the tile's code and BFP, the channels'
  // phase errors of every core at the batch's first instant (the last set_times).
  std::unique_ptr<ChipBackwardGemm> backward_gemm(const RandomStream& stream) const override;
  // Selective re-calibration: the marked rings' phase-shifter settings re-written (one write per
  // programmed weight in a row of a block whose core has a marked ring among the row's channels),
  // their processes re-based; the accelerator re-bases their thermal lock.
  int64_t relock_rings(int64_t step, const std::vector<char>& rings) override;
  RingObservations ring_observations() const override;
  // On-chip training's backward words (ChipBackwardGemm on this core's placement) count as reads
  // and corrections of the rings they ran on.
  void add_ring_observations(const RingObservations& o) override;

  // The BFP weights the core computes with (noise-free), wn = w_q / max|w_q| per block.
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return true; }

  std::vector<int> output_adc_bits() const override;
  nlohmann::json resolved() const override;
  std::vector<std::pair<std::string, int64_t>> counters() const override;
  nlohmann::json layer_counters() const override;
  int64_t recomputations() const override { return total().retried; }
  void set_measuring_copy(bool on) override { m_copy = on; }
  bool recomputes() const override { return m_tile.spec_max_retries() > 0; }

  void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
            bool y_trans) override;

  const RnsTile& tile() const { return m_tile; }
  int channels() const { return m_tile.code().n() + m_tile.code().k(); }
  double sigma_phi_rad() const { return m_cfg.sigma_phi_rad; }  // per-read phase noise of every channel
  int64_t layers() const { return static_cast<int64_t>(m_counters.size()); }
  RrnsCounters counters(int64_t layer) const;
  RrnsCounters total() const;
  // Phase error of channel c on row i of core `core` at the first instant of the batch:
  // deterministic offset and per-read std (rad).
  double channel_offset_rad(int64_t core, int64_t i, int c) const;
  double channel_std_rad(int64_t core, int64_t i, int c) const;

 private:
  double offset_at(size_t slot, int64_t core, int64_t i, int c) const;
  double std_at(size_t slot, int64_t core, int64_t i, int c) const;

  const models::CompiledWorkload& m_wl;
  RnsCoreConfig m_cfg;
  CoreArray m_array;
  RandomStream m_rng;
  RnsTile m_tile;
  std::vector<std::vector<std::vector<float>>> m_latent;              // [layer][group] blocks
  std::vector<std::vector<std::vector<RnsTile::Weights>>> m_weights;  // [layer][group][block]
  std::vector<std::unique_ptr<PhaseNoise>> m_noise;                   // bound ring-phase processes
  std::vector<std::string> m_noise_where;                             // how messages name each one (noise[2] "name")
  int64_t m_writes = 0;
  uint64_t m_draw_base = 0;
  std::vector<int32_t> m_slot;               // per draw of the batch: index into m_offset / m_std
  std::vector<std::vector<float>> m_offset;  // per distinct step: process offsets [R, C, k, k] (rad)
  std::vector<std::vector<float>> m_std;     // per distinct step: per-read std of the processes (empty: none)
  std::vector<double> m_dt_k;                // ring temperature deviation (K), [cores, k, k] (empty: none)
  mutable std::mutex m_mutex;
  bool m_copy = false;                      // a Monte-Carlo copy's reads: counted nowhere
  std::vector<RrnsCounters> m_counters;     // per layer
  std::vector<int64_t> m_block_reads;       // per core: block reads (first attempts of k words each)
  std::vector<int64_t> m_row_retries;       // per core row [cores, k]: retried words
  std::vector<int64_t> m_ring_corrected;    // per ring [cores, k, k]: residues corrected on its channels
  std::vector<int64_t> m_ring_reads_added;  // per ring [cores, k, k]: reads of backward words (add_ring_observations)
};

}  // namespace ptc::hw::rns
