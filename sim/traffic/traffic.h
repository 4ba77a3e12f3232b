// Traffic sources: where inference requests come from (a plug-in axis: one file per source in
// sim/traffic/impl/, registered by name with its parameters; the scenario selects one at
// traffic.name). docs/architecture.md §4.
// Contract:
// - A source yields batches of arrivals in time order through next(); the runtime serves each
//   batch as one unit of work (no kernel event per request). A batch is ready for service at
//   ready_s; its requests arrived at arrival_s (one per request) or, when arrival_s is empty,
//   uniformly over [window_lo_s, window_hi_s] (the runtime's latency histogram uses either).
// - A closed-loop source (back_to_back) issues a request when the previous one completes: it
//   reads prev_done_s. total_requests() is its fixed count (-1 for open sources, which need a
//   horizon and stop at it).
// - images: the test image of each request (empty: request i classifies image
//   (first_image + i) mod N, the runtime's default).
// - Deterministic: randomness only from the context's seed (counter-based streams); next() may
//   be called in any pattern and gives the same arrivals.
// - bind() is called once before the first next(); it may reject the context (e.g. image indices
//   outside the test set) with an Error naming the parameter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/physics/rng.h"
#include "sim/params.h"

namespace ptc::sim {

struct Arrivals {
  int64_t n = 0;
  double ready_s = 0;
  double window_lo_s = 0, window_hi_s = 0;
  std::vector<double> arrival_s;
  std::vector<int64_t> images;
};

struct TrafficContext {
  uint64_t seed = 1;
  double horizon_s = 0;     // 0: none (closed-loop sources only)
  int64_t test_images = 0;  // size of the test set requests index
  std::string base_dir;     // directory of the top-level scenario file (relative paths)
  // A served batch is streamed in passes of up to this many images (hw.mapping.images_per_pass,
  // 1 unless streaming): a source that splits one window into several batches splits it at a
  // multiple of it, so that the window takes ceil(n / images_per_pass) passes as one batch would.
  int64_t images_per_pass = 1;
};

class TrafficSource {
 public:
  virtual ~TrafficSource() = default;
  virtual void bind(const TrafficContext& c) { m_ctx = c; }
  // The next batch with at least one request; false when the source has no more before the horizon.
  virtual bool next(double prev_done_s, Arrivals& a) = 0;
  virtual int64_t total_requests() const { return -1; }
  virtual int64_t first_image() const { return 0; }
  // The earliest instant a request can be ready, known after bind() (windowed sources: the end of
  // the first window); 0 when a request may be ready at once or the source cannot say.
  virtual double first_ready_s() const { return 0; }
  // Relative file paths the source reads (resolved against the top-level scenario's directory).
  virtual std::vector<std::string> files() const { return {}; }
  // Open-loop sources: the requests of the rest of the traffic ready before t_s, drawn as next()
  // would draw them (the source is used up to there). The runtime stops drawing once every chip is
  // booked to the horizon; these requests arrived all the same (summary requests_arrived). A
  // source whose batches are many small pieces of one draw can count them in one step.
  virtual int64_t count_until(double t_s) {
    int64_t n = 0;
    Arrivals a;
    while (next(0.0, a) && a.ready_s < t_s) n = a.n > INT64_MAX - n ? INT64_MAX : n + a.n;
    return n;
  }

 protected:
  TrafficContext m_ctx;
};

using TrafficRegistry = Registry<TrafficSource>;

// Number of arrivals of a Poisson process with mean `lambda` in one window, from one counter-based
// stream: inversion of the CDF for lambda <= 64, a normal approximation above.
int64_t poisson_count(double lambda, const hw::RandomStream& rs);

}  // namespace ptc::sim
