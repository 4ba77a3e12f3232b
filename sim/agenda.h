// The pending activities of the simulation's processes (docs/architecture.md §3).
// Contract:
// - Every process that acts on the chip at instants of its own (controller timers, monitor
//   checks, scheduled evaluations, trace rows) publishes its next instant (at) and, if it reacts
//   to the served-request count, its next count threshold. It publishes again after each
//   activity, which notifies changed().
// - The runtime serves batches ahead of simulated time (TLM-2.0 loosely timed) but never books
//   a batch that would start at or after next_s(): it waits on changed() until the activities
//   due by then have run, so a calibration at t delays the requests queued behind it.
// - count_reached(served, now): called by the runtime at the completion instant of the batch
//   that brought the count to `served`; every process whose threshold is <= served becomes due
//   now and is woken (its wake() event); take_count_due() tells it so.
// - Same-instant order is explicit: a process of rank r lets r delta cycles pass (settle) before
//   it asks for the array, and the array grants waiters in (asked at, rank) order. Ranks:
//   controller 0, monitor 1, evaluator 2, recorder 3; the runtime serves after all of them.
// - Fleets (docs/fleet.md): every entry belongs to a chip (its accelerator's processes; the
//   fleet recorder has none: its rows follow the chips' rows). Count thresholds are per chip (the
//   chip's served requests). A chip's lane never books past the next instant of its chip's
//   entries (next_s(chip)); the dispatcher never dispatches a batch while an entry due by its
//   ready time has not started (next_unstarted_s()): an entry has started from the wake-up that
//   makes it due until it publishes again.
// This is not a scheduler: the SystemC kernel wakes every process; the agenda only publishes
// what the runtime may not serve past.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "hw/sim_seconds.h"

namespace ptc::sim {

constexpr int kRankController = 0, kRankMonitor = 1, kRankEvaluator = 2, kRankRecorder = 3;
constexpr int64_t kNoCount = std::numeric_limits<int64_t>::max();

// Waits (SC_THREAD) until absolute simulated time t_s (rounded to the kernel resolution).
inline void wait_until_s(double t_s) {
  const sc_core::sc_time target(t_s, sc_core::SC_SEC), now = sc_core::sc_time_stamp();
  if (target > now) sc_core::wait(target - now);
}
inline double now_s() {
  return hw::sim_now_s();
}
// Lets `rank` delta cycles pass (same-instant order).
inline void settle(int rank) {
  for (int i = 0; i < rank; ++i) sc_core::wait(sc_core::SC_ZERO_TIME);
}
// The first multiple n·period strictly after `after`. `after` is usually the previous multiple,
// computed here as n·period, whose quotient by period can land a rounding below n (20481·0.1 / 0.1):
// floor then gives n − 1 and (n − 1 + 1)·period is `after` again. An absolute epsilon on the
// quotient vanished past ~10^4 periods and the same instant came back for ever (a trace every
// 0.1 s stopped at 2,048.1 s); the result is now checked to be later, with no tolerance (which
// would skip a due instant just after a non-multiple `after`).
inline double next_multiple(double period, double after) {
  const double n = std::floor(after / period);
  double t = (n + 1) * period;
  if (!(t > after)) t = (n + 2) * period;
  if (!(t > after)) t = std::nextafter(after, INFINITY);  // quotients past 2^53: the next double
  return t;
}

class Agenda {
 public:
  int add(const std::string& who, int chip = 0) {
    m_entries.push_back(Entry{who, chip, INFINITY, kNoCount, false, false, std::make_unique<sc_core::sc_event>()});
    return static_cast<int>(m_entries.size()) - 1;
  }
  void at(int id, double t_s, int64_t count) {
    m_entries[id].t = t_s;
    m_entries[id].count = count;
    m_entries[id].started = false;
    m_changed.notify(sc_core::SC_ZERO_TIME);
  }
  // Done for good (process ended).
  void clear(int id) { at(id, INFINITY, kNoCount); }
  double next_s() const {
    double t = INFINITY;
    for (const auto& e : m_entries) t = std::min(t, e.t);
    return t;
  }
  // The next instant of the chip's own entries.
  double next_s(int chip) const {
    double t = INFINITY;
    for (const auto& e : m_entries)
      if (e.chip == chip) t = std::min(t, e.t);
    return t;
  }
  // The next instant of the entries that have not started their activity.
  double next_unstarted_s() const {
    double t = INFINITY;
    for (const auto& e : m_entries)
      if (!e.started) t = std::min(t, e.t);
    return t;
  }
  int64_t next_count(int chip = 0) const {
    int64_t c = kNoCount;
    for (const auto& e : m_entries)
      if (e.chip == chip) c = std::min(c, e.count);
    return c;
  }
  // Chip `chip` has served `served` requests (its count thresholds; fleet entries have none).
  void count_reached(int64_t served, double now, int chip = 0) {
    for (auto& e : m_entries)
      if (e.chip == chip && e.count <= served) {
        e.count = kNoCount;
        e.count_due = true;
        e.t = std::min(e.t, now);
        e.wake->notify(sc_core::SC_ZERO_TIME);
      }
  }
  bool take_count_due(int id) {
    bool d = m_entries[id].count_due;
    m_entries[id].count_due = false;
    return d;
  }
  // Waits until this process's published instant or a count wake-up (SC_THREAD).
  void await(int id) {
    Entry& e = m_entries[id];
    if (e.count_due) return;
    if (std::isfinite(e.t)) {
      const sc_core::sc_time target(e.t, sc_core::SC_SEC), now = sc_core::sc_time_stamp();
      if (target > now) sc_core::wait(target - now, *e.wake);
    } else {
      sc_core::wait(*e.wake);
    }
  }
  // What woke a process: its count threshold, its instant, or (neither) a stale wake-up.
  struct Due {
    bool counted = false, timed = false;
    explicit operator bool() const { return counted || timed; }
  };
  // Publishes the process's next instant and count threshold, waits for either, says which came.
  Due next(int id, double t_s, int64_t count) {
    at(id, t_s, count);
    await(id);
    Due d;
    d.counted = take_count_due(id);
    d.timed = reached(t_s);
    if (d) {  // the activity starts now (until the process publishes again)
      m_entries[id].started = true;
      m_changed.notify(sc_core::SC_ZERO_TIME);
    }
    return d;
  }
  // True when the instant t_s has been reached (kernel resolution).
  static bool reached(double t_s) {
    return std::isfinite(t_s) && sc_core::sc_time_stamp() >= sc_core::sc_time(t_s, sc_core::SC_SEC);
  }
  const sc_core::sc_event& changed() const { return m_changed; }
  std::vector<std::string> pending(double by_s) const {
    std::vector<std::string> v;
    for (const auto& e : m_entries)
      if (e.t <= by_s) v.push_back(e.who);
    return v;
  }

 private:
  struct Entry {
    std::string who;
    int chip;
    double t;
    int64_t count;
    bool count_due, started;
    std::unique_ptr<sc_core::sc_event> wake;
  };
  std::vector<Entry> m_entries;
  sc_core::sc_event m_changed;
};

}  // namespace ptc::sim
