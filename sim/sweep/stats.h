// Statistics over seeds for `ptcsim sweep collect`: mean, sample standard deviation and the
// two-sided 95 % confidence interval of the mean from Student's t distribution.
// Contract: plain C++ (no SystemC, no I/O). With n values x_i:
//   mean = sum x_i / n;  std = sqrt(sum (x_i - mean)^2 / (n - 1))  (n >= 2, else NaN);
//   ci95 half-width = t_{0.975, n-1} * std / sqrt(n)               (n >= 2, else NaN),
// where t_{p, nu} is the p-quantile of Student's t with nu degrees of freedom. The quantile is
// computed, not tabulated: the t CDF through the regularized incomplete beta function
// (F(t) = 1 - I_{nu/(nu+t^2)}(nu/2, 1/2) / 2 for t >= 0, evaluated by its continued fraction),
// inverted by bisection to below 1e-12 relative.
#pragma once

#include <cstddef>
#include <vector>

namespace ptc::sim::sweep {

// Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1].
double incomplete_beta(double a, double b, double x);
// CDF of Student's t with nu > 0 degrees of freedom.
double student_t_cdf(double t, double nu);
// p-quantile (0 < p < 1) of Student's t with nu > 0 degrees of freedom.
double student_t_quantile(double p, double nu);

struct SampleStats {
  std::size_t n = 0;
  double mean = 0, std = 0, ci95 = 0;  // NaN where undefined (n = 0: all; n = 1: std and ci95)
};
SampleStats sample_stats(const std::vector<double>& x);

}  // namespace ptc::sim::sweep
