#include "sim/sweep/sweep_cli.h"

#include <cstdio>
#include <filesystem>

#include "models/error.h"
#include "sim/recorder.h"
#include "sim/sweep/runner.h"
#include "sim/sweep/sweep.h"

namespace ptc::sim::sweep {
namespace fs = std::filesystem;

SweepCommand::SweepCommand(CLI::App& app) {
  m_sweep = app.add_subcommand("sweep", "expand a sweep spec into a manifest; run, submit (Slurm) and collect its runs");
  m_sweep->footer(
      "Steps: `ptcsim sweep SPEC.json [--out DIR]` writes DIR/manifest.jsonl (default DIR: runs/sweeps/<name>); then\n"
      "`sweep run DIR/manifest.jsonl --jobs N` (local) or `sweep slurm DIR/manifest.jsonl --submit` (cluster);\n"
      "then `sweep collect DIR/manifest.jsonl` -> results.csv, results_aggregate.csv, results.json;\n"
      "`tools/ptc-plot --sweep DIR/results.csv --x PARAM --y METRIC` draws them. Spec format: docs/sweeps.md.");
  m_sweep->add_option("spec", m_spec, "sweep spec (JSON): base scenario(s), set, grid, zip, seeds");
  m_sweep->add_option("--out", m_out, "sweep folder (default: runs/sweeps/<name>)");
  m_sweep->add_flag("--list", m_list, "also print every entry (index, id, swept values, seed)");

  m_run = m_sweep->add_subcommand("run", "run the manifest's entries on a local process pool (skips complete runs)");
  m_run->add_option("manifest", m_manifest, "manifest.jsonl")->required();
  m_run->add_option("-j,--jobs", m_jobs, "runs at once (default 1)")->check(CLI::Range(1, 1024));
  m_run->add_option("--threads", m_threads, "threads per run (PTC_THREADS, default 1)")->check(CLI::Range(1, 1024));
  m_run->add_flag("-q,--quiet", m_quiet, "only the first and last progress lines");

  m_task = m_sweep->add_subcommand("task", "run one manifest entry (what a scheduler calls); skips it when complete");
  m_task->add_option("manifest", m_manifest, "manifest.jsonl")->required();
  m_task->add_option("--index", m_index, "entry index (0-based)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& in) -> std::string {
            if (in.empty() || in.size() > 18 || in.find_first_not_of("0123456789") != std::string::npos)
              return "expected an entry index (an integer >= 0), got \"" + in + "\"";
            return std::string();
          },
          "", "integer >= 0"));
  m_task->add_option("--threads", m_threads, "threads of the run (PTC_THREADS, default 1)")->check(CLI::Range(1, 1024));

  m_slurm =
      m_sweep->add_subcommand("slurm", "write an sbatch job-array script over the entries not complete; --submit submits it");
  m_slurm->add_option("manifest", m_manifest, "manifest.jsonl")->required();
  m_slurm->add_flag("--submit", m_submit, "submit with sbatch and print the job id");
  m_slurm->add_option("--partition", m_partition, "Slurm partition");
  m_slurm->add_option("--max-parallel", m_max_parallel, "at most K array tasks at once (--array=...%K)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  m_slurm->add_option("--time", m_time, "time limit per task (sbatch --time, e.g. 00:30:00)");
  m_slurm->add_option("--mem", m_mem, "memory per task (sbatch --mem, e.g. 2G)");
  m_slurm->add_option("--threads", m_threads, "threads per run (--cpus-per-task, PTC_THREADS; default 1)")
      ->check(CLI::Range(1, 1024));

  m_collect =
      m_sweep->add_subcommand("collect", "collect the runs: results.csv, results_aggregate.csv (over seeds), results.json");
  m_collect->add_option("manifest", m_manifest, "manifest.jsonl")->required();
  m_collect->add_option("--out", m_out, "output folder (default: the manifest's)");
  m_collect->add_flag("--allow-incomplete", m_allow_incomplete,
                      "exit 0 when some runs are missing, failed or stale (the tables are written either way; without "
                      "this flag such a collection exits with status 4)");
}

int SweepCommand::run() {
  if (*m_run) return run_pool(read_manifest(m_manifest), m_jobs, m_threads, m_quiet);
  if (*m_task) return run_task(read_manifest(m_manifest), m_index, m_threads);
  if (*m_collect) {
    const Manifest m = read_manifest(m_manifest);
    const CollectSummary cs = collect(m, m_out.empty() ? m.dir : fs::path(m_out));
    for (const auto& nc : cs.not_complete_entries)
      std::fprintf(stderr, "sweep collect: entry %lld (%s) %s: %s\n", static_cast<long long>(nc.index), nc.id.c_str(),
                   nc.status.c_str(), nc.reason.c_str());
    std::printf("%lld of %zu runs complete, %lld points -> %s, %s, %s\n", static_cast<long long>(cs.complete), m.entries.size(),
                static_cast<long long>(cs.points), cs.csv.string().c_str(), cs.aggregate_csv.string().c_str(),
                cs.json.string().c_str());
    // A script's `sweep run && sweep collect && plot` must not go on with a partial table unnoticed.
    const auto missing = static_cast<long long>(m.entries.size()) - static_cast<long long>(cs.complete);
    if (missing > 0 && !m_allow_incomplete) {
      std::fprintf(stderr,
                   "sweep collect: %lld of %zu runs not complete (listed above; the tables hold the complete ones); exit "
                   "status 4 (--allow-incomplete: 0)\n",
                   missing, m.entries.size());
      return 4;
    }
    return 0;
  }
  if (*m_slurm) {
    const Manifest m = read_manifest(m_manifest);
    // As sweep run: every entry must still be the configuration it was expanded to (an edited
    // scenario is refused, not reported as complete or submitted to run as another configuration).
    for (const auto& e : m.entries) check_entry_current(m, e);
    std::vector<int64_t> incomplete;
    for (const auto& e : m.entries)
      if (run_status(m, e) != "complete") incomplete.push_back(e.index);
    if (incomplete.empty()) {
      std::printf("all %zu entries complete; nothing to submit\n", m.entries.size());
      return 0;
    }
    for (const auto& [opt, v] :
         {std::pair<const char*, const std::string&>{"--partition", m_partition}, {"--time", m_time}, {"--mem", m_mem}})
      if (v.find_first_of(" \t\n\r'\"#;") != std::string::npos)
        throw Error(std::string(opt) + " \"" + v + "\": expected one word (it becomes an #SBATCH line)");
    SlurmOptions o;
    o.partition = m_partition;
    o.time = m_time;
    o.mem = m_mem;
    o.max_parallel = m_max_parallel;
    o.threads = m_threads;
    o.exe = self_exe();
    std::error_code ec;
    fs::create_directories(m.dir / "logs", ec);
    const fs::path script = m.dir / "sweep.sbatch";
    write_atomic(script, slurm_script(m, incomplete, o, m.name));  // the job is named after the sweep
    std::printf("%s: job array over %zu of %zu entries (--array=%s)\n", script.string().c_str(), incomplete.size(),
                m.entries.size(), array_spec(incomplete, m_max_parallel).c_str());
    if (m_submit) std::printf("submitted job %s\n", submit_sbatch(script.string()).c_str());
    return 0;
  }
  if (m_spec.empty())
    throw Error(
        "sweep: expected a spec file (ptcsim sweep SPEC.json) or one of run, task, slurm, collect (see ptcsim sweep --help)");
  std::vector<std::string> params;
  std::string name;
  const std::vector<Entry> entries = expand(m_spec, &params, &name);
  const fs::path dir = m_out.empty() ? fs::path("runs") / "sweeps" / name : fs::path(m_out);
  // A folder holding another sweep's manifest is not taken over: its results, logs and run
  // directories would stand beside a manifest that no longer lists them. (The same sweep grown
  // by seeds or levels is expanded again in place: finished runs keep their ids.)
  if (const fs::path old = dir / "manifest.jsonl"; fs::exists(old)) {
    Manifest m;
    try {
      m = read_manifest(old.string());
    } catch (const Error&) {  // unreadable: written by something else
      throw Error(old.string() + ": not a sweep manifest; expand into another folder (--out) or remove it");
    }
    if (!m.entries[0].sweep.empty() && m.name != name)  // (a manifest from before sweep names: not checked)
      throw Error(dir.string() + ": holds sweep \"" + m.name + "\" (" + std::to_string(m.entries.size()) + " entries in " +
                  old.string() + "), not \"" + name + "\"; expand into another folder (--out) or remove that manifest");
  }
  const fs::path f = write_manifest(entries, dir);
  if (m_list)
    for (const auto& e : entries)
      std::printf("%4lld  %s  %s  seed %lld\n", static_cast<long long>(e.index), e.id.c_str(), e.point.dump().c_str(),
                  static_cast<long long>(e.seed_value));
  std::string axes;
  for (const auto& p : params) axes += (axes.empty() ? "" : ", ") + p;
  std::printf("sweep %s: %zu entries (swept: %s) -> %s\n", name.c_str(), entries.size(),
              axes.empty() ? "seeds only" : axes.c_str(), f.string().c_str());
  return 0;
}

}  // namespace ptc::sim::sweep
