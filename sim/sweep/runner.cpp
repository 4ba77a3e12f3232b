#include "sim/sweep/runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <thread>

#include "models/error.h"

extern char** environ;

namespace ptc::sim::sweep {
namespace fs = std::filesystem;

std::string self_exe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the ptcsim executable (/proc/self/exe)");
  return p.string();
}

namespace {

std::vector<char*> c_argv(std::vector<std::string>& a) {
  std::vector<char*> v;
  for (auto& s : a) v.push_back(s.data());
  v.push_back(nullptr);
  return v;
}

std::atomic<int> g_signal{0};
extern "C" void on_pool_signal(int sig) {
  g_signal = sig;
}

std::string fmt_duration(double s) {
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return b;
}

// Clears a previous attempt's run directory, unless a run still holds its lock (docs/run_directory.md:
// an exclusive flock on .ptcsim.lock). The lock file stays: removing it would let a second run
// take "the" lock while the first still holds the old one (a resubmitted task cleared the
// directory of a run still going, and both wrote into it).
void clear_previous_attempt(const fs::path& dir, int64_t index) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    fs::remove_all(dir, ec);
    if (ec) throw Error(dir.string() + ": cannot clear the previous attempt (" + ec.message() + ")");
    return;
  }
  const fs::path lockf = dir / ".ptcsim.lock";
  const int fd = ::open(lockf.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {  // (a file system without flock: not a run holding it)
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw Error(lockf.string() + ": cannot lock the run directory (" + why + ")");
    }
    char b[200] = {};
    const ssize_t n = ::pread(fd, b, sizeof b - 1, 0);
    std::string holder = n > 0 ? std::string(b, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\r')) holder.pop_back();
    ::close(fd);
    throw Error(dir.string() + ": entry " + std::to_string(index) + "'s run is still going (" +
                (holder.empty() ? std::string("holder not yet recorded") : holder) +
                "); wait for it to end, or stop it, before running the entry again");
  }
  std::vector<fs::path> old;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != ".ptcsim.lock") old.push_back(it->path());
  for (size_t k = 0; !ec && k < old.size(); ++k) fs::remove_all(old[k], ec);
  if (fd >= 0) ::close(fd);
  if (ec) throw Error(dir.string() + ": cannot clear the previous attempt (" + ec.message() + ")");
}

}  // namespace

int run_task(const Manifest& m, int64_t index, int threads) {
  if (index < 0 || index >= static_cast<int64_t>(m.entries.size()))
    throw Error(m.file.string() + ": --index " + std::to_string(index) + " out of range (" + std::to_string(m.entries.size()) +
                " entries: 0-" + std::to_string(m.entries.size() - 1) + ")");
  const Entry& e = m.entries[static_cast<size_t>(index)];
  // Before anything else: an edited scenario or rebuilt plug-in is refused, also for an entry whose
  // run is complete (its results belong to the configuration as it was expanded).
  check_entry_current(m, e);
  std::string reason;
  const std::string st = run_status(m, e, &reason);
  if (st == "complete") {
    std::printf("entry %lld (%s): complete, skipped\n", static_cast<long long>(index), e.id.c_str());
    return 0;
  }
  // Nothing of a previous attempt may survive into this one, and a run still going is left alone.
  clear_previous_attempt(m.run_path(e), index);
  setenv("PTC_THREADS", std::to_string(threads).c_str(), 1);
  setenv("OMP_WAIT_POLICY", "passive", 0);
  std::vector<std::string> a = run_argv(m, e, self_exe());
  std::vector<char*> v = c_argv(a);
  std::fflush(stdout);
  std::fflush(stderr);
  execv(v[0], v.data());
  throw Error(a[0] + ": cannot execute (" + std::strerror(errno) + ")");
}

int run_pool(const Manifest& m, int jobs, int threads, bool quiet) {
  const std::string exe = self_exe();
  const fs::path logs = m.dir / "logs";
  std::error_code ec;
  fs::create_directories(logs, ec);
  if (ec) throw Error(logs.string() + ": cannot create the log folder");
  std::deque<int64_t> queue;
  int64_t already = 0;
  for (const auto& e : m.entries) {
    if (run_status(m, e) == "complete")
      ++already;
    else
      queue.push_back(e.index);
  }
  // Every entry must still be the configuration it was expanded to, checked before the first task
  // starts: one to run would otherwise run to the end and be marked "mismatch", and a complete one
  // would stand for a configuration (scenario, included file, plug-in build) that has changed.
  for (const auto& e : m.entries) check_entry_current(m, e);
  const int64_t incomplete = static_cast<int64_t>(queue.size());
  std::fprintf(stderr, "sweep: %zu entries, %lld complete already, %lld to run with %d job%s\n", m.entries.size(),
               static_cast<long long>(already), static_cast<long long>(incomplete), jobs, jobs == 1 ? "" : "s");
  if (incomplete == 0) return 0;

  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_pool_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_signal = 0;

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::map<pid_t, std::pair<int64_t, clock::time_point>> running;
  std::vector<int64_t> failed;
  int64_t done = 0, stopped = 0;
  double busy_s = 0;  // wall time of finished tasks
  bool forwarded = false, changed = false;
  auto last_print = clock::now();
  auto progress = [&](bool force) {
    if (quiet && !force) return;
    const double el = std::chrono::duration<double>(clock::now() - t0).count();
    const int64_t finished = done + stopped + static_cast<int64_t>(failed.size());
    std::string eta = "?";
    if (finished > 0) {
      // Work left = queued tasks + the unfinished part of the running ones, at the mean task time.
      const double mean = busy_s / static_cast<double>(finished);
      double left = static_cast<double>(queue.size()) * mean;
      for (const auto& [pid, r] : running)
        left += std::max(0.0, mean - std::chrono::duration<double>(clock::now() - r.second).count());
      eta = fmt_duration(left / std::max(1, std::min<int>(jobs, static_cast<int>(queue.size() + running.size()))));
    }
    const std::string stop = stopped ? ", " + std::to_string(stopped) + " stopped" : "";
    std::fprintf(stderr, "sweep: %lld/%lld done, %zu running, %zu failed%s, elapsed %s, ETA %s\n", static_cast<long long>(done),
                 static_cast<long long>(incomplete), running.size(), failed.size(), stop.c_str(), fmt_duration(el).c_str(),
                 eta.c_str());
    last_print = clock::now();
  };

  while (!queue.empty() || !running.empty()) {
    while (!g_signal && !queue.empty() && static_cast<int>(running.size()) < jobs) {
      const int64_t i = queue.front();
      queue.pop_front();
      std::vector<std::string> a = {exe,       "sweep",           "task",      m.file.string(),
                                    "--index", std::to_string(i), "--threads", std::to_string(threads)};
      std::vector<char*> v = c_argv(a);
      const std::string log = (logs / (std::to_string(i) + ".log")).string();
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
      pid_t pid = 0;
      const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, v.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) {
        failed.push_back(i);
        std::fprintf(stderr, "sweep: entry %lld: cannot start a task (%s)\n", static_cast<long long>(i), std::strerror(rc));
        continue;
      }
      running[pid] = {i, clock::now()};
    }
    if (g_signal && !forwarded) {
      for (const auto& [pid, r] : running) kill(pid, SIGTERM);
      forwarded = true;
      std::fprintf(stderr, "sweep: stopping (signal %d): %zu running task%s told to stop, %zu not started\n", g_signal.load(),
                   running.size(), running.size() == 1 ? "" : "s", queue.size());
      queue.clear();
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      const auto [i, started] = running[pid];
      running.erase(pid);
      busy_s += std::chrono::duration<double>(clock::now() - started).count();
      std::string reason;
      const std::string st = run_status(m, m.entries[static_cast<size_t>(i)], &reason);
      if (st == "complete")
        ++done;
      else if (g_signal && st == "interrupted")  // stopped by the signal the pool forwarded: not a failure
        ++stopped;
      else {
        failed.push_back(i);
        if (!g_signal)
          std::fprintf(stderr, "sweep: entry %lld (%s) %s: %s; log %s\n", static_cast<long long>(i),
                       m.entries[static_cast<size_t>(i)].id.c_str(), st.c_str(), reason.c_str(),
                       (logs / (std::to_string(i) + ".log")).string().c_str());
      }
      changed = true;
      continue;
    }
    if (changed) progress(false);
    changed = false;
    if (pid < 0 && running.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::duration<double>(clock::now() - last_print).count() > 10) progress(false);
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (quiet || changed) progress(true);
  if (g_signal) return 3;
  if (!failed.empty()) {
    std::fprintf(stderr, "sweep: %zu of %lld entries not complete; `ptcsim sweep run` again re-runs only those\n", failed.size(),
                 static_cast<long long>(incomplete));
    return 1;
  }
  return 0;
}

std::string submit_sbatch(const std::string& script) {
  int out[2];
  if (pipe(out) != 0) throw Error("sbatch: cannot create a pipe");
  std::vector<std::string> a = {"sbatch", "--parsable", script};
  std::vector<char*> v = c_argv(a);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "sbatch", &fa, nullptr, v.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw Error("sbatch: cannot run it (" + std::string(std::strerror(rc)) + "); the script is " + script +
                ", submit it on a cluster with `sbatch " + script + "`");
  }
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error("sbatch " + script + ": submission failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                ")");
  const std::string id = text.substr(0, text.find_first_of(";\n"));
  if (id.empty()) throw Error("sbatch " + script + ": printed no job id");
  return id;
}

}  // namespace ptc::sim::sweep
