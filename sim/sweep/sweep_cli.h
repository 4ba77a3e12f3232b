// `ptcsim sweep ...`: the sweep subcommands, registered on the ptcsim command line by
// sim/cli.cpp (one line to add, one to dispatch). docs/sweeps.md.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace ptc::sim::sweep {

class SweepCommand {
 public:
  explicit SweepCommand(CLI::App& app);
  bool selected() const { return m_sweep->parsed(); }
  int run();  // throws ptc::Error; the caller prints it as one line

 private:
  CLI::App* m_sweep = nullptr;
  CLI::App *m_run = nullptr, *m_task = nullptr, *m_slurm = nullptr, *m_collect = nullptr;
  std::string m_spec, m_out, m_manifest, m_partition, m_time, m_mem;
  int m_jobs = 1, m_threads = 1;
  int64_t m_index = -1, m_max_parallel = 0;
  bool m_quiet = false, m_submit = false, m_list = false, m_allow_incomplete = false;
};

}  // namespace ptc::sim::sweep
