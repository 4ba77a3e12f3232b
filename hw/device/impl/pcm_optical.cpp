// Device "pcm_optical": optical PCM cells on ELight's transmission levels (hw/device/pcm_optical.h,
// docs/devices.md §3).
#include "hw/device/pcm_optical.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

class PcmOpticalDevice : public hw::DeviceModel {
 public:
  explicit PcmOpticalDevice(Params& p) {
    m_cfg.levels.levels = static_cast<int>(p.integer("levels"));
    m_cfg.levels.beta = p.num("beta");
    m_cfg.levels.t_up_s = p.num("t_up_s");
    m_cfg.levels.t_down_s = p.num("t_down_s");
    m_cfg.levels.e_up_j = p.num("e_up_j");
    m_cfg.levels.e_down_j = p.num("e_down_j");
    m_cfg.nu_opt = p.num("nu_opt");
    m_cfg.t0_s = p.num("t0_s");
    m_cfg.endurance_steps = p.num("endurance_steps");
    m_cfg.endurance_sigma = p.num("endurance_sigma");
    m_cfg.spare_rows = p.integer("spare_rows");
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    return std::make_unique<hw::PcmOptical>(b.wl, m_cfg, b.rng);
  }

 private:
  hw::PcmOpticalConfig m_cfg;
};

const hw::PcmLevelSpec lv;

const Registrar<hw::DeviceModel> reg{
    {"pcm_optical",
     "optical PCM cells on ELight's transmission levels",
     {{"levels", "", lv.levels, "transmission levels L (ELight: 16, 4 bits)", 2, 4096},
      {"beta", "", lv.beta, "level ratio T_j = beta^j (ELight: 0.872)", 1e-6, 0.999999},
      {"t_up_s", "s", lv.t_up_s, "time per Low->High level step (ELight: 0.5 us)", 0, 1},
      {"t_down_s", "s", lv.t_down_s, "time per High->Low level step (ELight: 20 us)", 0, 1},
      {"e_up_j", "J", lv.e_up_j,
       "energy per Low->High step (the default: 0.595 dB at beta 0.872 x 1 nJ/dB; a fixed value: it does not follow beta) "
       "[assumption]",
       0, 1},
      {"e_down_j", "J", lv.e_down_j, "energy per High->Low step (ELight ratio 40/9) [assumption]", 0, 1},
      {"nu_opt", "", 0.0,
       "transmission drift exponent (not characterised in the sources) [assumption]; weight-stationary mappings only (streaming "
       "re-writes each block before it is read)",
       0, 1},
      {"t0_s", "s", 20.0, "drift reference time after programming", 1e-9, 1e9},
      {"endurance_steps", "steps", 0.0,
       "median endurance of a cell in level steps, streaming mapping only (0: unlimited) [assumption]", 0, 1e18},
      {"endurance_sigma", "", 0.0, "cell-to-cell spread: std of ln(endurance) [assumption]", 0, 10},
      {"spare_rows", "rows", 0,
       "spare rows of k cells per core that policy row_remap moves worn rows to (ELight TCAD 2022 row-based remapping; "
       "needs endurance_steps > 0; 0: none)",
       0, 4096}},
     [](Params& p) { return std::make_unique<PcmOpticalDevice>(p); },
     {"mc_instances", "nonvolatile", "levels"}}};

}  // namespace
}  // namespace ptc::sim
