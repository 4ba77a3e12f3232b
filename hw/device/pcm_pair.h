// PCM weights as differential conductance pairs with IBM aihwkit's PCMLike model
// (docs/devices.md §2): each block is mapped to g_max by its abs-max (SinglePair
// converter: g+ = max(w,0) s, g- = max(-w,0) s, s = g_max / max|W_block|); programming adds
// sigma_prog(g_T) noise to both devices (the "off" one too, clipped at 0) and draws a drift
// exponent nu per device from its target; a read at time t after programming applies the power
// law and a fresh 1/f read-noise draw.
// Time: set_time(t_inf_s) fixes the read instant and draws the read noise for it once (aihwkit's
// drift_analog_weights semantics: read noise is uncorrelated between time points, shared by the
// MVMs at one point). As a Technology, set_times() reads every layer group at the batch's first
// instant, t_s minus the time that group was last programmed (one read instant per batch: the
// deployment runtime keeps batches within one trace interval). Writes: one per device whose
// target conductance changes at programming.
// Several pairs per weight (aihwkit NPairConductanceConverter, f_lst = [f_0, ..., f_{N-1}],
// docs/devices.md §2.2): the weight maps onto W = |w| / max|W| x F g_max, F = sum f_i; pair i takes
// clamp((W - L_i) / f_i, 0, g_max) with L_i = g_max sum_{i' < i} f_i' (the less significant pairs
// fill first), every device has its own programming noise, drift exponent and read noise, and
// the weight reads sum_i f_i (g+_i - g-_i) / (F g_max).
// reconvert_at_read (docs/devices.md §2.3): reads as aihwkit's apply_drift_noise does, from the
// programmed weights converted to pairs again at each read instant, not from each device's state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hw/device/technology.h"
#include "hw/physics/pcm.h"
#include "hw/physics/pcm_law.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"

namespace ptc::hw {

struct PcmPairConfig {
  std::string name = "pcm";  // the device's registered name (Technology::name)
  // g_max_us maps the weights (SinglePair: max|W| -> g_max); with no `law`, all of it is the law.
  PcmLikeParams device;
  // The devices' stochastic law (hw/physics/pcm_law.h); nullptr: aihwkit's PCMLike with `device`
  // and q_from_programmed.
  std::shared_ptr<const PcmLaw> law;
  bool programming_noise = true, drift = true, read_noise = true;
  bool q_from_programmed = true;  // aihwkit code (true) or docs (false)
  PcmScaleTile scale_tile;        // conductance-scaling tile (default: per block)
  // Significance factors of the conductance pairs of one weight, least significant first
  // (aihwkit f_lst); {1}: one pair (SinglePair).
  std::vector<double> f_lst{1.0};
  // Conductance of a weight's logical zero, uS (aihwkit SinglePairConductanceConverter g_min):
  // both devices of a pair sit g_min above their SinglePair target, the weight range spans
  // g_max - g_min (docs/devices.md §2). One pair only.
  double g_min_us = 0.0;
  // aihwkit's reads (BaseNoiseModel.apply_drift_noise): at every read instant the programmed
  // weights are re-converted to conductance pairs (each scale tile's max|w_prog| -> the full range,
  // one device of a pair at g_min, several pairs re-filled from the least significant) and those
  // drift with the stored coefficients and take the read noise. false: every device drifts and is
  // read from its own programmed conductance (the physical state). docs/devices.md §2.
  bool reconvert_at_read = false;
};

class PcmPair : public Technology {
 public:
  PcmPair(const models::CompiledWorkload& wl, const PcmPairConfig& cfg, const RandomStream& rng);

  std::string name() const override { return m_cfg.name; }
  // (Re-)programs every block to its latent weights at t_s (default 0); returns the writes this took.
  int64_t program_all(double t_s = 0);
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  bool program_rewrites_group() const override { return true; }
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).latent;
  }
  // Read instant: seconds since the end of programming (>= 0) for every group.
  void set_time(double t_inf_s) { read_at(t_inf_s, true, t_inf_s); }
  void set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) override;
  const std::vector<int32_t>& scale_tiles(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).tile;
  }
  const std::vector<float>& row_scales(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).row_scale;
  }
  bool set_noiseless_reads(bool on) override;
  double time_s() const { return m_t_s; }
  int64_t writes() const override { return m_writes; }
  int64_t programmings() const { return m_programmings; }

  // Write-verify (docs/swim.md §1): read the pair's difference (the mean of spec.reads reads with
  // the read noise and drift of its instant) and re-program both devices (fresh programming noise
  // and drift exponents, drift restarts at t_s) until |read - target| <= tolerance x (g_max - g_min), the weight range.
  VerifyResult verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec,
                      double t_s) override;
  bool select_instance(int64_t k) override;
  int64_t instance() const { return m_instance; }
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return true; }

 private:
  void program_group(size_t l, size_t gi, double t_s);
  void draw_group(size_t l, size_t gi);  // the persistent draws of the group's last programming
  // Reads at t (drift) with the read draws of instant `draw_s` (NoiseTime::draw_t_s).
  void read_at(double t, bool relative, double draw_s);
  VerifyResult apply_verify(size_t l, size_t gi, size_t event);  // replays verify event `event`
  double read_us(double g_prog, double g_target, double nu, double t_inf_s, double xi) const;
  // The law's three results, checked (finite; conductances >= 0).
  double law_program(double g_target, double xi) const;
  double law_drift(double g_target, double xi) const;
  double law_read(double g_prog, double g_target, double c, double t_inf_s, double xi, bool noiseless) const;
  // Refuses a law that is not a pure function of its arguments (called twice at a few probe
  // points, other calls in between): the device replays draws and relies on equal answers.
  void check_law_pure() const;
  struct VerifyEvent {
    double t_s = 0;
    std::vector<uint32_t> idx;  // verified weights (block-layout index)
    VerifySpec spec;
  };
  struct Group {
    std::vector<float> latent;  // programmed weights [P, Q, k, k]
    double t_prog_s = 0;        // simulated time of the last programming
    int64_t programmings = 0;
    // One entry per device pair: pair i of weight j at i n + j (n weights; i < f_lst.size()).
    std::vector<float> g_target_pos, g_target_neg, g_prog_pos, g_prog_neg, nu_pos, nu_neg;
    std::vector<float> wn;         // effective normalised weights at the current time
    std::vector<float> scale;      // max|W| of each block's scale tile
    std::vector<int32_t> tile;     // scale tile of each block (empty: per block)
    std::vector<float> row_scale;  // column-wise scaling: max|W| of each (block, output row)'s tile row (empty: off)
    int64_t n_tiles = 0;
    std::vector<VerifyEvent> verifies;  // since the last programming, in order
    std::vector<double> t_dev;          // last write of each pair (empty: all at t_prog_s)
  };
  // read_at for one group with reconvert_at_read: aihwkit's re-conversion, then the reads.
  void read_reconverted(Group& g, double t_inf_s, const RandomStream& s);
  // Sub-stream of pair i >= 1 (programming and read draws): derive(kPairStream + i).
  static constexpr uint64_t kPairStream = 0x5041495200;
  const models::CompiledWorkload& m_wl;
  PcmPairConfig m_cfg;
  std::shared_ptr<const PcmLaw> m_law;
  std::vector<float> m_map_pos, m_map_neg;  // single-pair targets while splitting them over several pairs
  RandomStream m_base_rng, m_rng;           // the chip's stream; the selected instance's (== base for instance 0)
  int64_t m_instance = 0;
  std::vector<std::vector<Group>> m_groups;
  double m_t_s = 0, m_draw_s = 0;  // read instant (drift) and the instant naming its read draws
  bool m_relative = true, m_noiseless = false;
  int64_t m_writes = 0, m_programmings = 0;
};

}  // namespace ptc::hw
