// sim::FleetRecorder: a fleet's outputs over all its chips (docs/fleet.md). Each chip's own
// recorder writes <out>/chips/chip_<i>/{trace.csv,events.jsonl,summary.json}; this one writes
// <out>/trace.csv, <out>/events.jsonl and <out>/summary.json for the fleet.
// Contract:
// - One set of books: every fleet number is the sum (energy, writes, requests, calibrations,
//   cycles) or the pooled statistic (accuracy over all served requests, latency quantiles over
//   all requests) of the chips' own counters, read from the modules that count them; the fleet
//   summary lists each chip's summary, and its sums equal theirs.
// - Fleet accuracy: served mode, correct / served over every request of every chip; scheduled
//   mode, the mean over chips of each chip's evaluation (accuracy_std: the spread across chips).
// - Trace rows: every trace.every_s (its own process, a fleet-wide agenda entry at the
//   recorder's rank, so every chip's activities of the instant come first), and a final row.
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
  FleetRecorder(sc_core::sc_module_name name, const RunContext& c, Runtime& rt, Agenda& agenda, const std::filesystem::path& out);
  void add_chip(hw::Accelerator& acc, Recorder& rec, Controller& ctl, Evaluator& ev, Monitor& mon);

  void row();
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
  std::string books_key() const;
  const RunContext& m_c;
  Runtime& m_rt;
  Agenda& m_agenda;
  std::filesystem::path m_out;
  std::vector<Chip> m_chips;
  int m_id = -1;
  std::string m_trace, m_events;
  double m_last_acc = NAN, m_rows_acc_sum = 0;
  int64_t m_rows_acc_n = 0;
  std::string m_last_row_key;
  double m_last_frac = 0;
  std::chrono::steady_clock::time_point m_wall0, m_last_progress, m_last_partial;
};

}  // namespace ptc::sim
