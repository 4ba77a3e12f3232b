// Scenario files: loading (fragments, --set overrides), validation and the immutable runtime
// spec of one deployment run (docs/architecture.md §7).
// Contract:
// - Precedence: built-in defaults < scenario file < --set path=value.
// - A string where an object is expected is a path to a JSON fragment, resolved relative to the
//   file that contains it (fragments may include fragments; cycles are errors).
// - Every error names the JSON path and the rule; unknown keys are errors with a suggestion;
//   unknown plug-in names list the registered ones.
// - resolved (Scenario::resolved) holds every parameter with defaults filled in; it is what
//   config.resolved.json contains and what the run directory hash covers.
// - Every parameter is declared as data: scenario_sections() (fixed sections), plugin_slots() +
//   plugins() (named plug-ins: policies, noise, devices, traffic). parse_scenario reads exactly
//   these declarations; scenario_schema() and `ptcsim list` are generated from them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hw/device/mrr_bank.h"
#include "hw/device/pcm_optical.h"
#include "hw/device/pcm_pair.h"
#include "hw/device/pcm_table.h"
#include "hw/energy.h"
#include "hw/hardware_gemm.h"
#include "hw/noise/thermal_field.h"
#include "models/compiler.h"
#include "sim/params.h"
#include "sim/policy/policy.h"

namespace ptc::sim {

// What noise processes configure (the device technology's options and the physical field).
struct DeviceSetup {
  std::string device;  // "mrr", "pcm", "pcm_optical" or "pcm_table"
  hw::MrrBankConfig mrr;
  hw::PcmPairConfig pcm;
  hw::PcmOpticalConfig pcm_optical;
  hw::PcmTableConfig pcm_table;  // the measurement table is loaded by parse_scenario
  std::optional<hw::ThermalFieldParams> thermal_field;
  double static_phase_sigma_rad = 0;  // per-ring fabrication phase offset (MRR)
};

// A noise/drift process as a plug-in: reads its parameters and configures the device setup.
class NoiseProcess {
 public:
  virtual ~NoiseProcess() = default;
  virtual void configure(DeviceSetup& s) const = 0;
  virtual std::vector<std::string> devices() const = 0;  // devices it applies to
};
using NoiseRegistry = Registry<NoiseProcess>;

// Traffic and devices are described by parameters only (no behaviour to plug in beyond them).
struct TrafficSpec {
  std::string name;            // back_to_back, poisson, daily_profile
  int64_t requests = 0;        // back_to_back: total requests
  double rate_hz = 0;          // poisson: mean rate
  std::vector<double> hourly_rate_hz;  // daily_profile: 24 rates
  double batch_s = 1.0;        // poisson / daily_profile: arrivals grouped per batch window
  int64_t first_image = 0;     // request i classifies test image (first_image + i) mod N
};

struct AccuracySpec {
  std::string mode = "served";  // served | scheduled | none
  std::vector<double> times_s;  // scheduled instants
  int64_t images = 1000, instances = 1, first_image = 0;
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
  models::TilingSpec tiling;
  hw::EnergyParams energy;
  hw::IoSpec io;
  DeviceSetup device;
  std::string step_mode = "inference";  // DOCTOR step <-> time: "inference" or "seconds"
  double step_s = 1e-3;
  TrafficSpec traffic;
  double horizon_s = 0;                 // 0: until the traffic ends (back_to_back)
  AccuracySpec accuracy;
  MonitorSpec monitor;
  SalienceSpec salience;
  int64_t trace_every_requests = 0;
  double trace_every_s = 0;
  int threads = 0;
  Json policy_json;                     // controller.policy (name + params), validated
  Json resolved;
};

// Reads the file, resolves fragments, applies "a.b.c=json" overrides.
Json load_scenario_json(const std::string& file, const std::vector<std::string>& sets);
// Applies one override to `j` (dotted path; numeric segments index arrays). Throws on bad paths.
void apply_set(Json& j, const std::string& assignment);
Scenario parse_scenario(const Json& j, const std::string& file);
// The policy selected by the scenario (validated parameters).
std::unique_ptr<Policy> make_policy(const Scenario& s);

// One object of parameters at a JSON path of the scenario ("" = the file's root; "hw.cores").
struct SectionSpec {
  std::string path, description;
  std::vector<ParamSpec> params;
  std::vector<std::string> children;  // keys holding sub-sections or plug-in slots, not parameters
};
// Where a scenario selects plug-ins by "name".
struct PluginSlot {
  std::string path;          // "device", "noise", "traffic", "controller.policy"
  std::string kind;          // plugins() kind: "devices", "noise", "traffic", "policies"
  std::string description;
  std::string default_name;  // taken when "name" is absent ("" = "name" required)
  bool list = false;         // an array of plug-ins (noise), each name at most once
};
// One plug-in with its parameters; every ParamSpec::type is filled in (registry plug-ins: the
// accessor their factory reads the parameter with, found by calling it once with defaults).
struct PluginInfo {
  std::string name, description;
  std::vector<ParamSpec> params;
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
// Parameter specs of the built-in devices and traffic generators.
const std::vector<ParamSpec>& device_params(const std::string& device);
const std::vector<ParamSpec>& traffic_params(const std::string& traffic);
const std::vector<std::string>& device_names();
const std::vector<std::string>& traffic_names();

// The draft-07 JSON Schema of a scenario file, generated from the declarations above (what
// `ptcsim schema` prints and scenarios/schema.json holds). Types, units (in descriptions),
// ranges (minimum/maximum), choices (enum), defaults; unknown keys rejected; a string wherever an
// object is expected (a fragment path); "$schema", "description" and "//..." keys allowed.
nlohmann::ordered_json scenario_schema();
// Checks a fragment-resolved scenario against scenario_schema() (valijson). One message per
// problem, "json.path: rule" (unknown keys and names with a did-you-mean); empty when valid.
std::vector<std::string> schema_errors(const Json& scenario);

}  // namespace ptc::sim
