// aihwkit global drift compensation (docs/pcm_drift_compensation.md): a one-hot readout of every
// layer through the full noisy path; alpha = reference / current mean |y| per layer, per
// conductance-scaling tile or per output column of each tile, applied digitally.
#include <algorithm>
#include <cmath>

#include "sim/actions/actions.h"

namespace ptc::sim::actions {

namespace {

// Readout units of one layer group: unit of each (block b, row i of the block), or -1 for padded
// rows; per_tile: the tile; per_column: (tile, weight-matrix row).
struct Units {
  std::vector<int64_t> of;  // [P Q k]
  int64_t count = 0;
};

Units units_of(const models::GemmTiles& t, int64_t k, const std::vector<int32_t>& tiles, bool per_column) {
  const int64_t blocks = t.P * t.Q;
  const auto tile_of = [&](int64_t b) { return tiles.empty() ? b : static_cast<int64_t>(tiles[static_cast<size_t>(b)]); };
  int64_t n_tiles = 0;
  for (int64_t b = 0; b < blocks; ++b) n_tiles = std::max(n_tiles, tile_of(b) + 1);
  Units u;
  u.of.assign(static_cast<size_t>(blocks * k), -1);
  if (!per_column) {
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t i = 0; i < k; ++i)
        if ((b / t.Q) * k + i < t.rows) u.of[static_cast<size_t>(b * k + i)] = tile_of(b);
    u.count = n_tiles;
    return u;
  }
  // Tiles are rectangles of whole blocks: first row and row count of each.
  std::vector<int64_t> row0(static_cast<size_t>(n_tiles), t.rows), row1(static_cast<size_t>(n_tiles), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    const size_t ti = static_cast<size_t>(tile_of(b));
    row0[ti] = std::min(row0[ti], (b / t.Q) * k);
    row1[ti] = std::max(row1[ti], std::min(t.rows, (b / t.Q + 1) * k));
  }
  std::vector<int64_t> offset(static_cast<size_t>(n_tiles) + 1, 0);
  for (size_t ti = 0; ti < static_cast<size_t>(n_tiles); ++ti)
    offset[ti + 1] = offset[ti] + std::max<int64_t>(0, row1[ti] - row0[ti]);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t r = (b / t.Q) * k + i;
      const size_t ti = static_cast<size_t>(tile_of(b));
      if (r < t.rows) u.of[static_cast<size_t>(b * k + i)] = offset[ti] + r - row0[ti];
    }
  u.count = offset.back();
  return u;
}

}  // namespace

void compensate_drift(Env& e, bool reference, const DriftCompensationSpec& spec, std::vector<std::vector<double>>& ref) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  e.set_now();
  const uint64_t draw = e.next_draw();
  const int64_t k = wl.spec.block_size;
  const bool per_layer = spec.granularity == "per_layer", per_column = spec.granularity == "per_column";
  if (!per_layer && !per_column && spec.granularity != "per_tile")
    throw Error("drift compensation: unknown granularity '" + spec.granularity + "' (per_layer, per_tile, per_column)");
  // aihwkit's reference: the programmed conductances, without the read noise of the instant.
  hw::NoiselessReadsScope noiseless(acc.tech(), reference && spec.noiseless_reference);
  // Monte-Carlo chip instances (accuracy.instances on a device with its own instances): each copy
  // is compensated as its own chip would be, with its own reference and alphas. The copies are
  // statistical replicas of this chip: the array time is charged once, and the event reports
  // instance 0 (this chip).
  const hw::InstanceScope instance_0(acc);  // instance 0 stays selected, also on an error
  int64_t n_inst = 1;
  if (e.ctx().s.accuracy.instances > 1 && acc.select_instance(1)) n_inst = e.ctx().s.accuracy.instances;
  acc.select_instance(0);
  const size_t L = wl.layers.size();
  if (ref.size() != L * static_cast<size_t>(n_inst)) ref.assign(L * static_cast<size_t>(n_inst), {});
  std::vector<float> eff;
  int64_t cycles = 0;
  // Bound management of the read-out's probes (with hw.mvm.bound_management iterative): this chip's
  // re-runs are charged as compensation cycles, ceil(re-runs / cores) array cycles (each re-run is
  // one core's cycle); a Monte-Carlo copy's are not (docs/devices.md §2.4).
  int64_t reruns = 0, copy_reruns = 0;
  Json alphas = Json::array(), amin = Json::array(), amax = Json::array();
  for (int64_t inst = n_inst - 1; inst >= 0; --inst) {  // instance 0 last: it stays selected
    if (n_inst > 1) acc.select_instance(inst);
    const bool log = inst == 0;
    for (size_t l = 0; l < L; ++l) {
      const auto& Ly = wl.layers[l];
      std::vector<double>& lref = ref[static_cast<size_t>(inst) * L + l];
      std::vector<double> readouts;
      std::vector<Units> units(Ly.gemms.size());
      if (per_layer) {
        double sum = 0;
        int64_t n = 0;
        for (size_t g = 0; g < Ly.gemms.size(); ++g) {
          const auto& t = Ly.gemms[g];
          acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, true, log ? &reruns : &copy_reruns);
          // One-hot input j returns column j of the effective matrix: mean |y| over all of them.
          for (int64_t r = 0; r < t.rows; ++r)
            for (int64_t c = 0; c < t.cols; ++c) sum += std::abs(eff[(((r / k) * t.Q + c / k) * k + r % k) * k + c % k]), ++n;
          if (log) cycles += t.cols * Ly.chunks / static_cast<int64_t>(Ly.gemms.size());
        }
        readouts.push_back(std::max(n ? sum / static_cast<double>(n) : 0.0, 1e-4));
      } else {
        for (size_t g = 0; g < Ly.gemms.size(); ++g) {
          const auto& t = Ly.gemms[g];
          const int64_t lg = static_cast<int64_t>(l), gg = static_cast<int64_t>(g);
          acc.effective(lg, gg, draw, eff, true, log ? &reruns : &copy_reruns);
          units[g] = units_of(t, k, acc.tech().scale_tiles(lg, gg), per_column);
          std::vector<double> sum(static_cast<size_t>(units[g].count), 0.0);
          std::vector<int64_t> n(static_cast<size_t>(units[g].count), 0);
          for (int64_t r = 0; r < t.rows; ++r)
            for (int64_t c = 0; c < t.cols; ++c) {
              const int64_t b = (r / k) * t.Q + c / k;
              const size_t u = static_cast<size_t>(units[g].of[static_cast<size_t>(b * k + r % k)]);
              sum[u] += std::abs(eff[(b * k + r % k) * k + c % k]);
              ++n[u];
            }
          for (size_t u = 0; u < sum.size(); ++u)
            readouts.push_back(std::max(n[u] ? sum[u] / static_cast<double>(n[u]) : 0.0, 1e-4));
          if (log) cycles += t.cols * Ly.chunks / static_cast<int64_t>(Ly.gemms.size());
        }
      }
      std::vector<double> alpha(readouts.size(), 1.0);
      if (reference) {
        lref = readouts;
      } else {
        if (lref.size() != readouts.size())
          throw Error("drift compensation: no reference readout for layer " + std::to_string(l));
        for (size_t u = 0; u < readouts.size(); ++u) alpha[u] = lref[u] / readouts[u];
      }
      if (per_layer) {
        acc.set_output_gain(static_cast<int64_t>(l), alpha[0]);
        if (log) alphas.push_back(alpha[0]);
        continue;
      }
      size_t first = 0;
      double mean = 0;
      for (size_t g = 0; g < Ly.gemms.size(); ++g) {
        std::vector<float> gains(units[g].of.size(), 1.0f);
        for (size_t j = 0; j < gains.size(); ++j)
          if (units[g].of[j] >= 0) gains[j] = static_cast<float>(alpha[first + static_cast<size_t>(units[g].of[j])]);
        first += static_cast<size_t>(units[g].count);
        acc.set_block_gains(static_cast<int64_t>(l), static_cast<int64_t>(g), std::move(gains));
      }
      if (!log) continue;
      for (double a : alpha) mean += a / static_cast<double>(alpha.size());
      alphas.push_back(mean);
      amin.push_back(*std::min_element(alpha.begin(), alpha.end()));
      amax.push_back(*std::max_element(alpha.begin(), alpha.end()));
    }
  }
  noiseless.restore();
  cycles += (reruns + acc.cores() - 1) / acc.cores();
  e.charge_cycles(cycles, wl.chunks, "compensation");
  Json ev = {{"reference", reference}, {"cycles", cycles}, {"alpha", alphas}};
  if (e.ctx().s.io.bound_managed()) ev["bound_management_reruns"] = reruns;
  if (n_inst > 1) ev["instances"] = n_inst;
  if (!per_layer) {
    ev["granularity"] = spec.granularity;
    ev["alpha_min"] = amin;
    ev["alpha_max"] = amax;
  }
  if (reference && spec.noiseless_reference) ev["noiseless_reference"] = noiseless.active();
  e.log_event("compensation", ev);
}

}  // namespace ptc::sim::actions
