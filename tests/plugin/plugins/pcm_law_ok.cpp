// A working PCM-law plug-in, one file (docs/devices.md §2.5): PCM pairs whose every device drifts
// with the same exponent nu, g(t) = g_prog ((t + t0) / t0)^-nu, programmed with a Gaussian error
// of sigma_rel g_max and read without read noise. Everything else (mapping, pairs, scaling tiles,
// Monte-Carlo instances, write-verify, drift compensation) is the built-in PCM pair device's.
// A drift factor shared by every weight is undone exactly by global drift compensation, which the
// plug-in test checks end to end.
#include <algorithm>
#include <cmath>

#include "sim/pcm_law_device.h"

namespace {
using namespace ptc;

class UniformDrift : public hw::PcmLaw {
 public:
  explicit UniformDrift(sim::Params& p)
      : m_g_max(p.num("g_max_us")), m_nu(p.num("nu")), m_t0(p.num("t0_s")), m_sigma(p.num("sigma_rel")) {}
  double program_us(double g_target_us, double xi) const override {
    return std::clamp(g_target_us + m_sigma * m_g_max * xi, 0.0, m_g_max);
  }
  double drift_coefficient(double, double) const override { return m_nu; }
  double read_us(double g_prog_us, double, double drift, double t_inf_s, double, bool) const override {
    return g_prog_us * std::pow((t_inf_s + m_t0) / m_t0, -drift);
  }

 private:
  double m_g_max, m_nu, m_t0, m_sigma;
};

const sim::Registrar<hw::DeviceModel> reg{sim::pcm_law_device<UniformDrift>(
    "test_pcm_uniform_drift", "test plug-in: PCM pairs drifting with one exponent, no read noise",
    {{"nu", "", 0.05, "drift exponent of every device", 0, 1},
     {"t0_s", "s", 20.0, "drift reference time", 1e-9, 1e9},
     {"sigma_rel", "", 0.0, "programming error std in units of g_max", 0, 1}})};
}  // namespace
