// Device "pcm": PCM differential pairs with aihwkit's PCMLike model (hw/device/pcm_pair.h,
// docs/devices.md §2).
#include "hw/device/impl/pcm_scale_tile.h"
#include "hw/device/pcm_pair.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

class PcmDevice : public hw::DeviceModel {
 public:
  explicit PcmDevice(Params& p) : m_tile(p) {
    auto& d = m_cfg.device;
    d.g_max_us = p.num("g_max_us");
    d.t0_s = p.num("t0_s");
    m_cfg.programming_noise = p.flag("programming_noise");
    m_cfg.drift = p.flag("drift");
    m_cfg.read_noise = p.flag("read_noise");
    m_cfg.q_from_programmed = p.str("q_from") == "programmed";
    d.prog_scale = p.num("prog_scale");
    d.read_scale = p.num("read_scale");
    d.drift_scale = p.num("drift_scale");
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    hw::PcmPairConfig cfg = m_cfg;
    cfg.scale_tile = m_tile.resolve();
    return std::make_unique<hw::PcmPair>(b.wl, cfg, b.rng);
  }

 private:
  hw::PcmPairConfig m_cfg;
  PcmScaleTileParams m_tile;
};

std::vector<ParamSpec> pcm_params() {
  std::vector<ParamSpec> v{{"g_max_us", "uS", 25.0, "maximum conductance (aihwkit SinglePair)", 1e-6, 1e6},
                           {"t0_s", "s", 20.0, "drift reference time after programming", 1e-9, 1e9},
                           {"programming_noise", "", true, "aihwkit programming noise sigma_prog(g_T)"},
                           {"drift", "", true, "power-law drift with per-device nu"},
                           {"read_noise", "", true, "1/f read noise per read instant"},
                           {"q_from",
                            "",
                            "programmed",
                            "1/f amplitude from the programmed (aihwkit code) or target (docs) conductance",
                            -1e300,
                            1e300,
                            {"programmed", "target"}},
                           {"prog_scale", "", 1.0, "programming-noise scale", 0, 100},
                           {"read_scale", "", 1.0, "read-noise scale", 0, 100},
                           {"drift_scale", "", 1.0, "drift-exponent scale", 0, 100}};
  for (auto& s : pcm_scale_tile_params()) v.push_back(s);
  return v;
}

const Registrar<hw::DeviceModel> reg{{"pcm",
                                      "PCM differential pairs (aihwkit PCMLike)",
                                      pcm_params(),
                                      [](Params& p) { return std::make_unique<PcmDevice>(p); },
                                      {"mc_instances", "nonvolatile"}}};

}  // namespace
}  // namespace ptc::sim
