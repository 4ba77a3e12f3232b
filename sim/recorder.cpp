#include "sim/recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "sim/controller.h"
#include "sim/evaluator.h"
#include "sim/monitor.h"
#include "sim/progress_eta.h"
#include "sim/runtime.h"

namespace ptc::sim {
namespace fs = std::filesystem;

void write_atomic(const fs::path& path, const std::string& text) {
  // Never replace what is not a regular file (a FIFO, a device node such as /dev/sda): rename()
  // would put a regular file in its place.
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw Error(path.string() + ": exists and is not a regular file; refusing to replace it");
  // A temporary name unique to this process and call, created exclusively: two writers of one
  // folder never share a temporary file.
  static std::atomic<uint64_t> seq{0};
  fs::path tmp = path;
  tmp += "." + std::to_string(::getpid()) + "." + std::to_string(seq++) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot write: " + std::strerror(errno));
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    const std::string why = err == ENOSPC || err == EDQUOT ? "no space left on device"
                            : err == EFBIG                 ? "file size limit exceeded (no space left for it)"
                                                           : std::strerror(err);
    throw Error(path.string() + ": cannot write: " + why);
  };
  for (size_t done = 0; done < text.size();) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(w < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(w);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path.string() +
                ": cannot write: " + (err == ENOSPC || err == EDQUOT ? "no space left on device" : std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": cannot write (rename failed: " + std::strerror(err) + ")");
  }
}

std::string trace_number(double v) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}
std::string trace_time(double t_s) {
  // The kernel's instant to its resolution (1 ns), trailing zeros dropped: 9187081.383633865, not
  // %.9g's 9187081.38, which could print a scheduled evaluation's row before its instant.
  if (!std::isfinite(t_s)) return "";
  char b[48];
  std::snprintf(b, sizeof b, "%.9f", t_s);
  std::string s = b;
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}
std::string trace_header(const char* last_column) {
  return std::string(
             "t_s,requests,accuracy,accuracy_std,accuracy_n,latency_p50_s,latency_p99_s,energy_j,writes,calibrations,remaps,"
             "overhead_cycles,temp_k_mean,") +
         last_column + "\n";
}

namespace {
const auto& fmt = trace_number;
const std::string kTraceHeader = trace_header("step");
}  // namespace

Recorder::Recorder(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda, const fs::path& out,
                   int chip)
    : sc_core::sc_module(name), m_c(c), m_acc(acc), m_agenda(agenda), m_out(out) {
  m_wall0 = m_last_progress = m_last_partial = std::chrono::steady_clock::now();
  m_id = m_agenda.add("recorder", chip);
  SC_THREAD(run);
}

void Recorder::run() {
  guarded(m_c, [&] {
    const double every_s = m_c.s.trace_every_s;
    const int64_t every_n = m_c.s.trace_every_requests;
    if (!(every_s > 0) && every_n <= 0) return m_agenda.clear(m_id);
    double next_t = every_s > 0 ? every_s : INFINITY;
    int64_t next_n = every_n > 0 ? every_n : kNoCount;
    // Validate bounds the timed rows by the horizon, or with horizon_s 0 by the traffic's earliest
    // end; a run until the traffic ends may last longer: the same limit, when it is reached.
    const double traces = m_c.s.dispatcher.chips > 1 ? m_c.s.dispatcher.chips + 1.0 : 1.0;
    int64_t timed_rows = 0;
    while (!m_c.interrupted) {
      const Agenda::Due due = m_agenda.next(m_id, next_t, next_n);
      if (m_c.interrupted) break;
      if (!due) continue;
      const bool counted = due.counted, timed = due.timed;
      if (timed && static_cast<double>(++timed_rows) * traces > 1e7)
        throw Error("trace.every_s: a row every " + trace_number(every_s) + " s reached the limit of 1e7 rows" +
                    (traces > 1 ? " (" + trace_number(traces) + " traces: each chip's and the fleet's)" : std::string()) +
                    " at t = " + trace_number(now_s()) +
                    " s of a run until the traffic ends (horizon_s 0; traces are held in memory until written); use a "
                    "larger trace.every_s or set horizon_s");
      settle(kRankRecorder);
      const bool draining = m_ctl->acting() || m_acc.claimed(kRankMonitor);
      m_acc.acquire(kRankRecorder, false);
      if (m_c.interrupted) {  // stopped while waiting for the array: no row past the stop
        m_acc.release();
        break;
      }
      row();
      m_acc.release();
      if (timed) {
        m_timed_done_s = next_t;
        if (m_row_done) {
          m_timed_draining.emplace_back(next_t, draining);
          m_row_done->notify(sc_core::SC_ZERO_TIME);
        }
        next_t = next_multiple(every_s, next_t);
      }
      if (counted) next_n = (m_rt->served() / every_n + 1) * every_n;
    }
    m_agenda.clear(m_id);
  });
}

void Recorder::log_event(const std::string& type, const Json& fields) {
  Json e = {{"t_s", now_s()}, {"requests", m_rt->served()}, {"step", m_acc.step(now_s())}, {"type", type}};
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    // Every event's own fields (a plug-in's "t_s" replaced the instant, and the fleet's file,
    // ordered by it, failed with a bare JSON type error).
    if (e.contains(it.key()) || it.key() == "chip")
      throw Error("event \"" + type + "\": field \"" + it.key() +
                  "\" is reserved (t_s, requests, step, type and chip are every event's)");
    e[it.key()] = it.value();
  }
  m_events += e.dump() + "\n";
  if (m_fleet_events) {
    e["chip"] = m_chip;
    *m_fleet_events += e.dump() + "\n";
  }
}

bool Recorder::row_remap_columns() const {
  if (!m_acc.wear() || !m_ctl) return false;
  const auto& caps = m_ctl->capabilities();
  return std::find(caps.begin(), caps.end(), "row_remap") != caps.end();
}

void Recorder::row(double acc, double acc_std, int64_t acc_n) {
  m_acc.flush();
  int64_t wn = 0;
  const double wacc = m_ev->take_window(wn);
  if (m_rt->measures_served() && wn > 0) {
    acc = wacc;
    acc_n = wn;
  }
  if (std::isfinite(acc)) {
    m_last_acc = acc;
    m_rows_acc_sum += acc;
    ++m_rows_acc_n;
  }
  const double t = now_s();
  auto& lat = m_rt->window_latency();
  const double p50 = lat.quantile(0.5), p99 = lat.quantile(0.99);
  m_last_books = books_now(t);
  std::string books = books_text(m_last_books, m_acc.step(t));
  // One row per instant: a periodic row due at the instant of the row just written (an evaluation
  // delayed onto it by a busy array), with nothing measured and nothing moved since, would repeat it.
  if (!std::isfinite(acc) && acc_n == 0 && !std::isfinite(p50) && t == m_last_row_t && books == m_last_row_books) return;
  const size_t bar = books.find('|');
  m_trace += trace_time(t) + "," + books.substr(0, bar) + "," + fmt(acc) + "," + fmt(acc_std) + "," +
             (acc_n ? std::to_string(acc_n) : "") + "," + fmt(p50) + "," + fmt(p99) + "," + books.substr(bar + 1) + "\n";
  m_last_row_t = t;
  m_last_row_books = std::move(books);
  if (m_fleet_latency) m_fleet_latency->merge(lat);
  lat.clear();
  m_last_row_served = m_rt->served();
  if (m_on_partial) {
    m_on_partial();
    return;
  }
  auto wall = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(wall - m_last_partial).count() > 5.0) {
    write_partial("running");
    m_last_partial = wall;
  }
}

RowBooks Recorder::books_now(double t) const {
  RowBooks b;
  b.t = t;
  b.requests = m_rt->served();
  b.energy_j = m_acc.total_energy_j();
  b.writes = m_acc.writes_after_deployment();
  b.calibrations = m_ctl->calibrations();
  b.remaps = m_ctl->remaps();
  b.cycles = m_ctl->overhead_cycles();
  b.temp_k = m_acc.temperature_mean_k(t);
  b.correct = m_ev->served_correct();
  b.classified = m_ev->served_classified();
  b.extras = extra_values();
  return b;
}

// A row's requests and books as trace.csv writes them ("requests|energy,...,step,extras").
std::string Recorder::books_text(const RowBooks& b, int64_t step) {
  std::string books = std::to_string(b.requests) + "|" + fmt(b.energy_j) + "," + std::to_string(b.writes) + "," +
                      std::to_string(b.calibrations) + "," + std::to_string(b.remaps) + "," + std::to_string(b.cycles) + "," +
                      fmt(b.temp_k) + "," + std::to_string(step);
  for (int64_t v : b.extras) books += "," + std::to_string(v);
  return books;
}

// Whether the counted books (requests, energy, writes, actions, cycles, device counters; not the
// temperature or the clock, which move on by themselves) differ between two rows.
static bool counters_moved(const RowBooks& a, const RowBooks& b) {
  return a.requests != b.requests || a.energy_j != b.energy_j || a.writes != b.writes || a.calibrations != b.calibrations ||
         a.remaps != b.remaps || a.cycles != b.cycles || a.extras != b.extras;
}

void Recorder::finish() {
  // The final row when anything was counted since the last one (a calibration after the last
  // periodic row with no request served since was in summary.json but in no row).
  if (m_rt->served() != m_last_row_served || m_trace.empty() || m_acc.has_pending() ||
      counters_moved(books_now(now_s()), m_last_books))
    row();
  m_acc.commit_thermal(now_s());                             // stats.json's thermal figures run to the end
  if (m_last_frac < 1.0 && !m_c.interrupted) progress(1.0);  // an interrupted run stops where it was
}

void Recorder::progress(double frac) {
  if (m_c.quiet || m_fleet_events) return;
  m_last_frac = frac;
  auto now = std::chrono::steady_clock::now();
  double wall = std::chrono::duration<double>(now - m_wall0).count();
  double since = std::chrono::duration<double>(now - m_last_progress).count();
  bool tty = isatty(2);
  if (since < (tty ? 0.25 : 5.0) && frac < 1.0) return;
  m_last_progress = now;
  double rate = wall > 0 ? now_s() / wall : 0;
  // ETA from the work left (sim/progress_eta.h): evaluations left at their mean cost, the rest at
  // the progress rate outside evaluations over the recent intervals (smoothed).
  const double other_s = wall - m_ev->evaluation_wall_s();
  if (frac > m_rate_frac && other_s > m_rate_other_s + 1e-3) {
    const double r = (frac - m_rate_frac) / (other_s - m_rate_other_s);
    m_rate = m_rate > 0 ? 0.5 * (m_rate + r) : r;
    m_rate_frac = frac;
    m_rate_other_s = other_s;
  }
  const int64_t evals = m_c.s.accuracy.mode == "scheduled" ? static_cast<int64_t>(m_c.s.accuracy.times_s.size()) : 0;
  double eta = progress_eta_s(frac, m_rate, m_ev->evaluations_done(), evals, m_ev->evaluation_wall_s());
  char eta_txt[32] = "?";  // unknown until a rate (and an evaluation's cost) has been measured
  if (std::isfinite(eta)) std::snprintf(eta_txt, sizeof eta_txt, "%.0f s", eta);
  if (tty) {
    int w = 30, fill = static_cast<int>(frac * w);
    std::fprintf(stderr, "\r[%s%s] %5.1f%%  t=%.4g s  %.3g sim-s/s  ETA %s   ", std::string(fill, '#').c_str(),
                 std::string(w - fill, '.').c_str(), 100 * frac, now_s(), rate, eta_txt);
    if (frac >= 1.0) std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr, "ptcsim: %5.1f%% simulated, t=%.4g s, %lld requests, %.3g sim-s/s, ETA %s\n", 100 * frac, now_s(),
                 static_cast<long long>(m_rt->served()), rate, eta_txt);
  }
}

void Recorder::write_partial(const std::string& status) {
  std::error_code ec;
  if (m_fleet_events) fs::create_directories(m_out, ec);  // a fleet chip's folder
  std::string header = kTraceHeader;
  header.pop_back();
  for (const auto& c : extra_columns()) header += "," + c;
  header += "\n";
  write_atomic(m_out / "trace.csv", header + m_trace);
  write_atomic(m_out / "events.jsonl", m_events);
  write_atomic(m_out / "summary.json", summary(status).dump(2) + "\n");
}

std::vector<std::string> Recorder::extra_columns() const {
  std::vector<std::string> c;
  for (const auto& kv : m_acc.tech().counters()) c.push_back(kv.first);  // the technology's own counters (cumulative)
  if (m_acc.wear()) c.push_back("worn_cells");                           // cell endurance (docs/elight.md §4)
  if (row_remap_columns()) c.push_back("rows_remapped");                 // row-based remapping (docs/elight.md §6)
  return c;
}

std::vector<int64_t> Recorder::extra_values() const {
  std::vector<int64_t> v;
  for (const auto& kv : m_acc.tech().counters()) v.push_back(kv.second);
  if (m_acc.wear()) v.push_back(m_acc.worn_cells());
  if (row_remap_columns()) v.push_back(m_acc.wear()->rows_remapped());
  return v;
}

Json Recorder::summary(const std::string& status) const {
  const auto& s = m_c.s;
  const int64_t served = m_rt->served(), cpi = std::max<int64_t>(m_c.wl.cycles_per_inference, 1);
  double acc_mean = m_rows_acc_n > 0 ? m_rows_acc_sum / static_cast<double>(m_rows_acc_n) : NAN;
  if (m_rt->measures_served()) acc_mean = m_ev->served_accuracy();
  const auto& lat = m_rt->all_latency();
  Json j = {{"name", s.name},
            {"policy", s.policy_json.at("name")},
            {"device", s.device.name},
            {"seed", s.seed},
            {"status", status},
            {"accuracy_mean", acc_mean},
            {"accuracy_final", m_last_acc},
            {"accuracy_ideal", m_ev->ideal_accuracy()},
            {"energy_j", m_acc.total_energy_j()},
            {"writes", m_acc.writes_after_deployment()},
            {"writes_initial_programming", m_acc.writes_initial()},
            {"latency_mean_s", lat.mean()},
            {"latency_p50_s", lat.quantile(0.5)},
            {"latency_p99_s", lat.quantile(0.99)},
            {"calibrations", m_ctl->calibrations()},
            {"remaps", m_ctl->remaps()},
            {"probes", m_ctl->probes()},
            {"triggers", m_mon->triggers_fired()},
            {"overhead_cycles", m_ctl->overhead_cycles()},
            {"inference_cycles", served * cpi},
            {"overhead_ratio", served ? double(m_ctl->overhead_cycles()) / double(served * cpi) : 0.0},
            {"requests", served},
            {"requests_arrived", m_rt->arrived()},
            {"requests_unserved", m_rt->arrived() - served},
            {"sim_time_s", m_rt->end_s()},
            {"steps", m_acc.step(now_s())}};
  if (const hw::StreamPlan* p = m_acc.stream_plan()) {
    // Streaming mapping (docs/elight.md): every pass writes the plan's level steps; these writes are
    // in "writes" (no event carries them), the rest of "writes" is the events'.
    j["writes_streamed"] = m_acc.passes() * p->writes;
    j["streaming"] = {{"order", hw::stream_order_name(p->order)},
                      {"passes", m_acc.passes()},
                      {"images_per_pass", m_acc.workload().spec.images_per_pass},
                      {"level_steps_per_pass", p->writes},
                      {"per_cell_bound_steps_per_pass", p->bound_writes},
                      {"program_time_per_pass_s", p->time_s},
                      {"program_energy_per_pass_j", p->energy_j},
                      {"worst_cell_steps_per_pass", p->max_cell_steps()}};
    if (const hw::CellWear* w = m_acc.wear()) {
      j["streaming"]["worn_cells"] = w->worn_count(m_acc.passes());
      // The first wear the run applied (its time is set then), not a prediction past the run's end.
      j["streaming"]["first_worn_pass"] = m_acc.first_worn_s() < 0 ? -1 : w->first_worn_pass;
      j["streaming"]["first_worn_time_s"] = m_acc.first_worn_s();
      if (m_acc.reports_row_remap()) {  // row-based remapping (docs/elight.md §6)
        j["streaming"]["spare_rows"] = w->spare_rows();
        j["streaming"]["rows_remapped"] = w->rows_remapped();
        j["streaming"]["spare_rows_used"] = w->spare_rows_used();
        j["streaming"]["unrepaired_rows"] = m_acc.unrepaired_rows();
        j["streaming"]["first_unrepaired_pass"] =
            w->first_unrepaired_pass == hw::CellWear::kNever ? -1 : w->first_unrepaired_pass;
        j["streaming"]["first_unrepaired_time_s"] = m_acc.first_unrepaired_s();
      }
    }
  }
  if (m_acc.verify_books().calls > 0) {
    // Write-verify (SWIM, docs/swim.md): its books; programming_time_s (_energy_j) = the one-shot
    // programming before deployment plus every verification since.
    const auto& v = m_acc.verify_books();
    j["write_verify"] = {{"weights_verified", v.weights},
                         {"reads", v.reads},
                         {"writes", v.writes},
                         {"unconverged", v.unconverged},
                         {"time_s", v.time_s},
                         {"energy_j", v.energy_j},
                         {"initial_programming_time_s", m_acc.initial_programming_s()},
                         {"programming_time_s", m_acc.initial_programming_s() + v.time_s},
                         {"initial_programming_energy_j", m_acc.initial_programming_j()},
                         {"programming_energy_j", m_acc.initial_programming_j() + v.energy_j}};
  }
  for (const auto& kv : m_acc.tech().counters()) j[kv.first] = kv.second;  // device counters (RNS), cumulative
  if (m_acc.keeps_recomputation_books()) {
    // Recomputations (RNS retries, bound-management re-runs) are array cycles beside the
    // inferences' and the controller's: stats' accelerator.recomputation_cycles, in the same books.
    j["recomputations"] = m_acc.recomputations_charged();
    j["recomputation_cycles"] = m_acc.recomputation_cycles();
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_number_float() && !std::isfinite(it.value().get<double>())) it.value() = nullptr;
  return j;
}

}  // namespace ptc::sim
