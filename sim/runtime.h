// sim::Runtime: serves the requests of a Traffic source on the fleet's chips (one ArrayIf per
// chip; a single accelerator is a fleet of one). docs/architecture.md §3, docs/fleet.md.
// Contract:
// - Batches are the unit of work: one serve() per (batch, chip), no kernel event per request.
// - The runtime's own process (the dispatcher) takes the traffic's batches in time order and,
//   once every activity of the fleet due by a batch's ready time has started (sim/agenda.h),
//   splits it over the chips with the scenario's Dispatcher and queues each part on its chip's
//   lane. A closed-loop source's next batch is asked for after the previous one is booked.
// - Each chip has a lane (ChipLane, a child module with its own process) that books its queue
//   in order, running ahead of simulated time (loosely timed) up to the next pending activity of
//   its chip or the fleet: it never books a part that would start at or after it, but waits
//   until those activities are done, so their array time delays the queue. At the completion
//   instant of a part that reaches a count threshold of its chip, it stops there and wakes the
//   processes waiting for that count.
// - Latency of a request = completion - arrival (exact arrival times, or uniform over the
//   batch window). Served images: the traffic's, else (first_image + i) mod N for request i of
//   the run (whichever chip serves it).
// - The run ends at the horizon (open traffic) or when a closed-loop source is exhausted; every
//   activity due by then runs, then the runtime stops the kernel. A part that would start at or
//   after the horizon is not served (nor is anything after it on that chip).
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <systemc>
#include <utility>
#include <vector>

#include "hw/accelerator.h"
#include "hw/stats.h"
#include "sim/agenda.h"
#include "sim/dispatch/dispatcher.h"
#include "sim/latency_histogram.h"
#include "sim/run_context.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {

class Runtime;

// One chip's share of the traffic: its queue of dispatched requests and its books (requests
// served, latencies). Monitor, controller and recorder of the chip read it.
class ChipLane : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ChipLane);
  ChipLane(sc_core::sc_module_name name, Runtime& rt, int chip);

  int chip() const { return m_chip; }
  int64_t served() const { return m_served; }
  // Requests dispatched to the chip, served or not (a fleet of one: every request that arrived
  // ready before the horizon, also those the booked-out chip never took). While the run goes on
  // (partial summaries), those ready by now: the dispatcher runs ahead of simulated time.
  int64_t arrived() const;
  // Requests dispatched to the chip and ready after t (drawn ahead of t).
  int64_t ahead_of(double t) const;
  int64_t batches() const { return m_batches; }
  // The closed-loop total the chip will serve (a single chip's traffic total), else -1.
  int64_t total_requests() const;
  bool measures_served() const;
  LatencyHistogram& window_latency() { return m_lat_win; }
  const LatencyHistogram& all_latency() const { return m_lat_all; }
  double end_s() const;
  double held_s() const { return m_wait_s; }

 private:
  friend class Runtime;
  struct Part {
    int64_t n = 0;
    double ready_s = 0, window_lo_s = 0, window_hi_s = 0;
    std::vector<double> arrival_s;
    std::vector<int64_t> images;
    // Clears the part, keeping its buffers' capacity.
    void reset() {
      n = 0;
      ready_s = window_lo_s = window_hi_s = 0;
      arrival_s.clear();
      images.clear();
    }
  };
  // FIFO of parts in a ring of reused slots: a part's buffers circulate between the dispatcher's
  // scratch and the ring (swap, no allocation once warm).
  class PartQueue {
   public:
    bool empty() const { return m_size == 0; }
    size_t size() const { return m_size; }
    Part& front() { return m_slots[m_head]; }
    void pop_front() {
      m_head = (m_head + 1) % m_slots.size();
      --m_size;
    }
    // Swaps `p` into a new slot at the back (`p` gets the slot's old, cleared buffers).
    void push_back_swap(Part& p) {
      if (m_size == m_slots.size()) grow();
      Part& slot = m_slots[(m_head + m_size) % m_slots.size()];
      std::swap(slot, p);
      p.reset();
      ++m_size;
    }
    void clear() { m_head = m_size = 0; }
    template <class F>
    void for_each(F f) const {
      for (size_t i = 0; i < m_size; ++i) f(m_slots[(m_head + i) % m_slots.size()]);
    }

   private:
    void grow() {
      std::vector<Part> v(std::max<size_t>(8, 2 * m_slots.size()));
      for (size_t i = 0; i < m_size; ++i) std::swap(v[i], m_slots[(m_head + i) % m_slots.size()]);
      m_slots.swap(v);
      m_head = 0;
    }
    std::vector<Part> m_slots;
    size_t m_head = 0, m_size = 0;
  };
  void run();
  void body();
  Runtime& m_rt;
  int m_chip;
  PartQueue m_queue;
  int64_t m_queued = 0, m_served = 0, m_batches = 0, m_booked_parts = 0, m_arrived = 0;
  std::vector<std::pair<double, int64_t>> m_unserved_parts;  // (ready_s, n) of the parts left when the lane stopped
  bool m_saturated = false;                                  // a part reached the horizon: nothing more is served on this chip
  double m_last_done = 0, m_wait_s = 0;
  // ChipState::queued_done_s: the queued parts chained from their ready times, and their total
  // array time (a calibration that books the array delays them all by its length).
  double m_queued_done_s = 0, m_queued_work_s = 0;
  LatencyHistogram m_lat_win, m_lat_all;
  sc_core::sc_event m_pushed, m_booked;
};

class Runtime : public sc_core::sc_module, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Runtime);
  // One array per chip, bound in chip order.
  sc_core::sc_port<hw::ArrayIf, 0> array;

  Runtime(sc_core::sc_module_name name, const RunContext& c, std::unique_ptr<TrafficSource> traffic, Agenda& agenda, int chips,
          std::unique_ptr<Dispatcher> dispatcher);

  int chips() const { return static_cast<int>(m_lanes.size()); }
  ChipLane& lane(int chip) { return *m_lanes[static_cast<size_t>(chip)]; }
  const ChipLane& lane(int chip) const { return *m_lanes[static_cast<size_t>(chip)]; }
  // Whether chip `chip` drains (set by build_top: its controller runs an action, or its array is held).
  void set_draining(int chip, std::function<bool()> f) { m_draining[static_cast<size_t>(chip)] = std::move(f); }
  void set_progress(std::function<void(double)> f) { m_progress = std::move(f); }

  // Fleet totals.
  int64_t served() const;
  int64_t dispatched() const { return m_dispatched; }
  // Requests of the traffic ready before the horizon, served or not (an open-loop source is drawn
  // to the horizon even after every chip is booked out; a closed-loop one issues what is served).
  // While the run goes on (partial summaries): those drawn and ready by now.
  int64_t arrived() const;
  int64_t total_requests() const { return m_traffic->total_requests(); }
  bool measures_served() const { return m_measures_served; }
  // Fleet-wide latencies of the whole run (all chips' requests); a fleet of one keeps them in its
  // lane only.
  const LatencyHistogram& all_latency() const { return chips() == 1 ? lane(0).all_latency() : m_lat_all; }
  // The simulated time the run ended at; while it goes on (partial summaries), now.
  double end_s() const;
  bool stopped() const { return m_stopped; }
  bool interrupted() const { return m_interrupted; }
  // The test images the first `n` served requests classified (the ideal reference's images).
  const std::vector<int64_t>& served_images() const { return m_images_seen; }
  // A fleet's chip k (served mode): the distinct test images its requests classified, in order
  // (none in other modes, or for a chip that served nothing).
  const std::vector<int64_t>& served_images(size_t chip) const {
    static const std::vector<int64_t> none;
    if (chips() == 1) return m_images_seen;
    return chip < m_chip_images.size() ? m_chip_images[chip] : none;
  }
  nlohmann::json stats() const override;

 private:
  friend class ChipLane;
  void run();
  void body();
  const RunContext& m_c;
  std::unique_ptr<TrafficSource> m_traffic;
  std::unique_ptr<Dispatcher> m_dispatcher;
  Agenda& m_agenda;
  std::vector<std::unique_ptr<ChipLane>> m_lanes;
  std::vector<std::function<bool()>> m_draining;
  std::function<void(double)> m_progress;
  double m_horizon = 0;
  int64_t m_dispatched = 0, m_batches = 0, m_arrived = 0;
  // A batch drawn and counted but not dispatched (the run stopped, or every chip was booked out).
  int64_t m_held_n = 0;
  double m_held_ready_s = 0;
  // Requests arrived by the end of the run: takes back those drawn ahead of it (not yet ready) and
  // counts an open-loop source's rest ready by then.
  void count_arrivals();
  bool m_ended = false;  // no more batches will be dispatched
  bool m_measures_served = false;
  LatencyHistogram m_lat_all;  // fleet-wide (all chips' requests), chips > 1 only
  double m_end_s = 0, m_wait_s = 0;
  bool m_interrupted = false, m_stopped = false;
  std::vector<int64_t> m_images_seen;
  std::vector<std::vector<int64_t>> m_chip_images;  // chips > 1, served mode: each chip's distinct images
  std::vector<std::vector<char>> m_chip_seen;       // [chip][image]: in m_chip_images
  sc_core::sc_event m_lane_done;                    // a lane booked a part or stopped
};

}  // namespace ptc::sim
