// What every module of one run shares (read-only inputs and the run's books of events).
// Contract: built once by build_top before elaboration; outlives the simulation. Modules keep
// their own state and statistics; the event log is the one place events are written, in the
// order they happen (same-instant order: see sim/agenda.h).
#pragma once

#include <atomic>
#include <new>
#include <string>

#include "models/compiler.h"
#include "models/dataset.h"
#include "models/graph.h"
#include "models/onnx_import.h"
#include "sim/scenario.h"

namespace ptc::sim {

struct RunContext {
  const Scenario& s;
  const models::Graph& graph;
  const models::Preprocess& pre;
  const models::Dataset& test;
  const models::CompiledWorkload& wl;
  const std::atomic<bool>& interrupted;
  bool quiet = false;
  std::string* error = nullptr;  // the first error of any process (the run fails with it)
  // Records an error thrown inside a process and stops the kernel (processes never let an
  // exception escape into the kernel).
  void fail(const std::string& what) const;
};

// Runs body() and turns an exception into ctx.fail().
template <class F>
void guarded(const RunContext& c, F&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    c.fail(out_of_memory_error(c.s, "simulating"));
  } catch (const std::exception& e) {
    c.fail(e.what());
  }
}

}  // namespace ptc::sim
