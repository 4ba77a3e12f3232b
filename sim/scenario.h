// Scenario files: loading (fragments, --set overrides), validation and the immutable runtime
// spec of one deployment run (docs/architecture.md §7).
// Contract:
// - Precedence: built-in defaults < scenario file < --set path=value.
// - A string where an object is expected is a path to a JSON fragment, resolved relative to the
//   file that contains it (fragments may include fragments; cycles are errors).
// - Every error names the JSON path and the rule; unknown keys are errors with a suggestion;
//   unknown plug-in names list the registered ones.
// - resolved (Scenario::resolved) holds every parameter with defaults filled in; it is what
//   config.resolved.json contains. Its "base_dir" (absolute: where relative file paths resolve)
//   lets that file run again from its run directory; config_id_text() leaves it out, so the
//   configuration's id (run directory name, sweep entry id) does not depend on where the project
//   sits. It leaves out "threads" too: outputs are the same bytes at any thread count; and
//   accuracy.read_draws "actual", the old default, so that such a configuration keeps its old id.
// - Every parameter is declared as data: scenario_sections() (fixed sections), plugin_slots() +
//   plugins() (named plug-ins: policies, noise, devices, traffic). parse_scenario reads exactly
//   these declarations; scenario_schema() and `ptcsim list` are generated from them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hw/energy.h"
#include "hw/hardware_gemm.h"
#include "hw/noise/thermal_field.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/graph.h"
#include "sim/dispatch/dispatcher.h"
#include "sim/params.h"
#include "sim/plugins.h"
#include "sim/policy/policy.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {

// The device technology of the scenario and the noise processes acting on it (sim/plugins.h).
struct DeviceSetup {
  std::string name;                              // the registered device (device.name)
  std::vector<std::string> tags;                 // its registry tags (capabilities, traits, cell kind)
  std::shared_ptr<const hw::DeviceModel> model;  // configured: parameters read, files loaded
  hw::NoiseList noise;                           // noise[] in scenario order
  std::vector<std::string> noise_names;          // ... and their registered names
  // The physical thermal field, when a temperature process is listed.
  std::optional<hw::ThermalFieldParams> thermal_field() const {
    for (const auto& p : noise)
      if (auto f = p->thermal_field()) return f;
    return std::nullopt;
  }
};

// The traffic source selected by the scenario (a TrafficRegistry plug-in, sim/traffic/).
struct TrafficSpec {
  std::string name;
  Json params;           // validated, defaults applied (what make_traffic builds from)
  std::string base_dir;  // directory of the top-level scenario file (the source's relative paths)
};

// A fleet (docs/fleet.md): hw.chips accelerators behind a Dispatcher (sim/dispatch/).
struct FleetSpec {
  int chips = 1;
  std::string name = "round_robin";  // the dispatcher
  Json params = Json::object();      // its validated parameters
};

struct AccuracySpec {
  std::string mode = "served";    // served | scheduled | none
  std::vector<double> times_s;    // scheduled instants (times_s and log_spaced, sorted, unique)
  double log_spaced_stop_s = -1;  // accuracy.log_spaced.stop_s (-1: none), for messages
  int64_t images = 1000, instances = 1, first_image = 0;
  // Which read draws a scheduled evaluation takes (devices with per-read noise, PCM):
  // "scheduled" (default): those of its scheduled instant, shared with the drift-compensation
  // readout (aihwkit); "actual": those of the instant it runs at, after any readout before it.
  std::string read_draws = "scheduled";
};

struct MonitorSpec {
  int64_t interval_requests = 200;
  double interval_s = 0;
  int64_t cool_down_requests = 200;
  double cool_down_s = 0;
  double t_thres_k = 0.01, w_thres = 0.05;
  bool temperature_test = true, probe_test = true;
  bool temperature_abs = false;  // trigger on |change| instead of a rise
};

struct SalienceSpec {
  int64_t images = 1024, batch = 32, hutchinson_samples = 10;
};

struct Scenario {
  std::string file, name;
  uint64_t seed = 1;
  std::string model_path, dataset_dir;
  // The directory relative file parameters resolve against (base_dir, else the scenario file's
  // directory; relative to the working directory when the file path is).
  std::string base_dir;
  models::TilingSpec tiling;
  hw::EnergyParams energy;
  hw::IoSpec io;
  bool adc_quantize = true;  // hw.adc.quantize as written (io.adc.bits is 0 when it is false)
  DeviceSetup device;
  std::string step_mode = "inference";  // DOCTOR step <-> time: "inference" or "seconds"
  double step_s = 1e-3;
  TrafficSpec traffic;
  FleetSpec dispatcher;
  double horizon_s = 0;  // 0: until the traffic ends (back_to_back)
  AccuracySpec accuracy;
  MonitorSpec monitor;
  SalienceSpec salience;
  int64_t trace_every_requests = 0;
  double trace_every_s = 0;
  int threads = 0;
  Json policy_json;                               // controller.policy (name + params), validated
  std::vector<std::string> policy_keys_given;     // the parameters the scenario sets (not defaulted)
  std::vector<std::string> converter_keys_given;  // hw.dac.* / hw.adc.* keys the scenario sets ("hw.adc.bits")
  Json resolved;
};

// Reads the file, resolves fragments, applies "a.b.c=json" overrides. A string an override puts
// where an object or a list slot is expected names a fragment file relative to the working
// directory (in a file: relative to the including file).
Json load_scenario_json(const std::string& file, const std::vector<std::string>& sets);
// Whether a string at scenario path `path` (dotted or with [N]) names a fragment file: a declared
// section, a single plug-in slot, a list slot (noise) or an element of one.
bool names_fragment(const std::string& path);
// An error "FILE: json.path: rule" about a scenario load_scenario_json read, with the fragment
// file that gave that path (not replaced by a --set): "FILE: json.path (from fragment F): rule".
std::string with_origin(const std::string& msg);
// Applies one override to `j` (dotted path; numeric segments index arrays, also written
// noise[2]). Throws on bad paths.
void apply_set(Json& j, const std::string& assignment);
Scenario parse_scenario(const Json& j, const std::string& file);
// What a configuration's id hashes: the resolved configuration without "base_dir" and "threads".
std::string config_id_text(const Json& resolved);

// A --set path with list indices as path components: noise[0].name and noise.0.name name the same
// entry (both are "noise.0.name"). Only normalises; apply_set validates the brackets.
std::string dotted(std::string path);
// The policy selected by the scenario (validated parameters).
std::unique_ptr<Policy> make_policy(const Scenario& s);
// The configured policy's capabilities_needed(); an exception from it becomes an error naming the
// policy and the hook.
std::vector<std::string> policy_capabilities(const Scenario& s);
// The traffic source selected by the scenario, bound to its context (seed, horizon, test-set
// size; files read and checked here).
std::unique_ptr<TrafficSource> make_traffic(const Scenario& s, int64_t test_images);
// The fleet's dispatcher (validated parameters).
std::unique_ptr<Dispatcher> make_dispatcher(const Scenario& s);

// What a run needs before its first simulated event, loaded and checked by preflight().
struct Prepared {
  models::Graph graph;
  models::Preprocess pre;
  models::Dataset test;  // the test split
  models::CompiledWorkload wl;
};
// Every check `ptcsim run` makes before its first simulated event, in one place: `ptcsim
// validate` (sim/cli.cpp) and run_scenario (sim/top.cpp) both call it, so a scenario that
// validates does not fail later for a reason known statically.
// Contract:
// - Static rules first (no files read): horizon_s within SystemC's time span; the policy's
//   capabilities_needed() (sim/policy/policy.h) against the device's tags (device_capabilities) and
//   the mapping ("remap": a device with tile remapping and the cyclic mapping); Monte-Carlo
//   accuracy.instances > 1 only on devices with "mc_instances"; a noise process's needs()
//   ("cyclic_mapping") against the mapping; scheduled evaluation instants <= horizon_s.
// - Then it loads what the run loads before its first event: the model (import, preprocessing
//   naming fashion-mnist, input shape = the dataset's), the test split, the compiled workload
//   (at least one weight layer); accuracy.first_image inside the test split (scheduled mode).
// - horizon_s 0 (until the traffic ends, back_to_back): the run ends when the last request is
//   served, no earlier than requests x the per-inference latency (remediation only delays it);
//   scheduled instants after that bound would be dropped or not depending on the run, so they
//   are errors (set horizon_s to evaluate after the traffic).
// - "training_set" (DOCTOR's salience, SWIM's curvature, on-chip training; loaded lazily by the
//   run): the training images the run will read are present and whole (the first
//   controller.salience.images, or the whole split when the policy declares "training_split")
//   and the gradient engine supports the model.
// - Every error names the JSON path and the rule ("controller.policy: ...", "dataset.dir: ...").
Prepared preflight(const Scenario& s);

// `message` prefixed with the scenario file unless it already starts with it (every error of a
// run or a validation names the file first).
std::string in_scenario_file(const Scenario& s, const std::string& message);

// The one error line for std::bad_alloc while `phase` ("loading the model and data", "building
// the hardware", "simulating"): the scenario file, the scale that sets the memory (hw.cores,
// block size, hw.chips, device weights), the process's address-space limit when one is set, and
// what to reduce. preflight() and run_scenario() throw it instead of "std::bad_alloc".
std::string out_of_memory_error(const Scenario& s, const std::string& phase);

// One object of parameters at a JSON path of the scenario ("" = the file's root; "hw.cores").
struct SectionSpec {
  std::string path, description;
  std::vector<ParamSpec> params;
  std::vector<std::string> children;  // keys holding sub-sections or plug-in slots, not parameters
};
// Where a scenario selects plug-ins by "name".
struct PluginSlot {
  std::string path;  // "device", "noise", "traffic", "controller.policy"
  std::string kind;  // plugins() kind: "devices", "noise", "traffic", "policies"
  std::string description;
  std::string default_name;  // taken when "name" is absent ("" = "name" required)
  bool list = false;         // an array of plug-ins (noise), each name at most once
};
// One plug-in with its parameters; every ParamSpec::type is filled in (registry plug-ins: the
// accessor their factory reads the parameter with, found by calling it once with defaults).
struct PluginInfo {
  std::string name, description;
  std::vector<ParamSpec> params;
  // Devices: their registry tags (sim/plugins.h); noise: "acts_on:<trait>".
  std::vector<std::string> tags = {};
};

// Fixed sections in declaration order (parents before children).
const std::vector<SectionSpec>& scenario_sections();
// The section at `path`; throws for undeclared paths.
const SectionSpec& scenario_section(const std::string& path);
const std::vector<PluginSlot>& plugin_slots();
// "policies", "noise", "devices", "traffic", "mappings".
const std::vector<std::string>& plugin_kinds();
// Every plug-in of a kind, sorted by name. Throws for unknown kinds (listing the known ones).
std::vector<PluginInfo> plugins(const std::string& kind);

// `ptcsim list` data: {kind: {name: {description, parameters: [{name, unit, type, default,
// description, range?, choices?}]}}} for one kind (or "sections"), or all when kind is "".
Json list_plugins(const std::string& kind);
// Parameter specs of a registered device (throws for unknown devices, listing the registered).
const std::vector<ParamSpec>& device_params(const std::string& device);
// A registered device's tags (sim/plugins.h): capabilities beyond programming and reading,
// "remap" (DOCTOR's tile remapping; equals hw::Technology::supports_remap(), tested) and
// "mc_instances" (accuracy over several Monte-Carlo chip instances), the traits noise processes
// act on, and its weight-cell kind. Throws for unknown devices.
const std::vector<std::string>& device_capabilities(const std::string& device);
std::vector<std::string> device_names();
// One chip's device technology for the compiled workload: the scenario's device built with the
// chip's device random stream (chip 0: the single-chip stream) and the scenario's noise.
std::unique_ptr<hw::Technology> make_technology(const Scenario& s, const models::CompiledWorkload& wl, uint64_t chip = 0);

// The draft-07 JSON Schema of a scenario file, generated from the declarations above (what
// `ptcsim schema` prints and scenarios/schema.json holds). Types, units (in descriptions),
// ranges (minimum/maximum), choices (enum), defaults; unknown keys rejected; a string wherever an
// object is expected (a fragment path); "$schema", "description" and "//..." keys allowed.
nlohmann::ordered_json scenario_schema();
// Checks a fragment-resolved scenario against scenario_schema() (valijson). One message per
// problem, "json.path: rule" (unknown keys and names with a did-you-mean); empty when valid.
std::vector<std::string> schema_errors(const Json& scenario);

}  // namespace ptc::sim
