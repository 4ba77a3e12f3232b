// Runners of a sweep manifest (docs/sweeps.md): one entry (`sweep task`, what a scheduler calls),
// a local process pool (`sweep run`), and submission of the Slurm job-array script.
// Contract:
// - A task skips a complete entry (sweep.h run_status), refuses one whose run still holds the
//   directory's lock (a resubmission while the old run goes on); otherwise it removes whatever the
//   run directory holds but the lock file and replaces itself (execv) with `ptcsim run` of the entry, single-threaded
//   unless told otherwise (PTC_THREADS), so a signal from the scheduler reaches the run, which
//   stops at its next event with status "interrupted" (never "complete").
// - The pool starts at most `jobs` tasks at once (each `ptcsim sweep task`, its output in
//   logs/<index>.log beside the manifest), prints progress lines (done / running / failed / ETA)
//   on stderr, and on SIGINT/SIGTERM stops starting tasks, forwards the signal to the running
//   ones and waits for them. Exit: 0 all complete, 1 some not complete, 3 interrupted.
// - POSIX only (posix_spawn, waitpid).
#pragma once

#include <string>
#include <vector>

#include "sim/sweep/sweep.h"

namespace ptc::sim::sweep {

// The running ptcsim executable (/proc/self/exe).
std::string self_exe();
int run_task(const Manifest& m, int64_t index, int threads);
int run_pool(const Manifest& m, int jobs, int threads, bool quiet);
// Runs `sbatch --parsable SCRIPT`; returns the job id. Throws when sbatch is missing or fails.
std::string submit_sbatch(const std::string& script);

}  // namespace ptc::sim::sweep
