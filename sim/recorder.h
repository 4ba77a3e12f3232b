// sim::Recorder: the run's outputs as sinks (trace.csv rows, events.jsonl, summary.json; the
// stats exporter walks the module hierarchy). docs/architecture.md §1.
// Contract:
// - One set of books: every number it writes is read from the module that counts it (the
//   accelerator's energy, writes, busy time and noise clock; the controller's actions and
//   overhead cycles; the runtime's requests and latencies; the evaluator's accuracy), so a
//   write, a joule or a cycle reads the same in trace.csv, events.jsonl, summary.json and
//   stats.json.
// - Trace rows: every trace.every_s (its own process, rank 3: after the other activities of the
//   same instant, without waiting for booked inference service), every trace.every_requests
//   served (a count threshold), after each scheduled evaluation, and one final row at the end.
// - Files are written atomically (tmp + rename); partial outputs every 5 s of wall time.
#pragma once

#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <systemc>
#include <vector>

#include "hw/accelerator.h"
#include "sim/agenda.h"
#include "sim/latency_histogram.h"
#include "sim/run_context.h"

namespace ptc::sim {

class ChipLane;
class Controller;
class Evaluator;
class Monitor;

void write_atomic(const std::filesystem::path& path, const std::string& text);
// A number as trace.csv writes it (%.9g; empty when not finite), and trace.csv's header with its
// last column (a chip's noise "step", a fleet's "chips_draining").
std::string trace_number(double v);
// trace.csv's t_s: the instant to the kernel's 1 ns resolution, trailing zeros dropped.
std::string trace_time(double t_s);
std::string trace_header(const char* last_column);

// The books of a chip's latest trace row, as it wrote them (a fleet's rows sum them).
struct RowBooks {
  double t = NAN;
  int64_t requests = 0, writes = 0, calibrations = 0, remaps = 0, cycles = 0;
  int64_t correct = 0, classified = 0;  // served requests classified (correctly) by then, cumulative
  double energy_j = 0, temp_k = NAN;
  std::vector<int64_t> extras;
};

class Recorder : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Recorder);
  // chip: the chip whose books it writes (its agenda entry belongs to it).
  Recorder(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda,
           const std::filesystem::path& out, int chip = 0);
  void wire(ChipLane* rt, Controller* ctl, Evaluator* ev, Monitor* mon) { m_rt = rt, m_ctl = ctl, m_ev = ev, m_mon = mon; }

  // A fleet chip's recorder: its events also go to the fleet's log (with "chip"), the fleet
  // reports progress, and `row_done` is notified once the chip's row of each trace.every_s instant
  // is written (or found to repeat the last one).
  // Each row's latency window is also added to `fleet_latency` (the fleet's rows pool them).
  void set_fleet(std::string* fleet_events, int chip, sc_core::sc_event* row_done, LatencyHistogram* fleet_latency) {
    m_fleet_events = fleet_events, m_chip = chip, m_row_done = row_done, m_fleet_latency = fleet_latency;
  }
  // The books of the latest row (also of a row not written because it repeated the one before).
  const RowBooks& last_books() const { return m_last_books; }
  // The last trace.every_s instant whose row is done, and whether the chip was under maintenance
  // (its controller acting, or its monitor holding the array) when that row fell due.
  double timed_done_s() const { return m_timed_done_s; }
  // Whether the chip was under maintenance when its row of trace.every_s instant t fell due (a
  // fleet chip keeps one entry per instant until the fleet's row of that instant has asked;
  // instants before t are dropped).
  bool timed_draining_at(double t) {
    while (!m_timed_draining.empty() && m_timed_draining.front().first < t) m_timed_draining.pop_front();
    return !m_timed_draining.empty() && m_timed_draining.front().first == t && m_timed_draining.front().second;
  }
  // Called with the Monte-Carlo mean accuracy after each scheduled evaluation (the fleet's rows).
  void on_evaluation(std::function<void(double)> f) { m_on_evaluation = std::move(f); }
  // A fleet chip's partial files are written by the fleet with every other chip's and the fleet's
  // own, at one instant (written on the chip's own timer, they disagreed with the fleet's summary
  // of the chips): `f` is called where the chip would write them.
  void on_partial(std::function<void()> f) { m_on_partial = std::move(f); }
  // The extra trace columns after the common ones, in order: the device's counters (RNS),
  // worn_cells (cell endurance), rows_remapped (row-based remapping); and their values now.
  std::vector<std::string> extra_columns() const;
  std::vector<int64_t> extra_values() const;
  bool row_remap_columns() const;
  void evaluated(double acc) {
    if (m_on_evaluation) m_on_evaluation(acc);
  }
  void log_event(const std::string& type, const Json& fields);
  // A trace row now (acc: the evaluation's mean, else the served window's accuracy).
  void row(double acc = NAN, double acc_std = NAN, int64_t acc_n = 0);
  // After the simulation: the final row if anything happened since the last one.
  void finish();
  void progress(double frac);
  void write_partial(const std::string& status);
  Json summary(const std::string& status) const;

  double last_accuracy() const { return m_last_acc; }
  const std::string& trace() const { return m_trace; }

 private:
  void run();
  RowBooks books_now(double t) const;
  static std::string books_text(const RowBooks& b, int64_t step);
  // The trace's row-remapping column (rows_remapped): a chip with cell endurance under a
  // row-remapping policy (docs/elight.md §6). Every chip with cell endurance has worn_cells.
  const RunContext& m_c;
  hw::Accelerator& m_acc;
  Agenda& m_agenda;
  std::filesystem::path m_out;
  ChipLane* m_rt = nullptr;
  Controller* m_ctl = nullptr;
  Evaluator* m_ev = nullptr;
  Monitor* m_mon = nullptr;
  int m_id = -1, m_chip = 0;
  std::string* m_fleet_events = nullptr;
  std::function<void(double)> m_on_evaluation;
  std::function<void()> m_on_partial;
  std::string m_trace, m_events;
  double m_last_acc = NAN, m_rows_acc_sum = 0;
  int64_t m_rows_acc_n = 0, m_last_row_served = -1;
  sc_core::sc_event* m_row_done = nullptr;
  LatencyHistogram* m_fleet_latency = nullptr;
  RowBooks m_last_books;
  double m_timed_done_s = -INFINITY;
  std::deque<std::pair<double, bool>> m_timed_draining;  // (instant, under maintenance) per timed row, fleets only
  double m_last_row_t = NAN;                             // instant of the last trace row
  std::string m_last_row_books;  // its requests and books (a row repeating them at that instant is not written)
  double m_last_frac = 0;
  double m_rate_frac = 0, m_rate_other_s = 0, m_rate = 0;  // progress rate outside evaluations (ETA)
  std::chrono::steady_clock::time_point m_wall0, m_last_progress, m_last_partial;
};

}  // namespace ptc::sim
