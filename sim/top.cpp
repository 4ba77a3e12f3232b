#include "sim/top.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>

#include "sim/deployment.h"
#include "sim/sim_time.h"

#ifndef PTC_VERSION
#define PTC_VERSION "0.0.0"
#endif
#ifndef PTC_GIT_COMMIT
#define PTC_GIT_COMMIT "unknown"
#endif

namespace ptc::sim {
namespace fs = std::filesystem;

std::unique_ptr<hw::Technology> make_technology(const Scenario& s, const models::CompiledWorkload& wl, uint64_t chip) {
  hw::RandomStream dev_rng(s.seed, 0xde);
  if (chip > 0) dev_rng = dev_rng.derive(0xc1000000ULL + chip);  // every further chip its own device stream
  return s.device.model->build(hw::DeviceBuild{wl, dev_rng, s.device.noise});
}

std::unique_ptr<Top> build_top(const RunContext& c, const fs::path& out) {
  const Scenario& s = c.s;
  auto top = std::make_unique<Top>();
  hw::AcceleratorConfig ac;
  ac.energy = s.energy;
  ac.io = s.io;
  ac.seed = s.seed;
  ac.threads = s.threads;
  ac.step_in_seconds = s.step_mode == "seconds";
  ac.step_s = s.step_s;
  ac.thermal = s.device.thermal_field();
  top->accelerator = std::make_unique<hw::Accelerator>("accelerator", c.graph, c.wl, make_technology(s, c.wl), ac);
  hw::Accelerator& acc = *top->accelerator;
  acc.set_served_data(&c.test, &c.pre);
  std::unique_ptr<Policy> policy = make_policy(s);
  const bool monitored = policy->uses_monitor();
  // Construction order = agenda order (controller, monitor, evaluator, recorder ids are only
  // names: same-instant order comes from the ranks, sim/agenda.h).
  top->recorder = std::make_unique<Recorder>("recorder", c, acc, top->agenda, out);
  top->runtime = std::make_unique<Runtime>("runtime", c, make_traffic(s, c.test.count), top->agenda, *top->recorder);
  top->monitor = std::make_unique<Monitor>("monitor", c, acc, top->agenda, *top->recorder, *top->runtime, monitored);
  top->controller = std::make_unique<Controller>("controller", c, acc, std::move(policy), top->agenda, *top->recorder,
                                                 *top->runtime, *top->monitor);
  top->evaluator = std::make_unique<Evaluator>("evaluator", c, acc, top->agenda, *top->recorder, *top->controller);
  top->monitor->set_controller(top->controller.get());
  top->recorder->wire(top->runtime.get(), top->controller.get(), top->evaluator.get(), top->monitor.get());
  top->triggers = std::make_unique<sc_core::sc_fifo<Trigger>>("triggers", 4);
  top->monitor->triggers(*top->triggers);
  top->controller->triggers(*top->triggers);
  top->runtime->array(acc.array);
  acc.served_sink(top->evaluator->served_in);
  return top;
}

// ============================================================================== run_scenario
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

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

}  // namespace

std::string default_run_dir(const Scenario& s) {
  char b[17];
  std::snprintf(b, sizeof b, "%08llx", static_cast<unsigned long long>(fnv1a(s.resolved.dump()) & 0xffffffffULL));
  return (fs::path("runs") / (s.name + "-" + b)).string();
}

RunResult run_scenario(const Scenario& s, const RunOptions& o) {
  configure_kernel_time();
  fs::path out = o.out_dir.empty() ? fs::path(default_run_dir(s)) : fs::path(o.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) throw Error(out.string() + ": cannot create the run directory");

  Json run = {{"ptcsim_version", PTC_VERSION}, {"git_commit", PTC_GIT_COMMIT}, {"argv", o.argv},
              {"scenario", s.file}, {"name", s.name}, {"seed", s.seed}, {"set", Json::object()},
              {"start_utc", utc_now()}, {"status", "running"}};
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
  write_atomic(out / "config.resolved.json", s.resolved.dump(2) + "\n");
  write_atomic(out / "run.json", run.dump(2) + "\n");
  auto wall0 = std::chrono::steady_clock::now();
  auto finish = [&](const std::string& status) {
    run["status"] = status;
    run["end_utc"] = utc_now();
    run["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    write_atomic(out / "run.json", run.dump(2) + "\n");
  };

  try {
    // Every check `validate` makes, and what the run loads before its first event.
    const Prepared prep = preflight(s);
    const models::Graph& g = prep.graph;
    const models::Preprocess& pre = prep.pre;
    const models::Dataset& test = prep.test;
    const models::CompiledWorkload& wl = prep.wl;
    std::string error;
    g_interrupted = false;
    RunContext ctx{s, g, pre, test, wl, g_interrupted, o.quiet, &error};
    std::unique_ptr<Top> top = build_top(ctx, out);
    // The runtime ends the simulation with sc_stop(): no "simulation stopped by user" banner.
    sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    auto old_int = std::signal(SIGINT, on_signal);
    auto old_term = std::signal(SIGTERM, on_signal);
    sc_core::sc_start();
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    std::string status = "complete";
    if (error.empty()) {
      try {
        top->recorder->finish();
        top->evaluator->compute_ideal(top->runtime->served_images());
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (!error.empty()) {
      top->recorder->write_partial("failed");
      throw Error(error);
    }
    if (top->runtime->interrupted()) status = "interrupted";
    top->recorder->write_partial(status);
    Json st = hw::collect_stats();  // every module's statistics, nested as the SystemC hierarchy
    write_atomic(out / "stats.json", st.dump(2) + "\n");
    finish(status);
    return RunResult{out.string(), top->recorder->summary(status)};
  } catch (...) {
    finish("failed");
    throw;
  }
}

}  // namespace ptc::sim
