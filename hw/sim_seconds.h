// Simulated time in seconds. The kernel counts integer nanoseconds (sim/sim_time.h fixes the
// resolution to 1 ns), and value / 1e9 is correctly rounded, so an instant scheduled at a whole
// number of seconds reads back exactly. sc_time::to_seconds() multiplies by an inexact 1e-15
// instead: one year (31,536,000 s) read back as 31536000.000000004, which moved every quantity
// keyed by the instant (a PCM read-noise draw is keyed by its nanosecond).
#pragma once

#include <systemc>

namespace ptc::hw {

inline double seconds_of(const sc_core::sc_time& t) {
  return static_cast<double>(t.value()) / 1e9;
}
inline double sim_now_s() {
  return seconds_of(sc_core::sc_time_stamp());
}

}  // namespace ptc::hw
