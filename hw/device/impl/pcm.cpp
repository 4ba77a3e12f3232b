// Device "pcm": PCM differential pairs with aihwkit's PCMLike model (hw/device/pcm_pair.h,
// docs/devices.md §2).
#include "hw/device/impl/pcm_scale_tile.h"
#include "hw/device/pcm_pair.h"
#include "models/error.h"
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
    d.t_read_s = p.num("t_read_s");
    d.prog_c0 = p.num("prog_c0");
    d.prog_c1 = p.num("prog_c1");
    d.prog_c2 = p.num("prog_c2");
    d.nu_mu_a = p.num("nu_mu_a");
    d.nu_mu_b = p.num("nu_mu_b");
    d.nu_mu_min = p.num("nu_mu_min");
    d.nu_mu_max = p.num("nu_mu_max");
    d.nu_sigma_a = p.num("nu_sigma_a");
    d.nu_sigma_b = p.num("nu_sigma_b");
    d.nu_sigma_min = p.num("nu_sigma_min");
    d.nu_sigma_max = p.num("nu_sigma_max");
    d.read_q_c = p.num("read_q_c");
    d.read_q_exp = p.num("read_q_exp");
    d.read_q_floor = p.num("read_q_floor");
    d.read_q_max = p.num("read_q_max");
    m_cfg.f_lst = p.nums("f_lst");
    if (m_cfg.f_lst.empty() || m_cfg.f_lst.size() > 8)
      throw Error("device.f_lst: one to eight conductance pairs per weight (one significance factor each), got " +
                  std::to_string(m_cfg.f_lst.size()));
    if (d.nu_mu_min > d.nu_mu_max) throw Error("device.nu_mu_min: must be <= device.nu_mu_max");
    if (d.nu_sigma_min > d.nu_sigma_max) throw Error("device.nu_sigma_min: must be <= device.nu_sigma_max");
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
  std::vector<ParamSpec> v{
      {"g_max_us", "uS", 25.0, "maximum conductance (aihwkit SinglePair)", 1e-6, 1e6},
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
      {"drift_scale", "", 1.0, "drift-exponent scale", 0, 100},
      // aihwkit PCMLikeNoiseModel's fixed laws, by name (docs/devices.md §2)
      {"t_read_s", "s", 250e-9, "read duration t_read in the 1/f read-noise time factor", 1e-15, 1e3},
      {"prog_c0", "uS", 0.26348,
       "programming noise sigma_prog = c0 + c1 u + c2 u^2 (u = g_T/g_max, at g_max 25 uS, scaled by g_max/25)", -100, 100},
      {"prog_c1", "uS", 1.9650, "programming-noise polynomial, linear coefficient", -100, 100},
      {"prog_c2", "uS", -1.1731, "programming-noise polynomial, quadratic coefficient", -100, 100},
      {"nu_mu_a", "", -0.0155, "drift-exponent mean mu_nu = clamp(a ln g_rel + b, min, max): slope a", -10, 10},
      {"nu_mu_b", "", 0.0244, "mu_nu offset b", -10, 10},
      {"nu_mu_min", "", 0.049, "mu_nu lower clamp", 0, 10},
      {"nu_mu_max", "", 0.1, "mu_nu upper clamp", 0, 10},
      {"nu_sigma_a", "", -0.0125, "drift-exponent spread sigma_nu = clamp(a ln g_rel + b, min, max): slope a", -10, 10},
      {"nu_sigma_b", "", -0.0059, "sigma_nu offset b", -10, 10},
      {"nu_sigma_min", "", 0.008, "sigma_nu lower clamp", 0, 10},
      {"nu_sigma_max", "", 0.045, "sigma_nu upper clamp", 0, 10},
      {"read_q_c", "", 0.0088, "1/f read-noise amplitude Q_s = min(c / max(g_rel^e, floor), max): c", 0, 10},
      {"read_q_exp", "", 0.65, "Q_s exponent e", 0, 10},
      {"read_q_floor", "", 1e-3, "Q_s denominator floor", 1e-12, 1},
      {"read_q_max", "", 0.2, "Q_s upper clamp", 0, 10},
      {"f_lst",
       "",
       Json::array({1.0}),
       "conductance pairs per weight and their significance factors, least significant first (aihwkit "
       "NPairConductanceConverter f_lst; [1]: SinglePair): the weight maps onto sum f_i g_max, the lower pairs fill "
       "first, each device drawing its own noise and drift (docs/devices.md §2.2)",
       1e-3,
       1e3,
       {},
       "number[]"}};
  for (auto& s : pcm_scale_tile_params()) v.push_back(s);
  return v;
}

const Registrar<hw::DeviceModel> reg{{"pcm",
                                      "PCM differential pairs (aihwkit PCMLike)",
                                      pcm_params(),
                                      [](Params& p) { return std::make_unique<PcmDevice>(p); },
                                      {"mc_instances", "write_verify", "nonvolatile"}}};

}  // namespace
}  // namespace ptc::sim
