// sim::Top: the SystemC elaboration of one deployment from a validated scenario (build_top).
//   accelerator (hw::Accelerator: technology, cores, thermal field, the array resource)
//   runtime  -- serves the traffic on accelerator.array
//   monitor  -- checks; Trigger fifo -> controller
//   controller -- the policy and its actions
//   evaluator  -- accuracy (served sink of the accelerator, scheduled evaluations)
//   recorder   -- trace, events, summary
// Contract: once per process (SystemC elaborates once); everything the modules reference lives
// in Top or in the RunContext, which outlive sc_start.
#pragma once

#include <filesystem>
#include <memory>

#include "hw/accelerator.h"
#include "sim/agenda.h"
#include "sim/controller.h"
#include "sim/evaluator.h"
#include "sim/monitor.h"
#include "sim/recorder.h"
#include "sim/run_context.h"
#include "sim/runtime.h"

namespace ptc::sim {

struct Top {
  Agenda agenda;
  std::unique_ptr<hw::Accelerator> accelerator;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<sc_core::sc_fifo<Trigger>> triggers;
};

std::unique_ptr<Top> build_top(const RunContext& c, const std::filesystem::path& out);

}  // namespace ptc::sim
