// ELight's weight streaming on transmission-level PCM cores, in closed form per pass (Zhu et al.,
// "ELight", ASP-DAC 2022, §III and Alg. 1; the TCAD 2022 extension; docs/elight.md).
//
// Dataflow: block-row p of a layer (blocks j = 0 .. Q-1, each k x k) runs on one core; the core is
// programmed with the blocks one after another and the partial products are accumulated. One pass
// (one inference) writes, for every cell, the level sequence of the blocks streamed through it,
// starting from the reset state (signed level 0; ELight's L_{-1} = 0: a pass starts from the reset
// state and the reset itself is not a level-step write, as in ELight's count).
// Writes of a cell = sum_t |L_t - L_{t-1}| level steps (both arrays of the differential pair,
// hw/physics/pcm_levels.h write_cost); time and energy by direction (t_up/t_down, e_up/e_down).
// Step t of a block-row takes the time of its slowest cell (cells program in parallel, ELight), the
// block-rows on different cores program in parallel, row groups (more block-rows than cores) and
// layers one after another.
//
// Orders (the streaming order of each block-row; output unchanged because accumulation commutes
// and each input lane is fed the input element of the block it currently holds):
//   native    j = 0, 1, ..., Q-1;
//   per_cell  every cell sorts its own values monotonically (from the end nearer the reset level):
//             ELight's repository's sort, which reaches the lower bound
//             sum_cells [min(|min L|, |max L|) + max L - min L]; not buildable (the k cells of a
//             column share one input lane, so they must share one permutation);
//   greedy    per column (input lane): nearest-neighbour tour in L1 over the column's k levels,
//             starting from the reset state, then improved by 2-opt reversals;
//   sort_mean per column: blocks sorted by the mean level of their column, ascending or descending,
//             whichever writes fewer steps.
// Contract: pure functions of their arguments; bad input throws ptc::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/physics/pcm_levels.h"
#include "models/compiler.h"

namespace ptc::hw {

enum class StreamOrder { native, per_cell, greedy, sort_mean };
StreamOrder stream_order_from_name(const std::string& name);  // names: models::stream_order_names()
const char* stream_order_name(StreamOrder o);

// The streaming order of one block-row: perm[u * Q + t] = block held by unit u at step t; a unit is
// a column (input lane, k units) or, for per_cell, a cell (k*k units, index r k + c).
struct RowOrder {
  bool per_cell = false;
  int64_t Q = 0, k = 0;
  std::vector<int32_t> perm;
  int32_t block(int64_t r, int64_t c, int64_t t) const { return perm[static_cast<size_t>((per_cell ? r * k + c : c) * Q + t)]; }
};

// levels: the signed levels of one block-row, [Q, k, k] (block j, row r, column c at (j k + r) k + c).
RowOrder make_row_order(StreamOrder o, const int* levels, int64_t Q, int64_t k);

struct RowStream {
  PcmWriteCost cost;                // writes, up/down steps, energy, max_cell_steps; time_s = sum of step_time_s
  std::vector<double> step_time_s;  // per step: slowest cell (parallel_cells) or the sum (serial_cells)
  std::vector<int64_t> cell_steps;  // level steps per cell [k*k] in one pass
};
// One pass of one block-row in `order`, from the reset state.
RowStream stream_row(const PcmLevelSpec& spec, const int* levels, const RowOrder& order);

// sum over cells of min(|min_j L|, |max_j L|) + max_j L - min_j L: no order writes fewer steps.
int64_t row_write_bound(const int* levels, int64_t Q, int64_t k);

struct LayerStream {
  std::string node;
  int64_t writes = 0, up_steps = 0, down_steps = 0, bound_writes = 0, max_cell_steps = 0, programmings = 0;
  double time_s = 0, energy_j = 0;
};

// Per-pass cost of the whole workload (computed once; a run multiplies it by the passes).
struct StreamPlan {
  StreamOrder order = StreamOrder::native;
  std::vector<LayerStream> layers;
  int64_t writes = 0, up_steps = 0, down_steps = 0, bound_writes = 0, programmings = 0;
  double time_s = 0, energy_j = 0;
  int64_t cores = 0, k = 0;
  std::vector<int64_t> cell_steps;  // per physical cell [cores, k, k]: level steps per pass, all layers
  int64_t max_cell_steps() const;   // the worst physical cell (ELight's lifetime metric, summed over layers)
  nlohmann::json to_json() const;
};

// levels(layer, group): signed levels [P, Q, k, k] of that group. wl.spec.mapping must be streaming.
using LevelsOf = std::function<const std::vector<int>&(int64_t layer, int64_t group)>;
StreamPlan plan_streaming(const models::CompiledWorkload& wl, const PcmLevelSpec& spec, StreamOrder order,
                          const LevelsOf& levels);
// The same for a device: its level ladder and signed levels, in the order wl.spec.order names.
// Throws if the device has no transmission levels.
class Technology;
StreamPlan plan_streaming(const models::CompiledWorkload& wl, const Technology& tech);

// Endurance of the streamed cells (ELight's TCAD 2022 extension: aged PCM cannot reach its levels;
// docs/elight.md §4). Physical cell i (core, row, column: one differential pair) has a budget of
// B_i level steps (drawn by the device); with s_i level steps per pass it is worn from pass
// n_i = ceil(B_i / s_i) on (never when s_i = 0). A worn cell is stuck at the zero level (both
// sides at the lowest transmission) in every block streamed through it [assumption].
// Row-based remapping (docs/elight.md §6): each core may have S spare rows of k cells; logical row
// r of a core (its r-th output row) starts on physical row r, and remap_worn_rows() moves a worn
// logical row to a free spare row of its core at pass n0, whose cell j is then worn from pass
// n0 + ceil(B'_j / s_{r,j}) on; the abandoned row's cells leave the datapath.
struct RowRemapOutcome {
  int64_t remapped = 0;         // logical rows moved to a spare row by this call
  int64_t unrepaired = 0;       // logical rows with >= threshold worn cells in use and no spare left, after the call
  int64_t spare_rows_left = 0;  // free spare rows over all cores, after the call
};

struct CellWear {
  std::vector<int64_t> worn_pass;  // per logical cell [cores, k, k]: of the physical cell it uses now; kNever: never
  int64_t first_worn_pass = 0;     // the first wear of any cell (kNever: none); a spare starts fresh, so remapping keeps it
  int64_t first_unrepaired_pass = kNever;  // pass of the first remap_worn_rows() call that found an unrepaired row
  static constexpr int64_t kNever = INT64_MAX;
  // budgets: [cores, k, k] for the core rows, then [cores, S, k] for S spare rows per core (S = 0
  // when there are just cores k k budgets). plan.cores and plan.k give the shape when S > 0.
  CellWear(const StreamPlan& plan, const std::vector<double>& budgets);
  std::vector<char> worn_at(int64_t passes) const;  // per logical cell, 1 = worn after `passes` passes
  int64_t worn_count(int64_t passes) const;         // worn cells in use
  int64_t spare_rows() const { return m_spares; }   // per core
  // After `passes` passes: every logical row with >= threshold worn cells in use moves to the
  // lowest free spare row of its core (rows in index order while spares last), fresh from pass
  // `passes` on. threshold >= 1.
  RowRemapOutcome remap_worn_rows(int64_t passes, int64_t threshold);
  const std::vector<int64_t>& spare_rows_used() const { return m_used; }  // per core
  int64_t rows_remapped() const;

 private:
  std::vector<int64_t> m_steps;  // per logical cell, level steps per pass
  std::vector<double> m_budgets;
  int64_t m_cores = 0, m_k = 0, m_spares = 0;
  std::vector<int64_t> m_used;
};

// The streamed core's product, for verification: y = W x for one GEMM computed block-row by
// block-row as the streamed core does it -- at step t cell (r, c) holds weight (r, c) of block
// order.block(r, c, t) and multiplies the input element of that block (x[j k + c]; zero past the
// matrix), the step's partial product is added to y. blocks [P, Q, k, k] (GemmTiles::blocks),
// orders one per block-row, x [cols], y [rows].
void streamed_matvec(const models::GemmTiles& t, int64_t k, const std::vector<RowOrder>& orders, const float* x, float* y);

}  // namespace ptc::hw
