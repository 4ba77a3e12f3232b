#include "sim/runtime.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ptc::sim {

namespace {
// An activity at t_s is due by `by_s` when it falls on or before it on the kernel's time grid.
bool due_by(double t_s, double by_s) {
  if (!std::isfinite(t_s)) return false;
  if (!std::isfinite(by_s)) return true;
  // Far apart (more than the kernel resolution): the doubles decide; close: the kernel's grid.
  if (t_s > by_s + 1e-6 * (1.0 + by_s * 1e-9)) return false;
  if (t_s < by_s - 1e-6 * (1.0 + by_s * 1e-9)) return true;
  return sc_core::sc_time(t_s, sc_core::SC_SEC) <= sc_core::sc_time(by_s, sc_core::SC_SEC);
}
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
// How far the dispatcher runs ahead of a lane (it runs ahead of simulated time, up to the next
// activity that has not started). A fleet's dispatcher reads the lanes' state for its decisions,
// so it waits only when a lane holds kLaneQueueCap requests (memory) and each booking wakes it. A
// fleet of one decides nothing: it waits once a lane holds kAheadParts parts, and the lane wakes
// it when kResumeParts are left (one process switch per kAheadParts - kResumeParts batches, not
// one per batch); when it waits changes no result.
constexpr int64_t kLaneQueueCap = int64_t{1} << 20;
constexpr size_t kAheadParts = 1024, kResumeParts = 128;
}  // namespace

void RunContext::fail(const std::string& what) const {
  if (error && error->empty()) *error = what.empty() ? "error" : what;
  sc_core::sc_stop();
}

// ================================================================================= ChipLane

ChipLane::ChipLane(sc_core::sc_module_name name, Runtime& rt, int chip) : sc_core::sc_module(name), m_rt(rt), m_chip(chip) {
  SC_THREAD(run);
}

int64_t ChipLane::total_requests() const {
  return m_rt.chips() == 1 ? m_rt.total_requests() : -1;
}
bool ChipLane::measures_served() const {
  return m_rt.measures_served();
}
double ChipLane::end_s() const {
  return m_rt.end_s();
}

int64_t ChipLane::ahead_of(double t) const {
  int64_t ahead = 0;
  m_queue.for_each([&](const Part& p) {
    if (p.ready_s > t) ahead += p.n;
  });
  for (const auto& [ready_s, n] : m_unserved_parts)
    if (ready_s > t) ahead += n;
  return ahead;
}

int64_t ChipLane::arrived() const {
  if (m_rt.stopped()) return m_arrived;
  const int64_t held = m_rt.chips() == 1 && m_rt.m_held_n > 0 && !(m_rt.m_held_ready_s > now_s()) ? m_rt.m_held_n : 0;
  return m_arrived - ahead_of(now_s()) + held;
}

double Runtime::end_s() const {
  return m_stopped ? m_end_s : now_s();
}

int64_t Runtime::arrived() const {
  if (m_stopped) return m_arrived;
  const double t = now_s();
  int64_t n = m_arrived;
  for (const auto& l : m_lanes) n -= l->ahead_of(t);
  if (m_held_n > 0 && m_held_ready_s > t) n -= m_held_n;
  return n;
}

void ChipLane::run() {
  guarded(m_rt.m_c, [&] { body(); });
  m_saturated = true;
  // The parts left unserved (past the horizon, or the run stopped): their requests arrived when
  // ready (Runtime::count_arrivals), so their ready times are kept.
  m_queue.for_each([&](const Part& p) { m_unserved_parts.emplace_back(p.ready_s, p.n); });
  m_queue.clear();
  m_queued = 0;
  m_rt.m_lane_done.notify(sc_core::SC_ZERO_TIME);
}

void ChipLane::body() {
  const RunContext& c = m_rt.m_c;
  Agenda& agenda = m_rt.m_agenda;
  hw::ArrayIf& array = *m_rt.array[static_cast<size_t>(m_chip)];
  while (!c.interrupted) {
    // Waiting for the dispatcher counts as held: it waits only for activities to start.
    double t0 = now_s();
    while (m_queue.empty() && !m_rt.m_ended && !c.interrupted) wait(m_pushed);
    m_wait_s += now_s() - t0;
    if (m_queue.empty() || c.interrupted) break;
    // Serve ahead only up to the next pending activity of this chip or the fleet. (The queue may
    // grow while the lane waits: its front is taken again after every wait.)
    // A part that would start at or after the horizon is not served: the lane stops without
    // waiting for activities before that start (a trace row after the horizon held the run open
    // until its instant, so sim_time_s depended on trace.every_s).
    double start = std::max(m_queue.front().ready_s, array.free_at_s());
    while (start < m_rt.m_horizon && due_by(agenda.next_s(m_chip), start) && !c.interrupted) {
      t0 = now_s();
      wait(agenda.changed());
      m_wait_s += now_s() - t0;
      start = std::max(m_queue.front().ready_s, array.free_at_s());
    }
    if (c.interrupted || start >= m_rt.m_horizon) break;
    Part& p = m_queue.front();
    const hw::Service sv = array.serve(p.ready_s, p.n, p.images);
    const LatencyHistogram::Window win = LatencyHistogram::window(sv.done_s - p.window_hi_s, sv.done_s - p.window_lo_s);
    auto add = [&](LatencyHistogram& h) {
      if (!p.arrival_s.empty())
        for (double t : p.arrival_s) h.add(sv.done_s - t);
      else
        h.add_uniform(win, static_cast<double>(p.n));
    };
    add(m_lat_win);
    add(m_lat_all);
    if (m_rt.chips() > 1) add(m_rt.m_lat_all);  // (the fleet's rows pool the chips' row windows)
    m_served += p.n;
    m_queued -= p.n;
    const double part_work_s = m_rt.chips() > 1 ? array.service_s(p.n) : 0.0;
    ++m_batches;
    m_last_done = sv.done_s;
    m_queue.pop_front();
    if (m_rt.chips() > 1) m_queued_work_s = m_queue.empty() ? 0.0 : std::max(0.0, m_queued_work_s - part_work_s);
    ++m_booked_parts;
    if (m_rt.chips() > 1 || m_queue.size() <= kResumeParts) m_rt.m_lane_done.notify(sc_core::SC_ZERO_TIME);
    if (m_served >= agenda.next_count(m_chip)) {
      wait_until_s(sv.done_s);
      agenda.count_reached(m_served, sv.done_s, m_chip);
    }
    if (m_rt.m_progress) {
      const int64_t N = m_rt.total_requests();
      m_rt.m_progress(N > 0 ? double(m_rt.served()) / double(std::max<int64_t>(N, 1)) : std::min(1.0, now_s() / m_rt.m_horizon));
    }
  }
}

// ================================================================================= Runtime

Runtime::Runtime(sc_core::sc_module_name name, const RunContext& c, std::unique_ptr<TrafficSource> traffic, Agenda& agenda,
                 int chips, std::unique_ptr<Dispatcher> dispatcher)
    : sc_core::sc_module(name),
      array("array"),
      m_c(c),
      m_traffic(std::move(traffic)),
      m_dispatcher(std::move(dispatcher)),
      m_agenda(agenda),
      m_draining(static_cast<size_t>(chips)) {
  if (chips < 1) throw Error("runtime: a fleet needs at least one chip");
  m_horizon = m_c.s.horizon_s > 0 ? m_c.s.horizon_s : INFINITY;
  m_measures_served = m_c.s.accuracy.mode == "served";
  for (int k = 0; k < chips; ++k)
    m_lanes.push_back(std::make_unique<ChipLane>(chips == 1 ? "lane" : ("lane_" + std::to_string(k)).c_str(), *this, k));
  SC_THREAD(run);
}

int64_t Runtime::served() const {
  int64_t n = 0;
  for (const auto& l : m_lanes) n += l->served();
  return n;
}

void Runtime::run() {
  guarded(m_c, [&] { body(); });
  m_ended = true;
  for (auto& l : m_lanes) l->m_pushed.notify(sc_core::SC_ZERO_TIME);
  // Every lane books what it holds (or stops at the horizon), then the run ends.
  auto busy = [&] {
    for (const auto& l : m_lanes)
      if (!l->m_queue.empty() && !l->m_saturated) return true;
    return false;
  };
  while (busy() && !m_c.interrupted && !(m_c.error && !m_c.error->empty())) wait(m_lane_done);
  guarded(m_c, [&] {
    m_interrupted = m_c.interrupted;
    double last = now_s();
    for (int k = 0; k < chips(); ++k) last = std::max(last, array[static_cast<size_t>(k)]->free_at_s());
    const double end = std::isfinite(m_horizon) ? m_horizon : last;
    if (!m_interrupted) {
      // Until the end, woken by every change of the agenda: a module that stops on an interrupt
      // clears its activity, so the run ends at the instant it stopped (a single wait until the
      // horizon reported the horizon as simulated, and wrote a trace row there).
      while (!m_c.interrupted) {
        const sc_core::sc_time target(end, sc_core::SC_SEC), now = sc_core::sc_time_stamp();
        if (!(target > now)) break;
        wait(target - now, m_agenda.changed());
      }
      while (due_by(m_agenda.next_s(), end) && !m_c.interrupted) wait(m_agenda.changed());
    }
    m_interrupted = m_c.interrupted;
  });
  // Stopped by a signal: the actions in flight finish first (an action cut during one of its waits
  // had booked its array time, energy and conversions, not its cycles, writes and event), and
  // any process still waiting for an array takes its turn and stops.
  if (m_c.interrupted)
    guarded(m_c, [&] {
      // Until a round finds every array free; after a release, one delta cycle lets a waiter take
      // its turn (acquire() grants the array in the delta cycle after the release).
      for (bool waited = true; waited;) {
        waited = false;
        for (int k = 0; k < chips(); ++k) waited = array[static_cast<size_t>(k)]->wait_released() || waited;
        if (waited) wait(sc_core::SC_ZERO_TIME);
      }
    });
  m_end_s = now_s();
  m_stopped = true;
  guarded(m_c, [&] { count_arrivals(); });
  sc_core::sc_stop();
}

void Runtime::count_arrivals() {
  const double end = m_end_s;
  // Drawn ahead of the end and not ready by then (the dispatcher runs ahead of simulated time):
  // not arrived.
  for (auto& l : m_lanes) {
    const int64_t ahead = l->ahead_of(end);
    l->m_arrived -= ahead;
    m_arrived -= ahead;
  }
  if (m_held_n > 0) {
    if (m_held_ready_s > end)
      m_arrived -= m_held_n;
    else if (chips() == 1)  // a fleet of one: the chip's arrivals are the traffic's
      m_lanes[0]->m_arrived += m_held_n;
  }
  // An open-loop source the runtime stopped drawing (every chip booked out): its requests ready
  // before the end (and before the horizon) arrived unserved. A closed-loop one issues requests
  // as they are served: none waits undrawn.
  if (m_traffic->total_requests() < 0) {
    const int64_t rest = m_traffic->count_until(std::min(end, m_horizon));
    m_arrived += rest;
    if (chips() == 1) m_lanes[0]->m_arrived += rest;
  }
}

void Runtime::body() {
  const int64_t test_n = m_c.test.count;
  const bool closed_loop = m_traffic->total_requests() >= 0;
  const size_t n_chips = m_lanes.size();
  double prev_done = 0;
  Arrivals a;
  std::vector<int> chip_of;
  std::vector<ChipState> states(n_chips);
  std::vector<ChipLane::Part> parts(n_chips);
  std::vector<int64_t> booked_before(n_chips);
  std::vector<char> pushed(n_chips);
  while (!m_c.interrupted) {
    if (!m_traffic->next(prev_done, a)) break;
    if (a.ready_s >= m_horizon) break;
    m_arrived += a.n;
    // Held until dispatched: a partial summary written while the dispatcher waits counts it by its
    // ready time (Runtime::arrived); if the run stops first, count_arrivals does the same.
    m_held_n = a.n, m_held_ready_s = a.ready_s;
    // Dispatch once every activity of the fleet due by the ready time has started. A chip's
    // draining is a state of the present (an action runs until it ends): while one drains, the
    // dispatcher does not run ahead but decides at the batch's ready time.
    bool open = false;
    while (!m_c.interrupted) {
      while (due_by(m_agenda.next_unstarted_s(), a.ready_s) && !m_c.interrupted) wait(m_agenda.changed());
      bool draining = false;
      for (size_t k = 0; k < n_chips; ++k) {
        states[k].draining = n_chips > 1 && m_draining[k] ? m_draining[k]() : false;
        draining = draining || states[k].draining;
      }
      if (!draining || Agenda::reached(a.ready_s)) break;
      wait_until_s(a.ready_s);
    }
    if (m_c.interrupted) break;  // (the batch stays held)
    for (const auto& l : m_lanes) open = open || !l->m_saturated;
    if (!open) break;  // every chip is booked to the horizon (held; the rest arrives unserved: count_arrivals)
    m_held_n = 0;
    for (size_t k = 0; n_chips > 1 && k < n_chips; ++k) {
      states[k].free_at_s = array[k]->free_at_s();
      states[k].queued = m_lanes[k]->m_queued;
      states[k].service_s = array[k]->service_s();
      // Two lower bounds of when the queued work ends: chained from the parts' ready times (the
      // dispatcher runs ahead of the lanes), and all of it after the booked service (a calibration
      // booked since the parts were queued).
      states[k].queued_done_s = std::max(m_lanes[k]->m_queued_done_s,
                                         states[k].free_at_s + (m_lanes[k]->m_queued > 0 ? m_lanes[k]->m_queued_work_s : 0.0));
    }
    auto image_of = [&](int64_t i) {
      return !a.images.empty() ? a.images[static_cast<size_t>(i)] : (m_traffic->first_image() + m_dispatched + i) % test_n;
    };
    for (auto& p : parts) p.reset();
    const int64_t unseen = std::max<int64_t>(0, test_n - static_cast<int64_t>(m_images_seen.size()));
    if (n_chips == 1) {
      // A fleet of one: the whole batch is the chip's part (no per-request assignment).
      ChipLane::Part& p = parts[0];
      p.n = a.n;
      p.arrival_s.swap(a.arrival_s);  // a gets the part's cleared buffer
      a.arrival_s.clear();
      if (m_measures_served) {
        p.images.resize(static_cast<size_t>(a.n));
        for (int64_t i = 0; i < a.n; ++i) p.images[static_cast<size_t>(i)] = image_of(i);
      }
      for (int64_t i = 0; i < std::min(a.n, unseen); ++i) m_images_seen.push_back(image_of(i));
    } else {
      m_dispatcher->assign(a, states, chip_of);
      if (static_cast<int64_t>(chip_of.size()) != a.n)
        throw Error("dispatcher: assigned " + std::to_string(chip_of.size()) + " chips for " + std::to_string(a.n) + " requests");
      // Parts in chip order; each keeps its requests' arrival order.
      for (int64_t i = 0; i < a.n; ++i) {
        const int k = chip_of[static_cast<size_t>(i)];
        if (k < 0 || k >= static_cast<int>(n_chips))
          throw Error("dispatcher: request sent to chip " + std::to_string(k) + " of " + std::to_string(n_chips));
        ChipLane::Part& p = parts[static_cast<size_t>(k)];
        ++p.n;
        if (!a.arrival_s.empty()) p.arrival_s.push_back(a.arrival_s[static_cast<size_t>(i)]);
        const int64_t img = image_of(i);
        if (m_measures_served) {
          p.images.push_back(img);
          if (m_chip_seen.size() != n_chips) m_chip_seen.resize(n_chips), m_chip_images.resize(n_chips);
          std::vector<char>& seen = m_chip_seen[static_cast<size_t>(k)];
          if (seen.empty()) seen.assign(static_cast<size_t>(test_n), 0);
          if (!seen[static_cast<size_t>(img)])
            seen[static_cast<size_t>(img)] = 1, m_chip_images[static_cast<size_t>(k)].push_back(img);
        }
        if (i < unseen) m_images_seen.push_back(img);
      }
    }
    m_dispatched += a.n;
    ++m_batches;
    for (size_t k = 0; k < n_chips; ++k) {
      ChipLane::Part& p = parts[k];
      pushed[k] = p.n > 0;
      if (p.n == 0) continue;
      p.ready_s = a.ready_s;
      p.window_lo_s = a.window_lo_s;
      p.window_hi_s = a.window_hi_s;
      ChipLane& l = *m_lanes[k];
      booked_before[k] = l.m_booked_parts + static_cast<int64_t>(l.m_queue.size());
      l.m_arrived += p.n;
      if (l.m_saturated) continue;  // past the horizon on this chip: not served
      l.m_queued += p.n;
      if (n_chips > 1) {  // served in order: from its ready time or when the work before it ends
        const double sv = array[k]->service_s(p.n);
        l.m_queued_done_s = std::max({l.m_queued_done_s, array[k]->free_at_s(), p.ready_s}) + sv;
        l.m_queued_work_s += sv;
      }
      l.m_queue.push_back_swap(p);
      l.m_pushed.notify(sc_core::SC_ZERO_TIME);
    }
    // A closed-loop source's next request depends on this batch's completion; otherwise wait
    // only when a lane's queue is long (memory).
    auto pending = [&] {
      for (size_t k = 0; k < n_chips; ++k) {
        const ChipLane& l = *m_lanes[k];
        if (l.m_saturated) continue;
        if (closed_loop ? l.m_booked_parts < booked_before[k] + (pushed[k] ? 1 : 0)
                        : (n_chips > 1 ? l.m_queued > kLaneQueueCap : l.m_queue.size() >= kAheadParts))
          return true;
      }
      return false;
    };
    while (pending() && !m_c.interrupted) {
      const double t0 = now_s();
      wait(m_lane_done);
      m_wait_s += now_s() - t0;
    }
    prev_done = 0;
    for (const auto& l : m_lanes) prev_done = std::max(prev_done, l->m_last_done);
  }
}

nlohmann::json Runtime::stats() const {
  int64_t parts = 0;
  double held = 0;
  for (const auto& l : m_lanes) parts += l->batches(), held += l->held_s();
  nlohmann::json j = {{"traffic", m_c.s.traffic.name},
                      {"requests_served", stat(static_cast<double>(served()), "requests")},
                      {"requests_arrived", stat(static_cast<double>(arrived()), "requests")},
                      {"batches", stat(static_cast<double>(parts), "batches")},
                      {"latency_p50", stat(all_latency().quantile(0.5), "s")},
                      {"latency_p99", stat(all_latency().quantile(0.99), "s")},
                      // a fleet's lanes wait in parallel: their sum is in chip-seconds (docs/fleet.md §4)
                      {"held_for_activities", stat(held, chips() > 1 ? "chip-s" : "s")}};
  if (chips() > 1) {
    j["dispatcher"] = m_c.s.dispatcher.name;
    // "batches" above counts each chip's share of a traffic batch (a part) once: the sum of the
    // chips' batches. The traffic's own batches, each dispatched once:
    j["traffic_batches"] = stat(static_cast<double>(m_batches), "batches");
    for (int k = 0; k < chips(); ++k) {
      const ChipLane& l = lane(k);
      j["chip_" + std::to_string(k)] = {{"requests_served", stat(static_cast<double>(l.served()), "requests")},
                                        {"requests_arrived", stat(static_cast<double>(l.arrived()), "requests")},
                                        {"batches", stat(static_cast<double>(l.batches()), "batches")},
                                        {"latency_p99", stat(l.all_latency().quantile(0.99), "s")},
                                        {"held_for_activities", stat(l.held_s(), "s")}};
    }
  }
  return j;
}

}  // namespace ptc::sim
