#include "hw/streaming.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "hw/device/technology.h"
#include "models/error.h"

namespace ptc::hw {

StreamOrder stream_order_from_name(const std::string& name) {
  if (name == "native") return StreamOrder::native;
  if (name == "per_cell") return StreamOrder::per_cell;
  if (name == "greedy") return StreamOrder::greedy;
  if (name == "sort_mean") return StreamOrder::sort_mean;
  std::string list;
  for (const auto& n : models::stream_order_names()) list += (list.empty() ? "" : ", ") + n;
  throw Error("unknown streaming order \"" + name + "\"; registered: " + list);
}

const char* stream_order_name(StreamOrder o) {
  switch (o) {
    case StreamOrder::native:
      return "native";
    case StreamOrder::per_cell:
      return "per_cell";
    case StreamOrder::greedy:
      return "greedy";
    case StreamOrder::sort_mean:
      return "sort_mean";
  }
  return "?";
}

namespace {

// Level steps of a column tour: sum_t L1(v_{perm t}, v_{perm t-1}), v_{-1} = 0 (reset).
int64_t column_steps(const int* levels, int64_t k, int64_t c, const int32_t* perm, int64_t Q) {
  int64_t s = 0;
  const int64_t kk = k * k;
  for (int64_t r = 0; r < k; ++r) {
    int prev = 0;
    for (int64_t t = 0; t < Q; ++t) {
      const int v = levels[perm[t] * kk + r * k + c];
      s += std::abs(v - prev);
      prev = v;
    }
  }
  return s;
}

}  // namespace

RowOrder make_row_order(StreamOrder o, const int* levels, int64_t Q, int64_t k) {
  if (Q < 1 || k < 1) throw Error("streaming order: Q and k must be >= 1");
  RowOrder ord;
  ord.per_cell = o == StreamOrder::per_cell;
  ord.Q = Q;
  ord.k = k;
  const int64_t kk = k * k, units = ord.per_cell ? kk : k;
  ord.perm.resize(static_cast<size_t>(units * Q));
  for (int64_t u = 0; u < units; ++u) std::iota(ord.perm.begin() + u * Q, ord.perm.begin() + (u + 1) * Q, 0);
  if (o == StreamOrder::native) return ord;
  if (o == StreamOrder::per_cell) {
    for (int64_t cell = 0; cell < kk; ++cell) {
      int32_t* p = ord.perm.data() + cell * Q;
      auto val = [&](int32_t j) { return levels[j * kk + cell]; };
      int lo = val(0), hi = val(0);
      for (int64_t j = 1; j < Q; ++j)
        lo = std::min(lo, val(static_cast<int32_t>(j))), hi = std::max(hi, val(static_cast<int32_t>(j)));
      // Monotone from the end nearer the reset level (0): min(|lo|, |hi|) + hi - lo steps.
      const bool ascending = std::abs(lo) <= std::abs(hi);
      std::stable_sort(p, p + Q, [&](int32_t a, int32_t b) { return ascending ? val(a) < val(b) : val(a) > val(b); });
    }
    return ord;
  }
  for (int64_t c = 0; c < k; ++c) {
    int32_t* p = ord.perm.data() + c * Q;
    if (o == StreamOrder::greedy) {
      std::vector<char> used(static_cast<size_t>(Q), 0);
      std::vector<int> cur(static_cast<size_t>(k), 0);  // the reset state
      for (int64_t t = 0; t < Q; ++t) {
        int64_t best = -1, best_d = 0;
        for (int64_t j = 0; j < Q; ++j) {
          if (used[j]) continue;
          int64_t d = 0;
          for (int64_t r = 0; r < k && (best < 0 || d < best_d); ++r) d += std::abs(levels[j * kk + r * k + c] - cur[r]);
          if (best < 0 || d < best_d) best = j, best_d = d;  // ties: the lowest block index
        }
        used[best] = 1;
        p[t] = static_cast<int32_t>(best);
        for (int64_t r = 0; r < k; ++r) cur[r] = levels[best * kk + r * k + c];
      }
      // 2-opt on the open tour from the reset state: reversing p[i..j] changes only the two edges
      // at its ends (L1 is symmetric); apply improving reversals until none is left (at most 8 sweeps).
      auto dist = [&](int64_t a, int64_t b) {  // a, b: tour positions; -1 = the reset state
        int64_t d = 0;
        for (int64_t r = 0; r < k; ++r)
          d += std::abs((a < 0 ? 0 : levels[p[a] * kk + r * k + c]) - (b < 0 ? 0 : levels[p[b] * kk + r * k + c]));
        return d;
      };
      for (int sweep = 0; sweep < 8; ++sweep) {
        bool improved = false;
        for (int64_t i = 0; i < Q - 1; ++i)
          for (int64_t j = i + 1; j < Q; ++j) {
            const int64_t after_old = j + 1 < Q ? dist(j, j + 1) : 0, after_new = j + 1 < Q ? dist(i, j + 1) : 0;
            if (dist(i - 1, j) + after_new < dist(i - 1, i) + after_old) {
              std::reverse(p + i, p + j + 1);
              improved = true;
            }
          }
        if (!improved) break;
      }
    } else {  // sort_mean
      std::vector<int64_t> sum(static_cast<size_t>(Q), 0);
      for (int64_t j = 0; j < Q; ++j)
        for (int64_t r = 0; r < k; ++r) sum[j] += levels[j * kk + r * k + c];
      std::stable_sort(p, p + Q, [&](int32_t a, int32_t b) { return sum[a] < sum[b]; });
      std::vector<int32_t> rev(p, p + Q);
      std::stable_sort(rev.begin(), rev.end(), [&](int32_t a, int32_t b) { return sum[a] > sum[b]; });
      if (column_steps(levels, k, c, rev.data(), Q) < column_steps(levels, k, c, p, Q)) std::copy(rev.begin(), rev.end(), p);
    }
  }
  return ord;
}

RowStream stream_row(const PcmLevelSpec& spec, const int* levels, const RowOrder& order) {
  const int64_t Q = order.Q, k = order.k, kk = k * k;
  RowStream rs;
  rs.step_time_s.assign(static_cast<size_t>(Q), 0.0);
  rs.cell_steps.assign(static_cast<size_t>(kk), 0);
  std::vector<int> prev(static_cast<size_t>(kk), 0), next(static_cast<size_t>(kk));  // reset state
  for (int64_t t = 0; t < Q; ++t) {
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < k; ++c) next[r * k + c] = levels[order.block(r, c, t) * kk + r * k + c];
    PcmWriteCost step = write_cost(spec, prev, next);
    rs.step_time_s[t] = step.time_s;
    for (int64_t i = 0; i < kk; ++i) rs.cell_steps[i] += std::abs(next[i] - prev[i]);
    rs.cost += step;
    prev.swap(next);
  }
  rs.cost.max_cell_steps = *std::max_element(rs.cell_steps.begin(), rs.cell_steps.end());
  return rs;
}

int64_t row_write_bound(const int* levels, int64_t Q, int64_t k) {
  const int64_t kk = k * k;
  int64_t s = 0;
  for (int64_t cell = 0; cell < kk; ++cell) {
    int lo = levels[cell], hi = levels[cell];
    for (int64_t j = 1; j < Q; ++j) lo = std::min(lo, levels[j * kk + cell]), hi = std::max(hi, levels[j * kk + cell]);
    s += std::min(std::abs(lo), std::abs(hi)) + hi - lo;
  }
  return s;
}

int64_t StreamPlan::max_cell_steps() const {
  return cell_steps.empty() ? 0 : *std::max_element(cell_steps.begin(), cell_steps.end());
}

StreamPlan plan_streaming(const models::CompiledWorkload& wl, const PcmLevelSpec& spec, StreamOrder order,
                          const LevelsOf& levels) {
  if (wl.spec.mapping != "streaming") throw Error("streaming plan: the workload's mapping is \"" + wl.spec.mapping + "\"");
  const int64_t k = wl.spec.block_size, kk = k * k, cores = wl.spec.rows * wl.spec.cols;
  StreamPlan plan;
  plan.order = order;
  plan.cores = cores;
  plan.k = k;
  plan.cell_steps.assign(static_cast<size_t>(cores * kk), 0);
  for (size_t li = 0; li < wl.layers.size(); ++li) {
    const auto& L = wl.layers[li];
    LayerStream ls;
    ls.node = L.node;
    for (size_t g = 0; g < L.gemms.size(); ++g) {
      const auto& t = L.gemms[g];
      const std::vector<int>& lv = levels(static_cast<int64_t>(li), static_cast<int64_t>(g));
      if (static_cast<int64_t>(lv.size()) != t.P * t.Q * kk)
        throw Error("streaming plan: layer " + L.node + " has " + std::to_string(lv.size()) + " levels, expected " +
                    std::to_string(t.P * t.Q * kk));
      // Row groups of `cores` block-rows program in parallel, step by step.
      std::vector<double> group_step;
      for (int64_t p = 0; p < t.P; ++p) {
        const int* row = lv.data() + p * t.Q * kk;
        RowStream rs = stream_row(spec, row, make_row_order(order, row, t.Q, k));
        if (p % cores == 0) group_step.assign(static_cast<size_t>(t.Q), 0.0);
        for (int64_t s = 0; s < t.Q; ++s) group_step[s] = std::max(group_step[s], rs.step_time_s[s]);
        if (p % cores == cores - 1 || p == t.P - 1)
          for (double v : group_step) ls.time_s += v;
        ls.writes += rs.cost.writes;
        ls.up_steps += rs.cost.up_steps;
        ls.down_steps += rs.cost.down_steps;
        ls.energy_j += rs.cost.energy_j;
        ls.max_cell_steps = std::max(ls.max_cell_steps, rs.cost.max_cell_steps);
        ls.bound_writes += row_write_bound(row, t.Q, k);
        ls.programmings += t.Q;
        const int64_t core = t.core[p * t.Q];
        for (int64_t i = 0; i < kk; ++i) plan.cell_steps[core * kk + i] += rs.cell_steps[i];
      }
    }
    plan.writes += ls.writes;
    plan.up_steps += ls.up_steps;
    plan.down_steps += ls.down_steps;
    plan.bound_writes += ls.bound_writes;
    plan.programmings += ls.programmings;
    plan.time_s += ls.time_s;
    plan.energy_j += ls.energy_j;
    plan.layers.push_back(std::move(ls));
  }
  return plan;
}

nlohmann::json StreamPlan::to_json() const {
  nlohmann::json l = nlohmann::json::array();
  for (const auto& s : layers)
    l.push_back({{"node", s.node},
                 {"level_steps", s.writes},
                 {"up_steps", s.up_steps},
                 {"down_steps", s.down_steps},
                 {"per_cell_bound_steps", s.bound_writes},
                 {"worst_cell_steps", s.max_cell_steps},
                 {"block_programmings", s.programmings},
                 {"program_time_s", s.time_s},
                 {"program_energy_j", s.energy_j}});
  return {{"order", stream_order_name(order)},
          {"level_steps", writes},
          {"up_steps", up_steps},
          {"down_steps", down_steps},
          {"per_cell_bound_steps", bound_writes},
          {"gap_to_per_cell_bound", bound_writes > 0 ? static_cast<double>(writes) / static_cast<double>(bound_writes) : 1.0},
          {"block_programmings", programmings},
          {"program_time_s", time_s},
          {"program_energy_j", energy_j},
          {"worst_physical_cell_steps", max_cell_steps()},
          {"layers", l}};
}

namespace {

// First worn pass of a cell with budget B and s steps per pass, mapped at pass n0 (kNever if never).
int64_t wear_pass(double budget, int64_t s, int64_t n0) {
  if (s <= 0) return CellWear::kNever;
  const double n = std::ceil(budget / static_cast<double>(s));
  if (!(n < 9e18 - static_cast<double>(n0))) return CellWear::kNever;
  return n0 + std::max<int64_t>(1, static_cast<int64_t>(n));
}

}  // namespace

CellWear::CellWear(const StreamPlan& plan, const std::vector<double>& budgets)
    : m_steps(plan.cell_steps), m_budgets(budgets), m_cores(plan.cores), m_k(plan.k) {
  const size_t cells = plan.cell_steps.size();
  if (budgets.size() != cells) {
    const int64_t row_cells = m_cores * m_k;
    const int64_t extra = static_cast<int64_t>(budgets.size()) - static_cast<int64_t>(cells);
    if (row_cells <= 0 || static_cast<size_t>(row_cells * m_k) != cells || extra < 0 || extra % row_cells != 0)
      throw Error("cell wear: " + std::to_string(budgets.size()) + " budgets for " + std::to_string(cells) +
                  " cells (expected the cells' budgets, then whole spare rows of every core)");
    m_spares = extra / row_cells;
  }
  m_used.assign(static_cast<size_t>(std::max<int64_t>(m_cores, 0)), 0);
  worn_pass.resize(cells);
  first_worn_pass = kNever;
  for (size_t i = 0; i < cells; ++i) {
    worn_pass[i] = wear_pass(budgets[i], plan.cell_steps[i], 0);
    first_worn_pass = std::min(first_worn_pass, worn_pass[i]);
  }
}

RowRemapOutcome CellWear::remap_worn_rows(int64_t passes, int64_t threshold) {
  if (threshold < 1 || (m_k > 0 && threshold > m_k))
    throw Error("row remapping: threshold must be between 1 and the " + std::to_string(m_k) + " cells of a row, got " +
                std::to_string(threshold));
  RowRemapOutcome o;
  const int64_t k = m_k, kk = k * k, spare0 = m_cores * kk;
  for (int64_t c = 0; c < m_cores && k > 0; ++c) {
    for (int64_t r = 0; r < k; ++r) {
      int64_t* wp = worn_pass.data() + c * kk + r * k;
      const int64_t worn = std::count_if(wp, wp + k, [&](int64_t n) { return n <= passes; });
      if (worn < threshold) continue;
      if (m_spares == 0 || m_used[c] >= m_spares) {
        ++o.unrepaired;
        continue;
      }
      const int64_t spare = m_used[c]++;
      const double* b = m_budgets.data() + spare0 + (c * m_spares + spare) * k;
      for (int64_t j = 0; j < k; ++j) wp[j] = wear_pass(b[j], m_steps[c * kk + r * k + j], passes);
      ++o.remapped;
    }
    if (m_spares > 0) o.spare_rows_left += m_spares - m_used[c];
  }
  if (o.unrepaired > 0) first_unrepaired_pass = std::min(first_unrepaired_pass, passes);
  return o;
}

int64_t CellWear::rows_remapped() const {
  return std::accumulate(m_used.begin(), m_used.end(), int64_t{0});
}

std::vector<char> CellWear::worn_at(int64_t passes) const {
  std::vector<char> w(worn_pass.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = worn_pass[i] <= passes;
  return w;
}

int64_t CellWear::worn_count(int64_t passes) const {
  return std::count_if(worn_pass.begin(), worn_pass.end(), [&](int64_t n) { return n <= passes; });
}

void streamed_matvec(const models::GemmTiles& t, int64_t k, const std::vector<RowOrder>& orders, const float* x, float* y) {
  if (static_cast<int64_t>(orders.size()) != t.P) throw Error("streamed_matvec: one order per block-row required");
  const int64_t kk = k * k;
  std::fill(y, y + t.rows, 0.0f);
  std::vector<float> part(static_cast<size_t>(k));
  for (int64_t p = 0; p < t.P; ++p) {
    const RowOrder& o = orders[p];
    if (o.Q != t.Q || o.k != k) throw Error("streamed_matvec: order shape does not match the tiles");
    for (int64_t s = 0; s < t.Q; ++s) {
      std::fill(part.begin(), part.end(), 0.0f);
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < k; ++c) {
          const int64_t j = o.block(r, c, s), col = j * k + c;
          if (col < t.cols) part[r] += t.blocks[(p * t.Q + j) * kk + r * k + c] * x[col];
        }
      for (int64_t r = 0; r < k && p * k + r < t.rows; ++r) y[p * k + r] += part[r];
    }
  }
}

StreamPlan plan_streaming(const models::CompiledWorkload& wl, const Technology& tech) {
  const PcmLevelSpec* lv = tech.level_spec();
  if (!lv) throw Error("the streaming mapping needs a device with transmission levels; device \"" + tech.name() + "\" has none");
  return plan_streaming(wl, *lv, stream_order_from_name(wl.spec.order),
                        [&](int64_t l, int64_t g) -> const std::vector<int>& { return tech.signed_levels(l, g); });
}

}  // namespace ptc::hw
