// DOCTOR's variation-aware tile remapping (docs/doctor.md §6): every row-block of a
// chunk is tried on every core row (R cyclic shifts, one noisy read-back each); the cost of
// row-block i on tile t is the salience-weighted error (|g^T e|, + 1/2 sum h e^2, or ||e||_1),
// and a minimum-cost assignment per chunk picks the rows.
#include <cmath>

#include "models/assignment.h"
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

RemapResult remap(Env& e, const RemapSpec& spec, const std::string& reason) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  if (!acc.tech().supports_remap())
    throw Error("controller.policy: device \"" + acc.tech().name() + "\" does not support tile remapping");
  if (wl.spec.mapping != "cyclic") throw Error("controller.policy: tile remapping needs the cyclic mapping");
  if (spec.cost != "first_grad" && spec.cost != "second_grad" && spec.cost != "none")
    throw Error("remap: RemapSpec.cost \"" + spec.cost +
                "\" is not one of first_grad, second_grad, none (sim/policy/policy.h; docs/doctor.md §6)");
  if (spec.cost != "none") e.learning().ensure_salience(acc, spec.cost == "second_grad");
  const auto& lg = e.learning();
  e.set_now();
  const int64_t R = wl.spec.rows, k = wl.spec.block_size, kk = k * k;
  // cost[layer][group][chunk] : R x R, row-block i on tile t
  std::vector<std::vector<std::vector<std::vector<double>>>> cost(wl.layers.size());
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    cost[l].resize(wl.layers[l].gemms.size());
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g)
      cost[l][g].assign(static_cast<size_t>(wl.layers[l].chunks), std::vector<double>(R * R, 0.0));
  }
  std::vector<float> eff;
  for (int64_t s = 0; s < R; ++s) {
    const uint64_t draw = e.next_draw();
    for (size_t l = 0; l < wl.layers.size(); ++l)
      for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
        const auto& t = wl.layers[l].gemms[g];
        std::vector<int> rows(R);
        for (int64_t i = 0; i < R; ++i) rows[i] = static_cast<int>((i + s) % R);
        std::vector<std::vector<int>> saved;
        for (int64_t c = 0; c < wl.layers[l].chunks; ++c) {
          saved.push_back(acc.tech().tile_rows(l, g, c));
          acc.tech().set_tile_rows(l, g, c, rows);
        }
        acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, true);
        for (int64_t c = 0; c < wl.layers[l].chunks; ++c) acc.tech().set_tile_rows(l, g, c, saved[c]);
        const auto& ideal = acc.ideal(l, g);
        static const std::vector<float> kNone;
        const auto& gb = spec.cost == "none" ? kNone : lg.grad_blocks()[l][g];
        std::vector<double> lin(static_cast<size_t>(wl.layers[l].chunks * R), 0.0), quad(lin.size(), 0.0), l1(lin.size(), 0.0);
        for (int64_t b = 0; b < t.P * t.Q; ++b) {
          int64_t p = b / t.Q, c = t.chunk[b], i = p % R;
          for (int64_t j = 0; j < kk; ++j) {
            double d = static_cast<double>(eff[b * kk + j]) - ideal[b * kk + j];
            if (!gb.empty()) lin[c * R + i] += gb[b * kk + j] * d;
            l1[c * R + i] += std::abs(d);
            if (spec.cost == "second_grad") quad[c * R + i] += 0.5 * lg.hess_blocks()[l][g][b * kk + j] * d * d;
          }
        }
        for (int64_t c = 0; c < wl.layers[l].chunks; ++c)
          for (int64_t i = 0; i < R; ++i) {
            int64_t tile = (i + s) % R;
            double v = spec.cost == "none" ? l1[c * R + i]
                                           : std::abs(lin[c * R + i] + (spec.cost == "second_grad" ? quad[c * R + i] : 0.0));
            cost[l][g][c][i * R + tile] = v;
          }
      }
  }
  RemapResult r;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g)
      for (int64_t c = 0; c < wl.layers[l].chunks; ++c) {
        std::vector<int> a = models::min_cost_assignment(cost[l][g][c], static_cast<int>(R));
        std::vector<int> before = acc.tech().tile_rows(l, g, c);
        if (a != before) ++r.changed;
        acc.tech().set_tile_rows(l, g, c, a);
        ++r.chunks;
      }
  // DOCTOR's charge: (R k + R^3) cycles per chunk.
  r.cycles = (R * k + R * R * R) * wl.chunks;
  e.charge_cycles(r.cycles, R * wl.chunks, "remap");
  e.log_event(
      "remap",
      {{"reason", reason}, {"cycles", r.cycles}, {"chunks", r.chunks}, {"chunks_changed", r.changed}, {"cost", spec.cost}});
  return r;
}

}  // namespace ptc::sim::actions
