#include "sim/dispatch/dispatcher.h"

#include <algorithm>

namespace ptc::sim {

void assign_least_loaded(const Arrivals& a, const std::vector<ChipState>& chips, const std::vector<bool>& allowed,
                         std::vector<int>& out) {
  const size_t n = chips.size();
  bool any = false;
  for (size_t c = 0; c < n; ++c) any = any || allowed[c];
  std::vector<double> free(n);
  for (size_t c = 0; c < n; ++c) free[c] = chips[c].queued_done_s;
  out.assign(static_cast<size_t>(a.n), 0);
  for (int64_t i = 0; i < a.n; ++i) {
    const double t = a.arrival_s.empty() ? a.ready_s : std::max(a.ready_s, a.arrival_s[static_cast<size_t>(i)]);
    size_t best = n;
    double best_done = 0;
    for (size_t c = 0; c < n; ++c) {
      if (any && !allowed[c]) continue;
      const double done = std::max(t, free[c]) + chips[c].service_s;
      if (best == n || done < best_done) best = c, best_done = done;
    }
    out[static_cast<size_t>(i)] = static_cast<int>(best);
    free[best] = best_done;
  }
}

}  // namespace ptc::sim
