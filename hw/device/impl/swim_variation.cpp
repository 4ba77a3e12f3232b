// Device "swim_variation": SWIM's abstract device-variation model (hw/device/swim_variation.h,
// docs/swim.md §1.2), to reproduce SWIM's own setting.
#include "hw/device/swim_variation.h"
#include "models/error.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

class SwimVariationDevice : public hw::DeviceModel {
 public:
  explicit SwimVariationDevice(Params& p) {
    m_cfg.dev_var = p.num("dev_var");
    m_cfg.write_var = p.num("write_var");
    m_cfg.device_bits = static_cast<int>(p.integer("device_bits"));
    m_cfg.bits_per_device = static_cast<int>(p.integer("bits_per_device"));
    m_cfg.weight_bits = static_cast<int>(p.integer("weight_bits"));
    m_cfg.verify_iterations = p.integer("verify_iterations");
    if (m_cfg.device_bits % m_cfg.bits_per_device)  // named by whichever of the two the scenario gave
      throw Error(p.path_of(p.given("bits_per_device") && !p.given("device_bits") ? "bits_per_device" : "device_bits") +
                  ": device_bits (" + std::to_string(m_cfg.device_bits) + ") must be a multiple of bits_per_device (" +
                  std::to_string(m_cfg.bits_per_device) + ")");
    // Write-verify narrows a device's variation (SWIM, section 3): a verified device noisier than
    // an unverified one would make verification lower the accuracy it exists to recover.
    if (m_cfg.write_var > m_cfg.dev_var)
      throw Error(p.path_of("write_var") + ": " + range_text(m_cfg.write_var) + " is above device.dev_var " +
                  range_text(m_cfg.dev_var) + "; the variation after write-verify must not exceed the variation without it");
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    return std::make_unique<hw::SwimVariation>(b.wl, m_cfg, b.rng);
  }

 private:
  hw::SwimVariationConfig m_cfg;
};

const Registrar<hw::DeviceModel> reg{
    {"swim_variation",
     "SWIM's abstract variation: bit-weighted Gaussian noise over N/m devices, scaled by the layer's max|W|, "
     "smaller for write-verified weights",
     {{"dev_var", "", 0.1, "sigma of a device that is not write-verified (SWIM: 0.1 in its README, 0.3 argparse default)", 0, 10},
      {"write_var", "", 0.03, "sigma of a write-verified device (SWIM: 0.03)", 0, 10},
      {"device_bits", "bits", 8, "N: bits per weight spread over the devices (SWIM: 8)", 1, 32},
      {"bits_per_device", "bits", 1, "m: bits per device (SWIM: 1)", 1, 32},
      {"weight_bits", "bits", 0, "weight quantisation before the noise, delta = max|W| / 2^bits (0: none; SWIM: 4 LeNet)", 0, 24},
      {"verify_iterations", "", 10, "read-backs and re-writes per verified weight (SWIM has no cost model; 5-20 is typical)", 1,
       1000}},
     [](Params& p) { return std::make_unique<SwimVariationDevice>(p); },
     {"mc_instances", "write_verify", "own_verify_model", "nonvolatile"}}};

}  // namespace
}  // namespace ptc::sim
