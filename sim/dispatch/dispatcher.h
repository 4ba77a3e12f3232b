// Dispatchers: how a fleet's requests are spread over its chips (a plug-in axis, docs/fleet.md;
// one file per dispatcher in sim/dispatch/impl/, registered by name with its parameters; the
// scenario selects one at dispatcher.name). A fleet of one chip sends everything to chip 0.
// Contract:
// - assign() gives every request of a batch a chip index in [0, chips.size()); it sees each
//   chip's state at the instant the batch is dispatched (its ready time, after every activity of
//   the fleet due by then has started): when the chip's booked service ends, the work queued on
//   it but not yet booked, one request's service time, and whether it drains (its controller is
//   running an action or the array is held for non-inference work).
// - Deterministic: a function of the batches and chip states only (no clock, no randomness
//   outside the scenario's seed).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/params.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {

struct ChipState {
  double free_at_s = 0;   // booked service ends
  int64_t queued = 0;     // requests dispatched to the chip, not yet booked
  double service_s = 0;   // array time of one request
  bool draining = false;  // under calibration (controller action, or array held)
  // When the booked and queued work ends: the larger of the queue chained in order (each part from
  // its ready time or when the work before it ends; the dispatcher may run ahead of the lanes, so
  // work queued for later instants is not back to back from free_at_s) and free_at_s plus the
  // queue's array time (a calibration booked since the parts were queued delays them all).
  double queued_done_s = 0;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // out[i] = chip of request i (out has a.n entries on return).
  virtual void assign(const Arrivals& a, const std::vector<ChipState>& chips, std::vector<int>& out) = 0;
};

using DispatcherRegistry = Registry<Dispatcher>;

// Greedy least-loaded assignment over the chips with allowed[c] (all when none is allowed):
// request i (arriving at ready_s or its own arrival time) goes to the chip whose projected
// completion max(arrival, queued_done) + service is smallest, lowest index on ties.
void assign_least_loaded(const Arrivals& a, const std::vector<ChipState>& chips, const std::vector<bool>& allowed,
                         std::vector<int>& out);

}  // namespace ptc::sim
