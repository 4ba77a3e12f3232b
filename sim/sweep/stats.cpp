#include "sim/sweep/stats.h"

#include <cmath>
#include <limits>

namespace ptc::sim::sweep {
namespace {

// Continued fraction of the incomplete beta function (modified Lentz), valid for
// x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));  // even step
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::fabs(d) < tiny) d = tiny;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));  // odd step
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::fabs(d) < tiny) d = tiny;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps) break;
  }
  return h;
}

}  // namespace

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // x^a (1-x)^b / (a B(a,b)), in logs.
  const double lfront = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(lfront) * beta_cf(a, b, x) / a;
  return 1 - std::exp(lfront) * beta_cf(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double nu) {
  const double tail = 0.5 * incomplete_beta(nu / 2, 0.5, nu / (nu + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double nu) {
  if (!(p > 0 && p < 1) || !(nu > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1 - p, nu);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, nu) < p) hi *= 2;  // bracket (nu = 1, p = 0.975: 12.7)
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, nu) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

SampleStats sample_stats(const std::vector<double>& x) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SampleStats s;
  s.n = x.size();
  s.mean = s.std = s.ci95 = nan;
  if (x.empty()) return s;
  // Deviations from the first value (shifted data): equal values give exactly their value and
  // a std of exactly 0, and large offsets do not cancel digits.
  const double x0 = x.front();
  double sum = 0;
  for (double v : x) sum += v - x0;
  const double dmean = sum / static_cast<double>(s.n);
  s.mean = x0 + dmean;
  if (s.n < 2) return s;
  double ss = 0;
  for (double v : x) ss += (v - x0 - dmean) * (v - x0 - dmean);
  const double nu = static_cast<double>(s.n - 1);
  s.std = std::sqrt(ss / nu);
  s.ci95 = student_t_quantile(0.975, nu) * s.std / std::sqrt(static_cast<double>(s.n));
  return s;
}

}  // namespace ptc::sim::sweep
