// One deployment run (docs/architecture.md §1): SystemC elaboration of the accelerator,
// traffic, runtime, monitor and controller for a validated Scenario, sc_start to the horizon, and
// the run directory (config.resolved.json, trace.csv, events.jsonl, summary.json, stats.json,
// run.json).
// Contract:
// - Once per process (SystemC elaborates once).
// - Same scenario + seed => byte-identical trace.csv, events.jsonl, summary.json and stats.json
//   (wall-clock fields live only in run.json), at any thread count.
// - Implemented in sim/top.cpp (build_top + run_scenario). Files are written atomically; on SIGINT/SIGTERM the run stops at the
// next event, writes its
//   partial outputs with status "interrupted" and returns; on an error the outputs written so far
//   stay valid and run.json says "failed".
// - The run directory is a transaction (docs/run_directory.md): a lock (flock on .ptcsim.lock)
//   held for the whole run, so a second run into the same directory fails at once naming the
//   holder; a complete run is replaced only with force; the previous run's outputs are removed
//   before the new config is written (never a mix of two runs); run.json is never left
//   "running" by any stop short of SIGKILL (a later run finds such a stale one "abandoned").
#pragma once

#include <string>
#include <vector>

#include "sim/scenario.h"

namespace ptc::sim {

struct RunOptions {
  std::string out_dir;            // "" = runs/<name>-<hash>
  std::vector<std::string> argv;  // recorded in run.json
  std::vector<std::string> sets;  // the --set overrides, recorded in run.json
  bool quiet = false;             // no progress on stderr
  bool force = false;             // replace a complete run in out_dir (refused otherwise)
};

// SIGINT/SIGTERM before the first simulated event: run.json says "interrupted" and nothing else
// was simulated; the CLI prints the message and exits 3.
struct Interrupted : Error {
  using Error::Error;
};

struct RunResult {
  std::string out_dir;
  Json summary;
};

RunResult run_scenario(const Scenario& s, const RunOptions& o);

// A run directory whose run.json says "running" while no process holds its lock belongs to a run
// that died without recording its end (SIGKILL, out of memory, power loss): its run.json is
// rewritten with status "abandoned". Returns a one-line note when it did so, "" otherwise (no
// directory, no run.json, another status, or a live run holding the lock).
std::string mark_abandoned_run(const std::string& dir);

// What `run` would meet at its run directory before its first event, for validate: throws when
// `dir` exists and is not a directory or cannot be written, or (`probe_create`: a directory the
// user named with --out) does not exist and cannot be created, tried with a probe directory in its
// nearest existing ancestor; returns a one-line note when it holds a complete run (run then needs
// --force), "" otherwise. Without --out nothing is created: validate still lints a scenario from a
// read-only working directory.
std::string check_run_dir(const std::string& dir, bool probe_create);

// Directory name derived from the scenario name and a hash of the resolved config (seed included).
std::string default_run_dir(const Scenario& s);

}  // namespace ptc::sim
