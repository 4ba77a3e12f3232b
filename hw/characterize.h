// Device characterisation (the data behind `ptcsim device ...`): Monte-Carlo statistics of single
// devices under the published models, so users can calibrate noise settings against their own
// measurements. Deterministic for a given seed (counter-based streams).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/physics/mrr.h"
#include "hw/physics/pcm.h"
#include "hw/physics/pcm_law.h"

namespace ptc::hw {

struct PcmEffects {
  bool programming = true, drift = true, read_noise = true;
  bool q_from_programmed = true;  // aihwkit code (true) or docs (false), IBM/aihwkit issue #436
};

struct PcmCharacterization {
  std::vector<double> times_s, g_mean_us, g_std_us;
};

// `samples` devices of `law` programmed to g_target_rel * g_max_us, read at each time after
// programming, as the PCM pair device draws them: one standard normal per device for programming,
// one for its drift coefficient and one per read; results checked as the device checks them
// (errors name `device`; the law must be pure). fx.q_from_programmed is the built-in law's (below).
PcmCharacterization characterize_pcm(const PcmLaw& law, const std::string& device, double g_max_us, double g_target_rel,
                                     const std::vector<double>& times_s, int64_t samples, uint64_t seed,
                                     const PcmEffects& fx = {});
// The built-in law, aihwkit's PCMLike with p (and fx.q_from_programmed), g_max p.g_max_us.
PcmCharacterization characterize_pcm(const PcmLikeParams& p, double g_target_rel, const std::vector<double>& times_s,
                                     int64_t samples, uint64_t seed, const PcmEffects& fx = {});

struct MrrCharacterization {
  std::vector<double> weights, effective_mean, effective_std;
  double scale = 0;             // block scale S = max|w| / weight_scale
  double phase_per_kelvin = 0;  // rad/K used for delta_t_k
};

// One block holding `weights`, encoded as DOCTOR does, read with a uniform temperature offset and
// fresh Gaussian phase noise (std phase_noise_rad) per sample.
MrrCharacterization characterize_mrr(const MrrRing& ring, const std::vector<double>& weights, double delta_t_k,
                                     double phase_noise_rad, double phase_per_kelvin, int64_t samples, uint64_t seed);

}  // namespace ptc::hw
