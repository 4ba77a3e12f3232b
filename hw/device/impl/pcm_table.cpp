// Device "pcm_table": PCM differential pairs whose conductance statistics over time come from a
// measurement table (hw/device/pcm_table.h, docs/devices.md §4).
#include "hw/device/pcm_table.h"
#include "hw/device/impl/pcm_scale_tile.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

class PcmTableDevice : public hw::DeviceModel {
 public:
  explicit PcmTableDevice(Params& p) : m_tile(p) {
    const std::string path = p.file("file");
    try {
      m_cfg.table = hw::load_pcm_table(path);
    } catch (const Error& e) {
      throw Error(p.path_of("file") + ": " + e.what());
    }
    m_cfg.persistent_fraction = p.num("persistent_fraction");
    m_cfg.t_eps_s = p.num("t_eps_s");
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    hw::PcmTableConfig cfg = m_cfg;
    cfg.scale_tile = m_tile.resolve();
    return std::make_unique<hw::PcmTable>(b.wl, cfg, b.rng);
  }

 private:
  hw::PcmTableConfig m_cfg;
  PcmScaleTileParams m_tile;
};

const Registrar<hw::DeviceModel> reg{
    {"pcm_table",
     "PCM differential pairs with drift/noise curves from a measurement table",
     {{"file",
       "",
       nullptr,
       "measurement table (CSV g_target_rel,t_s,g_mean_rel,g_std_rel or JSON), relative to base_dir (default: the top-level "
       "scenario file's folder)",
       -1e300,
       1e300,
       {},
       "string"},
      {"persistent_fraction", "", 1.0,
       "share of the variance drawn once per device at programming (1: device-to-device spread; 0: fresh read noise)", 0, 1},
      {"t_eps_s", "s", 20.0, "time offset of the interpolation in ln(t + t_eps) (aihwkit's t0)", 1e-9, 1e9},
      pcm_scale_tile_params()[0],
      pcm_scale_tile_params()[1],
      pcm_scale_tile_params()[2],
      pcm_scale_tile_params()[3]},
     [](Params& p) { return std::make_unique<PcmTableDevice>(p); },
     {"mc_instances", "read_draws", "nonvolatile"}}};

}  // namespace
}  // namespace ptc::sim
