// The stochastic law of one PCM device (docs/devices.md §2.5): what aihwkit's BaseNoiseModel
// lets its users replace (apply_programming_noise_to_conductance, generate_drift_coefficients,
// apply_drift_noise_to_conductance; Rasch et al., "A flexible and fast PyTorch toolkit for
// simulating training and inference on analog crossbar arrays", AICAS 2021). The PCM pair device
// (hw/device/pcm_pair.h) keeps the mapping of weights onto conductance pairs, the random streams,
// write-verify and the Monte-Carlo instances; a law only turns standard normals into conductances.
// Every method must be a pure function of its arguments (the device replays draws: Monte-Carlo
// instances, write-verify events, drift compensation's noiseless reads); PcmPair checks this at a
// few probe points when it is built.
#pragma once

#include <string>

#include "hw/physics/pcm.h"

namespace ptc::hw {

class PcmLaw {
 public:
  virtual ~PcmLaw() = default;
  // Conductance in uS right after programming a device to target g_target_us (0 <= g_T <= g_max)
  // for one standard normal xi. Called only when the device's programming noise is on (off: g_T).
  virtual double program_us(double g_target_us, double xi) const = 0;
  // The device's drift coefficient, drawn once per programming from its target, for one standard
  // normal xi (aihwkit: the drift exponent nu). Called only when the device's drift is on (off: 0,
  // and read_us must then not drift).
  virtual double drift_coefficient(double g_target_us, double xi) const = 0;
  // Conductance read t_inf_s >= 0 seconds after the device's programming, with drift coefficient
  // `drift` and one fresh standard normal xi for the read noise. noiseless: the same read without
  // read noise (xi is 0; the device's read noise is off, or drift compensation's reference reads).
  virtual double read_us(double g_prog_us, double g_target_us, double drift, double t_inf_s, double xi, bool noiseless) const = 0;
};

// A law's results as a device takes them (hw/physics/pcm_law.cpp), shared by the PCM pair device
// and `ptcsim device pcm`: each returns the law's answer or throws ptc::Error naming `device`, the
// call and the rule (conductances finite and >= 0, drift coefficients finite).
double checked_program_us(const PcmLaw& law, const std::string& device, double g_target_us, double xi);
double checked_drift_coefficient(const PcmLaw& law, const std::string& device, double g_target_us, double xi);
double checked_read_us(const PcmLaw& law, const std::string& device, double g_prog_us, double g_target_us, double drift,
                       double t_inf_s, double xi, bool noiseless);
// Refuses a law that is not a pure function of its arguments: every method the device calls (the
// ones its switches leave on) at a few probe points up to g_max_us, twice, must answer the same.
void check_pcm_law_pure(const PcmLaw& law, const std::string& device, double g_max_us, bool programming, bool drift,
                        bool read_noise);

// aihwkit's PCMLikeNoiseModel (hw/physics/pcm.h, docs/devices.md §2): the built-in "pcm" device's
// law. q_from_programmed: the 1/f amplitude from the programmed conductance (aihwkit's code) or
// the target (its docs).
class PcmLikeLaw : public PcmLaw {
 public:
  explicit PcmLikeLaw(const PcmLikeParams& p, bool q_from_programmed = true) : m_p(p), m_q_prog(q_from_programmed) {}
  double program_us(double g_target_us, double xi) const override { return pcm_program_us(m_p, g_target_us, xi); }
  double drift_coefficient(double g_target_us, double xi) const override { return pcm_draw_nu(m_p, g_target_us, xi); }
  double read_us(double g_prog_us, double g_target_us, double drift, double t_inf_s, double xi, bool noiseless) const override {
    if (noiseless) return g_prog_us * pcm_drift_factor(m_p, t_inf_s, drift);
    return pcm_read_us(m_p, g_prog_us, g_target_us, drift, t_inf_s, xi, m_q_prog);
  }
  const PcmLikeParams& params() const { return m_p; }

 private:
  PcmLikeParams m_p;
  bool m_q_prog;
};

}  // namespace ptc::hw
