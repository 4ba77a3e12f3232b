#include "sim/scenario.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "hw/streaming.h"
#include "models/accuracy.h"
#include "models/dataset.h"
#include "models/gradients.h"
#include "models/json_io.h"
#include "models/onnx_import.h"
#include "models/swim_curvature.h"
#include "sim/inputs.h"
#include "sim/plugin_loader.h"
#include "sim/sim_time.h"

namespace ptc::sim {
namespace fs = std::filesystem;

namespace {

// accuracy.images' default (declared once; a batch size in a mode that evaluates none is refused).
constexpr int64_t kDefaultEvalImages = 1000;

// The policy's factory: a parameter error names its JSON path already; anything else a factory
// throws (a plug-in's own exception) is one line naming the policy, its library and the factory.
std::unique_ptr<Policy> construct_policy(const Registry<Policy>::Entry& e, Params& p, const std::string& name) {
  try {
    return e.make(p);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& x) {
    const std::string what = x.what();
    if (what.rfind("controller.policy", 0) == 0) throw;
    throw Error(policy_label(name) + ", factory: " + what);
  } catch (...) {
    throw Error(policy_label(name) + ", factory: threw an exception that is not a std::exception");
  }
}

// Paths whose value is an object (a string there names a fragment file): every declared section
// but the root, and every single plug-in slot.
bool is_object_path(const std::string& p) {
  static const std::set<std::string> paths = [] {
    std::set<std::string> v;
    for (const auto& sec : scenario_sections())
      if (!sec.path.empty()) v.insert(sec.path);
    for (const auto& slot : plugin_slots())
      if (!slot.list) v.insert(slot.path);
    return v;
  }();
  return paths.count(p) != 0;
}

bool is_list_path(const std::string& p) {
  for (const auto& slot : plugin_slots())
    if (slot.list && slot.path == p) return true;
  return false;
}

void resolve_fragments(Json& j, const fs::path& dir, const std::string& path, std::vector<std::string>& stack);

// Where the parts of the scenario being loaded came from (JSON path -> "fragment F"; "" for a path
// a --set replaced), per top-level file, so that an error at a path can name the fragment. An
// object fragment records every path it holds, list elements included (exact: an error at a path
// it does not hold, a default or a --set below its root, is not its doing); a fragment that is
// itself a list, spliced into a list slot, records its root only (covering everything below it).
struct Origin {
  std::string path, label;
  bool exact = false;
};
std::map<std::string, std::vector<Origin>>& origins() {
  static std::map<std::string, std::vector<Origin>> m;
  return m;
}
std::vector<Origin>* g_origins = nullptr;  // the file being loaded

void record_paths(const Json& v, const std::string& path, const std::string& label) {
  g_origins->push_back(Origin{path, label, true});
  if (v.is_object())
    for (auto it = v.begin(); it != v.end(); ++it) record_paths(it.value(), path + "." + it.key(), label);
  if (v.is_array())  // accuracy.times_s[1]: an element's error names the fragment too
    for (size_t i = 0; i < v.size(); ++i) record_paths(v[i], path + "[" + std::to_string(i) + "]", label);
}

// Reads the fragment `ref` (relative to `dir`) and calls use(content, its folder) with the file on
// the include stack, so a fragment that includes itself, directly or not, is an error.
template <class Use>
void with_fragment(const std::string& ref, const fs::path& dir, const std::string& path, std::vector<std::string>& stack,
                   Use use) {
  if (ref.empty()) throw Error(path + ": empty fragment path (a string here names a fragment file)");
  if (ref.find('\0') != std::string::npos) throw Error(path + ": a fragment path must not contain a NUL character");
  fs::path f = fs::path(ref).is_absolute() ? fs::path(ref) : dir / ref;
  // A name too long, a symlink loop or a path through a file: an error naming the JSON path,
  // not a bare filesystem_error.
  std::error_code ec;
  std::string key = fs::weakly_canonical(f, ec).string();
  bool there = !ec && fs::exists(f, ec);
  if (ec) throw Error(path + ": fragment file \"" + f.string() + "\": " + ec.message());
  if (std::find(stack.begin(), stack.end(), key) != stack.end()) throw Error(path + ": fragment \"" + ref + "\" includes itself");
  if (!there) {
    // --set device=pcm meant the plug-in's name: a word that is no file in a plug-in slot.
    bool slot = false;
    for (const auto& sl : plugin_slots()) slot = slot || (!sl.list && sl.path == dotted(path));
    const bool word = ref.find('/') == std::string::npos && ref.find('.') == std::string::npos;
    throw Error(path + ": fragment file \"" + f.string() + "\" not found" +
                (slot && word ? " (a string here names a fragment file; to choose the plug-in named \"" + ref + "\", set " +
                                    dotted(path) + ".name=" + ref + ")"
                              : std::string()));
  }
  Json frag = load_json_file(f.string(), "scenario fragment");
  if (frag.is_object()) frag.erase("$schema");
  if (g_origins) {
    const std::string label = "fragment " + f.lexically_normal().string();
    if (frag.is_object())
      record_paths(frag, path, label);
    else
      g_origins->push_back(Origin{path, label, false});
  }
  stack.push_back(key);
  use(frag, f.parent_path());
  stack.pop_back();
}

// A list slot (noise): entries may be objects, fragment paths, or lists (a fragment holding
// several processes); everything is spliced into one flat list.
void flatten_list(const Json& e, const fs::path& dir, const std::string& path, std::vector<std::string>& stack, Json& flat) {
  if (e.is_string()) {
    with_fragment(e.get<std::string>(), dir, path, stack,
                  [&](const Json& frag, const fs::path& fdir) { flatten_list(frag, fdir, path, stack, flat); });
  } else if (e.is_array()) {
    for (const auto& x : e) flatten_list(x, dir, path, stack, flat);
  } else {
    Json x = e;
    resolve_fragments(x, dir, path + "[" + std::to_string(flat.size()) + "]", stack);
    flat.push_back(x);
  }
}

void resolve_fragments(Json& j, const fs::path& dir, const std::string& path, std::vector<std::string>& stack) {
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string p = join_path(path, it.key());
    if (is_list_path(p)) {
      Json flat = Json::array();
      if (it.value().is_array()) {
        for (size_t i = 0; i < it.value().size(); ++i)
          flatten_list(it.value()[i], dir, p + "[" + std::to_string(i) + "]", stack, flat);
      } else if (it.value().is_string()) {
        flatten_list(it.value(), dir, p, stack, flat);
      } else {
        continue;  // not a list: the schema and the parse report it
      }
      it.value() = flat;
    } else if (is_object_path(p) && it.value().is_string()) {
      with_fragment(it.value().get<std::string>(), dir, p, stack, [&](const Json& frag, const fs::path& fdir) {
        it.value() = frag;
        resolve_fragments(it.value(), fdir, p, stack);
      });
    } else {
      resolve_fragments(it.value(), dir, p, stack);
    }
  }
}

std::string list_of(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

// ------------------------------------------------------------------ declared sections and slots
const std::vector<SectionSpec>& scenario_sections() {
  static const std::vector<SectionSpec> v = [] {
    const hw::EnergyParams ed;
    const double inf = 1e300;
    std::vector<SectionSpec> t;
    t.push_back(
        {"",
         "A ptcsim deployment scenario: a model compiled onto photonic tensor cores, noise processes, traffic and a "
         "controller policy",
         {{"name", "", "", "scenario name, the run directory prefix (empty: the file name without .json)"},
          {"seed", "", 1, "random seed (every draw is a function of it)", 0, 9007199254740991.0},
          {"model",
           "",
           nullptr,
           "ONNX model, relative to the scenario file (or base_dir) unless absolute",
           -inf,
           inf,
           {},
           "string"},
          {"base_dir", "", "",
           "directory that relative file paths (model, dataset.dir, and the file parameters of devices, noise processes, "
           "traffic, dispatchers and policies) resolve against: "
           "absolute, or relative to the scenario file; empty: the scenario file's directory. config.resolved.json "
           "records it as an absolute path, so that file runs again from its run directory; it is not part of the "
           "configuration's id (the run directory name)"},
          {"horizon_s", "s", 0.0, "simulated time (0: until the traffic ends)", 0, kMaxSimSeconds},
          {"threads", "", 0, "executor threads (0: $PTC_THREADS or all cores)", 0, 1024}},
         {"dataset", "hw", "device", "noise", "time", "traffic", "dispatcher", "accuracy", "monitor", "controller", "trace"}});
    t.push_back({"dataset",
                 "test/training images",
                 {{"name", "", "fashion-mnist", "dataset (Debian dataset-fashion-mnist)", -inf, inf, {"fashion-mnist"}},
                  {"dir", "", models::kFashionMnistDir, "IDX folder (absolute, or relative to base_dir)"}},
                 {}});
    t.push_back({"hw",
                 "the tensor-core array (`ptcsim compile --hw` reads its cores, mapping, clock and converter bits)",
                 {{"clock_ghz", "GHz", 5.0, "array clock (one input vector per cycle)", 1e-6, 1000},
                  {"chips", "chips", 1, "accelerators in the fleet, each its own device instance (docs/fleet.md)", 1, 1024}},
                 {"cores", "mapping", "dac", "adc", "mvm", "energy"}});
    t.push_back({"hw.cores",
                 "R x C tensor cores of k x k weights",
                 {{"rows", "cores", 4, "tensor-core rows R", 1, 1024},
                  {"cols", "cores", 4, "tensor-core columns C", 1, 1024},
                  {"block_size", "", 8, "k: each core is a k x k weight bank", 1, 1024}},
                 {}});
    t.push_back(
        {"hw.mapping",
         "how layers meet the array and weight blocks are placed on cores",
         {{"name", "", "cyclic",
           "cyclic (DOCTOR: block (p,q) on core (p mod R, q mod C)), stationary (one block per core) or streaming (ELight: "
           "block-row p on core p mod RC, its blocks programmed one after another on every pass; docs/elight.md)",
           -inf, inf, models::mapping_names()},
          {"order", "", "native",
           "streaming order of each block-row: native, per_cell (ELight's per-cell sort, an unbuildable lower bound), greedy "
           "(per-column nearest neighbour + 2-opt) or sort_mean (per-column sort by mean level); streaming only",
           -inf, inf, models::stream_order_names()},
          {"images_per_pass", "images", 1,
           "images per streaming pass: every block is programmed onto its core once and then computes the cycles of up to "
           "this many waiting images of a served batch (1: ELight's one inference per pass); streaming only",
           1, 1048576},
          {"batchnorm",
           "",
           "fold",
           "BatchNormalization after a Conv/Gemm: fold (into the weights and bias at import) or digital (kept as a digital "
           "op after the array, which holds the trained pre-BatchNorm weights, as DOCTOR encodes them; docs/layers.md)",
           -inf,
           inf,
           {"fold", "digital"}},
          {"digital_layers",
           "",
           Json::array(),
           "weight layers kept off the array, run digitally in fp32 (ONNX node names, or first / last: the first / last "
           "weight layer); the others run on the tensor cores (aihwkit's per-layer conversion; docs/layers.md)",
           -inf,
           inf,
           {},
           "string[]"}},
         {}});
    for (const char* c : {"dac", "adc"}) {
      bool adc = std::string(c) == "adc";
      t.push_back(
          {std::string("hw.") + c,
           adc ? "output analog-to-digital converters" : "input digital-to-analog converters",
           {{"bits", "bits", 8,
             "resolution for energy (and numerics when quantize): 2^bits - 2 steps over [-bound, bound]; 0: an ideal "
             "converter, which costs no energy; 1 is refused (no steps)",
             0, 24},
            {"quantize", "", false, "model the resolution in the numerics (DOCTOR: off, fp32 weights and inputs)"},
            {"bound", "", adc ? 8.0 : 1.0,
             adc ? "ADC full scale in normalised partial sums (k = no clipping); clips only when quantize"
                 : "DAC full scale (abs-max normalised inputs); clips only when quantize",
             1e-9, 1e9},
            {"noise_std", "", 0.0,
             adc ? "additive Gaussian noise on every block partial sum before the ADC's clip and rounding (normalised units); "
                   "aihwkit's out_noise acts once per output of each of its T tiles (512 inputs each): out_noise * sqrt(T / Q) "
                   "per block, Q the layer's block columns, gives the same output std (docs/converters_energy.md §1)"
                 : "additive Gaussian noise on every normalised input before the DAC's clip and rounding (aihwkit adds its "
                   "inp_noise after the DAC)",
             0, 1e3}},
           {}});
    }
    t.push_back(
        {"hw.mvm",
         "non-idealities of each analog MVM besides the converters (aihwkit IOParameters; docs/converters_energy.md §2)",
         {{"w_noise_type",
           "",
           "none",
           "weight noise per MVM, output-referred, a fresh draw per partial sum: none, additive_constant (aihwkit "
           "ADDITIVE_CONSTANT: w_noise ||x||_2 xi, i.i.d. N(0, w_noise^2) per weight) or pcm_read (aihwkit PCM_READ: "
           "w_noise sqrt(sum_j |w_ij| x_j^2) xi)",
           -inf,
           inf,
           {"none", "additive_constant", "pcm_read"}},
          {"w_noise", "", 0.0,
           "weight-noise scale in the scale tile's normalised weight units (aihwkit StandardHWATrainingPreset: 0.0175 with "
           "pcm_read, which matches aihwkit with device.scale_tile aihwkit and weight_scaling_columnwise; per-block tiles "
           "make it relatively smaller, docs/converters_energy.md §2)",
           0, 10},
          {"noise_management",
           "",
           "abs_max",
           "input scale s before the DAC (x / s), undone after the ADC: abs_max (aihwkit ABS_MAX, s = max|x|, capped "
           "at nm_thres if > 0), constant (aihwkit CONSTANT, s = nm_thres) or none (s = 1: raw inputs, clipped at the "
           "DAC bound when hw.dac.quantize)",
           -inf,
           inf,
           {"abs_max", "constant", "none"}},
          {"nm_thres", "", 0.0, "noise-management threshold (aihwkit nm_thres): the constant scale, or abs_max's cap (0: none)",
           0, 1e9},
          {"bound_management",
           "",
           "none",
           "what happens when a block's partial sums leave the ADC range: none (they clip) or iterative (aihwkit ITERATIVE, "
           "its default: the block is recomputed for that input vector with the input halved, then quartered, ..., and "
           "the outputs multiplied back; each recomputation is one array cycle of one core, charged; needs hw.adc.quantize)",
           -inf,
           inf,
           {"none", "iterative"}},
          {"max_bm_factor", "", 1000.0,
           "bound management: stop once the input reduction factor exceeds this (aihwkit max_bm_factor)", 1, 1e9},
          {"max_bm_res", "", 0.25,
           "bound management: stop once the reduction factor exceeds max_bm_res / DAC step (aihwkit max_bm_res; with "
           "an unquantised DAC only max_bm_factor stops it)",
           0, 1e9}},
         {}});
    t.push_back({"hw.energy",
                 "energy and latency parameters (defaults and sources: hw/energy.h)",
                 {{"ring_hold_mw", "mW", ed.ring_hold_mw,
                   "hold power per ring while the array computes or settles (LT default.yaml); an idle chip draws none (the "
                   "energy books count active time only)",
                   0, 1e6},
                  {"ring_settle_us", "us", ed.ring_settle_us, "thermo-optic re-tuning latency (CrossLight Table II)", 0, 1e9},
                  {"pcm_write_pj", "pJ", ed.pcm_write_pj, "energy per PCM device write (Rios et al. 2015)", 0, 1e12},
                  {"pcm_write_us", "us", ed.pcm_write_us, "time per PCM row write [assumption]", 0, 1e9},
                  {"pcm_verify_read_us", "us", ed.pcm_verify_read_us,
                   "time of one write-verify read of one weight (a verification averaging `reads` read-backs costs that many) "
                   "[assumption]",
                   0, 1e9},
                  {"pcm_verify_read_pj", "pJ", ed.pcm_verify_read_pj,
                   "energy of one write-verify read of one weight (a verification averaging `reads` read-backs costs that many) "
                   "[assumption]",
                   0, 1e12},
                  {"mrr_verify_read_us", "us", ed.mrr_verify_read_us,
                   "time of one MRR write-verify read-back of one weight [assumption]", 0, 1e9},
                  {"mrr_verify_read_pj", "pJ", ed.mrr_verify_read_pj,
                   "energy of one MRR write-verify read-back of one weight [assumption]", 0, 1e12},
                  {"wall_plug_efficiency", "", ed.wall_plug_efficiency, "laser wall-plug efficiency", 1e-6, 1},
                  {"pd_sensitivity_dbm", "dBm", ed.pd_sensitivity_dbm, "photodetector sensitivity", -100, 100},
                  {"insertion_loss_db", "dB", ed.insertion_loss_db, "optical insertion loss", 0, 100},
                  {"adc_law",
                   "",
                   hw::adc_law_name(ed.adc_law),
                   "ADC energy per conversion vs bits, from 1.48 pJ at 8 b: linear (SAR, E ~ b), walden (Walden FOM, E ~ 2^b) "
                   "or thermal (thermal-noise limited, E ~ 4^b); docs/converters_energy.md §3",
                   -inf,
                   inf,
                   {"linear", "walden", "thermal"}}},
                 {}});
    t.push_back({"time",
                 "how DOCTOR's noise schedule steps relate to simulated time",
                 {{"step",
                   "",
                   "inference",
                   "DOCTOR schedule step: one per served inference (DOCTOR) or per step_s of simulated time",
                   -inf,
                   inf,
                   {"inference", "seconds"}},
                  {"step_s", "s", 1e-3, "simulated seconds per step when step = seconds", 1e-12, 1e12}},
                 {}});
    t.push_back(
        {"accuracy",
         "how accuracy is measured",
         {{"mode",
           "",
           "served",
           "served (every request's image, windowed), scheduled (evaluation batch at instants), none",
           -inf,
           inf,
           {"served", "scheduled", "none"}},
          {"times_s", "s", Json::array(), "scheduled evaluation instants (on the 1-ns clock: two on one nanosecond are refused)",
           0, kMaxSimSeconds},
          {"images", "images", kDefaultEvalImages, "evaluation batch (first test images; mode scheduled)", 1, 1e9},
          {"instances", "", 1, "Monte-Carlo chip instances per evaluation (mean and std reported; mode scheduled)", 1, 10000},
          {"first_image", "", 0, "first test image of the evaluation batch (mode scheduled)", 0, 1e12},
          {"read_draws",
           "",
           "scheduled",
           "read noise of a scheduled evaluation (PCM): scheduled = the draws of its scheduled instant, which the "
           "drift-compensation readout before it reads too (aihwkit's drift_analog_weights(t); paired between "
           "configurations), actual = the draws of the instant it runs at (after the readout's array time; the "
           "default before 2026-12; docs/pcm_drift_compensation.md §2)",
           -inf,
           inf,
           {"actual", "scheduled"}}},
         {"log_spaced"}});
    t.push_back({"accuracy.log_spaced",
                 "log-spaced evaluation instants (aihwkit style), added to times_s",
                 {{"start_s", "s", nullptr, "first instant", 1e-9, kMaxSimSeconds, {}, "number"},
                  {"stop_s", "s", nullptr, "last instant", 1e-9, kMaxSimSeconds, {}, "number"},
                  {"points", "", nullptr, "number of instants", 2, 100000, {}, "integer"}},
                 {}});
    t.push_back({"monitor",
                 "DOCTOR's drift monitor (runs for policies that use it)",
                 {{"interval_requests", "requests", 200, "check every this many served requests (0 = off)", 0, 1e15},
                  {"interval_s", "s", 0.0,
                   "check every this many simulated seconds (0 = off; at least 1e-9 s, at most 1e8 checks over horizon_s, or "
                   "with horizon_s 0 the run)",
                   0, 1e15},
                  {"cool_down_requests", "requests", 200, "no checks for this many requests after a trigger", 0, 1e15},
                  {"cool_down_s", "s", 0.0, "no checks for this long after a trigger", 0, 1e15},
                  {"t_thres_k", "K", 0.01,
                   "trigger when the hotspot-weighted temperature rise since the last calibration exceeds", 0, 1e6},
                  {"w_thres", "", 0.05, "trigger when the probe's relative L1 weight error exceeds", 0, 1e6},
                  {"temperature_test", "", true, "use the (free) temperature sensors"},
                  {"temperature_mode",
                   "",
                   "rise",
                   "rise: trigger on a rise only (DOCTOR); abs: on a change either way (physical fields)",
                   -1e300,
                   1e300,
                   {"rise", "abs"}},
                  {"probe_test", "", true, "use the read-back probe (charged)"}},
                 {}});
    t.push_back({"controller", "the controller: its policy and the offline salience it uses", {}, {"policy", "salience"}});
    t.push_back(
        {"controller.salience",
         "offline salience over training images: DOCTOR's gradient and Hessian diagonal (docs/doctor.md), SWIM's "
         "curvature pass (docs/swim.md; images and batch only)",
         {{"images", "images", 1024, "training images for the offline salience (DOCTOR: full set; SWIM's curvature pass too)", 1,
           60000},
          {"batch", "images", 8, "batch size (memory: activations and gradients of a batch)", 1, 4096},
          {"hutchinson_samples", "", 10,
           "Rademacher probes per batch for DOCTOR's Hessian diagonal (SWIM's curvature pass is exact and does not use it)", 1,
           1000}},
         {}});
    t.push_back({"trace",
                 "trace.csv rows",
                 {{"every_requests", "requests", 200, "a trace row every this many served requests (0 = off)", 0, 1e15},
                  {"every_s", "s", 0.0,
                   "a trace row every this many simulated seconds (0 = off; at least 1e-9, and at most 1e7 rows over "
                   "horizon_s, or with horizon_s 0 the run, counting each chip's trace and the fleet's)",
                   0, 1e15}},
                 {}});
    return t;
  }();
  return v;
}

const SectionSpec& scenario_section(const std::string& path) {
  for (const auto& s : scenario_sections())
    if (s.path == path) return s;
  throw Error("internal: no scenario section \"" + path + "\"");
}

const std::vector<PluginSlot>& plugin_slots() {
  static const std::vector<PluginSlot> v = {
      {"device", "devices", "the weight-device technology of the tensor cores", "mrr", false},
      {"noise", "noise", "noise and drift processes (each at most once)", "", true},
      {"traffic", "traffic", "inference requests arriving at the accelerator", "back_to_back", false},
      {"dispatcher", "dispatchers", "how a fleet (hw.chips > 1) spreads requests over its chips", "round_robin", false},
      {"controller.policy", "policies", "the controller policy (none when absent)", "", false}};
  return v;
}

const std::vector<std::string>& plugin_kinds() {
  static const std::vector<std::string> v = {"policies", "noise", "devices", "traffic", "dispatchers", "mappings"};
  return v;
}

std::vector<PluginInfo> plugins(const std::string& kind) {
  std::vector<PluginInfo> out;
  // A registry plug-in's parameter types are the accessors its factory reads them with (called
  // once with defaults); the declared default's JSON type is the fallback.
  auto typed = [](const auto& entry) {
    PluginInfo info{entry.name, entry.description, entry.params, entry.tags};
    Params p(Json::object(), "", entry.params);
    try {
      entry.make(p);
    } catch (const std::exception&) {  // a factory may reject its defaults; types read so far still count
    }
    for (auto& spec : info.params) {
      auto it = p.read_types().find(spec.name);
      if (spec.type.empty() && it != p.read_types().end()) spec.type = it->second;
    }
    return info;
  };
  if (kind == "policies") {
    for (const auto& [n, e] : PolicyRegistry::get().entries()) out.push_back(typed(e));
  } else if (kind == "noise") {
    for (const auto& [n, e] : NoiseRegistry::get().entries()) {
      out.push_back(typed(e));
      try {  // the device trait the process acts on (built once with its defaults)
        Params p(Json::object(), "", e.params);
        out.back().tags.push_back("acts_on:" + e.make(p)->acts_on());
      } catch (const std::exception&) {
      }
    }
  } else if (kind == "devices") {
    for (const auto& [n, e] : DeviceRegistry::get().entries()) out.push_back(typed(e));
  } else if (kind == "traffic") {
    for (const auto& [n, e] : TrafficRegistry::get().entries()) out.push_back(typed(e));
  } else if (kind == "dispatchers") {
    for (const auto& [n, e] : DispatcherRegistry::get().entries()) out.push_back(typed(e));
  } else if (kind == "mappings") {
    const double inf = 1e300;  // no numeric range (as the section table)
    for (const auto& n : models::mapping_names()) {
      if (n == "streaming") {
        out.push_back({n,
                       "ELight: block-row p on core p mod RC, its blocks programmed onto it one after another on every "
                       "pass at the device's level-step cost (devices with levels; docs/elight.md)",
                       {{"order", "", "native",
                         "hw.mapping.order: native, per_cell (ELight's per-cell sort, an unbuildable lower bound), greedy "
                         "(per-column nearest neighbour + 2-opt) or sort_mean (per-column sort by mean level)",
                         -inf, inf, models::stream_order_names()},
                        {"images_per_pass", "images", 1,
                         "hw.mapping.images_per_pass: every block programmed once per pass for up to this many waiting "
                         "images of a served batch (1: one inference per pass)",
                         1, 1048576}}});
        continue;
      }
      out.push_back({n,
                     n == "cyclic" ? "DOCTOR: block (p,q) on core (p mod R, q mod C), chunks run one after another"
                                   : "one block per core (all blocks resident)",
                     {}});
    }
  } else {
    throw Error("list: unknown kind \"" + kind + "\"; known: " + list_of(plugin_kinds()) + ", sections");
  }
  return out;
}

// ------------------------------------------------------------------ device and noise registries
const DeviceRegistry::Entry& find_device(const std::string& name, const std::string& path) {
  return DeviceRegistry::get().find(name, path, "device");
}

bool has_tag(const std::vector<std::string>& tags, const std::string& tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

hw::WeightCell device_cell(const DeviceRegistry::Entry& e) {
  const bool thermo = has_tag(e.tags, "thermo_optic"), nonvolatile = has_tag(e.tags, "nonvolatile");
  if (thermo == nonvolatile)
    throw Error("device \"" + e.name +
                "\": its registration must carry exactly one weight-cell tag (thermo_optic or nonvolatile)");
  return thermo ? hw::WeightCell::thermo_optic : hw::WeightCell::nonvolatile;
}

void check_device_tags(const DeviceRegistry::Entry& e) {
  static const std::vector<std::string> known = {
      "remap",          "mc_instances",     "levels",       "write_verify",        "own_verify_model",
      "error_counters", "channel_counters", "own_gemm",     "backward_arithmetic", "read_draws",
      hw::kRingPhase,   hw::kTemperature,   "thermo_optic", "nonvolatile",         "own_converters",
      "pcm_law"};
  for (const auto& t : e.tags)
    if (!has_tag(known, t)) {
      const std::string hint = did_you_mean(t, known);
      throw Error("device \"" + e.name + "\": unknown tag \"" + t + "\"" +
                  (hint.empty() ? "" : "; did you mean \"" + hint + "\"?") + " (sim/plugins.h lists the device tags)");
    }
  device_cell(e);
}

std::vector<std::string> devices_with(const std::string& tag) {
  std::vector<std::string> v;
  for (const auto& [n, e] : DeviceRegistry::get().entries())
    if (has_tag(e.tags, tag)) v.push_back(n);
  return v;
}

const std::vector<std::string>& device_capabilities(const std::string& device) {
  return find_device(device, "device.name").tags;
}

std::vector<std::string> device_names() {
  return DeviceRegistry::get().names();
}

const std::vector<ParamSpec>& device_params(const std::string& device) {
  return find_device(device, "device.name").params;
}

namespace {

const std::string& name_of(const Json& j, const std::string& path) {
  if (!j.is_object()) throw Error(path + ": expected an object, got " + std::string(j.type_name()));
  if (!j.contains("name")) throw Error(path + ".name: required");
  if (!j.at("name").is_string()) throw Error(path + ".name: expected a string, got " + j.at("name").dump());
  return j.at("name").get_ref<const std::string&>();
}

}  // namespace

std::string dotted(std::string p) {
  for (size_t i = p.find('['); i != std::string::npos; i = p.find('[', i)) {
    const size_t close = p.find(']', i);
    if (close == std::string::npos) break;
    p = p.substr(0, i) + "." + p.substr(i + 1, close - i - 1) + p.substr(close + 1);
  }
  return p;
}

namespace {
// Whether JSON path `outer` is `inner` or one of its ancestors (both dotted).
bool covers(const std::string& outer, const std::string& inner) {
  return outer.empty() || inner == outer || inner.rfind(outer + ".", 0) == 0;
}
}  // namespace

Json load_scenario_json(const std::string& file, const std::vector<std::string>& sets) {
  Json j = load_json_file(file, "scenario");
  if (!j.is_object()) throw Error(file + ": a scenario is a JSON object");
  std::vector<std::string> stack = {fs::weakly_canonical(file).string()};
  auto& org = origins()[file];
  org.clear();
  g_origins = &org;
  try {
    resolve_fragments(j, fs::path(file).parent_path(), "", stack);
  } catch (...) {
    g_origins = nullptr;
    throw;
  }
  g_origins = nullptr;
  for (const auto& s : sets) apply_set(j, s);
  // A --set replaces what a fragment gave at and below its path: no fragment covers it any more
  // (not even one that gave a deeper path, as a fragment entry of a list the --set replaced).
  for (const auto& s : sets) {
    const std::string path = s.substr(0, s.find('=')), d = dotted(path);
    org.erase(std::remove_if(org.begin(), org.end(), [&](const Origin& o) { return covers(d, dotted(o.path)); }), org.end());
    org.push_back(Origin{path, "", false});
  }
  // A --set string where an object or a list slot is expected names a fragment file, as it does in
  // a file: relative to the working directory (--set hw=scenarios/hw/pcm_4x4x8.json). Everything
  // the file gave is resolved already, so only the --set values remain to read.
  g_origins = &org;
  try {
    resolve_fragments(j, fs::path(), "", stack);
  } catch (...) {
    g_origins = nullptr;
    throw;
  }
  g_origins = nullptr;
  return j;
}

bool names_fragment(const std::string& path) {
  const std::string d = dotted(path);
  if (is_object_path(d) || is_list_path(d)) return true;
  // An element of a list slot (noise.2): an entry may be a fragment file.
  const size_t dot = d.rfind('.');
  return dot != std::string::npos && dot + 1 < d.size() && d.find_first_not_of("0123456789", dot + 1) == std::string::npos &&
         is_list_path(d.substr(0, dot));
}

std::string with_origin(const std::string& msg) {
  for (const auto& [file, org] : origins()) {
    if (org.empty() || msg.compare(0, file.size() + 2, file + ": ") != 0) continue;
    const size_t at = file.size() + 2, end = msg.find(": ", at);
    if (end == std::string::npos) return msg;
    const std::string path = dotted(msg.substr(at, end - at));
    const Origin* best = nullptr;
    size_t best_len = 0;
    for (const auto& o : org) {
      const std::string p = dotted(o.path);
      if (covers(p, path) && (!best || p.size() >= best_len)) best = &o, best_len = p.size();
    }
    if (!best || best->label.empty() || (best->exact && best_len != path.size())) return msg;
    return msg.substr(0, end) + " (from " + best->label + ")" + msg.substr(end);
  }
  return msg;
}

namespace {
// Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(const std::string& s) {
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1Fu;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0Fu;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07u;
    else
      return i;
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string::npos;
}
// The text with every byte outside printable ASCII shown as '?' (for an error line).
std::string ascii_only(const std::string& s) {
  std::string o = s;
  for (char& ch : o)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
  return o;
}
}  // namespace

void apply_set(Json& j, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("--set \"" + assignment + "\": expected path=value");
  // A --set enters the scenario as JSON text, which (like a scenario file) must be UTF-8: raw bytes
  // would make every later message that shows the value fail.
  if (const size_t bad = invalid_utf8_at(assignment); bad != std::string::npos) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(assignment[bad])));
    throw Error("--set " + ascii_only(assignment.substr(0, eq)) + ": not valid UTF-8 (byte " + b + " at offset " +
                std::to_string(bad) + " of the assignment)");
  }
  std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  // A list index may be written as errors print it: noise[2].kappa_per_um is noise.2.kappa_per_um.
  const std::string given = path;
  const std::string malformed = "--set " + given + ": a list index is written key[N] (or key.N), as in noise[2].kappa_per_um";
  for (size_t i = path.find('['); i != std::string::npos; i = path.find('[', i)) {
    const size_t close = path.find(']', i);
    if (i == 0 || path[i - 1] == '.' || close == std::string::npos || close == i + 1 ||
        path.find_first_not_of("0123456789", i + 1) != close ||
        (close + 1 < path.size() && path[close + 1] != '.' && path[close + 1] != '['))
      throw Error(malformed);
    path = path.substr(0, i) + "." + path.substr(i + 1, close - i - 1) + path.substr(close + 1);
  }
  if (path.find(']') != std::string::npos) throw Error(malformed);
  Json value;
  try {
    value = parse_json_text(text, "--set " + path);  // depth, duplicate keys, number range: errors
  } catch (const JsonSyntaxError& e) {
    // Bare words are strings (--set controller.policy.name=doctor); text that opens an object, a
    // list or a quoted string was meant as JSON: its syntax error is the message.
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (text[first] == '{' || text[first] == '[' || text[first] == '"'))
      throw Error(std::string(e.what()) + " (a value that starts with " + text[first] +
                  " is read as JSON; quote the whole assignment for the shell: --set 'path={...}')");
    value = text;
  }
  Json* cur = &j;
  std::string done;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string key = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (key.empty()) throw Error("--set " + path + ": empty path segment");
    bool last = dot == std::string::npos;
    if (cur->is_array()) {
      size_t idx = 0;
      try {
        size_t used = 0;
        // Digits only, no leading zero: noise.02 would write entry 2 under another path, and the
        // messages that name where a value came from compare paths as written.
        if (key.find_first_not_of("0123456789") != std::string::npos || (key.size() > 1 && key[0] == '0')) throw 0;
        idx = std::stoul(key, &used);
        if (used != key.size()) throw 0;
      } catch (...) {
        throw Error("--set " + path + ": " + (done.empty() ? "scenario" : done) +
                    " is a list; expected an index (0, 1, ...), got \"" + key + "\"");
      }
      if (idx >= cur->size())
        throw Error("--set " + path + ": index " + key + " out of range of " + done + " (" + std::to_string(cur->size()) +
                    " entries)");
      cur = &(*cur)[idx];
    } else if (cur->is_object()) {
      if (last) {
        (*cur)[key] = value;  // a new key is checked (and rejected if unknown) when the scenario is parsed
        return;
      }
      if (!cur->contains(key)) (*cur)[key] = Json::object();
      cur = &(*cur)[key];
    } else {
      throw Error("--set " + path + ": " + done + " is not an object");
    }
    done = join_path(done, key);
    if (last) {
      *cur = value;
      return;
    }
    pos = dot + 1;
  }
}

namespace {

// The object at a dotted section path of the (fragment-resolved) scenario; {} when absent.
Json section_at(const Json& root, const std::string& path) {
  const Json* cur = &root;
  size_t pos = 0;
  while (!path.empty()) {
    size_t dot = path.find('.', pos);
    std::string key = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->is_object() || !cur->contains(key)) return Json::object();
    cur = &cur->at(key);
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return *cur;
}

// Params over one declared section: its parameters, and its child sections as extra keys.
Params read_section(const Json& root, const std::string& path) {
  const SectionSpec& sec = scenario_section(path);
  const Json obj = path.empty() ? root : section_at(root, path);
  // A section set to null (--set accuracy.log_spaced=null) is not an absent one: say so, as the
  // schema does, rather than report its first required parameter missing.
  if (obj.is_null())
    throw Error(path +
                ": expected an object or a fragment path, got null (a section cannot be removed with --set; "
                "set its parent section whole instead)");
  std::vector<std::string> keys = sec.children;
  if (path.empty()) keys.push_back("plugins");  // config.resolved.json's record of the plug-ins used
  return Params(obj, path, sec.params, keys);
}

}  // namespace

std::string config_id_text(const Json& resolved) {
  if (!resolved.is_object()) return resolved.dump();
  Json c = resolved;
  c.erase("base_dir");
  c.erase("threads");  // the outputs are the same bytes at any thread count
  // accuracy.read_draws "actual" was the default: the id of a configuration that sets it is the id
  // it had then (parse_scenario).
  if (c.contains("accuracy") && c["accuracy"].is_object() && c["accuracy"].value("read_draws", "") == "actual")
    c["accuracy"].erase("read_draws");
  return c.dump();
}

Scenario parse_scenario(const Json& j, const std::string& file) {
  Scenario s;
  s.file = file;
  Json R = Json::object();
  Params top = read_section(j, "");
  // The directory relative file paths resolve against (recorded absolute in config.resolved.json).
  fs::path dir = fs::path(file).parent_path();
  {
    const std::string b = top.str("base_dir");
    if (!b.empty()) dir = fs::path(b).is_absolute() ? fs::path(b) : dir / b;
    std::error_code ec;
    const bool is_dir = fs::is_directory(dir.empty() ? fs::path(".") : dir, ec);
    if (!b.empty() && (ec || !is_dir))
      throw Error("base_dir: \"" + dir.string() + "\" is not a directory" + (ec ? " (" + ec.message() + ")" : ""));
  }
  s.name = top.str("name");
  // The name becomes a directory name (runs/<name>-<hash>): a plain file name only, so that no
  // name ("../../x", "/tmp/x") can place outputs outside runs/.
  const bool plain =
      !s.name.empty() && s.name.size() <= 100 && s.name[0] != '.' && std::all_of(s.name.begin(), s.name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
      });
  if (!s.name.empty() && !plain)
    throw Error("name: expected a plain name of at most 100 letters, digits, '_', '-' or '.' (not starting with '.'), got " +
                Json(s.name.substr(0, 100)).dump(-1, ' ', false, Json::error_handler_t::replace));
  if (s.name.empty()) s.name = fs::path(file).stem().string();
  s.seed = static_cast<uint64_t>(top.integer("seed"));
  std::string model = top.str("model");
  s.model_path = fs::path(model).is_absolute() ? model : (dir / model).lexically_normal().string();
  {
    std::error_code ec;  // a name too long or a symlink loop: an error naming "model", not a bare filesystem_error
    const bool there = fs::exists(s.model_path, ec);
    if (ec) throw Error("model: file \"" + s.model_path + "\": " + ec.message());
    if (!there)
      throw Error("model: file \"" + s.model_path + "\" not found" +
                  (fs::path(model).is_absolute()
                       ? std::string()
                       : " (\"" + model + "\" relative to the scenario's directory " +
                             (dir.empty() ? std::string(".") : dir.string()) + ", or base_dir; --set values too)"));
  }
  note_input_file("model", s.model_path);
  s.horizon_s = top.num("horizon_s");
  s.threads = static_cast<int>(top.integer("threads"));
  R = top.resolved();
  R["name"] = s.name;
  {
    std::error_code ec;
    fs::path abs = fs::absolute(dir.empty() ? fs::path(".") : dir, ec).lexically_normal();
    if (ec) throw Error("base_dir: \"" + dir.string() + "\": " + ec.message());
    std::string a = abs.string();
    while (a.size() > 1 && a.back() == '/') a.pop_back();
    R["base_dir"] = a;
  }
  if (j.contains("description")) R["description"] = j.at("description");

  Params ds = read_section(j, "dataset");
  ds.str("name");
  s.base_dir = dir.string();
  s.dataset_dir = ds.str("dir");
  if (s.dataset_dir.empty()) throw Error("dataset.dir: expected a directory path, got \"\"");
  if (!fs::path(s.dataset_dir).is_absolute()) s.dataset_dir = (dir / s.dataset_dir).lexically_normal().string();
  R["dataset"] = ds.resolved();

  // ---- hardware
  Params hwp = read_section(j, "hw");
  Params cores = read_section(j, "hw.cores");
  s.tiling.rows = cores.integer("rows");
  s.tiling.cols = cores.integer("cols");
  s.tiling.block_size = cores.integer("block_size");
  Params mapping = read_section(j, "hw.mapping");
  s.tiling.mapping = mapping.str("name");
  s.tiling.order = mapping.str("order");
  s.tiling.images_per_pass = mapping.integer("images_per_pass");
  s.tiling.batchnorm = mapping.str("batchnorm");
  s.tiling.digital_layers = mapping.strs("digital_layers");
  if (s.tiling.order != "native" && s.tiling.mapping != "streaming")
    throw Error("hw.mapping.order: order \"" + s.tiling.order + "\" needs mapping \"streaming\", got \"" + s.tiling.mapping +
                "\"");
  if (s.tiling.images_per_pass != 1 && s.tiling.mapping != "streaming")
    throw Error("hw.mapping.images_per_pass: " + std::to_string(s.tiling.images_per_pass) +
                " images per pass needs mapping \"streaming\" (weights programmed per pass), got \"" + s.tiling.mapping + "\"");
  s.energy.clock_ghz = hwp.num("clock_ghz");
  Json conv_r = Json::object();
  for (const char* c : {"dac", "adc"}) {
    bool adc = std::string(c) == "adc";
    Params cp = read_section(j, std::string("hw.") + c);
    if (const Json given = section_at(j, std::string("hw.") + c); given.is_object())
      for (auto it = given.begin(); it != given.end(); ++it)
        s.converter_keys_given.push_back("hw." + std::string(c) + "." + it.key());
    int bits = static_cast<int>(cp.integer("bits"));
    bool q = cp.flag("quantize");
    const std::string at = std::string("hw.") + c + ".";
    if (bits == 1)
      throw Error(at +
                  "bits: 1 bit gives 2^1 - 2 = 0 steps over [-bound, bound] (aihwkit's resolution convention, "
                  "docs/converters_energy.md §1); use 2 to 24, or 0 for an ideal converter");
    if (adc) s.adc_quantize = q;
    hw::ConverterSpec& spec = adc ? s.io.adc : s.io.dac;
    spec.bits = q ? bits : 0;
    spec.bound = cp.num("bound");
    spec.noise_std = cp.num("noise_std");
    (adc ? s.energy.adc_bits : s.energy.dac_bits) = bits;
    conv_r[c] = cp.resolved();
  }
  Params mvm = read_section(j, "hw.mvm");
  s.io.w_noise_type = hw::weight_noise_from_name(mvm.str("w_noise_type"));
  s.io.w_noise = mvm.num("w_noise");
  if (s.io.w_noise > 0 && s.io.w_noise_type == hw::WeightNoise::none)
    throw Error("hw.mvm.w_noise: " + nlohmann::json(s.io.w_noise).dump() +
                " > 0 needs hw.mvm.w_noise_type additive_constant or pcm_read (it is none)");
  s.io.noise_management = hw::noise_management_from_name(mvm.str("noise_management"));
  s.io.nm_thres = mvm.num("nm_thres");
  s.io.bound_management = hw::bound_management_from_name(mvm.str("bound_management"));
  s.io.max_bm_factor = mvm.num("max_bm_factor");
  s.io.max_bm_res = mvm.num("max_bm_res");
  // The limits of bound management do nothing without it; an aihwkit user (whose default is
  // iterative) who sets one most likely expects bound management on.
  if (s.io.bound_management == hw::BoundManagement::none) {
    const hw::IoSpec dflt;
    const std::pair<const char*, std::pair<double, double>> limits[] = {
        {"max_bm_factor", {s.io.max_bm_factor, dflt.max_bm_factor}}, {"max_bm_res", {s.io.max_bm_res, dflt.max_bm_res}}};
    for (const auto& [key, v] : limits)
      if (v.first != v.second)
        throw Error(std::string("hw.mvm.") + key + ": " + range_text(v.first) +
                    " limits bound management, which is off (hw.mvm.bound_management \"none\", ptcsim's default; aihwkit's is "
                    "iterative): set it to \"iterative\", or leave " +
                    key + " at its default " + range_text(v.second));
  }
  if (s.io.noise_management == hw::NoiseManagement::none && s.io.nm_thres > 0)
    throw Error("hw.mvm.nm_thres: " + nlohmann::json(s.io.nm_thres).dump() +
                " is used only by noise_management abs_max (its cap) and constant (its scale); noise_management is none");
  if (s.io.noise_management == hw::NoiseManagement::constant && !(s.io.nm_thres > 0))
    throw Error("hw.mvm.nm_thres: noise_management \"constant\" divides every input by nm_thres, which must be > 0 (it is " +
                nlohmann::json(s.io.nm_thres).dump() + "; aihwkit scales by 1 then, which is noise_management \"none\")");
  // aihwkit's rule (IOMetaParameter: "Forward noise managment expects bound==1"): noise
  // management scales the inputs to the DAC's unit range, so another DAC bound only wastes or
  // clips levels.
  if (s.io.noise_management != hw::NoiseManagement::none && s.io.dac.bound != 1.0)
    throw Error("hw.dac.bound: " + nlohmann::json(s.io.dac.bound).dump() + " with hw.mvm.noise_management \"" +
                mvm.str("noise_management") +
                "\": noise management scales the inputs to [-1, 1], the DAC's range, so its bound must be 1 (aihwkit "
                "refuses it too); set hw.mvm.noise_management to none for another bound");
  Params en = read_section(j, "hw.energy");
  s.energy.ring_hold_mw = en.num("ring_hold_mw");
  s.energy.ring_settle_us = en.num("ring_settle_us");
  s.energy.pcm_write_pj = en.num("pcm_write_pj");
  s.energy.pcm_write_us = en.num("pcm_write_us");
  s.energy.pcm_verify_read_us = en.num("pcm_verify_read_us");
  s.energy.pcm_verify_read_pj = en.num("pcm_verify_read_pj");
  s.energy.mrr_verify_read_us = en.num("mrr_verify_read_us");
  s.energy.mrr_verify_read_pj = en.num("mrr_verify_read_pj");
  s.energy.wall_plug_efficiency = en.num("wall_plug_efficiency");
  s.energy.pd_sensitivity_dbm = en.num("pd_sensitivity_dbm");
  s.energy.insertion_loss_db = en.num("insertion_loss_db");
  s.energy.adc_law = hw::adc_law_from_name(en.str("adc_law"));
  R["hw"] = {{"cores", cores.resolved()}, {"mapping", mapping.resolved()}, {"clock_ghz", s.energy.clock_ghz},
             {"dac", conv_r["dac"]},      {"adc", conv_r["adc"]},          {"energy", en.resolved()}};
  // The streaming order exists only under the streaming mapping (other scenarios' resolved
  // configurations stay as they were).
  if (s.tiling.mapping != "streaming") R["hw"]["mapping"].erase("order");
  // images_per_pass likewise, and at its default 1 (the configurations before it stay as they were).
  if (s.tiling.mapping != "streaming" || s.tiling.images_per_pass == 1) R["hw"]["mapping"].erase("images_per_pass");
  // Likewise the ADC energy law only when it is not the default linear law.
  if (s.energy.adc_law == hw::AdcLaw::linear) R["hw"]["energy"].erase("adc_law");
  // And the MVM non-idealities only when some are on.
  if (s.io.w_noise_type != hw::WeightNoise::none || s.io.w_noise > 0 || !s.io.inputs_within_one() ||
      s.io.bound_management != hw::BoundManagement::none) {
    R["hw"]["mvm"] = mvm.resolved();
    if (s.io.bound_management == hw::BoundManagement::none)
      R["hw"]["mvm"].erase("max_bm_factor"), R["hw"]["mvm"].erase("max_bm_res");
  }
  if (s.io.bound_management == hw::BoundManagement::none && R["hw"].contains("mvm")) R["hw"]["mvm"].erase("bound_management");
  // Likewise the layer choices at their defaults (fold, all layers analog).
  if (s.tiling.batchnorm == "fold") R["hw"]["mapping"].erase("batchnorm");
  if (s.tiling.digital_layers.empty()) R["hw"]["mapping"].erase("digital_layers");
  s.dispatcher.chips = static_cast<int>(hwp.integer("chips"));
  // A single chip's resolved configuration carries no fleet keys (so its run directory name and
  // config.resolved.json stay those of a plain single-accelerator scenario).
  if (s.dispatcher.chips > 1) R["hw"]["chips"] = s.dispatcher.chips;

  // ---- device (a DeviceRegistry plug-in: hw/device/impl/)
  Json devj = section_at(j, "device");
  if (devj.is_object() && !devj.contains("name")) devj["name"] = "mrr";
  const std::string dev = name_of(devj, "device");
  const DeviceRegistry::Entry& de = find_device(dev, "device.name");
  Params dp(devj, "device", de.params);
  dp.set_base_dir(s.base_dir);
  s.device.name = dev;
  s.device.tags = de.tags;
  s.device.model = de.make(dp);
  // A device with converters of its own (RNS: channel ADCs) ignores the array's converter settings
  // but hw.dac.bits; a given one is refused (preflight), their defaults are left out of the
  // resolved configuration, so that it runs again as it is.
  if (has_tag(s.device.tags, "own_converters"))
    for (const char* c : {"dac", "adc"}) {
      Json& conv = R["hw"][c];
      for (const char* k : {"bits", "quantize", "bound", "noise_std"})
        if ((std::string(c) == "adc" || std::string(k) != "bits") &&
            !has_tag(s.converter_keys_given, "hw." + std::string(c) + "." + k))
          conv.erase(k);
      if (conv.empty()) R["hw"].erase(c);
    }
  s.energy.cell = device_cell(de);
  R["device"] = dp.resolved();
  // A parameter added later, at the value that keeps the earlier behaviour: left out, so the
  // configuration's id stays the same (README, config.resolved.json).
  if (R["device"].contains("prog_g_max_reference_us") && R["device"]["prog_g_max_reference_us"].get<double>() == 25.0)
    R["device"].erase("prog_g_max_reference_us");
  if (R["device"].contains("g_min_us") && R["device"]["g_min_us"].get<double>() == 0.0) R["device"].erase("g_min_us");
  // Transmission drift (optical PCM) acts on weight-stationary mappings only: streaming re-writes
  // every block microseconds before it is read (docs/devices.md section 3).
  if (R["device"].contains("nu_opt") && R["device"]["nu_opt"].get<double>() > 0 && s.tiling.mapping == "streaming")
    throw Error(
        "device.nu_opt: transmission drift needs a weight-stationary mapping (cyclic or stationary); under "
        "\"streaming\" every block is re-written microseconds before it is read, so its drift factor is 1");
  // Streaming endurance (optical PCM): only with the streaming mapping; left out of the resolved
  // configuration while unused.
  if (R["device"].contains("endurance_steps")) {
    const double e = R["device"]["endurance_steps"].get<double>(), sg = R["device"]["endurance_sigma"].get<double>();
    if (e > 0 && s.tiling.mapping != "streaming")
      throw Error("device.endurance_steps: cell endurance is modelled for the streaming mapping only; hw.mapping.name is \"" +
                  s.tiling.mapping + "\"");
    if (!(e > 0) && sg > 0) throw Error("device.endurance_sigma: a spread needs device.endurance_steps > 0");
    if (!(e > 0) && R["device"].value("spare_rows", 0) > 0)
      throw Error("device.spare_rows: spare rows replace worn rows and need device.endurance_steps > 0");
    if (!(e > 0)) R["device"].erase("endurance_steps"), R["device"].erase("endurance_sigma");
  }
  // Spare rows (row-based remapping, docs/elight.md §6): left out of the resolved configuration at 0.
  if (R["device"].contains("spare_rows") && R["device"]["spare_rows"].get<int64_t>() == 0) R["device"].erase("spare_rows");

  // ---- noise (NoiseRegistry plug-ins: hw/noise/impl/), each acting on a trait of the device
  Json noise = j.contains("noise") ? j.at("noise") : Json::array();
  if (!noise.is_array()) throw Error("noise: expected a list of processes, got " + std::string(noise.type_name()));
  R["noise"] = Json::array();
  std::set<std::string> seen;
  for (size_t i = 0; i < noise.size(); ++i) {
    std::string p = "noise[" + std::to_string(i) + "]";
    const std::string& n = name_of(noise[i], p);
    const auto& e = NoiseRegistry::get().find(n, p + ".name", "noise process");
    if (!seen.insert(n).second) throw Error(p + ".name: \"" + n + "\" listed twice");
    Params np(noise[i], p, e.params);
    np.set_base_dir(s.base_dir);
    // A parameter error names its JSON path already; anything else the factory throws (a
    // plug-in's own exception) is one line naming the process, its library and the factory.
    std::shared_ptr<const hw::NoiseProcess> proc;
    try {
      proc = e.make(np);
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& x) {
      const std::string what = x.what();
      if (what.rfind(p + ".", 0) == 0 || what.rfind(p + ":", 0) == 0) throw;
      throw Error(noise_label(p, n) + ", factory: " + what);
    } catch (...) {
      throw Error(noise_label(p, n) + ", factory: threw an exception that is not a std::exception");
    }
    if (!proc) throw Error(noise_label(p, n) + ", factory: returned no process");
    const std::string trait = proc->acts_on();
    if (!has_tag(de.tags, trait))
      throw Error(p + ".name: \"" + n + "\" acts on " + trait + ", which device \"" + dev + "\" does not have (devices with " +
                  trait + ": " + list_of(devices_with(trait)) + ")");
    s.device.noise.push_back(std::move(proc));
    s.device.noise_names.push_back(n);
    R["noise"].push_back(np.resolved());
  }

  // ---- time
  Params tp = read_section(j, "time");
  s.step_mode = tp.str("step");
  s.step_s = tp.num("step_s");
  R["time"] = tp.resolved();

  // ---- traffic
  Json trj = section_at(j, "traffic");
  if (trj.is_object() && !trj.contains("name")) trj["name"] = "back_to_back";
  s.traffic.name = name_of(trj, "traffic");
  {
    const auto& entry = TrafficRegistry::get().find(s.traffic.name, "traffic.name", "traffic");
    Params trp(trj, "traffic", entry.params);
    trp.set_base_dir(s.base_dir);
    std::unique_ptr<TrafficSource> src = entry.make(trp);
    if (src->total_requests() < 0 && !(s.horizon_s > 0))
      throw Error("horizon_s: required (> 0) with traffic \"" + s.traffic.name + "\"");
    s.traffic.params = trp.resolved();
    s.traffic.base_dir = dir.string();
    R["traffic"] = s.traffic.params;
  }

  // ---- dispatcher (a DispatcherRegistry plug-in: sim/dispatch/impl/)
  {
    Json dj = j.contains("dispatcher") ? section_at(j, "dispatcher") : Json::object();
    if (dj.is_object() && !dj.contains("name")) dj["name"] = "round_robin";
    s.dispatcher.name = name_of(dj, "dispatcher");
    const auto& entry = DispatcherRegistry::get().find(s.dispatcher.name, "dispatcher.name", "dispatcher");
    Params dpp(dj, "dispatcher", entry.params);
    dpp.set_base_dir(s.base_dir);
    entry.make(dpp);
    s.dispatcher.params = dpp.resolved();
    if (s.dispatcher.chips > 1 || j.contains("dispatcher")) R["dispatcher"] = s.dispatcher.params;
  }

  // ---- accuracy
  Params ap = read_section(j, "accuracy");
  s.accuracy.mode = ap.str("mode");
  s.accuracy.times_s = ap.nums("times_s");
  // The kernel's clock counts whole nanoseconds (an sc_time rounds seconds half up): two given
  // instants on one nanosecond would be one evaluation, so they are refused; a log_spaced instant
  // on a given one's nanosecond is merged with it below.
  const auto ns_of = [](double t) { return std::floor(t * 1e9 + 0.5); };
  {
    std::vector<std::pair<double, size_t>> given;
    for (size_t i = 0; i < s.accuracy.times_s.size(); ++i) given.emplace_back(ns_of(s.accuracy.times_s[i]), i);
    std::sort(given.begin(), given.end());
    for (size_t k = 1; k < given.size(); ++k)
      if (given[k].first == given[k - 1].first) {
        const size_t a = std::min(given[k - 1].second, given[k].second), b = std::max(given[k - 1].second, given[k].second);
        const double ta = s.accuracy.times_s[a], tb = s.accuracy.times_s[b];
        throw Error("accuracy.times_s[" + std::to_string(b) + "]: " + range_text(tb) +
                    (ta == tb ? " s repeats times_s[" + std::to_string(a) + "]"
                              : " s is on the same nanosecond as times_s[" + std::to_string(a) + "] (" + range_text(ta) + " s)") +
                    ": instants must differ by at least 1 ns, the simulated clock's resolution (one evaluation per instant; "
                    "accuracy.instances evaluates several chips)");
      }
  }
  if (section_at(j, "accuracy").contains("log_spaced")) {
    Params lp = read_section(j, "accuracy.log_spaced");
    double a = lp.num("start_s"), b = lp.num("stop_s");
    int64_t n = lp.integer("points");
    if (!(b > a)) throw Error("accuracy.log_spaced.stop_s: must be > start_s");
    // The last instant is stop_s exactly (a (b/a)^1 may round past it, beyond a horizon of stop_s).
    for (int64_t i = 0; i < n; ++i) {
      const double t = i == n - 1 ? b : a * std::pow(b / a, double(i) / double(n - 1));
      // The grid's own points must be distinct instants, as given ones must (a merge would leave
      // fewer evaluations than asked for without a word).
      if (i > 0 && ns_of(t) == ns_of(s.accuracy.times_s.back()))
        throw Error("accuracy.log_spaced.points: " + std::to_string(n) + " points from " + range_text(a) + " s to " +
                    range_text(b) + " s put points " + std::to_string(i - 1) + " and " + std::to_string(i) +
                    " on one nanosecond, the simulated clock's resolution; use fewer points or a wider range");
      s.accuracy.times_s.push_back(t);
    }
    s.accuracy.log_spaced_stop_s = b;
  }
  std::sort(s.accuracy.times_s.begin(), s.accuracy.times_s.end());
  s.accuracy.times_s.erase(
      std::unique(s.accuracy.times_s.begin(), s.accuracy.times_s.end(), [&](double a, double b) { return ns_of(a) == ns_of(b); }),
      s.accuracy.times_s.end());
  s.accuracy.images = ap.integer("images");
  s.accuracy.instances = ap.integer("instances");
  s.accuracy.first_image = ap.integer("first_image");
  s.accuracy.read_draws = ap.str("read_draws");
  if (s.accuracy.mode == "scheduled" && s.accuracy.times_s.empty())
    throw Error("accuracy.times_s: scheduled mode needs instants (times_s or log_spaced)");
  // Instants are evaluated only in mode "scheduled": in the other modes they would be ignored,
  // so they are a mistake (an empty times_s, as when a scheduled scenario is switched to served
  // with --set, is fine; so are the batch keys, which have nothing to evaluate).
  if (s.accuracy.mode != "scheduled" && !s.accuracy.times_s.empty())
    throw Error(std::string(section_at(j, "accuracy").contains("log_spaced") ? "accuracy.log_spaced" : "accuracy.times_s") +
                ": instants are evaluated only in accuracy.mode \"scheduled\", and the mode is \"" + s.accuracy.mode + "\"" +
                (s.accuracy.mode == "served" ? " (accuracy over the served requests' own images)" : "") +
                "; set accuracy.mode to \"scheduled\", or times_s to [] and drop log_spaced");
  // Monte-Carlo chip copies are evaluated only at scheduled instants; elsewhere they would be
  // built, programmed and compensated for nothing (served requests run on the first copy).
  if (s.accuracy.instances > 1 && s.accuracy.mode != "scheduled")
    throw Error("accuracy.instances: Monte-Carlo chip instances are evaluated only in mode \"scheduled\", got " +
                std::to_string(s.accuracy.instances) + " instances in mode \"" + s.accuracy.mode +
                "\"; set accuracy.mode to \"scheduled\" with times_s, or instances to 1");
  // The evaluation batch likewise: another size or start would change nothing (served requests
  // classify their own images), so one away from its default is a mistake.
  if (s.accuracy.mode != "scheduled")
    for (const auto& [key, value, dflt] :
         {std::tuple<const char*, int64_t, int64_t>{"images", s.accuracy.images, kDefaultEvalImages},
          std::tuple<const char*, int64_t, int64_t>{"first_image", s.accuracy.first_image, 0}})
      if (value != dflt)
        throw Error(std::string("accuracy.") + key + ": " + std::to_string(value) +
                    " sets the evaluation batch, which only mode \"scheduled\" evaluates, and the mode is \"" + s.accuracy.mode +
                    "\"" + (s.accuracy.mode == "served" ? " (served requests classify their own images)" : "") +
                    "; set accuracy.mode to \"scheduled\" with times_s, or leave " + key + " out");
  R["accuracy"] = ap.resolved();
  R["accuracy"]["times_s"] = s.accuracy.times_s;
  R["accuracy"].erase("log_spaced");
  // The key matters only for scheduled evaluations on devices whose reads take per-instant draws
  // (tag "read_draws": pcm, pcm_table, PCM-law plug-ins); elsewhere it cannot change results and is
  // left out. There the default changed from "actual": config.resolved.json keeps either value (it
  // must run the same computation again), and config_id_text() leaves "actual" out, so such a
  // configuration keeps the id it had before the change.
  if (s.accuracy.mode != "scheduled" || !has_tag(s.device.tags, "read_draws")) R["accuracy"].erase("read_draws");

  // ---- monitor
  Params mp = read_section(j, "monitor");
  s.monitor.interval_requests = mp.integer("interval_requests");
  s.monitor.interval_s = mp.num("interval_s");
  s.monitor.cool_down_requests = mp.integer("cool_down_requests");
  s.monitor.cool_down_s = mp.num("cool_down_s");
  s.monitor.t_thres_k = mp.num("t_thres_k");
  s.monitor.w_thres = mp.num("w_thres");
  s.monitor.temperature_test = mp.flag("temperature_test");
  s.monitor.temperature_abs = mp.str("temperature_mode") == "abs";
  s.monitor.probe_test = mp.flag("probe_test");
  R["monitor"] = mp.resolved();

  // ---- controller
  Params cp = read_section(j, "controller");
  Json cj = section_at(j, "controller");
  Json pj = cj.contains("policy") ? cj.at("policy") : Json{{"name", "none"}};
  const std::string& pname = name_of(pj, "controller.policy");
  const auto& pe = PolicyRegistry::get().find(pname, "controller.policy.name", "policy");
  Params pp(pj, "controller.policy", pe.params);
  pp.set_base_dir(s.base_dir);
  construct_policy(pe, pp, pname);  // validates the parameters now
  s.policy_json = pp.resolved();
  if (pj.is_object())
    for (auto it = pj.begin(); it != pj.end(); ++it) s.policy_keys_given.push_back(it.key());
  // A device with its own write-verify model refuses the policy's iteration settings (preflight);
  // their defaults are left out of the resolved configuration too, so that it runs again as it is.
  if (std::find(s.device.tags.begin(), s.device.tags.end(), "own_verify_model") != s.device.tags.end())
    for (const char* k : {"tolerance", "max_iterations", "reads"})
      if (std::find(s.policy_keys_given.begin(), s.policy_keys_given.end(), k) == s.policy_keys_given.end())
        s.policy_json.erase(k);
  Params sp = read_section(j, "controller.salience");
  s.salience.images = sp.integer("images");
  s.salience.batch = sp.integer("batch");
  s.salience.hutchinson_samples = sp.integer("hutchinson_samples");
  R["controller"] = {{"policy", s.policy_json}, {"salience", sp.resolved()}};

  // ---- trace
  Params trc = read_section(j, "trace");
  s.trace_every_requests = trc.integer("every_requests");
  s.trace_every_s = trc.num("every_s");
  R["trace"] = trc.resolved();
  // The plug-ins the configuration uses, with their content hashes: part of what the run computes.
  if (j.contains("plugins")) check_recorded_plugins(j.at("plugins"));
  if (Json used = plugins_used(R); !used.empty()) R["plugins"] = used;
  s.resolved = R;
  return s;
}

std::unique_ptr<TrafficSource> make_traffic(const Scenario& s, int64_t test_images) {
  const auto& entry = TrafficRegistry::get().find(s.traffic.name, "traffic.name", "traffic");
  Params p(s.traffic.params, "traffic", entry.params);
  p.set_base_dir(s.base_dir);
  std::unique_ptr<TrafficSource> src = entry.make(p);
  TrafficContext c;
  c.seed = s.seed;
  c.horizon_s = s.horizon_s;
  c.test_images = test_images;
  c.base_dir = s.traffic.base_dir;
  c.images_per_pass = s.tiling.mapping == "streaming" ? std::max<int64_t>(1, s.tiling.images_per_pass) : 1;
  src->bind(c);
  return src;
}

std::unique_ptr<Dispatcher> make_dispatcher(const Scenario& s) {
  const auto& entry = DispatcherRegistry::get().find(s.dispatcher.name, "dispatcher.name", "dispatcher");
  Params p(s.dispatcher.params, "dispatcher", entry.params);
  p.set_base_dir(s.base_dir);
  return entry.make(p);
}

std::unique_ptr<Policy> make_policy(const Scenario& s) {
  const std::string& name = s.policy_json.at("name").get<std::string>();
  const auto& e = PolicyRegistry::get().find(name, "controller.policy.name", "policy");
  Params p(s.policy_json, "controller.policy", e.params);
  p.set_base_dir(s.base_dir);
  return construct_policy(e, p, name);
}

namespace {

// Asks a fresh instance of the configured policy (before on_start) one question, `f(policy)`;
// whatever a plug-in's hook throws comes back as one Error naming the policy, library and hook.
template <class F>
auto ask_policy(const Scenario& s, const char* hook, F f) -> decltype(f(std::declval<Policy&>())) {
  const std::string label = policy_label(s.policy_json.at("name").get<std::string>());
  std::unique_ptr<Policy> p = make_policy(s);
  try {
    return f(*p);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(label + ", " + hook + ": " + e.what());
  } catch (...) {
    throw Error(label + ", " + hook + ": threw an exception that is not a std::exception");
  }
}

}  // namespace

std::vector<std::string> policy_capabilities(const Scenario& s) {
  return ask_policy(s, "capabilities_needed", [](Policy& p) { return p.capabilities_needed(); });
}

namespace {

std::string num_str(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Runs `f`; an Error it throws is re-thrown with `prefix` (the JSON path and what was being done).
template <class F>
auto prefixed(const std::string& prefix, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
}

// The policy's timer as configured (a fresh instance, before on_start).
double policy_timer_interval_s(const Scenario& s) {
  return ask_policy(s, "timer_interval_s", [](Policy& p) { return p.timer_interval_s(); });
}

// A timed wake-up (the monitor's checks, a policy's timer): instants the kernel can tell apart
// (1 ns), and at most 1e8 of them over the horizon (a DOCTOR check of the thermal field takes tens
// of microseconds, so 1e8 is about an hour of checks).
// span: the simulated time the timer runs over and its description ("horizon_s 10 s"; with
// horizon_s 0, the traffic's earliest end).
void check_timer_interval(const std::string& where, const std::string& what, double every_s, double span_s,
                          const std::string& span, double chips) {
  if (!(every_s > 0)) return;
  if (every_s < 1e-9)
    throw Error(where + ": " + what + " every " + num_str(every_s) +
                " s, below the kernel's time resolution (1 ns); use 0 (off) or at least 1e-9 s");
  const double n = span_s > 0 ? chips * span_s / every_s : 0;
  if (n > 1e8)
    throw Error(where + ": " + what + " every " + num_str(every_s) + " s: " + num_str(n) + " wake-ups over " + span +
                (chips > 1 ? " (" + num_str(chips) + " chips, each its own)" : std::string()) +
                ", more than the limit of 1e8 (each is a kernel event; the run would take hours); use at least " +
                num_str(chips * span_s / 1e8) + " s");
}
void check_timer_interval(const std::string& where, const std::string& what, double every_s, double horizon_s, double chips) {
  check_timer_interval(where, what, every_s, horizon_s, "horizon_s " + num_str(horizon_s) + " s", chips);
}

// Periodic trace rows over span_s: no more rows than the traces (held in memory until written,
// about 100 bytes a row, copied for every partial write; a fleet keeps one per chip and its own)
// can hold.
void check_trace_rows(const Scenario& s, double span_s, const std::string& span) {
  const double traces = s.dispatcher.chips > 1 ? s.dispatcher.chips + 1.0 : 1.0;
  if (s.trace_every_s > 0 && span_s > 0 && traces * span_s / s.trace_every_s > 1e7)
    throw Error("trace.every_s: a row every " + num_str(s.trace_every_s) + " s over " + span + " is " +
                num_str(traces * span_s / s.trace_every_s) + " rows" +
                (traces > 1 ? " (" + num_str(traces) + " traces: each chip's and the fleet's)" : std::string()) +
                ", more than the limit of 1e7 (traces are held in memory, about 100 bytes a row, until written); "
                "use trace.every_s >= " +
                num_str(traces * span_s / 1e7) + " s");
}

// With step = seconds the noise clock counts floor(t / step_s) in int64: the count at the end of
// the run must fit (with room to spare) or it wraps negative deep in a device model.
void check_steps(const Scenario& s, double end_s, const std::string& why) {
  if (s.step_mode != "seconds" || !(end_s > 0)) return;
  const double steps = end_s / s.step_s, limit = 4611686018427387904.0;  // 2^62
  if (!(steps < limit))
    throw Error("time.step_s: " + num_str(s.step_s) + " s per step gives " + num_str(steps) + " steps over " + why +
                ", more than the step counter holds (2^62 = 4.6e18); use a larger step_s or a shorter run");
}

// The static rules of preflight (no files read).
void check_static(const Scenario& s) {
  if (s.horizon_s > 0) check_horizon(s.horizon_s, "horizon_s");
  if (s.horizon_s > 0) check_steps(s, s.horizon_s, "horizon_s " + num_str(s.horizon_s) + " s");
  // A policy that acts on the monitor's triggers with a monitor that never fires would run as
  // "none" without a word. The monitor runs only for such a policy, so only then are its timed
  // checks bounded (a sweep's baseline policy may share the monitor settings of the others). Each
  // chip of a fleet has its own monitor and controller: the wake-ups count once per chip.
  const double chips = s.dispatcher.chips > 1 ? static_cast<double>(s.dispatcher.chips) : 1.0;
  {
    const bool monitored = ask_policy(s, "uses_monitor", [](Policy& p) { return p.uses_monitor(); });
    const std::string who = "controller.policy \"" + s.policy_json.at("name").get<std::string>() +
                            "\" acts on the monitor's triggers, but the monitor ";
    // Timed checks happen before the horizon only: an interval_s at or past it gives none.
    const bool timed = s.monitor.interval_s > 0 && !(s.horizon_s > 0 && s.monitor.interval_s >= s.horizon_s);
    if (monitored && !timed && s.monitor.interval_requests <= 0)
      throw Error("monitor: " + who +
                  (s.monitor.interval_s > 0
                       ? "never checks (interval_requests is 0 and interval_s " + num_str(s.monitor.interval_s) +
                             " s is not before horizon_s " + num_str(s.horizon_s) + " s)"
                       : std::string("never checks (interval_requests and interval_s are both 0)")) +
                  "; set one of them, or choose a policy without the monitor");
    if (monitored) check_timer_interval("monitor.interval_s", "the monitor checks", s.monitor.interval_s, s.horizon_s, chips);
    if (monitored && !s.monitor.temperature_test && !s.monitor.probe_test)
      throw Error("monitor: " + who +
                  "can never trigger (temperature_test and probe_test are both false); enable one of them, or choose a "
                  "policy without the monitor");
  }
  check_timer_interval(s.policy_json.contains("interval_s") ? "controller.policy.interval_s" : "controller.policy",
                       "policy \"" + s.policy_json.at("name").get<std::string>() + "\" acts on its timer",
                       policy_timer_interval_s(s), s.horizon_s, chips);
  // Periodic trace rows: instants the kernel can tell apart (1 ns), and not too many of them.
  if (s.trace_every_s > 0 && s.trace_every_s < 1e-9)
    throw Error("trace.every_s: " + num_str(s.trace_every_s) +
                " s is below the kernel's time resolution (1 ns); use 0 (no periodic rows) or at least 1e-9 s");
  if (s.horizon_s > 0) check_trace_rows(s, s.horizon_s, "horizon_s " + num_str(s.horizon_s) + " s");
  // Device state is allocated per weight of the whole array: an array that cannot fit is rejected
  // here, before anything is allocated (it used to end in std::bad_alloc).
  const double weights = static_cast<double>(s.tiling.rows) * static_cast<double>(s.tiling.cols) *
                         static_cast<double>(s.tiling.block_size) * static_cast<double>(s.tiling.block_size);
  const double max_weights = 268435456.0;  // 2^28
  if (weights > max_weights)
    throw Error("hw.cores: " + std::to_string(s.tiling.rows) + " x " + std::to_string(s.tiling.cols) + " cores of " +
                std::to_string(s.tiling.block_size) + " x " + std::to_string(s.tiling.block_size) +
                " weights = " + num_str(weights) +
                " device weights, more than the limit of 2^28 (268,435,456); their state alone would take at least " +
                num_str(weights * 8 / 1073741824.0) + " GiB (8 bytes per weight)");
  const std::vector<std::string>& dev_caps = s.device.tags;
  const std::string pname = s.policy_json.at("name").get<std::string>();
  if (s.tiling.mapping == "streaming") {
    // A closed loop issues each request when the previous one completes: every pass holds one image.
    if (s.tiling.images_per_pass > 1 &&
        has_tag(TrafficRegistry::get().find(s.traffic.name, "traffic.name", "traffic").tags, "one_at_a_time"))
      throw Error("hw.mapping.images_per_pass: " + std::to_string(s.tiling.images_per_pass) +
                  " images per pass has no effect with traffic \"" + s.traffic.name +
                  "\" (each request is issued when the previous one completes, so every pass holds one image); use "
                  "traffic that queues requests (poisson, daily_profile, or trace with batch_s > 0), or 1");
    if (!has(dev_caps, "levels"))
      throw Error(
          "hw.mapping.name: the streaming mapping prices level-step writes and needs a device with transmission levels (" +
          list_of(devices_with("levels")) + "), device.name is \"" + s.device.name + "\"");
    const std::vector<std::string> caps = policy_capabilities(s);
    if (pname != "none" && caps != std::vector<std::string>{"row_remap"})
      throw Error(
          "controller.policy.name: the streaming mapping re-programs every block on every pass; controller policies "
          "other than row_remap are not modelled with it (use \"none\" or \"row_remap\"), got \"" +
          pname + "\"");
  }
  const bool endurance = s.resolved.contains("device") && s.resolved["device"].value("endurance_steps", 0.0) > 0;
  const int64_t spare_rows = s.resolved.contains("device") ? s.resolved["device"].value("spare_rows", int64_t{0}) : 0;
  bool row_remap = false;
  for (const auto& cap : policy_capabilities(s)) {
    if (cap == "remap") {
      if (!has(dev_caps, "remap"))
        throw Error("controller.policy: policy \"" + pname + "\" (as configured) uses tile remapping, which device \"" +
                    s.device.name + "\" does not support (devices with tile remapping: " + list_of(devices_with("remap")) + ")");
      if (s.tiling.mapping != "cyclic")
        throw Error("controller.policy: policy \"" + pname +
                    "\" (as configured) uses tile remapping, which needs the cyclic mapping; "
                    "hw.mapping.name is \"" +
                    s.tiling.mapping + "\"");
    } else if (cap == "error_counters") {
      if (!has(dev_caps, "error_counters"))
        throw Error("controller.policy: policy \"" + pname + "\" watches the decoder's detected-error counters, which device \"" +
                    s.device.name + "\" does not keep (devices with error counters: " + list_of(devices_with("error_counters")) +
                    ")");
      // Without a redundant modulus every residue word is legitimate: nothing is ever detected.
      const int64_t redundant = s.resolved.contains("device") ? s.resolved["device"].value("redundant", int64_t{0}) : 0;
      if (redundant < 1)
        throw Error("device.redundant: policy \"" + pname +
                    "\" watches the decoder's detected-error rate, which needs device.redundant >= 1 (without a "
                    "redundant modulus every word is legitimate and no error is ever detected), got " +
                    std::to_string(redundant));
    } else if (cap == "channel_counters") {
      // Locating a drifting channel needs the decoder to correct single residues: >= 2 redundant moduli.
      if (!has(dev_caps, "channel_counters"))
        throw Error("controller.policy.scope: policy \"" + pname +
                    "\" re-calibrates single channels located by the decoder's corrections, which device \"" + s.device.name +
                    "\" does not count (devices that do: " + list_of(devices_with("channel_counters")) + ")");
      const int64_t redundant = s.resolved.contains("device") ? s.resolved["device"].value("redundant", int64_t{0}) : 0;
      if (redundant < 2)
        throw Error(
            "controller.policy.scope: \"channels\" locates drifting channels by the residues the RRNS decoder "
            "corrects, which needs device.redundant >= 2 (corrects floor(redundant / 2) residues), got " +
            std::to_string(redundant));
    } else if (cap == "write_verify") {
      if (!has(dev_caps, "write_verify"))
        throw Error("controller.policy: policy \"" + pname + "\" write-verifies weights, which device \"" + s.device.name +
                    "\" cannot (devices with write-verify: " + list_of(devices_with("write_verify")) + ")");
      // A device with its own write-verify model (swim_variation: write_var after verify_iterations
      // read-backs) does not iterate against a tolerance: the policy's iteration settings would be
      // accepted and do nothing.
      if (has(dev_caps, "own_verify_model"))
        for (const char* k : {"tolerance", "max_iterations", "reads"})
          if (has(s.policy_keys_given, k))
            throw Error("controller.policy." + std::string(k) + ": device \"" + s.device.name +
                        "\" write-verifies by its own model (device.write_var after device.verify_iterations), so the "
                        "policy's tolerance, max_iterations and reads do not apply; remove it");
      // Cells of several conductance pairs (device.f_lst): their verification (which pair to
      // re-write, against which target) is not modelled.
      const size_t pairs = s.resolved.contains("device") ? s.resolved["device"].value("f_lst", Json::array()).size() : 0;
      if (pairs > 1)
        throw Error("device.f_lst: policy \"" + pname + "\" write-verifies weights, which is not modelled for cells of " +
                    std::to_string(pairs) + " conductance pairs; use one pair (f_lst [1])");
      // aihwkit's re-converted reads replace each pair's own conductance at every read, which is
      // what a verified pair keeps.
      if (s.resolved.contains("device") && s.resolved["device"].value("reconvert_at_read", false))
        throw Error("device.reconvert_at_read: policy \"" + pname +
                    "\" write-verifies weights, which is not modelled with aihwkit's re-converted reads (a verified "
                    "pair keeps its own conductance, which re-conversion replaces); use reconvert_at_read false");
    } else if (cap == "effective_weights") {
      // Exact training through a core with its own arithmetic (the RNS core) would back-propagate
      // through its noise-free effective weights and pretend the core computed it: refused.
      if (has(dev_caps, "own_gemm"))
        throw Error("controller.policy: policy \"" + pname +
                    "\" back-propagates through the device's effective weights; device \"" + s.device.name +
                    "\" computes with its own arithmetic (RNS residues): train on the chip's arithmetic instead "
                    "(controller.policy.arithmetic = \"chip\", Mirage; docs/onchip_training.md §2)");
    } else if (cap == "digital_gains") {
      // A core with its own arithmetic has no effective weights to read out and scale: its
      // readouts never drift, every alpha would be 1 and the readouts would only cost array time.
      if (has(dev_caps, "own_gemm"))
        throw Error("controller.policy: policy \"" + pname +
                    "\" scales each layer's outputs by digital gains from readouts of its effective weights; device \"" +
                    s.device.name +
                    "\" computes with its own arithmetic (RNS residues), which has no effective weight to scale "
                    "(docs/rns.md §7)");
    } else if (cap == "weight_readback") {
      // The read-backs of a core with its own arithmetic are its noise-free (block floating-point)
      // weights: the regression would write and cost array time and change nothing.
      if (has(dev_caps, "own_gemm"))
        throw Error("controller.policy: policy \"" + pname +
                    "\" (as configured) calibrates by regressing read-backs of the effective weights (DOCTOR); device \"" +
                    s.device.name +
                    "\" computes with its own arithmetic (RNS residues), whose errors those read-backs do not show, so "
                    "the calibration would write and cost time for nothing; use rns_recalibration (docs/rns.md §7)");
    } else if (cap == "chip_training") {
      // Analog devices train through the converters of the data path; a device with its own GEMM
      // needs its own backward arithmetic (the RNS core has one).
      if (has(dev_caps, "own_gemm") && !has(dev_caps, "backward_arithmetic"))
        throw Error("controller.policy: policy \"" + pname + "\" trains on the chip's arithmetic; device \"" + s.device.name +
                    "\" computes with its own GEMM and has no backward arithmetic (devices with one: " +
                    list_of(devices_with("backward_arithmetic")) + ")");
    } else if (cap == "row_remap") {
      row_remap = true;
      if (s.tiling.mapping != "streaming")
        throw Error("controller.policy: policy \"" + pname +
                    "\" remaps worn rows of the streamed PCM cores and needs the streaming mapping (hw.mapping.name is \"" +
                    s.tiling.mapping + "\")");
      if (!endurance)
        throw Error("controller.policy: policy \"" + pname +
                    "\" remaps worn rows of the streamed PCM cores and needs cell endurance (device.endurance_steps > 0, "
                    "device pcm_optical; it is 0, so no cell ever wears)");
      // A row-remapping threshold counts worn cells of one row: at most the k cells of a row.
      const Json& pj = s.policy_json;
      if (pj.contains("threshold") && pj["threshold"].get<int64_t>() > s.tiling.block_size)
        throw Error("controller.policy.threshold: " + std::to_string(pj["threshold"].get<int64_t>()) +
                    " worn cells per row can never be reached by a row of " + std::to_string(s.tiling.block_size) +
                    " cells (hw.cores.block_size)");
    } else if (cap == "scheduled_evaluations") {
      // Its only hook after on_start is on_evaluation, which runs before scheduled evaluations.
      if (s.accuracy.mode != "scheduled")
        throw Error("controller.policy: policy \"" + pname +
                    "\" (as configured) acts only before scheduled accuracy evaluations, and accuracy.mode is \"" +
                    s.accuracy.mode +
                    "\": it would act once after programming and never again; give it a timer (its interval parameter, "
                    "e.g. interval_s) or set accuracy.mode to \"scheduled\"");
    } else if (cap != "training_set" && cap != "training_split" && cap != "curvature") {
      throw Error("controller.policy: policy \"" + pname + "\" needs capability \"" + cap +
                  "\", unknown to ptcsim (known: remap, training_set, training_split, error_counters, channel_counters, "
                  "write_verify, curvature, effective_weights, weight_readback, chip_training, digital_gains, row_remap, "
                  "scheduled_evaluations)");
    }
  }
  // A core with its own arithmetic reads its outputs with its own converters (RNS: one ADC per
  // modulus channel at ceil(log2 m) bits) and quantises its inputs itself: of the array's
  // converter settings only the DAC's bits apply (they price its DACs).
  if (has(dev_caps, "own_converters"))
    for (const std::string& k : s.converter_keys_given)
      if (k != "hw.dac.bits")
        throw Error(k + ": device \"" + s.device.name +
                    "\" quantises its inputs and reads its outputs with converters of its own (RNS: one ADC per modulus "
                    "channel at ceil(log2 m) bits, inputs in block floating point; docs/rns.md §7), so this setting would "
                    "have no effect; of hw.dac and hw.adc only hw.dac.bits applies (it prices the DACs)");
  if (s.monitor.probe_test && has(dev_caps, "own_gemm") &&
      ask_policy(s, "uses_monitor", [](Policy& p) { return p.uses_monitor(); }))
    throw Error("monitor.probe_test: device \"" + s.device.name +
                "\" computes with its own arithmetic (RNS residues): the monitor's identity read-back reads its "
                "effective weights, which its residue errors do not change, so the probe error never moves; set "
                "monitor.probe_test to false (the temperature test remains) or watch the decoder's counters "
                "(rns_recalibration, docs/rns.md §7)");
  if (!s.io.inputs_within_one() && has(dev_caps, "own_gemm"))
    throw Error("hw.mvm.noise_management: device \"" + s.device.name +
                "\" computes with its own arithmetic (RNS residues with block floating point inputs), so the analog data "
                "path's input scaling does not apply; leave hw.mvm.noise_management at abs_max without nm_thres");
  if (s.io.bound_management != hw::BoundManagement::none && has(dev_caps, "own_gemm"))
    throw Error("hw.mvm.bound_management: device \"" + s.device.name +
                "\" computes with its own arithmetic (RNS residues never clip; its decoder detects wrong words), so the "
                "analog data path's bound management does not apply; set it to none");
  if (s.io.bound_management == hw::BoundManagement::iterative && s.io.adc.bits == 0)
    throw Error(
        "hw.mvm.bound_management: \"iterative\" recomputes blocks whose partial sums clip at the ADC, but the ADC "
        "does not quantise or clip (" +
        std::string(s.adc_quantize ? "hw.adc.bits is 0, an ideal ADC" : "hw.adc.quantize is false") + ")");
  if (s.io.weight_noise() && has(dev_caps, "own_gemm"))
    throw Error("hw.mvm.w_noise: device \"" + s.device.name +
                "\" computes with its own arithmetic (RNS residues, its own noise model), so the weight noise per MVM of the "
                "analog data path does not apply; set hw.mvm.w_noise to 0");
  if (spare_rows > 0 && !row_remap)
    throw Error("device.spare_rows: " + std::to_string(spare_rows) +
                " spare rows per core are used only by a row-remapping policy (controller.policy.name row_remap), got \"" +
                pname + "\"");
  if (s.accuracy.instances > 1 && !has(dev_caps, "mc_instances"))
    throw Error("accuracy.instances: device \"" + s.device.name +
                "\" has no Monte-Carlo chip instances; run several seeds instead " + "(instances " +
                std::to_string(s.accuracy.instances) +
                "; devices with Monte-Carlo instances: " + list_of(devices_with("mc_instances")) + ")");
  for (size_t i = 0; i < s.device.noise.size(); ++i)
    for (const auto& need : s.device.noise[i]->needs()) {
      if (need != "cyclic_mapping")
        throw Error("noise[" + std::to_string(i) + "].name: noise process \"" + s.device.noise_names[i] + "\" needs \"" + need +
                    "\", unknown to ptcsim (known: cyclic_mapping)");
      if (s.tiling.mapping != "cyclic")
        throw Error("hw.mapping.name: noise process " + s.device.noise_names[i] +
                    " follows DOCTOR's chunk schedule and needs the cyclic mapping, got \"" + s.tiling.mapping + "\"");
    }
}

// Scheduled evaluation instants must fall inside the simulated span [0, end_s]; `why` says where end_s comes from.
void check_instants(const Scenario& s, double end_s, const std::string& why) {
  if (s.accuracy.mode != "scheduled" || s.accuracy.times_s.empty()) return;
  const double last = s.accuracy.times_s.back();  // sorted
  if (!(last > end_s)) return;
  const auto n = std::count_if(s.accuracy.times_s.begin(), s.accuracy.times_s.end(), [&](double t) { return t > end_s; });
  const std::string path = last == s.accuracy.log_spaced_stop_s ? "accuracy.log_spaced.stop_s" : "accuracy.times_s";
  throw Error(path + ": evaluation instant " + num_str(last) + " s is after " + why + " (" + std::to_string(n) + " of " +
              std::to_string(s.accuracy.times_s.size()) +
              " instants are; the run would drop them silently): "
              "instants (times_s, log_spaced) must be <= the end of the simulated time");
}

}  // namespace

namespace {
Prepared preflight_checks(const Scenario& s);
}  // namespace

std::string in_scenario_file(const Scenario& s, const std::string& message) {
  if (s.file.empty() || message.compare(0, s.file.size() + 1, s.file + ":") == 0) return message;
  return s.file + ": " + message;
}

namespace {
// The process's address-space limit (ulimit -v) in bytes; 0 when there is none.
double address_space_limit() {
  struct rlimit lim {};
  return getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? static_cast<double>(lim.rlim_cur) : 0.0;
}

// Resident memory of this process (bytes; /proc/self/statm), 0 when unknown.
double resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages = 0, resident = 0;
  const bool ok = std::fscanf(f, "%ld %ld", &pages, &resident) == 2;
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  return ok && page > 0 ? static_cast<double>(resident) * static_cast<double>(page) : 0.0;
}

// What this process can hold at most (bytes): the machine's memory plus swap (/proc/meminfo),
// or the address-space limit (ulimit -v) when lower; 0 when unknown. `what` says which.
double memory_ceiling(std::string& what) {
  double total = 0, swap = 0;
  if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
    char key[64];
    double kb = 0;
    while (std::fscanf(f, "%63s %lf kB", key, &kb) == 2) {
      if (std::string(key) == "MemTotal:") total = kb * 1024;
      if (std::string(key) == "SwapTotal:") swap = kb * 1024;
    }
    std::fclose(f);
  }
  what = "this machine's memory and swap";
  double ceiling = total > 0 ? total + swap : 0;
  if (const double as = address_space_limit(); as > 0 && (ceiling == 0 || as < ceiling))
    ceiling = as, what = "the address-space limit (ulimit -v)";
  return ceiling;
}
}  // namespace

std::string out_of_memory_error(const Scenario& s, const std::string& phase) {
  auto gib = [](double bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", bytes / 1073741824.0);
    return std::string(b);
  };
  const auto& t = s.tiling;
  const int chips = std::max(1, s.dispatcher.chips);
  const double weights = static_cast<double>(t.rows) * static_cast<double>(t.cols) * static_cast<double>(t.block_size) *
                         static_cast<double>(t.block_size) * chips;
  std::string m = "out of memory while " + phase + ": hw.cores " + std::to_string(t.rows) + " x " + std::to_string(t.cols) +
                  " cores of " + std::to_string(t.block_size) + " x " + std::to_string(t.block_size) + " on " +
                  std::to_string(chips) + (chips == 1 ? " chip" : " chips") + " (" + num_str(weights) +
                  " device weights, device \"" + s.device.name + "\")";
  if (const double as = address_space_limit(); as > 0) m += " under an address-space limit of " + gib(as) + " GiB (ulimit -v)";
  return in_scenario_file(s, m + "; reduce hw.cores.rows/cols, hw.cores.block_size or hw.chips, or run with more memory");
}

// Every error names the scenario file first, in `run` as in `validate`.
Prepared preflight(const Scenario& s) {
  try {
    return preflight_checks(s);
  } catch (const std::bad_alloc&) {
    throw Error(out_of_memory_error(s, "loading the model and data"));
  } catch (const Error& e) {
    throw Error(in_scenario_file(s, e.what()));
  }
}

namespace {
Prepared preflight_checks(const Scenario& s) {
  check_static(s);
  if (s.horizon_s > 0) check_instants(s, s.horizon_s, "horizon_s " + num_str(s.horizon_s) + " s");

  Prepared p;
  const std::string model = "model: " + s.model_path + ": ";
  models::ImportOptions import;
  import.fold_batchnorm = s.tiling.batchnorm == "fold";  // hw.mapping.batchnorm
  p.graph = prefixed("model: ", [&] { return models::import_onnx(s.model_path, import); });
  if (s.tiling.batchnorm == "digital" && !models::has_batchnorm(p.graph))
    throw Error("hw.mapping.batchnorm: \"digital\" keeps BatchNormalization nodes after the array, but model " + s.model_path +
                " has none (a BatchNorm folded into the weights when the model was exported, as PyTorch's eval-mode ONNX "
                "export does, cannot be unfolded; docs/layers.md §1)");
  p.pre = prefixed("model: ", [&] { return models::preprocess_for(p.graph, s.model_path); });
  if (p.pre.dataset != "fashion-mnist")
    throw Error(model + "preprocessing names dataset \"" + p.pre.dataset + "\"; scenarios support fashion-mnist (dataset.name)");
  p.test = prefixed("dataset.dir: ", [&] { return models::load_fashion_mnist("test", s.dataset_dir); });
  if (p.test.count < 1) throw Error("dataset.dir: " + s.dataset_dir + ": the test split has no images");
  const models::Shape image{p.test.channels, p.test.height, p.test.width};
  if (p.pre.input_shape != image)
    throw Error(model + "the model expects inputs " + models::shape_str(p.pre.input_shape) + ", dataset " + p.test.name +
                " (dataset.name) has " + models::shape_str(image));
  prefixed(model, [&] { return models::check_classifier(p.graph, p.pre, models::kFashionMnistClasses); });
  // hw.mapping.digital_layers names weight layers of this model (checked here with the JSON path;
  // compile() resolves the same names).
  const std::vector<std::string> digital = prefixed(
      "hw.mapping.", [&] { return models::resolve_digital_layers(p.graph, s.tiling.digital_layers, "model " + s.model_path); });
  if (!digital.empty() && digital.size() == models::weight_layer_names(p.graph).size())
    throw Error("hw.mapping.digital_layers: every weight layer of model " + s.model_path + " is kept digital (" +
                std::to_string(digital.size()) + "); at least one must run on the tensor cores");
  p.wl = prefixed("hw.", [&] { return models::compile(p.graph, s.tiling); });  // the compiler names hw's mapping.*
  if (p.wl.layers.empty()) throw Error(model + "no weight layers to map onto tensor cores");
  s.device.model->check(p.wl);  // device rules that depend on the compiled workload (core size)
  {                             // the device as the run builds it (chip 0): rules only its build checks fail here, named
    const std::string dev = "device: \"" + s.device.name + "\": ";
    std::unique_ptr<hw::Technology> t;
    const double resident_before = resident_bytes();
    try {
      t = make_technology(s, p.wl);
    } catch (const Error& e) {  // (a message that names the device, or a noise process's JSON path, keeps its words)
      const std::string m = e.what();
      throw Error(m.rfind("device \"" + s.device.name + "\"", 0) == 0 || m.rfind("noise[", 0) == 0 ? m : dev + m);
    } catch (const std::exception& e) {  // a plug-in's own exception type
      throw Error(dev + "building the device failed: " + e.what());
    } catch (...) {
      throw Error(dev + "building the device failed: it threw an exception that is not a std::exception");
    }
    if (!t) throw Error(dev + "the device's build() returned no technology");
    // A fleet builds one such device per chip: when what chip 0's device took (resident memory
    // it added, a lower bound: devices also grow during a run) times hw.chips cannot fit, the run
    // would end out of memory, or killed by the kernel with no message, after building for
    // minutes. Refused now.
    const int chips = std::max(1, s.dispatcher.chips);
    const double per_chip = std::max(0.0, resident_bytes() - resident_before);
    std::string what;
    const double ceiling = memory_ceiling(what);
    if (chips > 1 && ceiling > 0 && per_chip * chips > ceiling) {
      char b[400];
      std::snprintf(b, sizeof b,
                    "hw.chips: %d chips of device \"%s\" need at least %.3g GB for their devices alone (chip 0's took "
                    "%.3g GB here), more than %s (%.3g GB); reduce hw.chips, hw.cores.rows/cols or hw.cores.block_size",
                    chips, s.device.name.c_str(), per_chip * chips / 1e9, per_chip / 1e9, what.c_str(), ceiling / 1e9);
      throw Error(b);
    }
  }

  if (s.accuracy.mode == "scheduled" && s.accuracy.first_image >= p.test.count)
    throw Error("accuracy.first_image: expected an image of the test split (< " + std::to_string(p.test.count) + "), got " +
                std::to_string(s.accuracy.first_image) + " (the evaluation batch would be empty)");
  if (s.accuracy.mode == "scheduled" && s.accuracy.first_image + s.accuracy.images > p.test.count)
    throw Error("accuracy.images: first_image + images must be <= the test split's " + std::to_string(p.test.count) +
                " images, got " + std::to_string(s.accuracy.first_image) + " + " + std::to_string(s.accuracy.images) +
                " (the evaluation batch would be cut short)");
  // The traffic source reads and checks its own inputs (a trace file, image indices).
  const std::unique_ptr<TrafficSource> traffic = make_traffic(s, p.test.count);
  // Served accuracy with no request ready before the horizon would measure nothing (a window's
  // requests are ready at its end, and a request ready at the horizon is not served).
  if (s.accuracy.mode == "served" && s.horizon_s > 0 && traffic->first_ready_s() >= s.horizon_s)
    throw Error("horizon_s: accuracy mode \"served\" measures served requests, and traffic \"" + s.traffic.name +
                "\" makes its first request ready at " + num_str(traffic->first_ready_s()) +
                " s (its first arrival, or the end of that arrival's window when requests are batched), at or after horizon_s " +
                num_str(s.horizon_s) +
                " s: nothing would be served; lengthen horizon_s, shorten traffic.batch_s or start the traffic earlier");
  // Rows by served requests, as rows by time: a closed-loop source's total bounds them (a row
  // every request of 1e12 requests was accepted, though every_s has the limit).
  // (Each chip writes these rows by its own served count, the fleet none: about total / every in all.)
  if (const int64_t total = traffic->total_requests(); total > 0 && s.trace_every_requests > 0) {
    const double rows = static_cast<double>(total) / static_cast<double>(s.trace_every_requests);
    if (rows > 1e7)
      throw Error("trace.every_requests: a row every " + std::to_string(s.trace_every_requests) +
                  " requests of traffic.requests " + std::to_string(total) + " is " + num_str(rows) +
                  " rows, more than the limit of 1e7 (traces are held in memory until written); use trace.every_requests >= " +
                  num_str(std::ceil(static_cast<double>(total) / 1e7)));
  }
  if (!(s.horizon_s > 0)) {
    // A closed-loop source until the traffic ends: the run lasts at least requests x per-inference latency.
    const int64_t requests = traffic->total_requests();
    // Streaming: a pass programs every block first (docs/elight.md §2), priced from the device's
    // levels as the run prices it (the device built as `ptcsim compile` builds it), and serves up
    // to images_per_pass requests of a batch: at least ceil(requests / images_per_pass) passes.
    hw::StreamingWrites programming{};
    if (s.tiling.mapping == "streaming") {
      const std::unique_ptr<hw::Technology> tech = s.device.model->build(hw::DeviceBuild{p.wl, hw::RandomStream(1, 0), {}});
      const hw::StreamPlan plan = hw::plan_streaming(p.wl, *tech);
      programming = hw::StreamingWrites{plan.time_s, plan.energy_j, plan.programmings};
    }
    const hw::InferenceCost cost = hw::inference_cost(p.wl, s.energy, s.tiling.mapping == "streaming" ? &programming : nullptr);
    const double latency_s = cost.latency_s;
    const int64_t B = s.tiling.images_per_pass, passes = (requests + B - 1) / B;
    const double end_s = B == 1 ? static_cast<double>(requests) * latency_s
                                : static_cast<double>(requests) * cost.compute_s + static_cast<double>(passes) * cost.reprogram_s;
    check_instants(s, end_s,
                   "the end of the traffic (horizon_s 0: " +
                       (B == 1 ? std::to_string(requests) + " requests x " + num_str(latency_s) + " s"
                               : std::to_string(requests) + " requests x " + num_str(cost.compute_s) + " s + " +
                                     std::to_string(passes) + " passes x " + num_str(cost.reprogram_s) + " s") +
                       " = " + num_str(end_s) + " s at the earliest; set horizon_s to evaluate after the traffic)");
    check_steps(s, end_s, "the traffic (" + num_str(end_s) + " s at the earliest)");
    // The periodic rows and timers over that end at least (the horizon_s rules, which a run until
    // the traffic ends skipped: a row every 1 ns grew the trace without bound).
    const std::string span = "the traffic's " + num_str(end_s) + " s at the earliest (horizon_s 0)";
    check_trace_rows(s, end_s, span);
    const double chips = s.dispatcher.chips > 1 ? static_cast<double>(s.dispatcher.chips) : 1.0;
    if (ask_policy(s, "uses_monitor", [](Policy& pol) { return pol.uses_monitor(); }))
      check_timer_interval("monitor.interval_s", "the monitor checks", s.monitor.interval_s, end_s, span, chips);
    check_timer_interval(s.policy_json.contains("interval_s") ? "controller.policy.interval_s" : "controller.policy",
                         "policy \"" + s.policy_json.at("name").get<std::string>() + "\" acts on its timer",
                         policy_timer_interval_s(s), end_s, span, chips);
  }

  const std::vector<std::string> policy_caps = policy_capabilities(s);
  if (has(policy_caps, "training_set") || has(policy_caps, "training_split")) {
    const std::string policy = "policy \"" + s.policy_json.at("name").get<std::string>() + "\" (as configured)";
    // The images the run will read (sim/actions/learning.cpp), as the policy declares them: the
    // whole split for "training_split" (on-chip training cycles through it), else the first
    // salience.images (salience, SWIM's curvature). A truncated or corrupt file is refused here,
    // not at the first calibration.
    const int64_t reads = has(policy_caps, "training_split") ? 0 : s.salience.images;
    const models::Dataset train = prefixed("dataset.dir: " + policy + " needs the training split: ",
                                           [&] { return models::load_fashion_mnist("train", s.dataset_dir, reads); });
    std::vector<std::string> weights;
    for (const auto& L : p.wl.layers) weights.push_back(L.weight);
    prefixed("controller.policy: " + policy + " needs model gradients: ", [&] {
      models::GradientEngine check(p.graph, weights, 1);  // the constructor checks every op between a weight and the loss
      if (has(policy_caps, "curvature")) {
        // SWIM's curvature rules are checked by the first curvature pass: one training image.
        prefixed("SWIM's curvature pass: ", [&] { return models::swim_curvature(check, train, p.pre, 1, 1).images; });
      }
      return 0;
    });
  }
  return p;
}
}  // namespace

Json list_plugins(const std::string& kind) {
  auto specs = [](const std::vector<ParamSpec>& v) {
    Json a = Json::array();
    for (const auto& p : v) {
      Json q = {{"name", p.name}, {"unit", p.unit}, {"type", param_type(p)}, {"default", p.dflt}, {"description", p.description}};
      if (p.has_range()) q["range"] = {p.lo, p.hi};
      if (!p.choices.empty()) q["choices"] = p.choices;
      a.push_back(q);
    }
    return a;
  };
  // The library of an entry a loaded plug-in registered (built-ins have none).
  auto library = [](const std::string& k, const std::string& name) -> std::string {
    for (const auto& l : loaded_plugins()) {
      const std::vector<std::string>* v = k == "policies"      ? &l.policies
                                          : k == "noise"       ? &l.noise
                                          : k == "devices"     ? &l.devices
                                          : k == "traffic"     ? &l.traffic
                                          : k == "dispatchers" ? &l.dispatchers
                                                               : nullptr;
      if (v && std::find(v->begin(), v->end(), name) != v->end()) return fs::path(l.file).filename().string();
    }
    return {};
  };
  Json out = Json::object();
  for (const auto& k : plugin_kinds())
    if (kind.empty() || kind == k) {
      out[k] = Json::object();
      for (const auto& p : plugins(k)) {
        out[k][p.name] = {{"description", p.description}, {"parameters", specs(p.params)}};
        if (!p.tags.empty()) out[k][p.name]["tags"] = p.tags;
        const std::string lib = library(k, p.name);
        if (!lib.empty()) out[k][p.name]["plugin"] = lib;
      }
    }
  if (kind.empty() || kind == "sections")
    for (const auto& sec : scenario_sections())
      out["sections"][sec.path.empty() ? "(root)" : sec.path] = {{"description", sec.description},
                                                                 {"parameters", specs(sec.params)}};
  if (out.empty()) throw Error("list: unknown kind \"" + kind + "\"; known: " + list_of(plugin_kinds()) + ", sections");
  return out;
}

}  // namespace ptc::sim
