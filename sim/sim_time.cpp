#include "sim/sim_time.h"

#include <algorithm>
#include <systemc>

#include "hw/sim_seconds.h"
#include "models/error.h"

namespace ptc::sim {

void configure_kernel_time() {
  static bool done = false;
  if (done) return;
  try {
    sc_core::sc_set_time_resolution(1, sc_core::SC_NS);
  } catch (const std::exception& e) {
    // Already fixed: fine only if it is 1 ns.
    if (sc_core::sc_get_time_resolution() != sc_core::sc_time(1, sc_core::SC_NS))
      throw Error(std::string("SystemC time resolution is already fixed to ") + sc_core::sc_get_time_resolution().to_string() +
                  ", ptcsim needs 1 ns");
  }
  done = true;
}

double max_sim_time_s() {
  configure_kernel_time();
  return std::min(hw::seconds_of(sc_core::sc_max_time()), kMaxSimSeconds);
}

void check_horizon(double horizon_s, const std::string& what) {
  double max_s = max_sim_time_s();
  if (!(horizon_s > 0) || horizon_s > max_s)
    throw Error(what + ": horizon " + std::to_string(horizon_s) + " s is outside (0, " + std::to_string(max_s) +
                "] s, the span of SystemC's time at 1 ns resolution (2^63 ns, about 292 years)");
}

}  // namespace ptc::sim
