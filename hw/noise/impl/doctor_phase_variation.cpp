// Noise process "doctor_phase_variation" (docs/noise.md §2; law: hw/noise/noise_process.h).
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

std::unique_ptr<hw::NoiseProcess> make(Params& p) {
  hw::PhaseVariationParams v;
  v.schedule = p.str("schedule");
  v.t_max_steps = p.integer("t_max_steps");
  v.momentum = p.num("momentum");
  v.min_std_rad = p.num("min_std_rad");
  v.core_src = p.str("core_src");
  v.core_tgt = p.str("core_tgt");
  v.core_mean_mode = p.str("core_mean_mode");
  v.smoothing_sigma_px = p.num("smoothing_sigma_px");
  return hw::phase_variation_noise(v);
}

const Registrar<hw::NoiseProcess> reg{
    {"doctor_phase_variation",
     "DOCTOR phase variation: drifting per-ring std map, fresh zero-mean noise per chunk and inference (docs/noise.md)",
     {{"schedule",
       "",
       "high",
       "std schedule: high (mean 0.025x, std 0.01x+0.005) or low (0.005x, 0.004x+0.002)",
       -1e300,
       1e300,
       {"high", "low"}},
      {"t_max_steps", "steps", 20000, "x = (step mod T_max) / T_max", 1, 1e15},
      {"momentum", "", 0.9, "std map update S <- m S + (1-m) S_new", 0, 0.999999},
      {"min_std_rad", "rad", 0.001, "clamp of drawn stds", 0, 10},
      {"core_src", "", "edge", "core mean map at start (x 1e-4, halved)", -1e300, 1e300, {"edge", "corner", "upper_edge"}},
      {"core_tgt", "", "corner", "core mean map target (x 1e-3)", -1e300, 1e300, {"edge", "corner", "upper_edge"}},
      {"core_mean_mode",
       "",
       "converging",
       "converging (intended) or frozen (released code)",
       -1e300,
       1e300,
       {"converging", "frozen"}},
      {"smoothing_sigma_px", "px", 0.05, "Gaussian smoothing of the merged map", 0, 100}},
     make}};

}  // namespace
}  // namespace ptc::sim
