#include "sim/fleet_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/controller.h"
#include "sim/evaluator.h"
#include "sim/monitor.h"
#include "sim/runtime.h"
#include "sim/sample_stats.h"

namespace ptc::sim {
namespace fs = std::filesystem;

namespace {

// The fleet's events.jsonl in (t_s, chip) order, each chip's events at one instant in the order
// they happened: the chips' processes interleave at an instant in an order that other activities
// (trace rows) change, so the file was not the same bytes when only trace.every_s changed.
std::string ordered_events(const std::string& events) {
  struct Line {
    double t;
    int64_t chip;
    size_t at, len;
  };
  std::vector<Line> lines;
  for (size_t at = 0; at < events.size();) {
    size_t end = events.find('\n', at);
    if (end == std::string::npos) end = events.size();
    const Json e =
        Json::parse(events.begin() + static_cast<std::ptrdiff_t>(at), events.begin() + static_cast<std::ptrdiff_t>(end));
    lines.push_back({e.at("t_s").get<double>(), e.at("chip").get<int64_t>(), at, end - at});
    at = end + 1;
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const Line& a, const Line& b) { return a.t != b.t ? a.t < b.t : a.chip < b.chip; });
  std::string out;
  out.reserve(events.size());
  for (const Line& l : lines) out.append(events, l.at, l.len).push_back('\n');
  return out;
}
const auto& fmt = trace_number;
// The chips' trace columns; "chips_draining" replaces the noise step (a per-chip clock).
const std::string kFleetHeader = trace_header("chips_draining");
}  // namespace

FleetRecorder::FleetRecorder(sc_core::sc_module_name name, const RunContext& c, Runtime& rt, const fs::path& out)
    : sc_core::sc_module(name), m_c(c), m_rt(rt), m_out(out) {
  m_wall0 = m_last_progress = m_last_partial = std::chrono::steady_clock::now();
  SC_THREAD(run);
}

void FleetRecorder::add_chip(hw::Accelerator& acc, Recorder& rec, Controller& ctl, Evaluator& ev, Monitor& mon) {
  const int chip = static_cast<int>(m_chips.size());
  rec.set_fleet(&m_events, chip, &m_chip_row, &m_lat);
  rec.on_evaluation([this, chip](double a) { chip_evaluated(chip, a); });
  rec.on_partial([this] { partial_due(); });
  m_chips.push_back(Chip{&acc, &rec, &ctl, &ev, &mon});
  m_chip_evals.push_back(0);
}

void FleetRecorder::chip_evaluated(int chip, double acc) {
  const size_t k = m_chip_evals[static_cast<size_t>(chip)]++;
  if (k >= m_evals.size()) {
    m_evals.resize(k + 1, std::vector<double>(m_chips.size(), NAN));
    m_eval_reported.resize(k + 1, 0);
  }
  m_evals[k][static_cast<size_t>(chip)] = acc;
  if (++m_eval_reported[k] < static_cast<int>(m_chips.size())) return;
  // The last chip of instant k: mean and spread over the chips, in chip order.
  std::vector<double> per_chip;
  for (double a : m_evals[k])
    if (std::isfinite(a)) per_chip.push_back(a);
  if (per_chip.empty()) return;
  double m, sd;
  sample_mean_std(per_chip, m, sd);
  int64_t draining = 0;
  for (auto& ch : m_chips) draining += (ch.ctl->acting() || ch.acc->claimed(kRankMonitor)) ? 1 : 0;
  row(m, sd, static_cast<int64_t>(per_chip.size()), draining);
}

void FleetRecorder::run() {
  guarded(m_c, [&] {
    const double every_s = m_c.s.trace_every_s;
    if (!(every_s > 0)) return;
    // The row of instant t, written once the last chip has written its row of t (a chip under
    // maintenance at t writes its row when its action ends), sums each chip's latest row (a chip
    // ahead of the others may have written rows after t; check_books accepts either). The fleet
    // holds no agenda entry: waiting for a chip's row holds no lane and no dispatch (with an
    // entry at its next instant, an action longer than trace.every_s moved count-based monitor
    // checks with the trace cadence).
    for (double t = every_s; !m_c.interrupted; t = next_multiple(every_s, t)) {
      while (!m_c.interrupted && !chips_done(t)) sc_core::wait(m_chip_row);
      if (m_c.interrupted) break;
      int64_t draining = 0;
      for (auto& ch : m_chips) draining += ch.rec->timed_draining_at(t) ? 1 : 0;
      row(NAN, NAN, 0, draining);
    }
  });
}

bool FleetRecorder::chips_done(double t) const {
  for (const auto& ch : m_chips)
    if (ch.rec->timed_done_s() < t) return false;
  return true;
}

// A fleet row: the sums (requests, energy, writes, actions, cycles, device counters) and the mean
// temperature of every chip's latest trace row, so each fleet row is the sum of the chips' rows
// it follows; accuracy pooled over the requests the chips' rows counted since the fleet's last row.
void FleetRecorder::row(double acc, double acc_std, int64_t acc_n, int64_t draining) {
  const double t = now_s();
  if (m_rt.measures_served()) {
    // Every chip's served requests since the last row, pooled.
    int64_t correct = 0, total = 0;
    std::vector<double> per_chip;
    for (auto& ch : m_chips) {
      const RowBooks& b = ch.rec->last_books();
      const int64_t dc = b.correct - ch.correct_seen, dn = b.classified - ch.total_seen;
      ch.correct_seen += dc;
      ch.total_seen += dn;
      correct += dc;
      total += dn;
      if (dn > 0) per_chip.push_back(double(dc) / double(dn));
    }
    if (total > 0) acc = double(correct) / double(total), acc_n = total;
    if (per_chip.size() > 1) {
      double m;
      sample_mean_std(per_chip, m, acc_std);
    }
  }
  if (std::isfinite(acc)) {
    m_last_acc = acc;
    m_rows_acc_sum += acc;
    ++m_rows_acc_n;
  }
  double energy = 0, temp = 0;
  int64_t requests = 0, writes = 0, cal = 0, remaps = 0, cycles = 0;
  std::vector<int64_t> extras;
  for (const auto& ch : m_chips) {
    const RowBooks& b = ch.rec->last_books();
    requests += b.requests;
    energy += b.energy_j;
    writes += b.writes;
    cal += b.calibrations;
    remaps += b.remaps;
    cycles += b.cycles;
    temp += b.temp_k / double(m_chips.size());
    // Every chip has the same device and mapping, so the same extra columns.
    if (extras.empty()) extras.assign(b.extras.size(), 0);
    for (size_t i = 0; i < b.extras.size() && i < extras.size(); ++i) extras[i] += b.extras[i];
  }
  auto& lat = m_lat;  // the chips' rows' windows since the last fleet row
  // One row per instant (as a chip's trace): a periodic row at the instant of the evaluation row
  // just written, with nothing measured and nothing moved since, would repeat it.
  const std::string key = books_key();
  if (!std::isfinite(acc) && acc_n == 0 && !std::isfinite(lat.quantile(0.5)) && t == m_last_row_t && key == m_last_row_key)
    return;
  m_last_row_t = t;
  m_trace += trace_time(t) + "," + std::to_string(requests) + "," + fmt(acc) + "," + fmt(acc_std) + "," +
             (acc_n ? std::to_string(acc_n) : "") + "," + fmt(lat.quantile(0.5)) + "," + fmt(lat.quantile(0.99)) + "," +
             fmt(energy) + "," + std::to_string(writes) + "," + std::to_string(cal) + "," + std::to_string(remaps) + "," +
             std::to_string(cycles) + "," + fmt(temp) + "," + std::to_string(draining);
  for (int64_t v : extras) m_trace += "," + std::to_string(v);
  m_trace += "\n";
  lat.clear();
  m_last_row_key = key;
  partial_due();
}

// Every 5 s of wall time, at a chip's row or the fleet's: the fleet's files and every chip's,
// all at the one instant.
void FleetRecorder::partial_due() {
  auto wall = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(wall - m_last_partial).count() > 5.0) {
    write_partial("running");
    m_last_partial = wall;
  }
}

// The books of the chips' latest rows (a final row is due when any chip's moved since the last
// fleet row).
std::string FleetRecorder::books_key() const {
  std::string key;
  for (const auto& ch : m_chips) {
    const RowBooks& b = ch.rec->last_books();
    key += std::to_string(b.requests) + "/" + fmt(b.energy_j) + "/" + std::to_string(b.writes) + "/" +
           std::to_string(b.calibrations) + "/" + std::to_string(b.remaps) + "/" + std::to_string(b.cycles);
    for (int64_t v : b.extras) key += "/" + std::to_string(v);
    key += ";";
  }
  return key;
}

void FleetRecorder::finish() {
  for (auto& ch : m_chips) ch.rec->finish();
  if (m_trace.empty() || books_key() != m_last_row_key) {
    int64_t draining = 0;
    for (auto& ch : m_chips) draining += (ch.ctl->acting() || ch.acc->claimed(kRankMonitor)) ? 1 : 0;
    row(NAN, NAN, 0, draining);
  }
  if (m_last_frac < 1.0 && !m_c.interrupted) progress(1.0);  // an interrupted run stops where it was
}

void FleetRecorder::progress(double frac) {
  if (m_c.quiet) return;
  m_last_frac = frac;
  auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - m_last_progress).count();
  const bool tty = isatty(2);
  if (since < (tty ? 0.25 : 5.0) && frac < 1.0) return;
  m_last_progress = now;
  const double wall = std::chrono::duration<double>(now - m_wall0).count();
  std::fprintf(stderr,
               tty ? "\rptcsim: fleet of %zu chips %5.1f%% simulated, t=%.4g s, %lld requests, %.3g sim-s/s   "
                   : "ptcsim: fleet of %zu chips %5.1f%% simulated, t=%.4g s, %lld requests, %.3g sim-s/s\n",
               m_chips.size(), 100 * frac, now_s(), static_cast<long long>(m_rt.served()), wall > 0 ? now_s() / wall : 0.0);
  if (tty && frac >= 1.0) std::fprintf(stderr, "\n");
}

void FleetRecorder::write_partial(const std::string& status) {
  for (auto& ch : m_chips) ch.rec->write_partial(status);
  std::string header = kFleetHeader;
  if (!m_chips.empty()) {
    header.pop_back();
    for (const auto& c : m_chips.front().rec->extra_columns()) header += "," + c;
    header += "\n";
  }
  write_atomic(m_out / "trace.csv", header + m_trace);
  write_atomic(m_out / "events.jsonl", ordered_events(m_events));
  write_atomic(m_out / "summary.json", summary(status).dump(2) + "\n");
}

Json FleetRecorder::summary(const std::string& status) const {
  const auto& s = m_c.s;
  Json chips = Json::array();
  double energy = 0;
  int64_t writes = 0, writes0 = 0, cal = 0, remaps = 0, probes = 0, triggers = 0, cycles = 0, inf_cycles = 0, served = 0;
  int64_t correct = 0, classified = 0, recomputations = 0, recomputation_cycles = 0;
  bool recomputation_books = false;
  for (const auto& ch : m_chips) {
    Json cj = ch.rec->summary(status);
    auto num = [&](const char* k) { return cj[k].is_number() ? cj[k].get<double>() : NAN; };
    energy += num("energy_j");
    writes += cj["writes"].get<int64_t>();
    writes0 += cj["writes_initial_programming"].get<int64_t>();
    cal += cj["calibrations"].get<int64_t>();
    remaps += cj["remaps"].get<int64_t>();
    probes += cj["probes"].get<int64_t>();
    triggers += cj["triggers"].get<int64_t>();
    cycles += cj["overhead_cycles"].get<int64_t>();
    inf_cycles += cj["inference_cycles"].get<int64_t>();
    served += cj["requests"].get<int64_t>();
    if (cj.contains("recomputations")) {
      recomputation_books = true;
      recomputations += cj["recomputations"].get<int64_t>();
      recomputation_cycles += cj["recomputation_cycles"].get<int64_t>();
    }
    correct += ch.ev->served_correct();
    classified += ch.ev->served_classified();
    chips.push_back(std::move(cj));
  }
  // Scheduled: over the fleet rows, each an instant every chip has evaluated (docs/fleet.md): an
  // interrupted run whose chips reached different instants mixed them (4 chips' t = 657 s with 4
  // chips' t = 60 s as the final accuracy). A complete run's rows hold every chip's evaluations.
  double acc_mean = m_rows_acc_n ? m_rows_acc_sum / double(m_rows_acc_n) : NAN;
  double acc_final = m_rows_acc_n ? m_last_acc : NAN;
  if (m_rt.measures_served()) {
    acc_mean = classified ? double(correct) / double(classified) : NAN;
    acc_final = m_last_acc;
  }
  const auto& lat = m_rt.all_latency();
  Json j = {{"name", s.name},
            {"policy", s.policy_json.at("name")},
            {"device", s.device.name},
            {"seed", s.seed},
            {"status", status},
            {"chips", static_cast<int64_t>(m_chips.size())},
            {"dispatcher", s.dispatcher.name},
            {"accuracy_mean", acc_mean},
            {"accuracy_final", acc_final},
            {"accuracy_ideal", m_chips.empty() ? NAN : m_chips[0].ev->ideal_accuracy_all()},
            {"energy_j", energy},
            {"writes", writes},
            {"writes_initial_programming", writes0},
            {"latency_mean_s", lat.mean()},
            {"latency_p50_s", lat.quantile(0.5)},
            {"latency_p99_s", lat.quantile(0.99)},
            {"calibrations", cal},
            {"remaps", remaps},
            {"probes", probes},
            {"triggers", triggers},
            {"overhead_cycles", cycles},
            {"inference_cycles", inf_cycles},
            {"overhead_ratio", inf_cycles ? double(cycles) / double(inf_cycles) : 0.0},
            {"requests", served},
            {"requests_arrived", m_rt.arrived()},
            {"requests_unserved", m_rt.arrived() - served},
            {"sim_time_s", m_rt.end_s()}};
  if (recomputation_books) {  // each chip's array recomputes on its own: the fleet's are the sums
    j["recomputations"] = recomputations;
    j["recomputation_cycles"] = recomputation_cycles;
  }
  // The device's own counters (RNS decoder) and the streaming books, summed over the chips as every
  // other count is; the per-pass plan is every chip's, its first wear the earliest chip's.
  if (!chips.empty()) {
    const Json& c0 = chips.front();
    for (const auto& ch : m_chips)
      for (const auto& kv : ch.acc->tech().counters()) j[kv.first] = j.value(kv.first, int64_t{0}) + kv.second;
    if (c0.contains("writes_streamed")) {
      int64_t streamed = 0;
      for (const auto& cj : chips) streamed += cj["writes_streamed"].get<int64_t>();
      j["writes_streamed"] = streamed;
    }
    if (c0.contains("streaming")) {
      Json st = c0["streaming"];
      for (const char* k : {"passes", "worn_cells", "rows_remapped", "unrepaired_rows"})
        if (st.contains(k)) {
          int64_t n = 0;
          for (const auto& cj : chips) n += cj["streaming"][k].get<int64_t>();
          st[k] = n;
        }
      if (st.contains("spare_rows_used")) {  // a count per core: core by core, summed over the chips
        std::vector<int64_t> used(st["spare_rows_used"].size(), 0);
        for (const auto& cj : chips) {
          const Json& u = cj["streaming"]["spare_rows_used"];
          if (u.size() != used.size()) throw Error("fleet summary: chips report spare rows for different core counts");
          for (size_t c = 0; c < used.size(); ++c) used[c] += u[c].get<int64_t>();
        }
        st["spare_rows_used"] = used;
      }
      // The first wear (and the first unrepaired row) is one chip's, pass and time together: the chip
      // whose event came first in simulated time (the lower index on a tie); -1 (or null) for never.
      for (const char* event : {"first_worn", "first_unrepaired"}) {
        const std::string kp = std::string(event) + "_pass", kt = std::string(event) + "_time_s";
        if (!st.contains(kt)) continue;
        const Json* first = nullptr;
        for (const auto& cj : chips) {
          const Json& v = cj["streaming"][kt];
          if (v.is_number() && v.get<double>() >= 0 && (!first || v.get<double>() < (*first)[kt].get<double>()))
            first = &cj["streaming"];
        }
        if (first) {
          st[kt] = (*first)[kt];
          if (st.contains(kp)) st[kp] = (*first)[kp];
        } else if (st.contains(kp)) {  // not yet on any chip: the earliest pass the chips foresee
          for (const auto& cj : chips) {
            const Json& v = cj["streaming"][kp];
            if (v.is_number() && v.get<double>() >= 0 && !(st[kp].is_number() && st[kp].get<double>() >= 0 && st[kp] <= v))
              st[kp] = v;
          }
        }
      }
      j["streaming"] = st;
    }
    // Write-verify (SWIM): the chips' books summed key by key over the chips that verified; its
    // times are chip-seconds (each chip programs its own array), docs/fleet.md §4.
    Json wv;
    for (const auto& cj : chips) {
      if (!cj.contains("write_verify")) continue;
      if (wv.is_null()) {
        wv = cj["write_verify"];
        continue;
      }
      for (auto it = wv.begin(); it != wv.end(); ++it) {
        const Json& v = cj["write_verify"][it.key()];
        if (it.value().is_number_integer())
          it.value() = it.value().get<int64_t>() + v.get<int64_t>();
        else
          it.value() = it.value().get<double>() + v.get<double>();
      }
    }
    if (!wv.is_null()) j["write_verify"] = wv;
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_number_float() && !std::isfinite(it.value().get<double>())) it.value() = nullptr;
  j["per_chip"] = std::move(chips);
  return j;
}

}  // namespace ptc::sim
