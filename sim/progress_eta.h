// The progress line's ETA (sim::Recorder::progress), estimated from the work left rather than from
// the simulated-time fraction alone. Contract: plain C++, no state; the Recorder keeps the inputs.
// A run's wall time is (a) scheduled evaluations -- their count is known in advance, each costs
// about the mean of those done -- plus (b) everything else (serving, monitor, trace), which goes
// with the progress fraction at the rate measured over recent progress intervals (not since the
// start, which includes elaboration and the policy's offline work):
//   ETA = eval_wall_s / evals_done * (evals_total - evals_done) + (1 - frac) / rate,
// rate = progress fraction per wall second outside evaluations. Early in a log-spaced run the
// fraction is tiny while most of the work (the evaluations) is already known: the old estimate
// wall * (1 - frac) / frac was then off by orders of magnitude (issue 16).
#pragma once

#include <cmath>
#include <cstdint>

namespace ptc::sim {

// NaN when nothing is known yet (no rate and no evaluation done while evaluations remain).
inline double progress_eta_s(double frac, double rate_per_s, int64_t evals_done, int64_t evals_total, double eval_wall_s) {
  if (frac >= 1) return 0;
  const int64_t left = evals_total > evals_done ? evals_total - evals_done : 0;
  double eta = 0;
  if (left > 0) {
    if (evals_done <= 0) return NAN;
    eta += eval_wall_s / static_cast<double>(evals_done) * static_cast<double>(left);
  }
  if (!(rate_per_s > 0)) return NAN;
  return eta + (1 - frac) / rate_per_s;
}

}  // namespace ptc::sim
