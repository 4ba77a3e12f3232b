// Noise process "thermal_crosstalk" (docs/noise.md §4; law: hw/noise/noise_process.h).
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

std::unique_ptr<hw::NoiseProcess> make(Params& p) {
  hw::CrosstalkParams c;
  c.kappa_per_um = p.num("kappa_per_um");
  c.pitch_h_um = p.num("pitch_h_um");
  c.pitch_v_um = p.num("pitch_v_um");
  c.json_path = p.path();
  return hw::crosstalk_noise(c);
}

const Registrar<hw::NoiseProcess> reg{{"thermal_crosstalk",
                                       "static thermal crosstalk exp(-kappa d) inside each bank (docs/noise.md)",
                                       {{"kappa_per_um", "1/um", 0.1,
                                         "decay rate (experiments 0.1; class default 4.8); 0 is no decay, every ring of a bank "
                                         "coupled fully to every other (leave the process out for no crosstalk)",
                                         0, 100},
                                        {"pitch_h_um", "um", 60.0, "pitch between ring columns", 1e-3, 1e6},
                                        {"pitch_v_um", "um", 200.0, "pitch between ring rows", 1e-3, 1e6}},
                                       make}};

}  // namespace
}  // namespace ptc::sim
