#include "sim/top.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>

#include "models/executor.h"
#include "models/json_io.h"
#include "sim/deployment.h"
#include "sim/inputs.h"
#include "sim/plugin_loader.h"
#include "sim/sim_time.h"

#ifndef PTC_VERSION
#define PTC_VERSION "0.0.0"
#endif
#include "ptc_git_commit.h"  // PTC_GIT_COMMIT, written at build time (cmake/git_commit.cmake)

namespace ptc::sim {
namespace fs = std::filesystem;

std::unique_ptr<hw::Technology> make_technology(const Scenario& s, const models::CompiledWorkload& wl, uint64_t chip) {
  hw::RandomStream dev_rng(s.seed, 0xde);
  if (chip > 0) dev_rng = dev_rng.derive(0xc1000000ULL + chip);  // every further chip its own device stream
  std::vector<std::string> labels;
  for (size_t i = 0; i < s.device.noise_names.size(); ++i)
    labels.push_back(noise_label("noise[" + std::to_string(i) + "]", s.device.noise_names[i]));
  return s.device.model->build(hw::DeviceBuild{wl, dev_rng, s.device.noise, s.accuracy.instances, labels});
}

namespace {
// A fleet chip's parent module: the chip's modules are built (as its children) in its constructor.
class ChipGroup : public sc_core::sc_module {
 public:
  ChipGroup(sc_core::sc_module_name name, const std::function<void()>& build) : sc_core::sc_module(name) { build(); }
};
}  // namespace

std::unique_ptr<Top> build_top(const RunContext& c, const fs::path& out) {
  const Scenario& s = c.s;
  const int n_chips = s.dispatcher.chips;
  const bool fleet = n_chips > 1;
  auto top = std::make_unique<Top>();
  top->chips.resize(static_cast<size_t>(n_chips));
  // Construction order = agenda order (controller, monitor, evaluator, recorder ids are only
  // names: same-instant order comes from the ranks, sim/agenda.h).
  auto build_chip = [&](int k) {
    ChipModules& m = top->chips[static_cast<size_t>(k)];
    hw::AcceleratorConfig ac;
    ac.energy = s.energy;
    ac.io = s.io;
    // Chip 0 keeps the single accelerator's streams; every further chip its own (thermal field, device).
    ac.seed = k == 0 ? s.seed : hw::RandomStream(s.seed, 0xf1ee7).derive(static_cast<uint64_t>(k)).stream();
    ac.threads = s.threads;
    ac.step_in_seconds = s.step_mode == "seconds";
    ac.step_s = s.step_s;
    ac.thermal = s.device.thermal_field();
    m.accelerator =
        std::make_unique<hw::Accelerator>("accelerator", c.graph, c.wl, make_technology(s, c.wl, static_cast<uint64_t>(k)), ac);
    hw::Accelerator& acc = *m.accelerator;
    acc.set_served_data(&c.test, &c.pre);
    acc.set_stop_flag(&c.interrupted);
    m.recorder = std::make_unique<Recorder>("recorder", c, acc, top->agenda,
                                            fleet ? out / "chips" / ("chip_" + std::to_string(k)) : out, k);
    if (k == 0 && !top->runtime)
      top->runtime =
          std::make_unique<Runtime>("runtime", c, make_traffic(s, c.test.count), top->agenda, n_chips, make_dispatcher(s));
    ChipLane& lane = top->runtime->lane(k);
    std::unique_ptr<Policy> policy = make_policy(s);
    const bool monitored = policy->uses_monitor();
    m.monitor = std::make_unique<Monitor>("monitor", c, acc, top->agenda, *m.recorder, lane, monitored);
    m.controller =
        std::make_unique<Controller>("controller", c, acc, std::move(policy), top->agenda, *m.recorder, lane, *m.monitor);
    m.evaluator = std::make_unique<Evaluator>("evaluator", c, acc, top->agenda, *m.recorder, *m.controller);
    m.monitor->set_controller(m.controller.get());
    m.recorder->wire(&lane, m.controller.get(), m.evaluator.get(), m.monitor.get());
    m.triggers = std::make_unique<sc_core::sc_fifo<Trigger>>("triggers", 4);
    m.monitor->triggers(*m.triggers);
    m.controller->triggers(*m.triggers);
    acc.served_sink(m.evaluator->served_in);
  };
  if (fleet) {
    top->runtime =
        std::make_unique<Runtime>("runtime", c, make_traffic(s, c.test.count), top->agenda, n_chips, make_dispatcher(s));
    for (int k = 0; k < n_chips; ++k)
      top->chips[static_cast<size_t>(k)].group =
          std::make_unique<ChipGroup>(("chip_" + std::to_string(k)).c_str(), [&] { build_chip(k); });
  } else {
    build_chip(0);
  }
  for (int k = 0; k < n_chips; ++k) {
    ChipModules& m = top->chips[static_cast<size_t>(k)];
    top->runtime->array(*m.accelerator);
    Controller* ctl = m.controller.get();
    hw::Accelerator* acc = m.accelerator.get();
    top->runtime->set_draining(k, [ctl, acc] { return ctl->acting() || acc->claimed(kRankMonitor); });
  }
  ChipModules& c0 = top->chips[0];
  top->accelerator = c0.accelerator.get();
  top->recorder = c0.recorder.get();
  top->monitor = c0.monitor.get();
  top->controller = c0.controller.get();
  top->evaluator = c0.evaluator.get();
  if (fleet) {
    top->fleet = std::make_unique<FleetRecorder>("fleet", c, *top->runtime, out);
    for (auto& m : top->chips) top->fleet->add_chip(*m.accelerator, *m.recorder, *m.controller, *m.evaluator, *m.monitor);
    top->runtime->set_progress([f = top->fleet.get()](double x) { f->progress(x); });
  } else {
    top->runtime->set_progress([r = top->recorder](double x) { r->progress(x); });
  }
  return top;
}

// ============================================================================== run_scenario
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) {
  g_interrupted = true;
}

// SIGINT/SIGTERM/SIGHUP only set the flag for the whole of run_scenario, from before the lock and
// the preflight to the last file: an early Ctrl-C (or a closed terminal) is recorded
// ("interrupted", exit 3) instead of killing the process with run.json saying "running".
// SIGPIPE (progress to a closed pipe) and SIGXFSZ (a file size limit, ulimit -f) are ignored, so
// the write fails with EPIPE / EFBIG and the run ends "failed" with the reason instead of dying.
// The previous handlers come back on return.
class SignalScope {
 public:
  SignalScope() {
    g_interrupted = false;
    for (int k = 0; k < kN; ++k) m_old[k] = std::signal(kSignals[k], k < 3 ? on_signal : SIG_IGN);
  }
  ~SignalScope() {
    for (int k = 0; k < kN; ++k) std::signal(kSignals[k], m_old[k]);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  static constexpr int kN = 5;
  static constexpr int kSignals[kN] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ};
  decltype(SIG_DFL) m_old[kN];
};

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
  return h;
}

// An exclusive flock on <dir>/.ptcsim.lock for the lifetime of the object (released by the
// kernel on any exit, SIGKILL included). The file names the holder (pid, start time) for the
// error a second run into the same directory gets. The file itself stays.
// The holder a run lock file names ("pid N, started T"), "" when it names none.
std::string lock_holder(int fd) {
  char b[200] = {};
  const ssize_t n = ::pread(fd, b, sizeof b - 1, 0);
  std::string holder = n > 0 ? std::string(b, static_cast<size_t>(n)) : "";
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\r')) holder.pop_back();
  return holder;
}

class RunLock {
 public:
  explicit RunLock(const fs::path& dir) {
    const fs::path f = dir / ".ptcsim.lock";
    m_fd = ::open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) throw Error(dir.string() + ": cannot create the run lock " + f.string() + ": " + std::strerror(errno));
    // A few tries over 0.2 s: a `validate` of the directory holds the lock for an instant.
    int rc = ::flock(m_fd, LOCK_EX | LOCK_NB);
    for (int i = 0; rc != 0 && errno == EWOULDBLOCK && i < 10; ++i) {
      ::usleep(20000);
      rc = ::flock(m_fd, LOCK_EX | LOCK_NB);
    }
    if (rc != 0) {
      std::string holder = lock_holder(m_fd);
      if (holder.empty()) holder = "holder not yet recorded";
      ::close(m_fd);
      throw Error(dir.string() + ": run directory is in use by another ptcsim run (" + holder +
                  "); wait for it to end or choose another --out");
    }
    m_previous = lock_holder(m_fd);
    const std::string me = "pid " + std::to_string(::getpid()) + ", started " + utc_now() + "\n";
    if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
      // Only the holder's name is lost (full disk): the lock itself is held.
    }
  }
  ~RunLock() { ::close(m_fd); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  // The holder recorded by the lock's previous owner ("pid N, started T"; "" for none).
  const std::string& previous_holder() const { return m_previous; }

 private:
  int m_fd = -1;
  std::string m_previous;
};

// What a run writes; a new run removes the previous run's files (and stale temporaries of
// killed writers, "<file>.<pid>.<n>.tmp") before writing its own, so a directory never mixes two runs.
const char* const kRunFiles[] = {"config.resolved.json", "run.json", "trace.csv", "events.jsonl", "summary.json", "stats.json"};

void clear_run_files(const fs::path& out) {
  std::error_code ec;
  for (const char* f : kRunFiles) fs::remove(out / f, ec);
  if (fs::is_directory(out / "chips", ec)) fs::remove_all(out / "chips", ec);  // a fleet's per-chip outputs
  for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
      for (const char* f : kRunFiles)
        if (name.rfind(std::string(f) + ".", 0) == 0) fs::remove(it->path(), ec);
  }
}

// The files by the names a run writes ("summary.json, trace.csv"; chips/ for a fleet's) in a
// directory without a run.json, or "" (none, or a run directory).
std::string foreign_run_files(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out / "run.json", ec)) return "";
  std::string names;
  for (const char* f : kRunFiles)
    if (fs::exists(out / f, ec)) names += (names.empty() ? "" : ", ") + std::string(f);
  if (fs::is_directory(out / "chips", ec)) names += (names.empty() ? "" : ", ") + std::string("chips/");
  return names;
}

// The status in an existing run.json ("" when there is none or it cannot be read).
std::string previous_status(const fs::path& out) {
  try {
    if (!fs::is_regular_file(out / "run.json")) return "";
    Json j = load_json_file((out / "run.json").string(), "run record");
    return j.is_object() && j.contains("status") && j["status"].is_string() ? j["status"].get<std::string>() : "";
  } catch (const std::exception&) {
    return "";
  }
}

// run.json of a run that stopped without recording its end, rewritten "abandoned" (the caller
// holds the directory's lock or has checked that nobody does). Returns the old record.
Json record_abandoned(const fs::path& out, const std::string& holder) {
  Json j = load_json_file((out / "run.json").string(), "run record");
  Json old = j;
  j["status"] = "abandoned";
  j["abandoned_found_utc"] = utc_now();
  j["error"] = "the run stopped without recording its end (killed by SIGKILL, out of memory or power loss)" +
               (holder.empty() ? std::string() : "; its lock named " + holder);
  write_atomic(out / "run.json", j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
  return old;
}

std::string clipped(const std::string& m) {
  return m.size() <= 600 ? m : m.substr(0, 600) + "...";
}

// An existing run directory must be a directory, and so must its chips/ (a fleet's per-chip
// outputs: a run replaces that directory, not a file; a fleet run found out only after simulating).
void check_existing_run_dir(const fs::path& out) {
  std::error_code ec;
  if (!fs::is_directory(out, ec)) throw Error(out.string() + ": exists and is not a directory (the run directory)");
  if (fs::exists(out / "chips", ec) && !fs::is_directory(out / "chips", ec))
    throw Error((out / "chips").string() +
                ": exists and is not a directory (a run directory's chips/ holds a fleet's per-chip outputs); remove it "
                "or choose another --out");
}

}  // namespace

std::string check_run_dir(const std::string& dir, bool probe_create) {
  const fs::path out(dir);
  std::error_code ec;
  if (fs::exists(out, ec)) {
    check_existing_run_dir(out);
    if (::access(out.c_str(), W_OK | X_OK) != 0)
      throw Error(out.string() + ": cannot write the run directory (" + std::strerror(errno) + ")");
    // A run holding the directory's lock: run fails at once, and so does validate.
    const fs::path lockf = out / ".ptcsim.lock";
    // (Read-write, never created: an exclusive flock on a read-only descriptor fails on NFS.)
    if (const int fd = ::open(lockf.c_str(), O_RDWR | O_CLOEXEC); fd >= 0) {
      const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      std::string holder = busy ? lock_holder(fd) : "";
      if (busy && holder.empty()) holder = "holder not yet recorded";
      ::close(fd);  // releases the lock if it was taken
      if (busy)
        throw Error(out.string() + ": run directory is in use by another ptcsim run (" + holder +
                    "); wait for it to end or choose another --out");
    }
    if (previous_status(out) == "complete")
      return out.string() + " holds a complete run: `ptcsim run` needs --force to replace it, or another --out";
    if (const std::string f = foreign_run_files(out); !f.empty())
      return out.string() + " holds " + f +
             " but no run.json (not a ptcsim run): `ptcsim run` needs --force to replace them, or another --out";
    return "";
  }
  if (!probe_create) return "";
  // The directories run would create: a directory must be creatable in the nearest existing
  // ancestor. Tried, not inferred from permission bits (root passes access(), and /proc refuses
  // root): a uniquely named probe directory, removed at once.
  fs::path a = fs::absolute(out, ec).parent_path();
  while (!a.empty() && !fs::exists(a, ec) && a != a.parent_path()) a = a.parent_path();
  if (!fs::is_directory(a, ec))
    throw Error(out.string() + ": cannot create the run directory (" + a.string() + " is not a directory)");
  const fs::path probe = a / (".ptcsim-validate-" + std::to_string(::getpid()));
  if (::mkdir(probe.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error(out.string() + ": cannot create the run directory (in " + a.string() + ": " + std::strerror(errno) + ")");
  ::rmdir(probe.c_str());
  return "";
}

std::string mark_abandoned_run(const std::string& dir) {
  const fs::path out(dir);
  std::error_code ec;
  if (!fs::is_directory(out, ec) || previous_status(out) != "running") return "";
  const fs::path f = out / ".ptcsim.lock";
  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);  // never created here: validate leaves no lock file behind
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return "";  // a live run holds it: "running" is true
  }
  const std::string holder = fd >= 0 ? lock_holder(fd) : "";
  std::string note;
  try {
    record_abandoned(out, holder);
    note = dir + ": run.json said \"running\" but no process holds the run lock; marked \"abandoned\"";
  } catch (const std::exception& e) {
    note = dir + ": found a stale \"running\" run but could not mark it abandoned: " + e.what();
  }
  if (fd >= 0) ::close(fd);  // releases the lock
  return note;
}

std::string default_run_dir(const Scenario& s) {
  char b[17];
  std::snprintf(b, sizeof b, "%08llx", static_cast<unsigned long long>(fnv1a(config_id_text(s.resolved)) & 0xffffffffULL));
  return (fs::path("runs") / (s.name + "-" + b)).string();
}

RunResult run_scenario(const Scenario& s, const RunOptions& o) {
  configure_kernel_time();
  SignalScope signals;
  fs::path out = o.out_dir.empty() ? fs::path(default_run_dir(s)) : fs::path(o.out_dir);
  std::error_code ec;
  const bool existed = fs::exists(out, ec);
  if (existed) check_existing_run_dir(out);
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw Error(out.string() + ": cannot create the run directory" + (ec ? ": " + ec.message() : ""));

  RunLock lock(out);  // a second run into `out` fails here, at once
  const std::string prev = previous_status(out);
  // "running" while we hold the lock: that run died without recording its end (SIGKILL). It is
  // recorded as abandoned in this run's run.json ("replaced_run") before its files are removed.
  Json replaced;
  if (prev == "running") {
    try {
      Json old = record_abandoned(out, lock.previous_holder());
      replaced = {{"status", "abandoned"}};
      for (const char* k : {"start_utc", "seed", "scenario"})
        if (old.contains(k)) replaced[k] = old[k];
      if (!lock.previous_holder().empty()) replaced["holder"] = lock.previous_holder();
    } catch (const std::exception&) {
      replaced = {{"status", "abandoned"}};
    }
    if (!o.quiet)
      std::fprintf(stderr, "ptcsim: note: %s held a run that stopped without recording its end (abandoned); replacing it\n",
                   out.string().c_str());
  }
  if (prev == "complete" && !o.force)
    throw Error(out.string() +
                ": holds a complete run (run.json status \"complete\"); pass --force to replace it or choose another --out");
  // Files by the names a run writes, in a directory that holds no run: a user's own (they were
  // replaced silently).
  if (const std::string f = foreign_run_files(out); !f.empty() && !o.force)
    throw Error(out.string() + ": holds " + f +
                " but no run.json (not a ptcsim run directory); pass --force to replace them or choose another --out");
  clear_run_files(out);  // from here the directory holds this run only
  Json run = {{"ptcsim_version", PTC_VERSION},
              {"git_commit", PTC_GIT_COMMIT},
              {"argv", o.argv},
              {"scenario", s.file},
              {"name", s.name},
              {"seed", s.seed},
              {"set", Json::object()},
              {"start_utc", utc_now()},
              {"status", "running"}};
  if (!replaced.is_null()) run["replaced_run"] = replaced;
  // The count the executors run on (--threads / threads, else $PTC_THREADS, else all cores; a sweep
  // task passes it in PTC_THREADS, which used to read 0 here); not in config.resolved.json.
  run["threads"] = models::resolve_threads(s.threads);
  for (const auto& a : o.sets) {
    auto eq = a.find('=');
    Json v;
    try {
      v = Json::parse(a.substr(eq + 1));
    } catch (...) {
      v = a.substr(eq + 1);
    }
    run["set"][a.substr(0, eq)] = v;
  }
  auto wall0 = std::chrono::steady_clock::now();
  // run.json's last word, whatever happened: on a full disk (no room for a temporary) it is
  // rewritten in place, truncating it first frees its blocks.
  auto finish = [&](const std::string& status, const std::string& error) {
    run["status"] = status;
    run["end_utc"] = utc_now();
    run["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    if (!error.empty()) run["error"] = clipped(error);
    const std::string text = run.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
    try {
      write_atomic(out / "run.json", text);
    } catch (const std::exception&) {
      std::ofstream f(out / "run.json", std::ios::binary | std::ios::trunc);
      f << text;
    }
  };

  std::string phase = "loading the model and data";  // for an out-of-memory error
  try {
    // The thread count is left out: the outputs are the same bytes at any count (run.json's
    // "threads" records the one used).
    Json resolved = s.resolved;
    if (resolved.is_object()) resolved.erase("threads");
    write_atomic(out / "config.resolved.json", resolved.dump(2) + "\n");
    write_atomic(out / "run.json", run.dump(2) + "\n");
    // Every check `validate` makes, and what the run loads before its first event.
    const Prepared prep = preflight(s);
    if (g_interrupted) throw Interrupted("interrupted before the simulation started");
    const models::Graph& g = prep.graph;
    const models::Preprocess& pre = prep.pre;
    const models::Dataset& test = prep.test;
    const models::CompiledWorkload& wl = prep.wl;
    std::string error;
    RunContext ctx{s, g, pre, test, wl, g_interrupted, o.quiet, &error};
    phase = "building the hardware";
    std::unique_ptr<Top> top = build_top(ctx, out);
    // The input files read so far (model, trace, tables), with the hash of their bytes: a sweep
    // calls a complete run whose inputs changed since "mismatch" (docs/sweeps.md §2).
    run["inputs"] = input_files_record();
    write_atomic(out / "run.json", run.dump(2) + "\n");
    // The runtime ends the simulation with sc_stop(): no "simulation stopped by user" banner.
    sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    phase = "simulating";
    sc_core::sc_start();
    phase = "writing the outputs";
    std::string status = "complete";
    auto write_partial = [&](const std::string& st) {
      if (top->fleet)
        top->fleet->write_partial(st);
      else
        top->recorder->write_partial(st);
    };
    if (error.empty()) {
      try {
        if (top->fleet)
          top->fleet->finish();
        else
          top->recorder->finish();
        // An interrupted run stops promptly: no ideal reference (accuracy_ideal null).
        if (!g_interrupted) {
          phase = "classifying the served images without noise (the ideal reference, after the simulation)";
          top->evaluator->compute_ideal(top->runtime->served_images());
          for (size_t k = 0; k < top->chips.size(); ++k)
            top->chips[k].evaluator->set_ideal_from(*top->evaluator, top->runtime->served_images(k));
        }
        if (g_interrupted) {  // a signal during the reference stops it part-way: none is reported
          top->evaluator->drop_ideal();
          for (auto& chip : top->chips) chip.evaluator->drop_ideal();
        }
        phase = "writing the outputs";
      } catch (const std::bad_alloc&) {  // the run's out-of-memory line (phase, scale, what to reduce), not "std::bad_alloc"
        error = out_of_memory_error(s, phase);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (!error.empty()) {
      write_partial("failed");
      throw Error(in_scenario_file(s, error));  // named by the scenario file first, as preflight's are
    }
    // A signal after the last event still interrupts the run: the served images waiting to be
    // classified when it came (the classification after the simulation) stay unclassified.
    if (top->runtime->interrupted() || g_interrupted) status = "interrupted";
    write_partial(status);
    Json st = hw::collect_stats();  // every module's statistics, nested as the SystemC hierarchy
    write_atomic(out / "stats.json", st.dump(2) + "\n");
    finish(status, "");
    return RunResult{out.string(), top->fleet ? top->fleet->summary(status) : top->recorder->summary(status)};
  } catch (const Interrupted& e) {
    finish("interrupted", e.what());
    throw Interrupted(std::string(e.what()) + "; " + (out / "run.json").string() + " says \"interrupted\"");
  } catch (const std::bad_alloc&) {
    const std::string m = out_of_memory_error(s, phase);
    finish("failed", m);
    throw Error(m);
  } catch (const std::exception& e) {
    finish("failed", e.what());
    throw;
  } catch (...) {
    finish("failed", "");
    throw;
  }
}

}  // namespace ptc::sim
