// sim::Top: the SystemC elaboration of one deployment from a validated scenario (build_top).
// Per chip (hw.chips; one by default):
//   accelerator (hw::Accelerator: technology, cores, thermal field, the array resource)
//   monitor  -- checks; Trigger fifo -> controller
//   controller -- the policy and its actions
//   evaluator  -- accuracy (served sink of the accelerator, scheduled evaluations)
//   recorder   -- trace, events, summary (a fleet's chips: <out>/chips/chip_<i>/)
// Once: runtime (dispatcher and one lane per chip: serves the traffic on the chips' arrays) and,
// for a fleet, the fleet recorder (<out>/trace.csv, events.jsonl, summary.json over all chips).
// Contract: once per process (SystemC elaborates once); everything the modules reference lives
// in Top or in the RunContext, which outlive sc_start.
#pragma once

#include <filesystem>
#include <memory>

#include "hw/accelerator.h"
#include "sim/agenda.h"
#include "sim/controller.h"
#include "sim/evaluator.h"
#include "sim/fleet_recorder.h"
#include "sim/monitor.h"
#include "sim/recorder.h"
#include "sim/run_context.h"
#include "sim/runtime.h"

namespace ptc::sim {

// One chip's modules. In a fleet they are children of a "chip_<i>" module (stats.json nests
// them so); a single accelerator's are top-level ("accelerator", "monitor", ...).
struct ChipModules {
  std::unique_ptr<sc_core::sc_module> group;
  std::unique_ptr<hw::Accelerator> accelerator;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<sc_core::sc_fifo<Trigger>> triggers;
};

struct Top {
  Agenda agenda;
  std::vector<ChipModules> chips;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<FleetRecorder> fleet;  // hw.chips > 1: the fleet's outputs
  // Chip 0's modules (a single accelerator's).
  hw::Accelerator* accelerator = nullptr;
  Recorder* recorder = nullptr;
  Monitor* monitor = nullptr;
  Controller* controller = nullptr;
  Evaluator* evaluator = nullptr;
};

std::unique_ptr<Top> build_top(const RunContext& c, const std::filesystem::path& out);

}  // namespace ptc::sim
