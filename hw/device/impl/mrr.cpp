// Device "mrr": DOCTOR's microring weight banks (hw/device/mrr_bank.h, docs/devices.md §1).
#include "hw/device/mrr_bank.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

class MrrDevice : public hw::DeviceModel {
 public:
  explicit MrrDevice(Params& p) {
    m_ring.a = p.num("a");
    m_ring.r = p.num("r");
    m_tuning_sigma = p.num("tuning_sigma_rad");
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    hw::MrrBankConfig cfg;
    cfg.ring = m_ring;
    cfg.noise = b.noise;
    cfg.noise_labels = b.noise_labels;
    cfg.tuning_sigma_rad = m_tuning_sigma;
    cfg.instances = b.instances;
    return std::make_unique<hw::MrrBank>(b.wl, cfg, b.rng);
  }

 private:
  hw::MrrRing m_ring;
  double m_tuning_sigma = 0;
};

const Registrar<hw::DeviceModel> reg{
    {"mrr",
     "microring resonator weight banks (DOCTOR)",
     {{"a", "", 0.865, "round-trip amplitude attenuation (DOCTOR MRRConfig_5um_LQ)", 1e-6, 0.999999},
      {"r", "", 0.87, "self-coupling (DOCTOR MRRConfig_5um_LQ)", 1e-6, 0.999999},
      {"tuning_sigma_rad", "rad", 0.0,
       "std of each ring write's tuning error (0: exact set points; docs/swim.md §6) [assumption]", 0, 1}},
     [](Params& p) { return std::make_unique<MrrDevice>(p); },
     {"remap", "mc_instances", "write_verify", hw::kRingPhase, hw::kTemperature, "thermo_optic"}}};

}  // namespace
}  // namespace ptc::sim
