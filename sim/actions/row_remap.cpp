// Row-based remapping of worn rows to spare rows (docs/elight.md §6): the chip moves every logical
// row with at least `threshold` worn cells in use to a free spare row of its core
// (hw::Accelerator::remap_worn_rows, hw/streaming.h CellWear). Detection is free: the programming
// driver sees a cell that fails to reach its level on every pass [assumption]. A check that moves
// rows is charged one read-back of the cores, k one-hot cycles (the cores in parallel), to confirm
// the spare rows took over [assumption: no published figure]; it advances no noise step (the
// optical PCM has no time-step noise) and logs one "row_remap" event. A check that moves nothing
// and finds no newly unrepaired row costs nothing and logs nothing.
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

RowRemapResult remap_worn_rows(Env& e, int64_t threshold) {
  hw::Accelerator& acc = e.chip();
  const int64_t unrepaired_before = acc.unrepaired_rows();
  const hw::RowRemapOutcome o = acc.remap_worn_rows(threshold, e.now_s());
  RowRemapResult r;
  r.remapped = o.remapped;
  r.unrepaired = o.unrepaired;
  if (o.remapped > 0) {
    r.cycles = e.ctx().wl.spec.block_size;
    e.charge_cycles(r.cycles, 0, "row_remap", 0);
  }
  if (o.remapped > 0 || o.unrepaired != unrepaired_before)
    e.log_event("row_remap", {{"rows_remapped", o.remapped},
                              {"rows_unrepaired", o.unrepaired},
                              {"spare_rows_left", o.spare_rows_left},
                              {"worn_cells", acc.worn_cells()},
                              {"threshold", threshold},
                              {"cycles", r.cycles}});
  return r;
}

}  // namespace ptc::sim::actions
