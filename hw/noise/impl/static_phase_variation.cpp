// Noise process "static_phase_variation" (docs/noise.md §6; law: hw/noise/noise_process.h).
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

const Registrar<hw::NoiseProcess> reg{{"static_phase_variation",
                                       "static per-ring fabrication phase offset, drawn once",
                                       {{"phase_sigma_rad", "rad", 0.01, "std of the per-ring offset", 0, 10}},
                                       [](Params& p) { return hw::static_phase_noise(p.num("phase_sigma_rad")); }}};

}  // namespace
}  // namespace ptc::sim
