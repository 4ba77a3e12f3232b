// DOCTOR's salience-aware sparse calibration (docs/doctor.md §5): per step, a
// chunk mask per layer, m noisy read-backs averaged, the masked L1 error's sign as the gradient
// of the latent weights (straight-through), Adam with a cosine-annealed learning rate.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "sim/actions/actions.h"

namespace ptc::sim::actions {
namespace {

// Chunk selection of one calibration step for layer l (docs/doctor.md §5).
std::vector<char> chunk_mask(Env& e, size_t l, const CalibrationSpec& spec, const hw::RandomStream& rs) {
  const auto& wl = e.ctx().wl;
  const auto& L = wl.layers[l];
  const int64_t n = std::max<int64_t>(L.chunks, 1), kk = wl.spec.block_size * wl.spec.block_size;
  std::vector<char> mask(static_cast<size_t>(n), 0);
  if (spec.mask == "all" || spec.fraction >= 1) {
    std::fill(mask.begin(), mask.end(), 1);
    return mask;
  }
  const auto& lg = e.learning();
  std::vector<double> sal(static_cast<size_t>(n), 0.0);
  for (size_t g = 0; g < L.gemms.size(); ++g) {
    const auto& t = L.gemms[g];
    for (int64_t b = 0; b < t.P * t.Q; ++b)
      for (int64_t i = 0; i < kk; ++i) {
        double v = spec.salience == "first_grad"    ? std::abs(lg.grad_blocks()[l][g][b * kk + i])
                   : spec.salience == "second_grad" ? std::abs(lg.hess_blocks()[l][g][b * kk + i])
                                                    : std::abs(e.chip().ideal(l, g)[b * kk + i]);
        sal[t.chunk[b]] += v;
      }
  }
  const int64_t pick = std::max<int64_t>(1, std::llround(static_cast<double>(n) * spec.fraction));
  if (spec.mask == "topk") {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return sal[a] > sal[b]; });
    for (int64_t i = 0; i < std::min(pick, n); ++i) mask[idx[i]] = 1;
    return mask;
  }
  // Draw without replacement, probability proportional to salience ("is") or equal ("uniform").
  std::vector<double> w = sal;
  if (spec.mask == "uniform" || std::accumulate(w.begin(), w.end(), 0.0) <= 0) std::fill(w.begin(), w.end(), 1.0);
  for (int64_t d = 0; d < std::min(pick, n); ++d) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!mask[i]) total += w[i];
    double u = rs.uniform(static_cast<uint64_t>(d)) * total, acc = 0;
    int64_t chosen = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (mask[i]) continue;
      chosen = i;
      acc += w[i];
      if (acc >= u) break;
    }
    if (chosen >= 0) mask[chosen] = 1;
  }
  return mask;
}

// A spec from a policy (a plug-in builds its own) is checked as the doctor policy's parameters are:
// a value outside its range would be charged (a fraction of 5 reads back every chunk five times)
// or silently fall back (an unknown mask or salience).
std::string num_str(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

void check_spec(const CalibrationSpec& s) {
  auto bad = [](const std::string& field, const std::string& rule) {
    throw Error("calibrate: CalibrationSpec." + field + " " + rule + " (sim/policy/policy.h; docs/doctor.md §5)");
  };
  auto one_of = [&](const std::string& field, const std::string& v, std::initializer_list<const char*> ok) {
    std::string list;
    for (const char* o : ok) {
      if (v == o) return;
      list += (list.empty() ? "" : ", ") + std::string(o);
    }
    bad(field, "\"" + v + "\" is not one of " + list);
  };
  if (!(s.fraction > 0 && s.fraction <= 1)) bad("fraction", num_str(s.fraction) + " is outside (0, 1]");
  one_of("mask", s.mask, {"is", "topk", "uniform", "all"});
  one_of("salience", s.salience, {"first_grad", "second_grad", "magnitude"});
  one_of("lr_scale", s.lr_scale, {"absolute", "block"});
  if (s.steps < 1) bad("steps", std::to_string(s.steps) + " is below 1");
  if (s.average_times < 1) bad("average_times", std::to_string(s.average_times) + " is below 1");
  if (!(s.lr >= 0 && std::isfinite(s.lr))) bad("lr", num_str(s.lr) + " is not a finite number >= 0");
  if (!(s.lr_final_ratio >= 0 && s.lr_final_ratio <= 1)) bad("lr_final_ratio", num_str(s.lr_final_ratio) + " is outside [0, 1]");
  if (!(s.stop_threshold >= 0 && std::isfinite(s.stop_threshold)))
    bad("stop_threshold", num_str(s.stop_threshold) + " is not a finite number >= 0");
}

}  // namespace

CalibrationResult calibrate(Env& e, const CalibrationSpec& spec, const std::string& reason) {
  check_spec(spec);
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  if (acc.tech().mapped_gemm() != nullptr)
    throw Error("calibrate: device \"" + acc.tech().name() +
                "\" computes with its own arithmetic (such as RNS residues): DOCTOR's read-back regression reads its effective "
                "weights, which its residue errors do not change, so it would write and cost time for nothing; use "
                "rns_recalibration (docs/rns.md §7)");
  CalibrationResult res;
  const bool all_chunks = spec.mask == "all" || spec.fraction >= 1;
  if (!all_chunks && spec.salience != "magnitude") e.learning().ensure_salience(acc, spec.salience == "second_grad");
  const int64_t k = wl.spec.block_size, kk = k * k;
  const int64_t cpi = std::max<int64_t>(wl.cycles_per_inference, 1);
  // Latent weights per layer group and their Adam states (fresh per call).
  std::vector<std::vector<std::vector<float>>> W;
  std::vector<std::vector<Adam>> opt;
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    W.emplace_back();
    opt.emplace_back(wl.layers[l].gemms.size());
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) W.back().push_back(acc.tech().programmed(l, g));
  }
  // lr_scale "block": Adam moves a latent weight by ~lr per step whatever its size, while an MRR
  // block's error under a common thermal offset scales with its gain S_b = max|W*_b|; block b
  // steps by lr x S_b / mean_b S_b (same overall lr; large first-layer blocks keep up).
  std::vector<std::vector<std::vector<double>>> mult;
  if (spec.lr_scale == "block") {
    mult.resize(wl.layers.size());
    double s_sum = 0;
    int64_t s_n = 0;
    for (size_t l = 0; l < wl.layers.size(); ++l)
      for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
        const auto& ideal = acc.ideal(l, g);
        std::vector<double> sb(ideal.size() / static_cast<size_t>(kk), 0.0);
        for (size_t i = 0; i < ideal.size(); ++i) sb[i / kk] = std::max(sb[i / kk], static_cast<double>(std::abs(ideal[i])));
        for (double x : sb) s_sum += x, ++s_n;
        mult[l].push_back(std::move(sb));
      }
    const double s_ref = s_n ? s_sum / static_cast<double>(s_n) : 0.0;
    for (auto& ml : mult)
      for (auto& mg : ml)
        for (auto& x : mg) x = s_ref > 0 ? x / s_ref : 1.0;
  }
  const double beta = spec.mask == "all" ? 1.0 : spec.fraction;
  int64_t carry = 0;
  hw::RandomStream rs = e.rng().derive(0xca1).derive(static_cast<uint64_t>(e.calibrations()));
  std::vector<float> eff, acc_w;
  for (int64_t it = 0; it < spec.steps; ++it) {
    double lr =
        spec.lr * (spec.lr_final_ratio + (1 - spec.lr_final_ratio) * 0.5 *
                                             (1 + std::cos(M_PI * static_cast<double>(it) / static_cast<double>(spec.steps))));
    e.set_now();
    double loss_sum = 0;
    int64_t selected_chunks = 0, all_chunks_n = 0;
    std::vector<std::vector<std::vector<float>>> grads(wl.layers.size());
    for (size_t l = 0; l < wl.layers.size(); ++l) {
      const auto& L = wl.layers[l];
      std::vector<char> mask = chunk_mask(e, l, spec, rs.derive(static_cast<uint64_t>(it)).derive(l));
      for (char c : mask) selected_chunks += c;
      all_chunks_n += static_cast<int64_t>(mask.size());
      int64_t count = 0;
      double err = 0;
      for (size_t g = 0; g < L.gemms.size(); ++g) {
        const auto& t = L.gemms[g];
        acc_w.assign(t.blocks.size(), 0.0f);
        for (int64_t m = 0; m < spec.average_times; ++m) {
          acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), e.next_draw(), eff, true);
          for (size_t i = 0; i < eff.size(); ++i) acc_w[i] += eff[i] / static_cast<float>(spec.average_times);
        }
        const auto& ideal = acc.ideal(l, g);
        std::vector<float> gr(t.blocks.size(), 0.0f);
        for (int64_t b = 0; b < t.P * t.Q; ++b) {
          if (!mask[t.chunk[b]]) continue;
          for (int64_t i = 0; i < kk; ++i) {
            double d = static_cast<double>(acc_w[b * kk + i]) - ideal[b * kk + i];
            err += std::abs(d);
            gr[b * kk + i] = d > 0 ? 1.0f : (d < 0 ? -1.0f : 0.0f);
            ++count;
          }
        }
        grads[l].push_back(std::move(gr));
      }
      double loss_l = count ? err / static_cast<double>(count) : 0.0;
      loss_sum += loss_l;
      for (auto& gr : grads[l])
        for (auto& x : gr) x /= static_cast<float>(std::max<int64_t>(count, 1));
    }
    double loss = loss_sum / static_cast<double>(std::max<size_t>(wl.layers.size(), 1));
    if (it == 0) res.loss_first = loss;
    res.loss_last = loss;
    // Charge the read-back of this step, the chunks read: m x their share of a full probe's cycles
    // (DOCTOR's code charges round(probe_cycles * m * beta), which takes exactly beta of the chunks;
    // the per-layer pick max(1, round(n_l beta)) reads more or fewer: docs/doctor.md §5). Advance
    // the noise by the whole inferences it is worth (remainder carried within the call).
    const int64_t per_step =
        all_chunks_n > 0 ? (e.probe_cycles() * spec.average_times * selected_chunks + all_chunks_n / 2) / all_chunks_n : 0;
    carry += per_step;
    int64_t adv = carry / cpi;
    carry -= adv * cpi;
    e.charge_cycles(per_step, selected_chunks * spec.average_times, "calibration", adv);
    res.cycles += per_step;
    ++res.steps;
    if (loss < spec.stop_threshold) break;
    int64_t writes = 0;
    for (size_t l = 0; l < wl.layers.size(); ++l)
      for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
        opt[l][g].step(W[l][g], grads[l][g], lr, mult.empty() ? nullptr : &mult[l][g], static_cast<size_t>(kk));
        writes += acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), W[l][g], e.now_s());
      }
    res.writes += writes;
    e.occupy_writes();                                                         // non-volatile cells: write pulses
    if (acc.tech().thermally_coupled()) e.occupy_settles(writes > 0 ? 1 : 0);  // rings: one re-tuning settle per update
  }
  e.log_event("calibration", {{"reason", reason},
                              {"steps", res.steps},
                              {"cycles", res.cycles},
                              {"writes", res.writes},
                              {"loss_first", res.loss_first},
                              {"loss_last", res.loss_last},
                              {"fraction", beta},
                              {"mask", spec.mask}});
  return res;
}

}  // namespace ptc::sim::actions
