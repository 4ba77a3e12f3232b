// Device "pcm": PCM differential pairs with aihwkit's PCMLike model (hw/device/pcm_pair.h,
// docs/devices.md §2): a PCM pair device (sim/pcm_law_device.h) whose law is PCMLike
// (hw/physics/pcm_law.h) with every coefficient by name.
#include "models/error.h"
#include "sim/pcm_law_device.h"

namespace ptc::sim {
// ptcsim's own definitions, declared in sim/pcm_law_device.h for `ptcsim device pcm`. A plug-in
// modelled on this file keeps its own helpers in an anonymous namespace (ptcsim exports these).
namespace builtin {

hw::PcmLikeParams pcm_like_params(Params& p) {
  hw::PcmLikeParams d;
  d.g_max_us = p.num("g_max_us");
  d.t0_s = p.num("t0_s");
  d.prog_scale = p.num("prog_scale");
  d.read_scale = p.num("read_scale");
  d.drift_scale = p.num("drift_scale");
  d.t_read_s = p.num("t_read_s");
  d.prog_c0 = p.num("prog_c0");
  d.prog_c1 = p.num("prog_c1");
  d.prog_c2 = p.num("prog_c2");
  d.prog_g_max_reference_us = p.num("prog_g_max_reference_us");
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
  if (d.nu_mu_min > d.nu_mu_max) throw Error("device.nu_mu_min: must be <= device.nu_mu_max");
  if (d.nu_sigma_min > d.nu_sigma_max) throw Error("device.nu_sigma_min: must be <= device.nu_sigma_max");
  return d;
}

}  // namespace builtin

namespace {

// aihwkit's PCMLikeNoiseModel with the device's parameters.
class AihwkitPcmLaw : public hw::PcmLikeLaw {
 public:
  explicit AihwkitPcmLaw(Params& p) : hw::PcmLikeLaw(builtin::pcm_like_params(p), p.str("q_from") == "programmed") {}
};

}  // namespace

namespace builtin {
std::vector<ParamSpec> pcm_like_law_params() {
  return {{"t0_s", "s", 20.0, "drift reference time after programming", 1e-9, 1e9},
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
           "programming noise sigma_prog = c0 + c1 u + c2 u^2 (u = g_T/g_max, fitted at g_max = prog_g_max_reference_us, "
           "scaled by g_max_us / prog_g_max_reference_us)",
           -100, 100},
          {"prog_c1", "uS", 1.9650, "programming-noise polynomial, linear coefficient", -100, 100},
          {"prog_c2", "uS", -1.1731, "programming-noise polynomial, quadratic coefficient", -100, 100},
          {"prog_g_max_reference_us", "uS", 25.0,
           "g_max at which prog_c0..2 were fitted: sigma_prog scales by g_max_us / this (aihwkit "
           "prog_coeff_g_max_reference: 25 for its default coefficients; with coefficients of your own aihwkit takes "
           "g_max, so set it to g_max_us to match)",
           1e-6, 1e6},
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
          {"read_q_max", "", 0.2, "Q_s upper clamp", 0, 10}};
}

}  // namespace builtin

namespace {
const Registrar<hw::DeviceModel> reg{
    pcm_law_device<AihwkitPcmLaw>("pcm", "PCM differential pairs (aihwkit PCMLike)", builtin::pcm_like_law_params())};

}  // namespace
}  // namespace ptc::sim
