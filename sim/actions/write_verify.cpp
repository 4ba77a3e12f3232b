// SWIM's selective write-verify (Yan, Hu, Shi, DAC 2022; docs/swim.md §3): select the global top
// fraction p of the mapped weights by a score (the curvature pass of models/swim_curvature.h on
// the training split, or magnitude / random), then write-verify them on the chip
// (Accelerator::verify).
#include <algorithm>
#include <cmath>

#include "models/swim_curvature.h"
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

namespace {

// The weights the scores are taken at, graph layout per layer: the deployed W* or, to re-select
// on a drifted chip, one read of the effective weights now.
std::vector<std::vector<float>> weights_now(Env& e, bool drifted) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  const int64_t k = wl.spec.block_size;
  uint64_t draw = 0;
  if (drifted) {
    e.set_now();
    draw = e.next_draw();
  }
  std::vector<std::vector<float>> w;
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    std::vector<std::vector<float>> blocks;
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
      if (drifted) {
        blocks.emplace_back();
        acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, blocks.back());
      } else {
        blocks.push_back(acc.ideal(static_cast<int64_t>(l), static_cast<int64_t>(g)));
      }
    }
    w.push_back(models::blocks_to_weight(wl.layers[l], blocks, k));
  }
  return w;
}

}  // namespace

SwimSelection select_weights(Env& e, const WriteVerifySpec& spec, bool drifted) {
  const auto& c = e.ctx();
  const auto& wl = c.wl;
  const std::vector<std::vector<float>> w = weights_now(e, drifted);
  models::SwimCurvature curv;
  if (swim_needs_curvature(spec.metric)) {
    Learning& L = e.learning();
    L.ensure_gradients(c.s.salience.images);
    e.chip().release_buffers();
    models::WeightOverrides ov;
    for (const auto& x : w) ov.push_back(&x);
    curv = models::swim_curvature(L.engine(), L.train(), c.pre, c.s.salience.images, c.s.salience.batch, ov, {}, &c.interrupted);
    L.engine().release();
  } else {
    for (const auto& x : w) {
      float mx = 0;
      for (float v : x) mx = std::max(mx, std::abs(v));
      curv.max_abs.push_back(mx);
      curv.w_norm.emplace_back(x.size(), 0.0f);
      curv.h.emplace_back(x.size(), 0.0f);  // not used by magnitude / random
      curv.g.emplace_back(x.size(), 0.0f);
      if (mx > 0)
        for (size_t j = 0; j < x.size(); ++j) curv.w_norm.back()[j] = x[j] / mx;
    }
  }
  const auto masks =
      models::swim_select(models::swim_scores(curv, spec.metric, spec.alpha, c.s.seed ^ 0x5717e5ULL), spec.fraction);
  SwimSelection sel;
  sel.drifted = drifted;
  const int64_t k = wl.spec.block_size;
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    std::vector<float> m(masks[l].begin(), masks[l].end());
    for (uint8_t v : masks[l]) sel.selected += v != 0;
    sel.total += static_cast<int64_t>(masks[l].size());
    sel.masks.emplace_back();
    for (const auto& b : models::weight_to_blocks(wl.layers[l], m, k)) {
      std::vector<uint8_t> mb(b.size());
      for (size_t j = 0; j < b.size(); ++j) mb[j] = b[j] > 0.5f;
      sel.masks.back().push_back(std::move(mb));
    }
  }
  return sel;
}

WriteVerifyResult write_verify(Env& e, const WriteVerifySpec& spec, SwimSelection& sel, const std::string& reason) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  const bool fresh = sel.masks.empty() || spec.reselect;
  if (fresh) sel = select_weights(e, spec, !sel.masks.empty());
  hw::VerifySpec vs;
  vs.tolerance = spec.tolerance;
  vs.max_iterations = spec.max_iterations;
  vs.reads = spec.reads;
  const double e0 = acc.energy_j();
  WriteVerifyResult r;
  r.selected = sel.selected;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
      const hw::VerifyResult v = acc.verify(static_cast<int64_t>(l), static_cast<int64_t>(g), sel.masks[l][g], vs, e.now_s());
      r.reads += v.reads;
      r.writes += v.writes;
      r.unconverged += v.unconverged;
    }
  r.time_s = e.occupy_writes();
  e.log_event("write_verify",
              {{"reason", reason},
               {"metric", spec.metric},
               {"fraction", spec.fraction},
               {"selected", r.selected},
               {"weights", sel.total},
               {"selection", fresh ? (sel.drifted ? "at the drifted weights" : "at the deployed weights") : "kept"},
               {"reads", r.reads},
               {"writes", r.writes},
               {"unconverged", r.unconverged},
               {"time_s", r.time_s},
               {"energy_j", acc.energy_j() - e0}});
  return r;
}

}  // namespace ptc::sim::actions
