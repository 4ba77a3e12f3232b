// SystemC time base for ptcsim. Contract: configure_kernel_time() must run before any sc_time is
// created (SystemC fixes the resolution at the first sc_time); it sets 1 ns, so the kernel counts
// 2^64 ns ~ 584 years (at SystemC's default 1 ps it would wrap silently after ~213 days). An
// sc_time built from seconds goes through a signed 64-bit count, so instants past 2^63 ns
// (~292 years) all became 2^63 ns: kMaxSimSeconds is the last whole second below it.
// check_horizon() rejects simulated horizons the kernel cannot represent.
#pragma once

#include <string>

namespace ptc::sim {

constexpr double kTimeResolutionS = 1e-9;
constexpr double kMaxSimSeconds = 9223372036.0;  // floor(2^63 ns / 1 s)

// Idempotent; throws ptc::Error if SystemC's resolution was already fixed to something else.
void configure_kernel_time();

// Largest representable simulated time, in seconds.
double max_sim_time_s();

// Throws ptc::Error naming `what` when horizon_s is not in (0, max_sim_time_s()].
void check_horizon(double horizon_s, const std::string& what);

}  // namespace ptc::sim
