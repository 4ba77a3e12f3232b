// sim::FleetRecorder: a fleet's outputs over all its chips (docs/fleet.md). Each chip's own
// recorder writes <out>/chips/chip_<i>/{trace.csv,events.jsonl,summary.json}; this one writes
// <out>/trace.csv, <out>/events.jsonl and <out>/summary.json for the fleet.
// Contract:
// - One set of books: every fleet number is the sum (energy, writes, requests, calibrations,
//   cycles) or the pooled statistic (accuracy over all served requests, latency quantiles over
//   all requests) of the chips' own counters, read from the modules that count them; the fleet
//   summary lists each chip's summary, and its sums equal theirs.
// - Fleet accuracy: served mode, correct / served over every request of every chip; scheduled
//   mode, the mean over chips of each chip's evaluation of the same scheduled instant
//   (accuracy_std: the spread across chips, accuracy_n: the chips).
// - Trace rows: every trace.every_s once every chip's recorder has written its row of the instant
//   (its own process, woken by the chips' rows, with no agenda entry: it holds up no lane; a chip
//   under maintenance writes its row when its action ends, and the fleet's row waits for it), one row per scheduled
//   evaluation instant when the last chip has evaluated it (a chip busy calibrating evaluates a
//   little later; the row waits for it), and a final row. Every fleet row sums the chips' latest
//   rows (their books as they wrote them), so the fleet's trace is the sum of the chips' traces.
//   Periodic rows of scheduled mode carry no accuracy; no row repeats the instant and books of the
//   one before it.
// - events.jsonl: every chip's events in the order they happen, each with its "chip".
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <systemc>
#include <vector>

#include "hw/accelerator.h"
#include "sim/agenda.h"
#include "sim/recorder.h"
#include "sim/run_context.h"

namespace ptc::sim {

class Runtime;
class Controller;
class Evaluator;
class Monitor;

class FleetRecorder : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(FleetRecorder);
  FleetRecorder(sc_core::sc_module_name name, const RunContext& c, Runtime& rt, const std::filesystem::path& out);
  void add_chip(hw::Accelerator& acc, Recorder& rec, Controller& ctl, Evaluator& ev, Monitor& mon);

  // Chip `chip` finished a scheduled evaluation (its k-th: every chip evaluates the same instants
  // in order) with Monte-Carlo mean accuracy `acc`; the fleet's row for instant k is written when
  // the last chip reports.
  void chip_evaluated(int chip, double acc);
  void finish();
  void progress(double frac);
  void write_partial(const std::string& status);
  Json summary(const std::string& status) const;

 private:
  struct Chip {
    hw::Accelerator* acc;
    Recorder* rec;
    Controller* ctl;
    Evaluator* ev;
    Monitor* mon;
    int64_t correct_seen = 0, total_seen = 0;
  };
  void run();
  // A row of the chips' latest rows' books (served mode: the accuracy of the requests they served
  // since the last fleet row); draining: the chips under maintenance at the row's instant.
  void row(double acc, double acc_std, int64_t acc_n, int64_t draining);
  void partial_due();
  bool chips_done(double t) const;  // every chip's row of trace.every_s instant t is done
  std::string books_key() const;
  const RunContext& m_c;
  Runtime& m_rt;
  std::filesystem::path m_out;
  std::vector<Chip> m_chips;
  sc_core::sc_event m_chip_row;  // a chip's row of a trace.every_s instant is done
  LatencyHistogram m_lat;        // the latency windows of the chips' rows since the last fleet row
  std::string m_trace, m_events;
  double m_last_acc = NAN, m_rows_acc_sum = 0;
  int64_t m_rows_acc_n = 0;
  std::string m_last_row_key;
  double m_last_row_t = NAN;
  std::vector<std::vector<double>> m_evals;  // [instant k][chip]: NAN until the chip has evaluated k
  std::vector<size_t> m_chip_evals;          // evaluations each chip has reported
  std::vector<int> m_eval_reported;          // chips that reported instant k
  double m_last_frac = 0;
  std::chrono::steady_clock::time_point m_wall0, m_last_progress, m_last_partial;
};

}  // namespace ptc::sim
