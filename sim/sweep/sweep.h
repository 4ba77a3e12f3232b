// Parameter sweeps over `ptcsim run` (docs/sweeps.md): a spec expands into a manifest, runners
// execute its entries, collection turns the run directories into results tables.
// Contract:
// - Spec (JSON object; unknown keys are errors): "scenario" (a file or a list of files, relative
//   to the spec; several files are an axis), "set" (object: --set path -> JSON value, applied to
//   every run), "grid" (object: path -> non-empty list; the cartesian product, first key varying
//   slowest), "zip" (object, or list of objects: path -> list, all lists of one object of equal
//   length; one joint axis each), "seeds" (list of integers, or {"first": s, "count": n}; absent:
//   the scenario's own seed), "plugins" (list of shared libraries, relative to the spec: loaded
//   before validation and passed to every run as --plugin), "name", "description". Entry order:
//   scenario files, grid axes, zip groups, seeds (innermost).
// - expand() validates every entry as `ptcsim validate` would (fragments, --set, JSON Schema,
//   semantic parse, preflight once per distinct configuration) before anything is written: the
//   first bad entry fails the whole expansion with one message naming the spec, the entry and
//   the JSON path with its rule.
// - Entry id = 64-bit FNV-1a of the resolved configuration (config.resolved.json, seed included)
//   as compact JSON, base_dir left out (so two base_dirs holding different files under the same
//   relative paths share an id: a spec may not set or sweep base_dir; sweep the paths): stable across machines, checkouts, spec
//   order and --jobs; two entries with the same id are an error. A run directory is runs/<id> beside the manifest.
// - A run directory is complete when run.json and summary.json both say "complete" and its
//   config.resolved.json hashes to the entry's id; runners skip complete entries and clear
//   anything else before running, so an interrupted or killed run never looks complete.
// - Outputs (manifest, results, sbatch script) are written atomically; the same manifest and
//   run directories give byte-identical results whichever runner produced them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ptc::sim::sweep {

using OJson = nlohmann::ordered_json;

struct Entry {
  int64_t index = 0;
  std::string id;                    // 16 hex digits
  std::string scenario;              // absolute path of the scenario file
  std::vector<std::string> set;      // --set assignments (fixed ones first, then the swept ones)
  OJson seed;                        // integer, or null: the scenario's own seed
  OJson point;                       // swept values: {"scenario": stem?, "<path>": value, ...} (no seed)
  int64_t seed_value = 0;            // the resolved seed
  std::string run_dir;               // relative to the manifest's folder: runs/<id>
  std::vector<std::string> plugins;  // absolute paths of plug-in libraries (--plugin of the run)
  std::string sweep;                 // the spec's name (not part of the configuration or its id)
  OJson to_json() const;
};

struct Manifest {
  std::filesystem::path file, dir;  // manifest.jsonl and its folder
  std::vector<Entry> entries;
  std::vector<std::string> params;  // swept parameter names, in spec order
  std::string name;                 // the sweep's name (its entries'; the folder's name for older manifests)
  std::filesystem::path run_path(const Entry& e) const { return dir / e.run_dir; }
};

// Expands and validates a spec; writes nothing.
std::vector<Entry> expand(const std::string& spec_file, std::vector<std::string>* params = nullptr, std::string* name = nullptr);
// Writes <out_dir>/manifest.jsonl atomically; returns its path.
std::filesystem::path write_manifest(const std::vector<Entry>& entries, const std::filesystem::path& out_dir);
Manifest read_manifest(const std::string& file);

// 64-bit FNV-1a as 16 lowercase hex digits.
std::string hash_hex(const std::string& text);

// "complete", "failed", "interrupted", "incomplete" (started, never finished: the task died),
// "mismatch" (a run of another configuration) or "missing"; `reason` says why when not complete.
std::string run_status(const Manifest& m, const Entry& e, std::string* reason = nullptr);

// Throws unless entry e still resolves to the configuration it was expanded to (its id): the
// scenario, or a file it includes, may have been edited since `ptcsim sweep expand`, and a run of
// it would then be a run of another configuration, marked "mismatch" after it ran (and re-run
// every time). The error names the manifest line, the scenario and both ids.
void check_entry_current(const Manifest& m, const Entry& e);

// The command a scheduler runs for entry i: argv of `ptcsim run`.
std::vector<std::string> run_argv(const Manifest& m, const Entry& e, const std::string& exe);

// Collection: results.csv, results_aggregate.csv, results.json in out_dir. Returns the counts and
// the entries that are not complete with their status and reason (as listed in the outputs; the
// command prints them on stderr).
struct CollectSummary {
  struct NotComplete {
    int64_t index = 0;
    std::string id, status, reason;
  };
  int64_t complete = 0, not_complete = 0, points = 0;
  std::vector<NotComplete> not_complete_entries;  // manifest order
  std::filesystem::path csv, aggregate_csv, json;
};
CollectSummary collect(const Manifest& m, const std::filesystem::path& out_dir);

struct SlurmOptions {
  std::string partition, time, mem, exe;
  int64_t max_parallel = 0, threads = 1;
};
// The sbatch job-array script over the entries that are not complete (`indices`), one
// `ptcsim sweep task` per array index. Compressed array list: "0-11%4", "1,4-6".
std::string array_spec(const std::vector<int64_t>& indices, int64_t max_parallel);
std::string slurm_script(const Manifest& m, const std::vector<int64_t>& indices, const SlurmOptions& o, const std::string& name);

}  // namespace ptc::sim::sweep
