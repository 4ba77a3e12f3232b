// Noise process "doctor_global_temperature" (docs/noise.md §3; law: hw/noise/noise_process.h).
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

std::unique_ptr<hw::NoiseProcess> make(Params& p) {
  hw::GlobalTemperatureParams g;
  g.schedule = p.str("schedule");
  g.cosine_amplitude_k = p.num("cosine_amplitude_k");
  g.hotspot = p.str("hotspot");
  g.t_max_steps = p.integer("t_max_steps");
  g.t0_k = p.num("t0_k");
  g.dlambda_dt_nm_per_k = p.num("dlambda_dt_nm_per_k");
  g.group_index = p.num("group_index");
  return hw::global_temperature_noise(g);
}

const Registrar<hw::NoiseProcess> reg{
    {"doctor_global_temperature",
     "DOCTOR global temperature drift x hotspot map, 0.037 rad/K (docs/noise.md)",
     {{"schedule",
       "",
       "linear",
       "linear (T0 + x), cosine (T0 + A(1 - cos 10x)), uneven (T0 + x^3); x = step/T_max",
       -1e300,
       1e300,
       {"linear", "cosine", "uneven"}},
      {"cosine_amplitude_k", "K", 0.25, "cosine amplitude (eval.py 0.25; scan_remap.py 0.5)", 0, 100},
      {"hotspot", "", "uniform", "uniform or corner (exp(-sqrt(i^2+j^2)))", -1e300, 1e300, {"uniform", "corner"}},
      {"t_max_steps", "steps", 20000, "schedule period", 1, 1e15},
      {"t0_k", "K", 300.0, "reference temperature", 0, 1000},
      {"dlambda_dt_nm_per_k", "nm/K", 0.102, "thermo-optic resonance shift (TM, Bogaerts 2012)", 0, 10},
      {"group_index", "", 4.3, "group index n_g", 1, 10}},
     make}};

}  // namespace
}  // namespace ptc::sim
