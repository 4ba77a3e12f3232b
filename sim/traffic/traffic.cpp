#include "sim/traffic/traffic.h"

#include <algorithm>
#include <cmath>

namespace ptc::sim {

int64_t poisson_count(double lambda, const hw::RandomStream& rs) {
  if (lambda <= 0) return 0;
  if (lambda > 64) return std::max<int64_t>(0, std::llround(lambda + std::sqrt(lambda) * rs.normal(0)));
  double u = rs.uniform(0), p = std::exp(-lambda), F = p;
  int64_t n = 0;
  while (u > F && n < 10000) {
    ++n;
    p *= lambda / static_cast<double>(n);
    F += p;
  }
  return n;
}

}  // namespace ptc::sim
