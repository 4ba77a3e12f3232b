// Monitor probe (docs/doctor.md §3): an identity read-back of every chunk.
#include <cmath>

#include "models/error.h"
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

double probe(Env& e) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  if (acc.tech().mapped_gemm() != nullptr)
    throw Error("probe: device \"" + acc.tech().name() +
                "\" computes with its own arithmetic (such as RNS residues): the identity read-back reads its effective weights, "
                "which its residue errors do not change, so the probe error would never move; watch its decoder's "
                "counters instead (rns_recalibration, docs/rns.md §7)");
  e.set_now();
  const uint64_t draw = e.next_draw();
  double num = 0, den = 0;
  std::vector<float> w;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
      acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, w, true);
      const auto& ideal = acc.ideal(static_cast<int64_t>(l), static_cast<int64_t>(g));
      for (size_t i = 0; i < w.size(); ++i) num += std::abs(static_cast<double>(w[i]) - ideal[i]), den += std::abs(ideal[i]);
    }
  const double err = den > 0 ? num / den : 0.0;
  e.charge_cycles(e.probe_cycles(), wl.chunks, "probe");
  e.log_event("probe", {{"error", err}, {"cycles", e.probe_cycles()}});
  return err;
}

}  // namespace ptc::sim::actions
