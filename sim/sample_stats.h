// Mean and sample standard deviation of per-instance (or per-chip) accuracies, as the trace
// reports them (accuracy, accuracy_std).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace ptc::sim {

// mean = sum x / n; sd with n - 1 in the denominator, NaN for fewer than two values and exactly 0
// when every value is the same (no rounding residue such as 1.6e-17).
inline void sample_mean_std(const std::vector<double>& xs, double& mean, double& sd) {
  mean = 0;
  for (double x : xs) mean += x / static_cast<double>(xs.size());
  sd = NAN;
  if (xs.size() < 2) return;
  if (std::all_of(xs.begin(), xs.end(), [&](double x) { return x == xs.front(); })) {
    sd = 0.0;
    return;
  }
  double v = 0;
  for (double x : xs) v += (x - mean) * (x - mean);
  sd = std::sqrt(v / static_cast<double>(xs.size() - 1));
}

}  // namespace ptc::sim
