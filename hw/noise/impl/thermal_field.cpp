// Noise process "thermal_field": the chip's physical thermal field (docs/noise.md §5), evaluated by
// the accelerator's hw::Thermal module; thermally coupled devices turn it into phase offsets.
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

std::unique_ptr<hw::NoiseProcess> make(Params& p) {
  hw::ThermalFieldParams f;
  f.t0_k = p.num("t0_k");
  f.daily_amplitude_k = p.num("daily_amplitude_k");
  f.daily_phase_rad = p.num("daily_phase_rad");
  f.ou_sigma_k = p.num("ou_sigma_k");
  f.ou_tau_s = p.num("ou_tau_s");
  f.self_heating_k = p.num("self_heating_k");
  f.rc_tau_s = p.num("rc_tau_s");
  f.ring_offset_sigma_k = p.num("ring_offset_sigma_k");
  f.sensor_noise_k = p.num("sensor_noise_k");
  f.sensor_resolution_k = p.num("sensor_resolution_k");
  return hw::thermal_field_noise(f);
}

const Registrar<hw::NoiseProcess> reg{
    {"thermal_field",
     "physical thermal field: ambient daily cycle + OU + per-core self-heating RC + ring offsets (docs/noise.md), applied to MRR "
     "phases at 0.037 rad/K",
     {{"t0_k", "K", 300.0, "mean ambient temperature (rings locked at deployment)", 0, 1000},
      {"daily_amplitude_k", "K", 1.0, "daily cycle amplitude (data hall 1-2 K, edge 5-10 K)", 0, 100},
      {"daily_phase_rad", "rad", 0.0, "daily cycle phase", -1e3, 1e3},
      {"ou_sigma_k", "K", 0.3, "OU stationary std (0.2-0.5 K)", 0, 100},
      {"ou_tau_s", "s", 1200.0, "OU time constant (10-30 min)", 1e-6, 1e12},
      {"self_heating_k", "K", 2.0, "steady-state rise at 100 % utilisation", 0, 1000},
      {"rc_tau_s", "s", 60.0, "package/heat-sink RC time constant", 1e-9, 1e12},
      {"ring_offset_sigma_k", "K", 0.0, "static per-ring fabrication offsets (K equivalent)", 0, 100},
      {"sensor_noise_k", "K", 0.01, "temperature sensor noise std", 0, 100},
      {"sensor_resolution_k", "K", 0.01, "sensor quantisation (0 = none)", 0, 100}},
     make}};

}  // namespace
}  // namespace ptc::sim
