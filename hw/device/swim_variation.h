// SWIM's abstract device-variation model (Yan, Hu, Shi, "SWIM: Selective Write-Verify for
// Computing-in-Memory Neural Accelerators", DAC 2022, §3 and its public code; docs/swim.md §1.2),
// offered as a device so SWIM's own setting can be reproduced exactly:
// - each weight is held by N/m devices of m bits; every device gets Gaussian noise of standard
//   deviation sigma weighted by its bit significance and scaled by the layer's largest |weight|:
//   dw = max|W_layer| * sum_{i=1..N/m} 2^(-i m) eps_i. The sum is drawn as one normal of standard
//   deviation sqrt(sum_i 4^(-i m)) (0.577 for N = 8, m = 1), which has exactly that distribution;
// - sigma = write_var for write-verified weights, dev_var for the others; a weight's unit draw is
//   the same in both states (common random numbers: verifying a weight shrinks its own error);
// - optional weight quantisation first (SWIM's QuantFunction: delta = max|W_layer| / 2^bits,
//   round to the nearest multiple);
// - no drift and no read noise: the draws are persistent per chip (one per Monte-Carlo instance)
//   and per programming; re-programming a group redraws it and clears its verified marks;
// - write-verify costs what SWIM assumes without a model of its own: verify_iterations read-backs
//   and weight re-writes per verified weight (N/m device writes each).
#pragma once

#include <vector>

#include "hw/device/technology.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"

namespace ptc::hw {

struct SwimVariationConfig {
  double dev_var = 0.1, write_var = 0.03;
  int device_bits = 8, bits_per_device = 1;  // N and m
  int weight_bits = 0;                       // 0: no quantisation
  int64_t verify_iterations = 10;
};

class SwimVariation : public Technology {
 public:
  SwimVariation(const models::CompiledWorkload& wl, const SwimVariationConfig& cfg, const RandomStream& rng);
  std::string name() const override { return "swim_variation"; }
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) override;
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override {
    return m_groups.at(layer).at(group).latent;
  }
  void set_times(uint64_t, const std::vector<NoiseTime>& times) override;
  VerifyResult verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec,
                      double t_s) override;
  bool select_instance(int64_t k) override;
  int64_t writes() const override { return m_writes; }
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;
  bool shared_across_draws() const override { return true; }
  // std(dw) / (sigma max|W|) = sqrt(sum_i 4^(-i m)).
  double unit_std() const { return m_unit; }
  int64_t devices_per_weight() const { return m_devices; }

 private:
  struct Group {
    std::vector<float> latent, z, wn;
    std::vector<uint8_t> verified;
    int64_t programmings = 1;
  };
  void draw(size_t l, size_t g);
  void refresh_layer(size_t l);
  const models::CompiledWorkload& m_wl;
  SwimVariationConfig m_cfg;
  RandomStream m_base_rng, m_rng;
  int64_t m_instance = 0, m_writes = 0, m_devices = 8;
  double m_unit = 0;
  std::vector<std::vector<Group>> m_groups;
  std::vector<float> m_layer_max;
};

}  // namespace ptc::hw
