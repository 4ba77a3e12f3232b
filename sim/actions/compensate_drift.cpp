// aihwkit global drift compensation (docs/pcm_drift_compensation.md): a one-hot readout of every
// layer through the full noisy path; alpha_l = reference / current mean |y|, applied digitally.
#include <algorithm>
#include <cmath>

#include "sim/actions/actions.h"

namespace ptc::sim::actions {

void compensate_drift(Env& e, bool reference, std::vector<double>& ref) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  e.set_now();
  const uint64_t draw = e.next_draw();
  const int64_t k = wl.spec.block_size;
  std::vector<float> eff;
  int64_t cycles = 0;
  if (ref.empty()) ref.assign(wl.layers.size(), 0.0);
  Json alphas = Json::array();
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    const auto& L = wl.layers[l];
    double sum = 0;
    int64_t n = 0;
    for (size_t g = 0; g < L.gemms.size(); ++g) {
      const auto& t = L.gemms[g];
      acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, true);
      // One-hot input j returns column j of the effective matrix: mean |y| over all of them.
      for (int64_t r = 0; r < t.rows; ++r)
        for (int64_t c = 0; c < t.cols; ++c) sum += std::abs(eff[(((r / k) * t.Q + c / k) * k + r % k) * k + c % k]), ++n;
      cycles += t.cols * L.chunks / static_cast<int64_t>(L.gemms.size());
    }
    double readout = std::max(n ? sum / static_cast<double>(n) : 0.0, 1e-4);
    double alpha = 1.0;
    if (reference)
      ref[l] = readout;
    else
      alpha = ref[l] / readout;
    acc.set_output_gain(static_cast<int64_t>(l), alpha);
    alphas.push_back(alpha);
  }
  e.charge_cycles(cycles, wl.chunks, "compensation");
  e.log_event("compensation", {{"reference", reference}, {"cycles", cycles}, {"alpha", alphas}});
}

}  // namespace ptc::sim::actions
