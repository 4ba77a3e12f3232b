#include "sim/cli.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hw/characterize.h"
#include "hw/energy.h"
#include "hw/hw_spec.h"
#include "hw/noise/doctor_noise.h"
#include "hw/streaming.h"
#include "models/accuracy.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/executor.h"
#include "models/json_io.h"
#include "models/onnx_import.h"
#include "models/onnx_testcase.h"
#include "sim/deployment.h"
#include "sim/pcm_law_device.h"
#include "sim/plugin_loader.h"
#include "sim/recorder.h"
#include "sim/scenario.h"
#include "sim/sim_time.h"
#include "sim/sweep/sweep_cli.h"

#ifndef PTC_VERSION
#define PTC_VERSION "0.0.0"
#endif

namespace ptc::sim {
namespace {

// An error message as one line of bounded length: a message that echoes a huge input (a
// 20,000-character key or value) keeps its head and says how much was left out.
std::string one_line(std::string m) {
  for (char& ch : m) {
    if (ch == '\n' || ch == '\r')
      ch = ' ';
    else if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f)
      ch = '?';  // a NUL or escape sequence from the input never reaches the terminal
  }
  // A long message keeps its head (file, JSON path) and its tail (the rule, which messages put
  // last), with what is left out of the middle (a 20,000-character echoed key or path) counted.
  constexpr size_t kHead = 360, kTail = 200;
  if (m.size() > kHead + kTail + 40)
    m = m.substr(0, kHead) + "... (" + std::to_string(m.size() - kHead - kTail) + " more characters) ..." +
        m.substr(m.size() - kTail);
  return m;
}

// "<file>: message", unless the message already starts with the file.
std::string in_file(const std::string& file, const std::string& msg) {
  if (msg.compare(0, file.size() + 1, file + ":") == 0) return msg;
  return file + ": " + msg;
}

int cmd_eval(const std::string& model, int64_t limit, int64_t batch, bool json, const std::string& data_dir, bool profile) {
  auto t0 = std::chrono::steady_clock::now();
  models::Graph g = models::import_onnx(model);
  models::Preprocess pre = models::preprocess_for(g, model);
  if (pre.dataset != "fashion-mnist")
    throw Error(model + ": preprocessing names dataset \"" + pre.dataset + "\"; ptcsim eval supports fashion-mnist");
  models::Dataset test = models::load_fashion_mnist("test", data_dir);
  // The classifier rules of validate and run; a model exported with a fixed batch size is
  // evaluated in batches of that size (ptcsim run needs a free one).
  try {
    // The preprocessing against the data set first, as validate and run check them.
    const models::Shape image{test.channels, test.height, test.width};
    if (pre.input_shape != image)
      throw Error("model expects inputs " + models::shape_str(pre.input_shape) + ", dataset " + test.name + " has " +
                  models::shape_str(image));
    const int64_t fixed = models::check_classifier(g, pre, models::kFashionMnistClasses, true);
    const int64_t n = limit > 0 ? std::min(limit, test.count) : test.count;
    if (fixed > 0 && n % fixed != 0)
      throw Error("input '" + g.inputs[0].name + "' has a fixed batch of " + std::to_string(fixed) + " images, and " +
                  std::to_string(n) + " images are not whole batches of it (--limit)");
    if (fixed > 0) batch = fixed;
  } catch (const Error& e) {
    throw Error(model + ": " + e.what());
  }
  models::Executor ex(g);
  ex.set_profile(profile);
  auto t1 = std::chrono::steady_clock::now();
  // Errors while running the model (an input shape the preprocessing and the model disagree on)
  // name the model file.
  models::AccuracyResult r = [&] {
    try {
      return models::evaluate_accuracy(ex, test, pre, limit, batch);
    } catch (const Error& e) {
      throw Error(model + ": " + e.what());
    }
  }();
  auto t2 = std::chrono::steady_clock::now();
  double load_s = std::chrono::duration<double>(t1 - t0).count();
  double eval_s = std::chrono::duration<double>(t2 - t1).count();
  if (profile)
    for (const auto& [op, s] : ex.profile()) std::fprintf(stderr, "profile: %-20s %8.3f s\n", op.c_str(), s);
  if (json) {
    nlohmann::json j = {{"model", model},
                        {"dataset", test.name},
                        {"accuracy", r.accuracy()},
                        {"correct", r.correct},
                        {"samples", r.samples},
                        {"batch_size", batch},
                        {"load_s", load_s},
                        {"eval_s", eval_s},
                        {"images_per_s", eval_s > 0 ? static_cast<double>(r.samples) / eval_s : 0.0}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s on %s: accuracy %.2f %% (%lld/%lld) in %.2f s (%.0f images/s)\n", model.c_str(), test.name.c_str(),
                100.0 * r.accuracy(), static_cast<long long>(r.correct), static_cast<long long>(r.samples), eval_s,
                eval_s > 0 ? static_cast<double>(r.samples) / eval_s : 0.0);
  }
  return 0;
}

int cmd_compile(const std::string& model, const std::string& hw_file, const std::string& out, bool blocks) {
  // The hardware file is a scenario's hw section (the fragments in scenarios/hw/, with a device
  // name allowed too): every key is checked by the scenario's own rules; compile takes the tiling
  // and the energy parameters (clock, converter bits, hw.energy) as a scenario would.
  const Json hwj = load_json_file(hw_file, "hardware description");
  if (!hwj.is_object()) throw Error(hw_file + ": hw: expected an object, got " + std::string(hwj.type_name()));
  if (hwj.contains("model") || hwj.contains("hw"))  // a whole scenario given for its hw section
    throw Error(hw_file + ": a scenario, not a hardware description: --hw takes a scenario's hw section" +
                (hwj.contains("hw") && hwj.at("hw").is_string() ? " (this scenario's is " + hwj.at("hw").get<std::string>() + ")"
                                                                : std::string(" (e.g. scenarios/hw/doctor_4x4x8.json)")));
  hw::EnergyParams energy;
  Scenario sc;  // the hw section and device as a scenario holding them
  {
    Json root = Json::object(), h = hwj;
    // The parse only checks that a model file exists; the model itself is imported below, where
    // its own errors name it (a missing model must not be blamed on the hardware file).
    root["model"] = std::filesystem::absolute(hw_file).string();
    if (h.contains("device")) {
      root["device"] = h.at("device");
      h.erase("device");
    }
    root["hw"] = h;
    try {
      sc = parse_scenario(root, hw_file);
      energy = sc.energy;
    } catch (const Error& e) {
      std::string m = e.what();  // the device's JSON path is hw.device here
      if (m.rfind("device.", 0) == 0) m = "hw." + m;
      for (size_t at = m.find(" device."); at != std::string::npos; at = m.find(" device.", at + 4)) m.insert(at + 1, "hw.");
      throw Error(hw_file + ": " + m);
    }
  }
  Json sub = Json::object();
  for (const char* k : {"cores", "mapping", "clock_ghz"})
    if (hwj.contains(k)) sub[k] = hwj.at(k);
  if (hwj.contains("device")) sub["device"] = {{"name", sc.device.name}};  // its parameters: sc.device
  for (const char* c : {"dac", "adc"})
    if (hwj.contains(c) && hwj.at(c).contains("bits")) sub[c] = {{"bits", hwj.at(c).at("bits")}};
  hw::HwSpec hw = hw::parse_hw_spec(sub, hw_file + ": hw");
  hw.energy = energy;
  hw.energy.cell = device_cell(find_device(hw.device, hw.device_path));  // the device registry knows its cell kind
  models::ImportOptions io;
  io.fold_batchnorm = hw.tiling.batchnorm == "fold";
  models::Graph g = models::import_onnx(model, io);
  if (hw.tiling.batchnorm == "digital" && !models::has_batchnorm(g))
    throw Error(hw_file + ": mapping.batchnorm: \"digital\" keeps BatchNormalization nodes after the array, but " + model +
                " has none (docs/layers.md §1)");
  try {  // the names of mapping.digital_layers, with the hw file and JSON path
    models::resolve_digital_layers(g, hw.tiling.digital_layers, "model " + model);
  } catch (const Error& e) {
    throw Error(hw_file + ": mapping." + e.what());
  }
  models::CompiledWorkload wl;
  try {
    wl = models::compile(g, hw.tiling);
  } catch (const Error& e) {  // the compiler names the mapping's key
    throw Error(hw_file + ": hw." + e.what());
  }
  if (wl.layers.empty())  // as validate and run refuse it
    throw Error(model +
                ": no weight layers to map onto tensor cores (a Conv, Gemm or MatMul with its weights in "
                "initializers)");
  nlohmann::json j = wl.to_json(blocks);
  j["model"] = model;
  // The device as a run builds it (its parameters from the hw file's device): its levels price
  // the streaming mapping's per-pass programming (docs/elight.md §2), its output ADCs (an RNS
  // core: one per modulus channel) the conversions (docs/rns.md §7).
  try {
    sc.device.model->check(wl);
  } catch (const Error& e) {
    throw Error(hw_file + ": hw.device: " + e.what());
  }
  std::unique_ptr<hw::Technology> tech;
  try {  // a device's own build errors (a table file, a level count) name the hw file too
    tech = sc.device.model->build(hw::DeviceBuild{wl, hw::RandomStream(1, 0), {}});
  } catch (const Error& e) {
    throw Error(hw_file + ": hw.device: " + e.what());
  }
  const hw::Technology& t = *tech;
  hw::InferenceCost cost;
  if (wl.spec.mapping == "streaming") {
    if (!t.level_spec())
      throw Error(hw.device_path + ": the streaming mapping needs a device with transmission levels (" +  // names the file
                  [] {
                    std::string l;
                    for (const auto& n : devices_with("levels")) l += (l.empty() ? "" : ", ") + n;
                    return l;
                  }() +
                  "), got \"" + hw.device + "\"" +
                  (hw.device_given ? std::string()
                                   : " (the default: the hw file names no device; add \"device\": {\"name\": \"" +
                                         devices_with("levels").front() + "\"} to it)"));
    const hw::StreamPlan plan = hw::plan_streaming(wl, t);
    const hw::StreamingWrites sw{plan.time_s, plan.energy_j, plan.programmings};
    cost = hw::inference_cost(wl, hw.energy, &sw);
    j["streaming"] = plan.to_json();
  } else {
    cost = hw::inference_cost(wl, hw.energy);
  }
  const std::vector<int> out_bits = t.output_adc_bits();
  hw::price_output_adcs(cost, hw.energy, out_bits);
  j["per_inference"] = cost.to_json();
  j["hardware"] = {{"device", hw.device},
                   {"weight_cell", hw::weight_cell_name(hw.energy.cell)},
                   {"clock_ghz", hw.energy.clock_ghz},
                   {"dac_bits", hw.energy.dac_bits},
                   {"adc_bits", hw.energy.adc_bits}};
  if (!out_bits.empty()) j["hardware"]["adc_bits_per_output"] = out_bits;  // one ADC per channel
  std::string text = j.dump(1) + "\n";
  if (out.empty()) {
    std::cout << text;
  } else {
    write_atomic(out, text);
    const auto& pi = j["per_inference"];
    // The device prices the chip (thermo-optic rings re-tune per chunk, non-volatile cells stay
    // resident): name it, and say when the hw file left it to the default.
    const std::string dev = "device " + hw.device + " (" + hw::weight_cell_name(hw.energy.cell) +
                            (hw.device_given ? "" : "; the hw file names no device: the default") + ")";
    std::printf("%s: %zu weight layers, %lld chunks, %lld cycles, %s, latency %.3g s, energy %.3g J per inference -> %s\n",
                model.c_str(), wl.layers.size(), static_cast<long long>(wl.chunks),
                static_cast<long long>(wl.cycles_per_inference), dev.c_str(), pi["latency_s"].get<double>(),
                pi["energy_j"].get<double>(), out.c_str());
  }
  return 0;
}

int cmd_check_onnx(const std::vector<std::string>& dirs, double rtol, double atol, bool verbose) {
  int pass = 0, fail = 0, skip = 0;
  std::string skipped;  // the skip lines not printed (without -v)
  for (const auto& dir : dirs)
    for (const auto& c : models::find_onnx_cases(dir)) {
      models::CaseResult r = models::run_onnx_case(c, rtol, atol);
      if (r.status == models::CaseResult::Status::pass)
        ++pass;
      else if (r.status == models::CaseResult::Status::fail)
        ++fail;
      else
        ++skip;
      const std::string line = std::string(models::status_name(r.status)) + " " + c + (r.message.empty() ? "" : ": ") + r.message;
      if (r.status != models::CaseResult::Status::skip || verbose)
        std::printf("%s\n", line.c_str());
      else
        skipped += line + "\n";
    }
  // Nothing compared is not a pass: a model whose every case was skipped (an unsupported op) was
  // not checked, so the skips are listed with their reasons and the exit is 1.
  if (pass + fail == 0) std::printf("%s", skipped.c_str());
  std::printf("%d passed, %d failed, %d skipped (unsupported)\n", pass, fail, skip);
  if (pass + fail == 0) {
    std::fprintf(stderr, "ptcsim: error: check-onnx: no case was checked (%d skipped as unsupported, listed above)\n", skip);
    return 1;
  }
  return fail ? 1 : 0;
}

struct DeviceOptions {
  double g_target_rel = 1.0, g_max_us = 25.0, delta_t_k = 0.0, phase_noise_rad = 0.0;
  std::vector<double> times_s = {0, 1, 3600, 86400, 2592000, 31536000};
  std::vector<double> weights;
  int64_t samples = 10000, channel = 0;
  uint64_t seed = 0;
  bool json = false, no_prog = false, no_drift = false, no_read = false;
  std::string q_from = "programmed";
  std::string device = "pcm";     // device pcm --device NAME: a PCM pair device with a law (tag pcm_law)
  std::vector<std::string> sets;  // device pcm --set NAME=VALUE: the law's parameters (device.NAME)
};

void print_json_or_table(const nlohmann::json& j, bool json, const std::vector<std::string>& cols) {
  if (json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (const auto& c : cols) std::printf("%16s", c.c_str());
  std::printf("\n");
  for (size_t r = 0; r < j.at(cols[0]).size(); ++r) {
    for (const auto& c : cols) std::printf("%16.6g", j.at(c).at(r).get<double>());
    std::printf("\n");
  }
}

int cmd_device_pcm(const DeviceOptions& o, bool g_max_given, bool q_from_given) {
  // Any PCM pair device with a law (tag "pcm_law": the built-in pcm, or a plug-in's
  // sim::pcm_law_device): its law's parameters as the scenario's device section takes them
  // (sim/pcm_law_device.h), the same names, defaults, ranges and messages; --g-max-us and --q-from
  // are two of pcm's. The pair mapping's own parameters do not apply to one device.
  const DeviceRegistry::Entry& e = find_device(o.device, "--device");
  if (!has_tag(e.tags, "pcm_law")) {
    std::string names;
    for (const std::string& n : devices_with("pcm_law")) names += (names.empty() ? "" : ", ") + n;
    throw Error("--device " + o.device +
                ": not a PCM pair device with a law of its own (devices registered with sim::pcm_law_device, tag "
                "pcm_law: " +
                names + ")");
  }
  Json root = {{"device", Json::object()}};
  for (const std::string& a : o.sets) {
    if (a.find('=') == std::string::npos || a[0] == '=') throw Error("--set \"" + a + "\": expected NAME=VALUE");
    apply_set(root, a.rfind("device.", 0) == 0 || a.rfind("device=", 0) == 0 ? a : "device." + a);
  }
  Json& dj = root["device"];
  if (!dj.is_object()) throw Error("--set device: expected an object of the law's parameters, got " + dj.dump());
  auto has_param = [&](const std::string& n) {
    for (const ParamSpec& sp : e.params)
      if (sp.name == n) return true;
    return false;
  };
  if (g_max_given && dj.contains("g_max_us")) throw Error("--g-max-us and --set g_max_us: give g_max once");
  if (q_from_given && dj.contains("q_from")) throw Error("--q-from and --set q_from: give it once");
  if (q_from_given && !has_param("q_from"))
    throw Error("--q-from: device " + o.device + " has no parameter q_from (it is the built-in pcm law's)");
  if (g_max_given) dj["g_max_us"] = o.g_max_us;
  if (q_from_given) dj["q_from"] = o.q_from;
  std::set<std::string> pair_keys;  // the pair mapping's parameters: not of one device (g_max_us is both)
  for (const ParamSpec& sp : pcm_pair_params())
    if (sp.name != "g_max_us") pair_keys.insert(sp.name);
  if (dj.contains("g_min_us"))  // a mapping parameter of the pair, not of one device
    throw Error(
        "--set g_min_us: the minimum conductance maps weights onto a pair (scenario key device.g_min_us); one "
        "device is characterised at its own target: give --g-target-rel (g_min + |w| (g_max - g_min)) / g_max");
  std::vector<std::string> law_keys;  // what --set takes: g_max_us and the law's own parameters
  for (const ParamSpec& sp : e.params)
    if (!pair_keys.count(sp.name)) law_keys.push_back(sp.name);
  for (const auto& [k, v] : dj.items()) {
    if (k == "programming_noise" || k == "drift" || k == "read_noise")
      throw Error("--set " + k + ": the effects are switched with --no-programming, --no-drift and --no-read-noise");
    if (pair_keys.count(k))
      throw Error("--set " + k + ": a parameter of the weights' mapping onto conductance pairs (scenario key device." + k +
                  "), not of one device's law");
    if (std::find(law_keys.begin(), law_keys.end(), k) == law_keys.end()) {
      const std::string hint = did_you_mean(k, law_keys, true);
      std::string known;
      for (const std::string& n : law_keys) known += (known.empty() ? "" : ", ") + n;
      throw Error("device." + k + ": unknown key" + (hint.empty() ? "" : "; did you mean \"" + hint + "\"?") + " (" + o.device +
                  "'s law takes: " + known + ")");
    }
  }
  Params prm(dj, "device", e.params, {});
  // A parameter error names its path; anything else a plug-in throws is one line naming the device
  // and its library (as validate names it).
  const std::string who = device_label(o.device);
  auto guarded = [&](const char* what, auto&& f) {
    try {
      return f();
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const Error& x) {
      // ptcsim's own words (a parameter path, the law checks' "device \"name\": ...", the
      // arguments) stay; a plug-in factory's bare ptc::Error gets the device's name.
      const std::string m = x.what();
      if (m.rfind("device", 0) == 0 || std::string(what) != "building the device") throw;
      throw Error(who + ", " + what + ": " + m);
    } catch (const std::exception& x) {
      throw Error(who + ", " + what + ": " + x.what());
    } catch (...) {
      throw Error(who + ", " + what + ": threw an exception that is not a std::exception");
    }
  };
  std::unique_ptr<hw::DeviceModel> model = guarded("building the device", [&] { return e.make(prm); });
  if (!model) throw Error(who + ", building the device: the factory returned no device");
  const hw::PcmLawOf law = model->pcm_law();
  if (!law.law) throw Error("--device " + o.device + ": registered with tag pcm_law but has no PCM law (DeviceModel::pcm_law)");
  hw::PcmEffects fx;
  fx.programming = !o.no_prog;
  fx.drift = !o.no_drift;
  fx.read_noise = !o.no_read;
  // The law's exceptions are named by the checks (hw/physics/pcm_law.cpp); argument errors keep
  // their words.
  hw::PcmCharacterization c = guarded("its PCM law", [&] {
    return hw::characterize_pcm(*law.law, o.device, law.g_max_us, o.g_target_rel, o.times_s, o.samples, o.seed, fx);
  });
  Json params = prm.resolved();  // the law's parameters and g_max
  for (const std::string& k : pair_keys) params.erase(k);
  nlohmann::json j = {{"model", o.device + ": " + e.description},  // the registration's words (no name is special here)
                      {"g_max_us", law.g_max_us},
                      {"device", params},
                      {"g_target_rel", o.g_target_rel},
                      {"samples", o.samples},
                      {"seed", o.seed},
                      {"times_s", c.times_s},
                      {"g_mean_us", c.g_mean_us},
                      {"g_std_us", c.g_std_us}};
  print_json_or_table(j, o.json, {"times_s", "g_mean_us", "g_std_us"});
  return 0;
}

int cmd_device_mrr(const DeviceOptions& o) {
  hw::CoreArray one{1, 1, 8};
  if (o.channel < 0 || o.channel >= one.k) throw Error("--channel: expected integer in [0,7], got " + std::to_string(o.channel));
  double dphi = hw::GlobalTemperature(one, hw::GlobalTemperatureParams{}).phase_per_kelvin(o.channel);
  hw::MrrCharacterization c =
      hw::characterize_mrr(hw::MrrRing{}, o.weights, o.delta_t_k, o.phase_noise_rad, dphi, o.samples, o.seed);
  nlohmann::json j = {{"model", "DOCTOR MRR weight bank (a = 0.865, r = 0.87)"},
                      {"scale", c.scale},
                      {"phase_per_kelvin_rad", c.phase_per_kelvin},
                      {"delta_t_k", o.delta_t_k},
                      {"phase_noise_rad", o.phase_noise_rad},
                      {"samples", o.samples},
                      {"seed", o.seed},
                      {"weights", c.weights},
                      {"effective_mean", c.effective_mean},
                      {"effective_std", c.effective_std}};
  print_json_or_table(j, o.json, {"weights", "effective_mean", "effective_std"});
  return 0;
}

// The --set assignments with --seed N as seed=N (given but empty, "--seed ''", is checked, not
// ignored); --seed together with --set seed=... is one error (which one should win?).
std::vector<std::string> with_seed(const std::vector<std::string>& sets, const std::string* seed) {
  std::vector<std::string> all = sets;
  if (!seed) return all;
  for (const auto& a : sets)
    if (a.compare(0, 5, "seed=") == 0) throw Error("--seed " + *seed + " and --set " + a + " both set the seed: give one");
  all.push_back("seed=" + *seed);
  return all;
}

int cmd_run(const std::string& file, const std::vector<std::string>& sets, const std::string* seed, const std::string& out,
            bool quiet, bool force, int argc, char** argv) {
  std::vector<std::string> all = with_seed(sets, seed);
  // Errors in the scenario name its file first, as validate's do.
  Json j;
  Scenario s;
  try {
    j = load_scenario_json(file, all);
    s = parse_scenario(j, file);
  } catch (const Error& e) {
    throw Error(in_file(file, e.what()));
  }
  // The JSON Schema as well (after the parse, whose messages name the registered plug-ins): run
  // accepts nothing that validate rejects.
  std::vector<std::string> errors = schema_errors(j);
  if (!errors.empty())
    throw Error(file + ": " + errors.front() +
                (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more: ptcsim validate lists them)" : ""));
  RunOptions o;
  o.out_dir = out;
  o.sets = all;
  o.quiet = quiet;
  o.force = force;
  for (int i = 0; i < argc; ++i) o.argv.push_back(argv[i]);
  RunResult r = run_scenario(s, o);
  const Json& m = r.summary;
  auto num = [&](const char* k) { return m.contains(k) && m.at(k).is_number() ? m.at(k).get<double>() : NAN; };
  char p99[64] = "n/a (no request served)";
  if (std::isfinite(num("latency_p99_s"))) std::snprintf(p99, sizeof p99, "%.3g s", num("latency_p99_s"));
  // An accuracy nobody measured (accuracy mode none, or nothing served) reads n/a, as in summary.json (null).
  auto pct = [&](const char* k) {
    char b[32] = "n/a";
    if (std::isfinite(num(k))) std::snprintf(b, sizeof b, "%.2f %%", 100 * num(k));
    return std::string(b);
  };
  std::printf(
      "%s: %s, policy %s: accuracy mean %s, final %s, ideal %s; cycle overhead %.3f %%, %lld calibrations, "
      "%.3g J, p99 latency %s -> %s\n",
      s.name.c_str(), m.at("status").get<std::string>().c_str(), m.at("policy").get<std::string>().c_str(),
      pct("accuracy_mean").c_str(), pct("accuracy_final").c_str(), pct("accuracy_ideal").c_str(), 100 * num("overhead_ratio"),
      static_cast<long long>(m.at("calibrations").get<int64_t>()), num("energy_j"), p99, r.out_dir.c_str());
  return m.at("status") == "complete" ? 0 : 3;
}

// Each file: fragments and --set resolved, then the JSON Schema (every violation, one line each),
// then -- only when the schema passes, so a problem is reported once -- the semantic parse
// (files, plug-in/device compatibility, cross-field rules) and preflight() (sim/scenario.h): the
// model, dataset and compile step and every other check `ptcsim run` makes before its first event.
int cmd_validate(const std::vector<std::string>& files, const std::vector<std::string>& sets, const std::string& out,
                 bool force) {
  int bad = 0;
  for (const auto& f : files) {
    try {
      Json j = load_scenario_json(f, sets);
      std::vector<std::string> errors = schema_errors(j);
      // One line per JSON path: a value may break several schema rules (type and enumeration),
      // and one problem is one line.
      std::set<std::string> paths;
      for (const auto& e : errors)
        if (paths.insert(e.substr(0, e.find(": "))).second)
          std::fprintf(stderr, "ptcsim: error: %s\n", one_line(with_origin(in_file(f, e))).c_str());
      if (!errors.empty()) {
        ++bad;
        continue;
      }
      Scenario s = parse_scenario(j, f);
      preflight(s);  // every check `ptcsim run` makes before its first event
      // The run directory `run` would use (--out, or the default one under the current directory):
      // a run there that died without recording its end (SIGKILL) is marked abandoned.
      const std::string dir = out.empty() ? default_run_dir(s) : out;
      const std::string held = check_run_dir(dir, !out.empty());  // as run: not a directory, cannot be created
      const std::string note = mark_abandoned_run(dir);
      if (!note.empty()) std::fprintf(stderr, "ptcsim: note: %s\n", one_line(note).c_str());
      if (!held.empty() && !force) std::fprintf(stderr, "ptcsim: note: %s\n", one_line(held).c_str());
      std::printf("%s: valid (scenario \"%s\", device %s, policy %s)\n", f.c_str(), s.name.c_str(), s.device.name.c_str(),
                  s.policy_json.at("name").get<std::string>().c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ptcsim: error: %s\n", one_line(with_origin(in_file(f, e.what()))).c_str());
      ++bad;
    }
  }
  return bad ? 1 : 0;
}

// ELight streaming orders of a scenario (docs/elight.md §3): the per-pass level steps, time,
// energy and worst cell of every order, on the scenario's model, array and device.
int cmd_streaming(const std::string& file, const std::vector<std::string>& sets, bool json) {
  Scenario s;
  Prepared p;
  std::vector<hw::StreamPlan> plans;
  try {  // every error names the scenario file, as validate's and run's do
    Json j = load_scenario_json(file, sets);
    s = parse_scenario(j, file);
    if (s.tiling.mapping != "streaming")
      throw Error("hw.mapping.name: ptcsim streaming needs the streaming mapping, got \"" + s.tiling.mapping + "\"");
    p = preflight(s);
    std::unique_ptr<hw::Technology> tech = make_technology(s, p.wl);
    const hw::PcmLevelSpec* lv = tech->level_spec();
    if (!lv) throw Error("device.name: device \"" + s.device.name + "\" has no transmission levels");
    const hw::Technology& t = *tech;
    for (const auto& name : models::stream_order_names())
      plans.push_back(hw::plan_streaming(p.wl, *lv, hw::stream_order_from_name(name),
                                         [&](int64_t l, int64_t g) -> const std::vector<int>& { return t.signed_levels(l, g); }));
  } catch (const std::exception& e) {
    throw Error(in_file(file, e.what()));
  }
  const double native = static_cast<double>(plans[0].writes);
  if (json) {
    Json out = {{"scenario", s.name}, {"orders", Json::array()}};
    for (const auto& pl : plans) {
      Json o = pl.to_json();
      o["reduction_vs_native"] = pl.writes > 0 ? native / static_cast<double>(pl.writes) : 1.0;
      out["orders"].push_back(o);
    }
    std::cout << out.dump(1) << "\n";
    return 0;
  }
  const std::string pass = s.tiling.images_per_pass > 1
                               ? " of up to " + std::to_string(s.tiling.images_per_pass) + " images (hw.mapping.images_per_pass)"
                               : std::string(" (one inference)");
  std::printf("%s: %zu weight layers on %lldx%lld cores of %lldx%lld, device %s, per pass%s:\n", s.name.c_str(),
              p.wl.layers.size(), static_cast<long long>(s.tiling.rows), static_cast<long long>(s.tiling.cols),
              static_cast<long long>(s.tiling.block_size), static_cast<long long>(s.tiling.block_size), s.device.name.c_str(),
              pass.c_str());
  std::printf("%-10s %14s %10s %12s %14s %14s %12s\n", "order", "level steps", "vs native", "vs per_cell", "program time s",
              "program J", "worst cell");
  for (const auto& pl : plans)
    std::printf("%-10s %14lld %9.2fx %11.3fx %14.4g %14.4g %12lld\n", hw::stream_order_name(pl.order),
                static_cast<long long>(pl.writes), pl.writes > 0 ? native / static_cast<double>(pl.writes) : 1.0,
                pl.bound_writes > 0 ? static_cast<double>(pl.writes) / static_cast<double>(pl.bound_writes) : 1.0, pl.time_s,
                pl.energy_j, static_cast<long long>(pl.max_cell_steps()));
  std::printf("(per_cell: ELight's per-cell sort, the lower bound; not buildable: a column's cells share one input lane)\n");
  return 0;
}

int cmd_schema() {
  std::cout << scenario_schema().dump(2) << "\n";
  return 0;
}

int cmd_list(const std::string& kind, bool json) {
  Json j;
  try {
    j = list_plugins(kind);
  } catch (const Error& e) {  // a word of the command line: exit 2, as any bad command line
    std::fprintf(stderr, "ptcsim: error: %s (see ptcsim list --help)\n", one_line(e.what()).c_str());
    return 2;
  }
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  // The plug-in a scenario gets when its section names none (device mrr, traffic back_to_back, ...).
  std::map<std::string, std::string> taken_by_default;
  for (const auto& slot : plugin_slots())
    if (!slot.default_name.empty()) taken_by_default[slot.kind] = slot.default_name;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::printf("%s:\n", it.key().c_str());
    for (auto p = it.value().begin(); p != it.value().end(); ++p) {
      const auto d = taken_by_default.find(it.key());
      const bool dflt = d != taken_by_default.end() && d->second == p.key();
      const std::string lib = p.value().contains("plugin") ? " (plug-in " + p.value()["plugin"].get<std::string>() + ")" : "";
      std::printf("  %s%s%s -- %s\n", p.key().c_str(), dflt ? " (default)" : "", lib.c_str(),
                  p.value()["description"].get<std::string>().c_str());
      if (p.value().contains("tags")) {
        std::string t;
        for (const auto& x : p.value()["tags"]) t += (t.empty() ? "" : ", ") + x.get<std::string>();
        std::printf("      [%s]\n", t.c_str());
      }
      for (const auto& prm : p.value()["parameters"]) {
        std::string rule = prm["type"].get<std::string>();
        if (prm.contains("range"))
          rule += " in [" + range_text(prm["range"][0].get<double>()) + "," + range_text(prm["range"][1].get<double>()) + "]";
        if (prm.contains("choices")) {
          rule += ":";
          for (const auto& c : prm["choices"]) rule += " " + c.get<std::string>();
        }
        std::printf("      %-22s %-9s default %-12s %s (%s)\n", prm["name"].get<std::string>().c_str(),
                    prm["unit"].get<std::string>().empty() ? "-" : prm["unit"].get<std::string>().c_str(),
                    prm["default"].is_null() ? "(required)" : prm["default"].dump().c_str(),
                    prm["description"].get<std::string>().c_str(), rule.c_str());
      }
    }
  }
  if (kind == "sections") {  // the sections a plug-in fills: their parameters are the plug-in's
    std::printf("plug-in sections (\"name\" picks the plug-in; its parameters: ptcsim list KIND):\n");
    for (const auto& slot : plugin_slots())
      std::printf("  %s%s -- %s (ptcsim list %s%s)\n", slot.path.c_str(), slot.list ? "[]" : "", slot.description.c_str(),
                  slot.kind.c_str(), slot.default_name.empty() ? "" : (", default " + slot.default_name).c_str());
  }
  return 0;
}

// A non-negative decimal integer (a seed): "-1" wrapped to 2^64 - 1 in an unsigned option.
CLI::Validator nonnegative_integer() {
  return CLI::Validator(
      [](std::string& in) -> std::string {
        if (in.empty() || in.size() > 20 || in.find_first_not_of("0123456789") != std::string::npos)
          return "expected an integer >= 0, got \"" + in + "\"";
        return std::string();
      },
      "", "integer >= 0");
}

// A finite number in [lo, hi]: CLI11's own number checks let "nan" through (NaN fails every
// comparison) and print an infinite bound as a 309-digit number.
CLI::Validator finite_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& in) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(in, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != in.size()) return "expected a number, got \"" + in + "\"";
        if (!std::isfinite(v)) return "expected a finite number, got " + in;
        if (v < lo || v > hi) return "expected a number in [" + range_text(lo) + "," + range_text(hi) + "], got " + in;
        return std::string();
      },
      "", "finite number");
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"ptcsim: discrete-event simulator of deployed photonic DNN accelerators"};
  app.set_version_flag("--version", std::string("ptcsim ") + PTC_VERSION + " (plug-in SDK " + PTC_SDK_ABI + ")");
  app.require_subcommand(1);

  std::string model, hw_file, out, data_dir = models::kFashionMnistDir;
  int64_t limit = 0, batch = 256;
  bool json = false, no_blocks = false, verbose = false, profile = false;
  double rtol = 1e-3, atol = 1e-5;
  std::vector<std::string> dirs;

  auto* eval = app.add_subcommand("eval", "ideal (noise-free) test accuracy of an ONNX classifier on Fashion-MNIST");
  eval->add_option("model", model, "ONNX model file")->required();
  eval->add_option("--limit", limit, "evaluate only the first N test images (default: all)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  eval->add_option("--batch", batch, "batch size")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  eval->add_option("--data-dir", data_dir, "Fashion-MNIST IDX folder");
  eval->add_flag("--json", json, "print a JSON object (accuracy, samples, ...)");
  eval->add_flag("--profile", profile, "print the time spent per op type on stderr");

  auto* comp = app.add_subcommand("compile", "tile and map an ONNX model onto a tensor-core array; write the workload JSON");
  comp->add_option("model", model, "ONNX model file")->required();
  comp->add_option("--hw", hw_file, "hardware JSON: a scenario's hw section, e.g. scenarios/hw/*.json (device name allowed)")
      ->required();
  comp->add_option("-o,--output", out, "output file (default: stdout)");
  comp->add_flag("--no-blocks", no_blocks, "omit the per-block core map");

  auto* check = app.add_subcommand("check-onnx", "run ONNX backend test cases (model.onnx + test_data_set_*)");
  check->add_option("dirs", dirs, "case folders, or folders of case folders")->required();
  const double inf = std::numeric_limits<double>::infinity();
  check->add_option("--rtol", rtol, "relative tolerance")->check(finite_in(0, inf));
  check->add_option("--atol", atol, "absolute tolerance")->check(finite_in(0, inf));
  check->add_flag("-v,--verbose", verbose, "also list skipped cases with the reason");

  DeviceOptions dev;
  auto* device = app.add_subcommand("device", "characterise single devices under the published models");
  device->require_subcommand(1);
  auto* pcm = device->add_subcommand(
      "pcm", "PCM conductance statistics over time (aihwkit PCMLike model, or a PCM-law plug-in with --device)");
  pcm->add_option("--g-target-rel", dev.g_target_rel, "target conductance / g_max")->required()->check(finite_in(0.0, 1.0));
  pcm->add_option("--times", dev.times_s, "times after programming, s (comma-separated)")
      ->delimiter(',')
      ->check(finite_in(0, inf));
  pcm->add_option("--samples", dev.samples, "devices")->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  pcm->add_option("--seed", dev.seed, "random seed")->check(nonnegative_integer());
  auto* gmax_opt = pcm->add_option("--g-max-us", dev.g_max_us, "g_max, uS")->check(finite_in(1e-6, 1e6));
  auto* qfrom_opt = pcm->add_option("--q-from", dev.q_from,
                                    "1/f noise amplitude from the programmed (aihwkit code) or target (docs) conductance")
                        ->check(CLI::IsMember({"programmed", "target"}));
  pcm->add_flag("--no-programming", dev.no_prog, "leave out programming noise");
  pcm->add_flag("--no-drift", dev.no_drift, "leave out drift");
  pcm->add_flag("--no-read-noise", dev.no_read, "leave out 1/f read noise");
  pcm->add_option("--set", dev.sets,
                  "a parameter of the device's law, NAME=VALUE (repeatable; names, defaults and ranges as `ptcsim list "
                  "devices` shows them, for pcm: g_max_us, t0_s, prog_c0..2, nu_mu_*, nu_sigma_*, read_q_*, t_read_s, ...; "
                  "the switches are --no-programming, --no-drift, --no-read-noise)")
      ->allow_extra_args(false);
  pcm->add_option("--device", dev.device,
                  "a PCM pair device with a law of its own: pcm (aihwkit PCMLike) or a plug-in's sim::pcm_law_device "
                  "(load it with --plugin)");
  pcm->add_flag("--json", dev.json, "print JSON");
  auto* mrr = device->add_subcommand("mrr", "effective weights of an MRR block under temperature offset and phase noise");
  mrr->add_option("--weights", dev.weights, "target weights of one block (comma-separated)")
      ->required()
      ->delimiter(',')
      ->check(finite_in(-inf, inf));
  mrr->add_option("--delta-t-k", dev.delta_t_k, "uniform temperature offset, K")->check(finite_in(-1000, 1000));
  mrr->add_option("--phase-noise-rad", dev.phase_noise_rad, "std of Gaussian phase noise, rad")->check(finite_in(0, inf));
  mrr->add_option("--channel", dev.channel, "bank column (wavelength/radius table entry), 0-7");
  mrr->add_option("--samples", dev.samples, "draws per weight")->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  mrr->add_option("--seed", dev.seed, "random seed")->check(nonnegative_integer());
  mrr->add_flag("--json", dev.json, "print JSON");
  for (CLI::App* sub : {pcm, mrr})  // --help shows each option's default
    for (CLI::Option* o : sub->get_options())
      if (!o->get_required()) o->capture_default_str();

  std::string scenario_file, seed_text, list_kind;
  std::vector<std::string> sets, files;
  bool quiet = false;
  auto* run = app.add_subcommand("run", "simulate a deployment scenario; writes a run directory");
  run->add_option("scenario", scenario_file, "scenario JSON file")->required();
  run->add_option("--set", sets, "override a parameter: dotted.path=JSON value (repeatable)")->allow_extra_args(false);
  auto* seed_opt = run->add_option("--seed", seed_text, "random seed (same scenario + seed => identical outputs)");
  run->add_option("--out", out, "run directory (default: runs/<name>-<hash of config and seed>)")
      ->check(CLI::Validator(  // "--out ''" is an error, not silently the default directory
          [](std::string& in) {
            return in.empty() ? std::string("expected a directory path, got an empty string") : std::string();
          },
          "", "non-empty"));
  int threads = 0;
  auto* threads_opt = run->add_option("--threads", threads,
                                      "executor threads, as --set threads=N (0: $PTC_THREADS or all cores); not part of the "
                                      "configuration id: the outputs are the same bytes at any count")
                          ->check(CLI::Range(0, 1024));
  run->add_flag("-q,--quiet", quiet, "no progress on stderr");
  bool force = false;
  run->add_flag("--force", force, "replace a complete run in the run directory (refused otherwise)");
  auto* validate = app.add_subcommand("validate", "check scenario files (schema and semantics) without running them");
  validate->add_option("files", files, "scenario JSON files")->required();
  // run's other options, so that a run's command line checks as it is (`run` -> `validate`).
  int vthreads = 0;
  auto* vthreads_opt =
      validate->add_option("--threads", vthreads, "as run's --threads (checked as --set threads=N)")->check(CLI::Range(0, 1024));
  bool vquiet = false, vforce = false;
  validate->add_flag("-q,--quiet", vquiet, "as run's (no effect)");
  validate->add_flag("--force", vforce, "as run's: no note for a complete run in the run directory");
  validate->add_option("--set", sets, "overrides to check as well (repeatable)")->allow_extra_args(false);
  auto* vseed_opt = validate->add_option("--seed", seed_text, "the seed `run --seed` would use (checks its run directory)");
  std::string validate_out;
  validate->add_option("--out", validate_out,
                       "the run directory to check (default: the one `run` would use): an error if run could not create "
                       "or write it, a note if it holds a complete run (run needs --force); a run there that was killed "
                       "without recording its end is marked abandoned");
  auto* list = app.add_subcommand("list",
                                  "list plug-ins with their parameters (policies, noise, devices, traffic, dispatchers, "
                                  "mappings) and the scenario sections (list sections)");
  list->add_option("kind", list_kind, "policies, noise, devices, traffic, dispatchers, mappings or sections (default: all)");
  list->add_flag("--json", json, "print JSON");
  auto* schema = app.add_subcommand("schema", "print the JSON Schema (draft-07) of scenario files (scenarios/schema.json)");
  std::string stream_file;
  std::vector<std::string> stream_sets;
  auto* streaming = app.add_subcommand(
      "streaming", "ELight streaming orders of a scenario: level steps, time, energy and worst cell per pass (docs/elight.md)");
  streaming->add_option("scenario", stream_file, "scenario JSON file (hw.mapping.name streaming)")->required();
  streaming->add_option("--set", stream_sets, "override a parameter: dotted.path=JSON value (repeatable)")
      ->allow_extra_args(false);
  streaming->add_flag("--json", json, "print JSON");
  sweep::SweepCommand sweep_cmd(app);  // `ptcsim sweep ...` (sim/sweep/)
  std::vector<std::string> plugins;
  for (auto* c : {run, validate, list, schema, streaming, pcm})
    c->add_option("--plugin", plugins,
                  "load plug-ins (policies, noise processes, devices, traffic sources, dispatchers) from a shared library "
                  "(repeatable)")
        ->allow_extra_args(false)
        ->check(CLI::Validator(
            [](std::string& v) { return v.empty() ? std::string("expected a shared library file, got an empty name") : ""; },
            "FILE"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    if (argc > 1 && argv[1][0] != '-') {  // "ptcsim frobnicate": name the word, not "a subcommand is required"
      bool known = false;
      std::string names;
      for (const auto* c : app.get_subcommands([](const CLI::App*) { return true; })) {
        known |= c->get_name() == argv[1];
        names += (names.empty() ? "" : ", ") + c->get_name();
      }
      if (!known) {
        std::fprintf(stderr, "ptcsim: error: unknown command \"%s\" (commands: %s)\n", one_line(argv[1]).c_str(), names.c_str());
        return 2;
      }
      // "ptcsim device foo": the same one level down, for a command whose subcommands are its kinds
      CLI::App* parent = app.get_subcommand(argv[1]);
      const auto kids = parent->get_subcommands([](const CLI::App*) { return true; });
      if (!kids.empty() && parent->get_require_subcommand_min() > 0 && argc > 2 && argv[2][0] != '-') {
        bool kid = false;
        std::string kid_names;
        for (const auto* c : kids) {
          kid |= c->get_name() == argv[2];
          kid_names += (kid_names.empty() ? "" : ", ") + c->get_name();
        }
        if (!kid) {
          std::fprintf(stderr, "ptcsim: error: %s: unknown kind \"%s\" (known: %s)\n", argv[1], one_line(argv[2]).c_str(),
                       kid_names.c_str());
          return 2;
        }
      }
    }
    // A bad command line: one line like every other error, exit 2 (CLI11 adds a second line and
    // exits with its own codes, 105-115).
    std::fprintf(stderr, "ptcsim: error: %s (see ptcsim --help)\n", one_line(e.what()).c_str());
    return 2;
  }
  try {
    // The executors read PTC_THREADS when threads is 0: a value that is not a count ran on one
    // thread silently.
    if (const char* env = std::getenv("PTC_THREADS"); env) {
      const std::string v = env;
      const bool digits = !v.empty() && v.size() <= 4 && v.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(v) < 1 || std::stoi(v) > 1024) {
        std::fprintf(stderr,
                     "ptcsim: error: PTC_THREADS (environment): expected an integer in [1, 1024] (unset: all cores), got "
                     "\"%s\"\n",
                     one_line(v).c_str());
        return 2;
      }
    }
    if (*eval) return cmd_eval(model, limit, batch, json, data_dir, profile);
    if (*comp) return cmd_compile(model, hw_file, out, !no_blocks);
    if (*check) return cmd_check_onnx(dirs, rtol, atol, verbose);
    if (*mrr) return cmd_device_mrr(dev);
    if (*run || *validate || *list || *schema || *streaming || *pcm) load_plugins(plugins);
    if (*pcm) return cmd_device_pcm(dev, gmax_opt->count() > 0, qfrom_opt->count() > 0);
    if ((*run && seed_opt->count()) || (*validate && vseed_opt->count())) {  // a bad --seed is a bad command line (exit 2)
      const bool digits =
          !seed_text.empty() && seed_text.size() <= 16 && seed_text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoull(seed_text) > (uint64_t{1} << 53) - 1) {  // the scenario's range for seed
        std::fprintf(stderr, "ptcsim: error: --seed: expected an integer in [0, 2^53 - 1], got \"%s\" (see ptcsim --help)\n",
                     one_line(seed_text).c_str());
        return 2;
      }
    }
    if (*run) {
      if (threads_opt->count()) sets.push_back("threads=" + std::to_string(threads));  // after every --set
      return cmd_run(scenario_file, sets, seed_opt->count() ? &seed_text : nullptr, out, quiet, force, argc, argv);
    }
    if (*validate) {
      if (vthreads_opt->count()) sets.push_back("threads=" + std::to_string(vthreads));  // after every --set, as run
      return cmd_validate(files, with_seed(sets, vseed_opt->count() ? &seed_text : nullptr), validate_out, vforce);
    }
    if (*list) return cmd_list(list_kind, json);
    if (*schema) return cmd_schema();
    if (*streaming) return cmd_streaming(stream_file, stream_sets, json);
    if (sweep_cmd.selected()) return sweep_cmd.run();
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "ptcsim: %s\n", one_line(e.what()).c_str());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ptcsim: error: %s\n", one_line(with_origin(e.what())).c_str());
    return 1;
  }
  return 0;
}

}  // namespace ptc::sim
