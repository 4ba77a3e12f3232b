// sim::Runtime: serves the requests of a Traffic source on the chip's array (ArrayIf).
// Contract:
// - Batches are the unit of work: one serve() per batch, no kernel event per request. The
//   runtime runs ahead of simulated time (loosely timed) up to the next pending activity of the
//   agenda (sim/agenda.h): it never books a batch that would start at or after it, but waits
//   until those activities are done, so their array time delays the queue.
// - At the completion instant of a batch that reaches a count threshold of the agenda, it
//   stops there and wakes the processes waiting for that count.
// - Latency of a request = completion - arrival (exact arrival times, or uniform over the
//   batch window). Served images: the traffic's, else (first_image + i) mod N for request i.
// - The run ends at the horizon (open traffic) or when a closed-loop source is exhausted; every
//   activity due by then runs, then the runtime stops the kernel.
#pragma once

#include <memory>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/stats.h"
#include "sim/agenda.h"
#include "sim/latency_histogram.h"
#include "sim/recorder.h"
#include "sim/run_context.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {

class Runtime : public sc_core::sc_module, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Runtime);
  sc_core::sc_port<hw::ArrayIf> array;

  Runtime(sc_core::sc_module_name name, const RunContext& c, std::unique_ptr<TrafficSource> traffic, Agenda& agenda,
          Recorder& rec);

  int64_t served() const { return m_served; }
  int64_t total_requests() const { return m_traffic->total_requests(); }
  bool measures_served() const { return m_c.s.accuracy.mode == "served"; }
  LatencyHistogram& window_latency() { return m_lat_win; }
  const LatencyHistogram& all_latency() const { return m_lat_all; }
  double end_s() const { return m_end_s; }
  bool interrupted() const { return m_interrupted; }
  const std::string& error() const { return m_error; }
  // The test images the first `n` served requests classified (the ideal reference's images).
  const std::vector<int64_t>& served_images() const { return m_images_seen; }
  nlohmann::json stats() const override;

 private:
  void run();
  void body();
  const RunContext& m_c;
  std::unique_ptr<TrafficSource> m_traffic;
  Agenda& m_agenda;
  Recorder& m_rec;
  int64_t m_served = 0, m_batches = 0;
  LatencyHistogram m_lat_win, m_lat_all;
  double m_end_s = 0, m_wait_s = 0;
  bool m_interrupted = false;
  std::string m_error;
  std::vector<int64_t> m_images_seen;
};

}  // namespace ptc::sim
