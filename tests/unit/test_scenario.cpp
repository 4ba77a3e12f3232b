// Scenario files: declared parameters, the generated JSON Schema, validation messages, fragments
// and --set. Links ptc_sim + ptc_plugins (the policy registry), hence SystemC: its own binary,
// sc_main runs Catch; no test starts the SystemC kernel.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <systemc>

#include "models/error.h"
#include "sim/scenario.h"

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

using namespace ptc::sim;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = PTC_SOURCE_DIR;
const std::string kModel = kSrc + "/models/zoo/lenet5_fmnist.onnx";

// A scratch folder removed at the end of the test.
struct TempDir {
  fs::path dir;
  TempDir() {
    dir = fs::temp_directory_path() / ("ptc_scenario_test_" + std::to_string(::getpid()) + "_" + std::to_string(++count()));
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& rel, const std::string& text) const {
    fs::path p = dir / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  static int& count() {
    static int n = 0;
    return n;
  }
};

// The message of the error parse_scenario throws for `j` ("" when it parses).
std::string parse_error(const Json& j) {
  try {
    parse_scenario(j, "test.json");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

Json minimal() {
  return Json{{"model", kModel}};
}

// The message of the error preflight throws for `j` ("" when it passes; "parse: ..." when
// parse_scenario already rejects it, so a test of preflight cannot pass on a parse error).
std::string preflight_error(const Json& j, const std::string& file = "test.json") {
  Scenario s;
  try {
    s = parse_scenario(j, file);
  } catch (const std::exception& e) {
    return std::string("parse: ") + e.what();
  }
  try {
    preflight(s);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

Json with_sets(Json j, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) apply_set(j, a);
  return j;
}

Json with_set(Json j, const std::string& assignment) {
  apply_set(j, assignment);
  return j;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

// Plug-ins whose defaults are rejected on purpose, with the smallest valid configuration.
Json valid_config(const std::string& kind, const std::string& name) {
  Json j = {{"name", name}};
  if (kind == "policies" && name == "periodic_full") j["interval_requests"] = 100;
  return j;
}

}  // namespace

TEST_CASE("every shipped scenario validates (schema, semantics, preflight) and its resolved form does too", "[scenario]") {
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(kSrc + "/scenarios")) {
    if (e.path().extension() != ".json" || e.path().filename() == "schema.json") continue;
    Json raw = Json::parse(std::ifstream(e.path()));
    if (!raw.is_object() || !raw.contains("model")) continue;  // a fragment
    INFO(e.path().string());
    Json j = load_scenario_json(e.path().string(), {});
    CHECK(joined(schema_errors(j)) == "");
    Scenario s = parse_scenario(j, e.path().string());
    CHECK(joined(schema_errors(s.resolved)) == "");
    CHECK_NOTHROW(preflight(s));  // what `ptcsim validate` and `ptcsim run` check before the first event
    ++checked;
  }
  CHECK(checked >= 16);  // DOCTOR's main grid
}

TEST_CASE("scenarios/schema.json is what `ptcsim schema` prints", "[scenario]") {
  std::ifstream f(kSrc + "/scenarios/schema.json");
  REQUIRE(f);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  INFO("regenerate with: ptcsim schema > scenarios/schema.json");
  CHECK(nlohmann::ordered_json::parse(text) == scenario_schema());
  CHECK(text == scenario_schema().dump(2) + "\n");
}

TEST_CASE("the schema types every parameter as its accessor reads it and states ranges, choices, defaults", "[scenario]") {
  nlohmann::ordered_json s = scenario_schema();
  CHECK(s["$schema"] == "http://json-schema.org/draft-07/schema#");
  CHECK(s["required"] == nlohmann::ordered_json::array({"model"}));
  const auto& rows = s["properties"]["hw"]["properties"]["cores"]["properties"]["rows"];
  CHECK(rows["type"] == "integer");
  CHECK(rows["minimum"] == 1);
  CHECK(rows["maximum"] == 1024);
  CHECK(rows["default"] == 4);
  CHECK(s["properties"]["hw"]["type"] == nlohmann::ordered_json::array({"object", "string"}));  // a fragment path is allowed
  const auto& step = s["properties"]["time"]["properties"]["step"];
  CHECK(step["enum"] == nlohmann::ordered_json::array({"inference", "seconds"}));
  CHECK_THAT(s["properties"]["horizon_s"]["description"].get<std::string>(), Contains("[s]"));
  // onchip_training declares charged_inferences with an integer default (3000) but reads it with
  // num(): the schema must accept 2500.5, i.e. type number.
  bool found = false;
  for (const auto& b : s["properties"]["controller"]["properties"]["policy"]["allOf"])
    if (b["if"]["properties"]["name"]["const"] == "onchip_training") {
      CHECK(b["then"]["properties"]["charged_inferences"]["type"] == "number");
      CHECK(b["then"]["properties"]["interval_requests"]["type"] == "integer");
      CHECK(b["then"]["additionalProperties"] == false);
      found = true;
    }
  CHECK(found);
  Json ok = with_set(minimal(), "controller.policy={\"name\": \"onchip_training\", \"charged_inferences\": 2500.5}");
  CHECK(joined(schema_errors(ok)) == "");
  CHECK(parse_error(ok) == "");
}

TEST_CASE("every declared parameter of every plug-in is read with defaults, undeclared reads throw", "[scenario]") {
  for (const auto& kind : {"policies", "noise"}) {
    for (const auto& info : plugins(kind)) {
      INFO(kind << " " << info.name);
      Json cfg = valid_config(kind, info.name);
      if (std::string(kind) == "policies") {
        const auto& e = PolicyRegistry::get().find(info.name, "x", "policy");
        Params p(cfg, "controller.policy", e.params);
        CHECK_NOTHROW(e.make(p));
        CHECK(p.unread().empty());
        for (const auto& spec : info.params) CHECK(p.read_types().at(spec.name) == spec.type);
      } else {
        const auto& e = NoiseRegistry::get().find(info.name, "x", "noise process");
        Params p(cfg, "noise[0]", e.params);
        CHECK_NOTHROW(e.make(p));
        CHECK(p.unread().empty());
      }
    }
  }
  // Devices, traffic and the fixed sections are read inside parse_scenario: audit whole parses.
  std::vector<Json> cases;
  for (const auto& d : device_names()) {
    Json j = with_set(minimal(), "device.name=" + d);
    if (d == "pcm_table") j["device"]["file"] = kSrc + "/scenarios/pcm/table_device.csv";  // required
    cases.push_back(j);
  }
  for (const auto& t : plugins("traffic")) {
    Json j = with_set(with_set(minimal(), "traffic.name=" + t.name), "horizon_s=10");
    if (t.name == "trace") j["traffic"]["file"] = kSrc + "/scenarios/traffic/trace_burst.csv";  // required
    cases.push_back(j);
  }
  for (const auto& p : plugins("policies")) {
    Json j = minimal();
    j["controller"]["policy"] = valid_config("policies", p.name);
    cases.push_back(j);
  }
  for (const auto& n : plugins("noise")) cases.push_back(with_set(minimal(), "noise=[{\"name\": \"" + n.name + "\"}]"));
  cases.push_back(
      with_sets(minimal(), {"accuracy.mode=scheduled", "accuracy.log_spaced={\"start_s\": 1, \"stop_s\": 10, \"points\": 3}"}));
  for (const auto& j : cases) {
    INFO(j.dump());
    ParamAudit audit;
    parse_scenario(j, "test.json");
    CHECK(joined(audit.unread()) == "");
  }
  // the audit does see unread parameters
  ParamAudit audit;
  {
    Params p(Json{{"a", 1}}, "sec", {{"a", "", 0, "a"}, {"b", "", 0, "b"}}, {});
    p.integer("a");
  }
  CHECK(audit.unread() == std::vector<std::string>{"sec.b"});
  Params p(Json::object(), "sec", {{"a", "", 0, "a"}}, {});
  CHECK_THROWS_WITH(p.num("c"), Contains("sec.c: read but not declared"));
}

TEST_CASE("a typo'd key or plug-in name names the path, suggests the fix and lists the known ones", "[scenario]") {
  Json key = with_set(minimal(), "hw.cores.colz=4");
  std::string perr = parse_error(key);
  CHECK_THAT(perr, Contains("hw.cores.colz: unknown key") && Contains("did you mean \"cols\"") && Contains("rows"));
  std::string serr = joined(schema_errors(key));
  CHECK_THAT(serr, Contains("hw.cores.colz: unknown key") && Contains("did you mean \"cols\"") && Contains("block_size"));

  Json pol = with_set(minimal(), "controller.policy.name=doctr");
  perr = parse_error(pol);
  serr = joined(schema_errors(pol));
  for (const std::string& m : {perr, serr}) {
    INFO(m);
    CHECK_THAT(m, Contains("controller.policy.name") && Contains("did you mean \"doctor\""));
    for (const auto& n : PolicyRegistry::get().names()) CHECK_THAT(m, Contains(n));
    for (const char* builtin :
         {"doctor", "none", "periodic_full", "threshold_full", "onchip_training", "global_drift_compensation"})
      CHECK_THAT(m, Contains(builtin));
  }
  // a typo'd key inside a plug-in (the policy's own parameters)
  Json pk = with_set(with_set(minimal(), "controller.policy.name=doctor"), "controller.policy.sparsty=0.1");
  CHECK_THAT(parse_error(pk), Contains("controller.policy.sparsty: unknown key") && Contains("did you mean \"sparsity\""));
  CHECK_THAT(joined(schema_errors(pk)),
             Contains("controller.policy.sparsty: unknown key") && Contains("did you mean \"sparsity\""));
}

TEST_CASE("out-of-range and ill-typed values name the path and the rule, in the schema and the parse alike", "[scenario]") {
  struct Case {
    std::string set, message;
  };
  std::vector<Case> cases = {
      {"hw.cores.rows=0", "hw.cores.rows: expected integer in [1,1024], got 0"},
      {"hw.adc.bits=25", "hw.adc.bits: expected integer in [0,24], got 25"},
      {"controller.policy={\"name\": \"doctor\", \"sparsity\": 2}",
       "controller.policy.sparsity: expected number in [1e-06,1], got 2"},
      {"monitor.t_thres_k=-1", "monitor.t_thres_k: expected number in [0,1e+06], got -1"},
      {"noise=[{\"name\": \"thermal_crosstalk\", \"kappa_per_um\": 101}]",
       "noise[0].kappa_per_um: expected number in [0,100], got 101"},
      {"accuracy.times_s=[1,-2]", "accuracy.times_s[1]: expected number in [0,9223372036], got -2"},
  };
  for (const auto& c : cases) {
    Json j = with_set(minimal(), c.set);
    INFO(c.set);
    CHECK_THAT(parse_error(j), Contains(c.message));
    CHECK(schema_errors(j) == std::vector<std::string>{c.message});
  }
  // a choice
  Json j = with_set(minimal(), "time.step=second");
  CHECK_THAT(parse_error(j),
             Contains("time.step: \"second\" is not one of inference, seconds") && Contains("did you mean \"seconds\""));
  CHECK_THAT(joined(schema_errors(j)),
             Contains("time.step: \"second\" is not one of inference, seconds") && Contains("did you mean \"seconds\""));
  // missing required: model
  CHECK(schema_errors(Json::object()) ==
        std::vector<std::string>{
            "model: required parameter missing (ONNX model, relative to the scenario file (or base_dir) unless absolute)"});
  CHECK_THAT(parse_error(Json::object()), Contains("model: required parameter missing"));
  // several problems: one message each
  Json many = with_set(with_set(with_set(minimal(), "hw.cores.rows=0"), "seed=-1"), "trace.every_s=\"x\"");
  CHECK(schema_errors(many).size() == 3);
}

TEST_CASE("precedence: --set over the scenario file over the defaults, numeric --set segments index arrays", "[scenario]") {
  TempDir t;
  std::string f = t.write("s.json", Json{{"model", kModel},
                                         {"monitor", {{"interval_requests", 100}}},
                                         {"noise", {{{"name", "doctor_phase_variation"}}, {{"name", "thermal_crosstalk"}}}}}
                                        .dump());
  Scenario d = parse_scenario(load_scenario_json(f, {}), f);
  CHECK(d.monitor.interval_requests == 100);   // file over default (200)
  CHECK(d.monitor.cool_down_requests == 200);  // default
  CHECK(d.name == "s");                        // default name: the file's stem
  Scenario o = parse_scenario(load_scenario_json(f, {"monitor.interval_requests=50", "monitor.probe_test=false"}), f);
  CHECK(o.monitor.interval_requests == 50);
  CHECK_FALSE(o.monitor.probe_test);
  // array index paths
  Json j = load_scenario_json(f, {"noise.1.kappa_per_um=0.5", "noise.0.schedule=low"});
  CHECK(j["noise"][1]["kappa_per_um"] == 0.5);
  CHECK(j["noise"][0]["schedule"] == "low");  // a bare word is a string
  Scenario a = parse_scenario(j, f);
  CHECK(a.resolved["noise"][1]["kappa_per_um"] == 0.5);
  CHECK(a.resolved["noise"][0]["schedule"] == "low");
  CHECK(a.resolved["noise"][1]["pitch_h_um"] == 60.0);  // default kept beside the override
  CHECK_THROWS_WITH(load_scenario_json(f, {"noise.2.x=1"}), Contains("index 2 out of range of noise (2 entries)"));
  CHECK_THROWS_WITH(load_scenario_json(f, {"noise.first.x=1"}), Contains("noise is a list; expected an index"));
  CHECK_THROWS_WITH(load_scenario_json(f, {"seed"}), Contains("expected path=value"));
  // an override creating an unknown key is caught by the parse, with the path
  CHECK_THROWS_WITH(parse_scenario(load_scenario_json(f, {"monitor.intervall_requests=5"}), f),
                    Contains("monitor.intervall_requests: unknown key") && Contains("did you mean \"interval_requests\""));
}

TEST_CASE("fragments resolve relative to the including file, cycles and missing files are errors", "[scenario]") {
  TempDir t;
  t.write("frag/hw.json", R"({"cores": "cores/small.json", "mapping": {"name": "stationary"}})");
  t.write("frag/cores/small.json", R"({"$schema": "../../schema.json", "rows": 2, "cols": 3})");
  t.write("frag/noise_pair.json", R"([{"name": "doctor_phase_variation", "schedule": "low"}, {"name": "thermal_crosstalk"}])");
  t.write("frag/one_noise.json", R"({"name": "static_phase_variation", "phase_sigma_rad": 0.02})");
  std::string f =
      t.write("scen/s.json",
              Json{{"model", kModel}, {"hw", "../frag/hw.json"}, {"noise", {"../frag/noise_pair.json", "../frag/one_noise.json"}}}
                  .dump());
  Json j = load_scenario_json(f, {});
  CHECK(joined(schema_errors(j)) == "");
  Scenario s = parse_scenario(j, f);
  CHECK(s.tiling.rows == 2);  // nested fragment, relative to frag/hw.json
  CHECK(s.tiling.cols == 3);
  CHECK(s.tiling.mapping == "stationary");
  REQUIRE(s.resolved["noise"].size() == 3);  // a list fragment is spliced into the list
  CHECK(s.resolved["noise"][0]["schedule"] == "low");
  CHECK(s.resolved["noise"][2]["phase_sigma_rad"] == 0.02);
  // --set applies after fragments
  CHECK(parse_scenario(load_scenario_json(f, {"hw.cores.rows=4"}), f).tiling.rows == 4);

  t.write("frag/self.json", R"({"cores": {"rows": 1}, "mapping": "self.json"})");
  std::string self = t.write("scen/self.json", Json{{"model", kModel}, {"hw", "../frag/self.json"}}.dump());
  CHECK_THROWS_WITH(load_scenario_json(self, {}), Contains("hw.mapping") && Contains("includes itself"));
  t.write("frag/m1.json", R"({"cores": {"rows": 1}, "mapping": "m2.json"})");
  t.write("frag/m2.json", R"({"name": "cyclic"})");
  std::string ok = t.write("scen/ok.json", Json{{"model", kModel}, {"hw", "../frag/m1.json"}}.dump());
  CHECK_NOTHROW(parse_scenario(load_scenario_json(ok, {}), ok));
  t.write("frag/n1.json", R"(["n2.json"])");
  t.write("frag/n2.json", R"(["n1.json"])");
  std::string ncycle = t.write("scen/ncycle.json", Json{{"model", kModel}, {"noise", "../frag/n1.json"}}.dump());
  CHECK_THROWS_WITH(load_scenario_json(ncycle, {}), Contains("noise") && Contains("includes itself"));
  // a list fragment's own fragment paths are relative to it, not to the scenario
  t.write("frag/sub/one.json", R"({"name": "thermal_crosstalk", "kappa_per_um": 0.3})");
  t.write("frag/list.json", R"(["sub/one.json", {"name": "static_phase_variation"}])");
  std::string nested = t.write("scen/nested.json", Json{{"model", kModel}, {"noise", "../frag/list.json"}}.dump());
  Json nj = load_scenario_json(nested, {});
  REQUIRE(nj["noise"].size() == 2);
  CHECK(nj["noise"][0]["kappa_per_um"] == 0.3);
  std::string missing = t.write("scen/missing.json", Json{{"model", kModel}, {"monitor", "nope.json"}}.dump());
  CHECK_THROWS_WITH(load_scenario_json(missing, {}),
                    Contains("monitor: fragment file") && Contains("nope.json") && Contains("not found"));
}

TEST_CASE("list_plugins lists every registered plug-in with its declared parameters", "[scenario]") {
  Json l = list_plugins("policies");
  REQUIRE(l.contains("policies"));
  CHECK(l["policies"].size() == PolicyRegistry::get().entries().size());
  CHECK(l["policies"].size() >= 6);
  for (const auto& [n, e] : PolicyRegistry::get().entries()) {
    REQUIRE(l["policies"].contains(n));
    const Json& ps = l["policies"][n]["parameters"];
    REQUIRE(ps.size() == e.params.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      CHECK(ps[i]["name"] == e.params[i].name);
      CHECK(ps[i]["unit"] == e.params[i].unit);
      CHECK(ps[i]["default"] == e.params[i].dflt);
    }
  }
  Json all = list_plugins("");
  for (const char* k : {"policies", "noise", "devices", "traffic", "mappings", "sections"}) CHECK(all.contains(k));
  CHECK(all["devices"]["pcm"]["parameters"].size() == device_params("pcm").size());
  CHECK_THROWS_WITH(list_plugins("polices"), Contains("unknown kind") && Contains("policies"));
}

TEST_CASE("pcm_table: the measurement file is relative to the scenario file and its errors name device.file", "[scenario]") {
  TempDir t;
  t.write("scen/data/dev.csv", "g_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.45,0.02\n1,1,0.9,0.03\n");
  t.write("scen/data/bad.csv", "g_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.45,0.02\n1,x,0.9,0.03\n");
  Json dev = {{"name", "pcm_table"}, {"file", "data/dev.csv"}, {"persistent_fraction", 0.25}};
  std::string f = t.write("scen/s.json", Json{{"model", kModel}, {"device", dev}}.dump());
  Json j = load_scenario_json(f, {});
  CHECK(joined(schema_errors(j)) == "");
  Scenario s = parse_scenario(j, f);
  CHECK(s.device.name == "pcm_table");
  CHECK(s.energy.cell == ptc::hw::WeightCell::nonvolatile);  // priced as non-volatile cells
  CHECK(s.resolved["device"]["persistent_fraction"] == 0.25);
  CHECK(s.resolved["device"]["file"] == "data/dev.csv");
  CHECK_THROWS_WITH(parse_scenario(load_scenario_json(f, {"device.file=data/bad.csv"}), f),
                    Contains("device.file:") && Contains("bad.csv line 3, column 2 (t_s)"));
  CHECK_THROWS_WITH(parse_scenario(load_scenario_json(f, {"device.file=data/none.csv"}), f),
                    Contains("device.file:") && Contains("none.csv: cannot open"));
  CHECK_THAT(parse_error(with_set(minimal(), "device.name=pcm_table")), Contains("device.file: required parameter missing"));
}

// ------------------------------------------------------------------ preflight (issue 11)

TEST_CASE(
    "scenario preflight: a policy that remaps on a device without tile remapping or a non-cyclic mapping names controller.policy",
    "[scenario][preflight]") {
  const Json doctor = with_set(minimal(), "controller.policy.name=doctor");
  CHECK(preflight_error(doctor) == "");  // MRR, cyclic: DOCTOR's own setting
  for (const char* dev : {"pcm", "pcm_optical"}) {
    INFO(dev);
    std::string e = preflight_error(with_set(doctor, std::string("device.name=") + dev));
    CHECK_THAT(e, Contains("controller.policy: policy \"doctor\"") && Contains("uses tile remapping") &&
                      Contains(std::string("device \"") + dev + "\" does not support") && Contains("tile remapping: mrr"));
    // remap off: calibration only, fine on any device
    CHECK(preflight_error(with_sets(doctor, {std::string("device.name=") + dev, "controller.policy.remap=false"})) == "");
  }
  TempDir t;
  t.write("s/dev.csv", "g_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.45,0.02\n1,1,0.9,0.03\n");
  Json table = with_set(doctor, "device={\"name\":\"pcm_table\",\"file\":\"dev.csv\"}");
  CHECK_THAT(preflight_error(table, (t.dir / "s/s.json").string()), Contains("device \"pcm_table\" does not support"));
  CHECK_THAT(preflight_error(with_set(doctor, "hw.mapping.name=stationary")), Contains("controller.policy: policy \"doctor\"") &&
                                                                                  Contains("needs the cyclic mapping") &&
                                                                                  Contains("hw.mapping.name is \"stationary\""));
  // Policies that never remap pass on PCM.
  for (const char* pol : {"none", "threshold_full", "onchip_training"}) {
    INFO(pol);
    CHECK(preflight_error(with_sets(minimal(), {"device.name=pcm", std::string("controller.policy.name=") + pol})) == "");
  }
  // Drift compensation re-estimates alpha before scheduled evaluations, or on its timer: in served
  // mode without a timer it would read its reference after programming and never act again.
  const Json gdc = with_sets(minimal(), {"device.name=pcm", "controller.policy.name=global_drift_compensation"});
  CHECK_THAT(preflight_error(gdc), Contains("controller.policy: policy \"global_drift_compensation\" (as configured) acts only "
                                            "before scheduled accuracy evaluations, and accuracy.mode is \"served\"") &&
                                       Contains("interval_s"));
  CHECK_THAT(preflight_error(with_set(gdc, "accuracy.mode=none")), Contains("accuracy.mode is \"none\""));
  CHECK(preflight_error(with_set(gdc, "controller.policy.interval_s=86400")) == "");
  CHECK(preflight_error(with_sets(gdc, {"accuracy.mode=scheduled", "accuracy.times_s=[0]"})) == "");
}

TEST_CASE("scenario preflight: policies declare the capabilities their hooks use, from their parameters",
          "[scenario][preflight]") {
  auto caps = [](const Json& policy) {
    Json j = minimal();
    j["controller"]["policy"] = policy;
    return make_policy(parse_scenario(j, "test.json"))->capabilities_needed();
  };
  using V = std::vector<std::string>;
  CHECK(caps({{"name", "none"}}) == V{});
  CHECK(caps({{"name", "doctor"}}) == V{"remap", "training_set", "weight_readback"});
  CHECK(caps({{"name", "doctor"}, {"remap", false}}) == V{"training_set", "weight_readback"});  // salience-aware calibration
  CHECK(caps({{"name", "doctor"}, {"remap", false}, {"mask", "all"}}) == V{"weight_readback"});
  CHECK(caps({{"name", "doctor"}, {"remap", false}, {"salience", "magnitude"}}) == V{"weight_readback"});
  CHECK(caps({{"name", "doctor"}, {"calibrate", false}}) == V{"remap", "training_set"});
  CHECK(caps({{"name", "onchip_training"}}) == V{"training_set", "training_split", "effective_weights"});
  CHECK(caps({{"name", "onchip_training"}, {"arithmetic", "chip"}}) == V{"training_set", "training_split", "chip_training"});
  CHECK(caps({{"name", "threshold_full"}, {"action", "calibrate"}}) == V{"weight_readback"});
  CHECK(caps({{"name", "threshold_full"}}) == V{});
  CHECK(caps({{"name", "periodic_full"}, {"action", "calibrate"}, {"interval_requests", 10}}) == V{"weight_readback"});
  CHECK(caps({{"name", "swim"}}) == V{"write_verify", "training_set", "curvature"});
  CHECK(caps({{"name", "swim"}, {"metric", "magnitude"}}) == V{"write_verify"});
  CHECK(caps({{"name", "swim"}, {"metric", "random"}}) == V{"write_verify"});
  CHECK(caps({{"name", "global_drift_compensation"}}) == V{"digital_gains", "scheduled_evaluations"});
  CHECK(caps({{"name", "global_drift_compensation"}, {"interval_s", 3600}}) == V{"digital_gains"});
  CHECK(caps({{"name", "row_remap"}}) == V{"row_remap"});
  CHECK(caps({{"name", "row_remap"}, {"interval_requests", 10}, {"threshold", 2}}) == V{"row_remap"});
}

TEST_CASE("scenario preflight: the swim policy needs a device with write-verify and a model with curvature rules",
          "[scenario][preflight]") {
  const Json swim = with_sets(minimal(), {"controller.policy.name=swim", "controller.policy.metric=magnitude"});
  CHECK(preflight_error(with_set(swim, "device.name=pcm")) == "");
  CHECK(preflight_error(with_set(swim, "device.name=swim_variation")) == "");
  CHECK(preflight_error(with_set(swim, "device.name=mrr")) == "");  // closed-loop ring re-tuning (docs/swim.md §6)
  CHECK_THAT(preflight_error(with_set(swim, "device.name=pcm_optical")),
             Contains("policy \"swim\" write-verifies weights, which device \"pcm_optical\" cannot") &&
                 Contains("devices with write-verify: mrr, pcm, swim_variation"));
  CHECK_THAT(preflight_error(with_sets(swim, {"device.name=pcm", "controller.policy.metric=swimm"})),
             Contains("controller.policy.metric") && Contains("swim_code"));
  CHECK(preflight_error(with_sets(swim, {"device.name=pcm", "controller.policy.metric=swim"})) == "");
}

TEST_CASE(
    "scenario preflight: exact on-chip training refuses a device with its own arithmetic (RNS), training on the chip's "
    "arithmetic takes it",
    "[scenario][preflight]") {
  const Json train = with_set(minimal(), "controller.policy.name=onchip_training");
  CHECK(preflight_error(train) == "");
  CHECK_THAT(preflight_error(with_set(train, "device.name=rns")),
             Contains("policy \"onchip_training\" back-propagates through the device's effective weights") &&
                 Contains("device \"rns\"") && Contains("controller.policy.arithmetic = \"chip\""));
  const Json chip = with_set(train, "controller.policy.arithmetic=chip");
  CHECK(preflight_error(chip) == "");
  CHECK(preflight_error(with_set(chip, "device.name=rns")) == "");
  CHECK_THAT(preflight_error(with_set(train, "controller.policy.arithmetic=float")), Contains("arithmetic"));
}

TEST_CASE("scenario preflight: device capabilities agree with the technologies (supports_remap)", "[scenario][preflight]") {
  TempDir t;
  t.write("s/dev.csv", "g_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.45,0.02\n1,1,0.9,0.03\n");
  for (const auto& dev : device_names()) {
    INFO(dev);
    Json j = with_set(minimal(), "device.name=" + dev);
    if (dev == "pcm_table") j["device"]["file"] = "dev.csv";
    Scenario s = parse_scenario(j, (t.dir / "s/s.json").string());
    Prepared p = preflight(s);
    std::unique_ptr<ptc::hw::Technology> tech = make_technology(s, p.wl);
    REQUIRE(tech);
    CHECK(tech->name() == dev);
    const auto& caps = device_capabilities(dev);
    CHECK(tech->supports_remap() == (std::find(caps.begin(), caps.end(), "remap") != caps.end()));
    // Exactly one weight-cell kind, and thermally coupled technologies carry the temperature trait.
    CHECK(has_tag(caps, "thermo_optic") != has_tag(caps, "nonvolatile"));
    CHECK(tech->thermally_coupled() == has_tag(caps, ptc::hw::kTemperature));
    // "write_verify" <=> Technology::verify works (here with an empty selection).
    const auto& g0 = p.wl.layers[0].gemms[0];
    const std::vector<uint8_t> none(g0.blocks.size(), 0);
    if (has_tag(caps, "write_verify"))
      CHECK_NOTHROW(tech->verify(0, 0, none, ptc::hw::VerifySpec{}, 0.0));
    else
      CHECK_THROWS_WITH(tech->verify(0, 0, none, ptc::hw::VerifySpec{}, 0.0), Contains("has no write-verify"));
  }
  CHECK_THROWS_WITH(device_capabilities("pcmm"),
                    Contains("device.name: \"pcmm\" is not one of") && Contains("did you mean \"pcm\"?"));
  // `ptcsim compile --hw` resolves its device name here: unknown names list the registered ones.
  CHECK_THROWS_WITH(find_device("mzi", "hw.device.name"),
                    Contains("hw.device.name: \"mzi\" is not one of mrr, pcm, pcm_optical, pcm_table") &&
                        Contains("load its library with --plugin"));
  CHECK(device_cell(find_device("pcm_table", "x")) == ptc::hw::WeightCell::nonvolatile);
  CHECK(device_cell(find_device("mrr", "x")) == ptc::hw::WeightCell::thermo_optic);
}

TEST_CASE("scenario preflight: Monte-Carlo accuracy instances are accepted on every built-in device", "[scenario][preflight]") {
  const Json j = with_sets(minimal(), {"accuracy.mode=scheduled", "accuracy.times_s=[0]", "accuracy.instances=2"});
  CHECK(preflight_error(with_set(j, "device.name=pcm")) == "");
  TempDir t;
  t.write("s/dev.csv", "g_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.45,0.02\n1,1,0.9,0.03\n");
  CHECK(preflight_error(with_set(j, "device={\"name\":\"pcm_table\",\"file\":\"dev.csv\"}"), (t.dir / "s/s.json").string()) ==
        "");
  CHECK(preflight_error(j) == "");                                       // MRR
  CHECK(preflight_error(with_set(j, "device.name=pcm_optical")) == "");  // as run_scenario
  for (const char* d : {"mrr", "pcm", "pcm_optical", "pcm_table"}) {
    INFO(d);
    const auto caps = device_capabilities(d);
    CHECK(std::find(caps.begin(), caps.end(), "mc_instances") != caps.end());
  }
}

TEST_CASE("scenario: Monte-Carlo instances outside scheduled evaluations are an error naming the mode", "[scenario]") {
  // Served requests run on the first chip copy, so the other copies would be built, programmed and
  // compensated for nothing.
  for (const char* mode : {"served", "none"}) {
    INFO(mode);
    CHECK_THAT(preflight_error(with_sets(minimal(), {std::string("accuracy.mode=") + mode, "accuracy.instances=3"})),
               Contains("parse: accuracy.instances: Monte-Carlo chip instances are evaluated only in mode \"scheduled\", got 3 "
                        "instances in mode \"" +
                        std::string(mode) + "\""));
    CHECK(preflight_error(with_sets(minimal(), {std::string("accuracy.mode=") + mode, "accuracy.instances=1"})) == "");
  }
}

TEST_CASE(
    "scenario preflight: scheduled evaluation instants after the end of the simulated time name the path, the instant and the "
    "end",
    "[scenario][preflight]") {
  const Json sched =
      with_sets(minimal(), {"accuracy.mode=scheduled", "traffic={\"name\":\"poisson\",\"rate_hz\":1}", "horizon_s=100"});
  CHECK(preflight_error(with_set(sched, "accuracy.times_s=[0,50,100]")) == "");  // the horizon itself is evaluated
  CHECK_THAT(preflight_error(with_set(sched, "accuracy.times_s=[0,150,200]")),
             Contains("accuracy.times_s: evaluation instant 200 s is after horizon_s 100 s") && Contains("2 of 3 instants"));
  CHECK_THAT(preflight_error(with_set(sched, "accuracy.log_spaced={\"start_s\":1,\"stop_s\":1000,\"points\":4}")),
             Contains("accuracy.log_spaced.stop_s: evaluation instant 1000 s is after horizon_s 100 s"));
  // log_spaced ends exactly at stop_s (11 * (100 / 11) is 100.00000000000001 in doubles)
  const std::string ls = "accuracy.log_spaced={\"start_s\":11,\"stop_s\":100,\"points\":7}";
  CHECK(parse_scenario(with_set(sched, ls), "test.json").accuracy.times_s.back() == 100.0);
  CHECK(preflight_error(with_set(sched, ls)) == "");
  // The grid's own points on one nanosecond would be merged into fewer evaluations than asked for:
  // 1 s to 1 s + 0.1 ns in 3 points are all on the nanosecond of 1 s.
  CHECK_THAT(
      parse_error(with_set(sched, "accuracy.log_spaced={\"start_s\":1,\"stop_s\":1.0000000001,\"points\":3}")),
      Contains("accuracy.log_spaced.points: 3 points from 1 s to ") && Contains(" s put points 0 and 1 on one nanosecond"));
  // 10 points over a decade from 1 ns: 1, 1.29, 1.67 ns round to 1, 1, 2 ns; 4 points over
  // 1 .. 1000 ns are 1, 10, 100, 1000 ns (distinct).
  CHECK_THAT(parse_error(with_set(sched, "accuracy.log_spaced={\"start_s\":1e-9,\"stop_s\":1e-8,\"points\":10}")),
             Contains("put points 0 and 1 on one nanosecond"));
  CHECK(parse_error(with_set(sched, "accuracy.log_spaced={\"start_s\":1e-9,\"stop_s\":1e-6,\"points\":4}")) == "");
  // Served mode has no instants: with none it passes; instants given there would never be
  // evaluated, so they are an error naming the mode (not an instant after the horizon).
  CHECK(preflight_error(with_sets(sched, {"accuracy.mode=served", "accuracy.times_s=[]"})) == "");
  // An evaluation batch in a mode without evaluations would change nothing: refused away from the
  // defaults (1,000 images from image 0), accepted at them.
  CHECK(preflight_error(with_sets(
            sched, {"accuracy.mode=served", "accuracy.times_s=[]", "accuracy.images=1000", "accuracy.first_image=0"})) == "");
  CHECK_THAT(preflight_error(with_sets(sched, {"accuracy.mode=served", "accuracy.times_s=[]", "accuracy.images=7"})),
             Contains("parse: accuracy.images: 7 sets the evaluation batch, which only mode \"scheduled\" evaluates, and the "
                      "mode is \"served\" (served requests classify their own images)"));
  CHECK_THAT(preflight_error(with_sets(sched, {"accuracy.mode=none", "accuracy.times_s=[]", "accuracy.first_image=500"})),
             Contains("parse: accuracy.first_image: 500 sets the evaluation batch") && Contains("the mode is \"none\";"));
  CHECK_THAT(
      preflight_error(with_sets(sched, {"accuracy.mode=served", "accuracy.times_s=[1000]"})),
      Contains("accuracy.times_s: instants are evaluated only in accuracy.mode \"scheduled\", and the mode is \"served\""));
  CHECK_THAT(
      preflight_error(with_sets(sched, {"accuracy.mode=none", ls})),
      Contains("accuracy.log_spaced: instants are evaluated only in accuracy.mode \"scheduled\", and the mode is \"none\""));

  // horizon_s 0 (back_to_back until the traffic ends): the end is known only as a lower bound.
  const Json b2b = with_sets(minimal(), {"accuracy.mode=scheduled", "traffic.requests=1000"});
  CHECK(preflight_error(with_set(b2b, "accuracy.times_s=[0]")) == "");
  CHECK_THAT(
      preflight_error(with_set(b2b, "accuracy.times_s=[0,3600]")),
      Contains("accuracy.times_s: evaluation instant 3600 s is after the end of the traffic (horizon_s 0: 1000 requests x") &&
          Contains("set horizon_s"));
  CHECK(preflight_error(with_sets(b2b, {"accuracy.times_s=[0,3600]", "horizon_s=3600"})) == "");
}

TEST_CASE("scenario preflight: horizon, model, dataset and compile errors name their path", "[scenario][preflight]") {
  CHECK_THAT(preflight_error(with_set(minimal(), "horizon_s=1e11")),
             Contains("horizon_s: expected number in [0,9223372036]"));  // 2^63 ns, sim/sim_time.h
  CHECK_THAT(preflight_error(with_set(minimal(), "dataset.dir=\"/nonexistent\"")),
             Contains("dataset.dir: ") && Contains("dataset-fashion-mnist"));
  CHECK_THAT(preflight_error(with_sets(minimal(), {"hw.mapping.name=stationary", "hw.cores.rows=2", "hw.cores.cols=2"})),
             Contains("hw.mapping.name: stationary mapping needs"));
  CHECK_THAT(
      preflight_error(with_sets(minimal(), {"accuracy.mode=scheduled", "accuracy.times_s=[0]", "accuracy.first_image=10000"})),
      Contains("accuracy.first_image: expected an image of the test split (< 10000), got 10000"));
  CHECK_THAT(
      preflight_error(with_sets(minimal(), {"noise=[{\"name\":\"doctor_phase_variation\"}]", "hw.mapping.name=stationary"})),
      Contains("hw.mapping.name: noise process doctor_phase_variation") && Contains("cyclic"));

  TempDir t;
  // A model file that is not ONNX, and models without weight layers or with another input shape
  // (ONNX's Relu test case with a preprocessing sidecar).
  std::string junk = t.write("junk.onnx", "not a model");
  CHECK_THAT(preflight_error(Json{{"model", junk}}), Contains("model: ") && Contains("junk.onnx"));
  const std::string relu = "/usr/share/libonnx-testdata/data/node/test_relu/model.onnx";
  if (fs::exists(relu)) {
    fs::copy_file(relu, t.dir / "relu.onnx");
    std::string m = (t.dir / "relu.onnx").string();
    CHECK_THAT(preflight_error(Json{{"model", m}}), Contains("model: ") && Contains("no input preprocessing found"));
    t.write("relu.json", R"({"preprocess": {"input_shape": [1, 28, 28]}})");
    // (A model with no weight layer that is a classifier: tests/robustness/onnx.cases scen_no_weights.)
    CHECK_THAT(preflight_error(Json{{"model", m}}),
               Contains("model: " + m + ": input 'x' is [3,4,5], expected [?,1,28,28] (the preprocessing's input_shape"));
    t.write("relu.json", R"({"preprocess": {"input_shape": [3, 4, 5]}})");
    CHECK_THAT(preflight_error(Json{{"model", m}}),
               Contains("the model expects inputs [3,4,5]") && Contains("fashion-mnist/test"));
    t.write("relu.json", R"({"preprocess": {"input_shape": [1, 28, 28], "dataset": "cifar10"}})");
    CHECK_THAT(preflight_error(Json{{"model", m}}), Contains("preprocessing names dataset \"cifar10\""));
  }
}

TEST_CASE("scenario preflight: policies that use the training set need its split in dataset.dir", "[scenario][preflight]") {
  TempDir t;
  for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::create_symlink(fs::path(ptc::models::kFashionMnistDir) / f, t.dir / f);
  const Json j = with_set(minimal(), "dataset.dir=\"" + t.dir.string() + "\"");
  CHECK(preflight_error(j) == "");  // the test split is enough without a policy that trains
  CHECK(preflight_error(with_set(j, "controller.policy={\"name\":\"doctor\",\"remap\":false,\"mask\":\"all\"}")) == "");
  CHECK_THAT(preflight_error(with_set(j, "controller.policy.name=doctor")),
             Contains("dataset.dir: policy \"doctor\" (as configured) needs the training split: ") && Contains("train-images"));
  CHECK_THAT(preflight_error(with_set(j, "controller.policy.name=onchip_training")),
             Contains("dataset.dir: policy \"onchip_training\" (as configured) needs the training split"));
}

// ------------------------------------------------------------------ traffic sources (sim/traffic)
namespace {
// The traffic source of scenario `j` (file relative to the temp dir), bound to a 10,000-image test set.
std::unique_ptr<TrafficSource> traffic_of(Json j, const TempDir& d) {
  Scenario s = parse_scenario(j, (d.dir / "scenario.json").string());
  return make_traffic(s, 10000);
}
std::string traffic_error(const Json& j, const TempDir& d) {
  try {
    traffic_of(j, d);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("traffic trace: replays recorded arrivals one by one or in windows, with their images", "[traffic]") {
  TempDir d;
  d.write("arrivals.csv", "# recorded\nt_s,image\n0.5,7\n0.75,8\n\n2.25,9\n2.5,9999\n");
  Json j = with_set(with_set(minimal(), "horizon_s=10"), "traffic={\"name\":\"trace\",\"file\":\"arrivals.csv\"}");
  auto src = traffic_of(j, d);
  Arrivals a;
  std::vector<double> ready;
  while (src->next(0.0, a)) {
    REQUIRE(a.n == 1);
    REQUIRE(a.arrival_s.size() == 1);
    CHECK(a.ready_s == a.arrival_s[0]);  // served at its arrival
    ready.push_back(a.ready_s);
    CHECK(a.images.size() == 1);
  }
  CHECK(ready == std::vector<double>{0.5, 0.75, 2.25, 2.5});
  CHECK(src->total_requests() == -1);

  // Windows of 1 s: [0,1) holds 2 requests ready at 1, [2,3) holds 2 ready at 3; images kept.
  j["traffic"]["batch_s"] = 1.0;
  src = traffic_of(j, d);
  REQUIRE(src->next(0.0, a));
  CHECK(a.n == 2);
  CHECK(a.ready_s == 1.0);
  CHECK(a.images == std::vector<int64_t>{7, 8});
  CHECK(a.arrival_s == std::vector<double>{0.5, 0.75});
  REQUIRE(src->next(0.0, a));
  CHECK(a.n == 2);
  CHECK(a.ready_s == 3.0);
  CHECK(a.images == std::vector<int64_t>{9, 9999});
  CHECK_FALSE(src->next(0.0, a));

  // The horizon cuts the replay: arrivals at or after it are not served.
  j["horizon_s"] = 2.25;
  j["traffic"]["batch_s"] = 0.0;
  src = traffic_of(j, d);
  int n = 0;
  while (src->next(0.0, a)) ++n;
  CHECK(n == 2);
}

TEST_CASE("traffic trace: each malformed file is one error naming the file, line and rule", "[traffic]") {
  TempDir d;
  Json j = with_set(with_set(minimal(), "horizon_s=10"), "traffic={\"name\":\"trace\",\"file\":\"t.csv\"}");
  d.write("t.csv", "t_s\n1\n0.5\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:3: t_s: arrival times must not decrease"));
  d.write("t.csv", "time\n1\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:1: expected the header"));
  d.write("t.csv", "t_s,image\n1,10000\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: image: expected an integer in [0, 10000)"));
  d.write("t.csv", "t_s\n1,2\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: expected 1 column"));
  d.write("t.csv", "t_s\nnan\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: t_s: expected a finite decimal number >= 0"));
  // Each of these was accepted: a trailing comma (an empty second field), a third field after an
  // image, hexadecimal (strtod's 0x10 = 16 s), a NUL byte (reported as decreasing times), and a
  // line without a break over 4 KiB (a damaged file: read as one line, and a read that failed for
  // want of memory ended the trace early without a word).
  d.write("t.csv", "t_s\n1,\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: expected 1 column (t_s), got 2"));
  d.write("t.csv", "t_s,image\n1,2,\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: expected 2 columns (t_s,image), got 3"));
  d.write("t.csv", "t_s\n0x10\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: t_s: expected a finite decimal number >= 0, got \"0x10\""));
  d.write("t.csv", std::string("t_s\n1\n2\0\n", 9));
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:3: a NUL byte"));
  d.write("t.csv", "t_s\n1\n" + std::string(5000, '1') + "\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:3: a line longer than 4096 bytes"));
  // 4096 bytes is the line without its CR (a CRLF file's line of 4096 bytes passes).
  d.write("t.csv", "t_s\r\n" + std::string(4095, ' ') + "1\r\n");
  CHECK(traffic_error(j, d) == "");
  d.write("t.csv", "t_s\r\n" + std::string(4096, ' ') + "1\r\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv:2: a line longer than 4096 bytes"));
  // Blanks around a field are ignored in both columns; a last line without a break is read.
  d.write("t.csv", "t_s,image\n 1 ,\t2 \n3,4");
  CHECK(traffic_error(j, d) == "");
  {
    auto src = traffic_of(j, d);
    Arrivals a;
    REQUIRE(src->next(0.0, a));
    CHECK(a.images == std::vector<int64_t>{2});
    REQUIRE(src->next(0.0, a));
    CHECK(a.arrival_s == std::vector<double>{3.0});
    CHECK(a.images == std::vector<int64_t>{4});
  }
  // Windows below the kernel's 1 ns, as for the Poisson sources.
  d.write("t.csv", "t_s\n1\n");
  j["traffic"]["batch_s"] = 1e-10;
  CHECK_THAT(traffic_error(j, d), Catch::Contains("traffic.batch_s: 1e-10 s is below the kernel's time resolution"));
  j["traffic"].erase("batch_s");
  d.write("t.csv", "# nothing\n");
  CHECK_THAT(traffic_error(j, d), Catch::Contains("t.csv: traffic.file: empty"));
  j["traffic"]["file"] = "missing.csv";
  CHECK_THAT(traffic_error(j, d), Catch::Contains("missing.csv: traffic.file: not a readable regular file"));
  j["traffic"].erase("file");
  CHECK_THAT(parse_error(j), Catch::Contains("traffic.file"));
}

TEST_CASE("traffic poisson: window counts have the Poisson mean and variance, windows are ready at their end", "[traffic]") {
  TempDir d;
  for (double lam : {3.0, 150.0}) {  // inversion below 64, normal approximation above
    Json j = with_set(with_set(minimal(), "horizon_s=20000"), "traffic={\"name\":\"poisson\",\"batch_s\":1}");
    j["traffic"]["rate_hz"] = lam;
    auto src = traffic_of(j, d);
    Arrivals a;
    double sum = 0, sum2 = 0, windows = 20000;
    int64_t nonempty = 0;
    while (src->next(0.0, a)) {
      CHECK(a.ready_s == a.window_hi_s);
      CHECK(a.window_hi_s - a.window_lo_s == 1.0);
      sum += static_cast<double>(a.n), sum2 += static_cast<double>(a.n) * static_cast<double>(a.n);
      ++nonempty;
    }
    const double mean = sum / windows, var = sum2 / windows - mean * mean;
    // Poisson: mean = variance = lambda; 5 standard errors of the sample mean / variance.
    CHECK(std::abs(mean - lam) < 5 * std::sqrt(lam / windows));
    CHECK(std::abs(var - lam) < 5 * lam * std::sqrt(2.0 / windows) + 0.02 * lam);
    if (lam == 3.0) CHECK(std::abs(static_cast<double>(nonempty) / windows - (1 - std::exp(-3.0))) < 0.01);
  }
}

TEST_CASE("traffic daily_profile: a window across hours holds the rate integrated over it", "[traffic]") {
  // Odd hours 0.02/s, even hours none; windows of 1.5 h (16 a day) over 30 days. Window position p
  // covers [1.5 p, 1.5 p + 1.5) h: its expected count is the odd hours' share x 0.02 x 3600 (the
  // rate at the window's middle, used before, gave 0 for position 0 and 108 for position 1).
  TempDir d;
  Json j = with_set(minimal(), "horizon_s=2592000");
  Json rates = Json::array();
  for (int h = 0; h < 24; ++h) rates.push_back(h % 2 ? 0.02 : 0.0);
  j["traffic"] = {{"name", "daily_profile"}, {"batch_s", 5400.0}, {"hourly_rate_hz", rates}};
  auto src = traffic_of(j, d);
  Arrivals a;
  std::vector<double> count(16, 0.0);
  while (src->next(0.0, a)) {
    CHECK(a.window_hi_s - a.window_lo_s == 5400.0);
    count[static_cast<size_t>(std::llround(std::fmod(a.window_lo_s, 86400.0) / 5400.0)) % 16] += static_cast<double>(a.n);
  }
  for (int p = 0; p < 16; ++p) {
    double odd_s = 0;  // seconds of the window in odd hours
    for (double t = p * 5400.0; t < (p + 1) * 5400.0; t += 900.0) odd_s += static_cast<int>(t / 3600.0) % 2 ? 900.0 : 0.0;
    const double want = 30 * 0.02 * odd_s;  // 30 days
    INFO("window position " << p << ": " << count[static_cast<size_t>(p)] << " requests, expected " << want);
    CHECK(std::abs(count[static_cast<size_t>(p)] - want) <= 5 * std::sqrt(std::max(want, 1.0)));
  }
  // A profile of zeros: no request would ever arrive (validate accepted it, and the run served
  // nothing and reported no accuracy; poisson's rate_hz must be > 0 as well).
  j["traffic"]["hourly_rate_hz"] = Json::array();
  for (int h = 0; h < 24; ++h) j["traffic"]["hourly_rate_hz"].push_back(0.0);
  CHECK_THAT(traffic_error(j, d), Catch::Contains("traffic.hourly_rate_hz: every hour's rate is 0"));
}

TEST_CASE("traffic back_to_back: exactly `requests` single-request batches, each ready when the previous completes",
          "[traffic]") {
  TempDir d;
  Json j = with_set(minimal(), "traffic={\"name\":\"back_to_back\",\"requests\":5}");
  auto src = traffic_of(j, d);
  Arrivals a;
  int n = 0;
  double done = 0;
  while (src->next(done, a)) {
    CHECK(a.n == 1);
    CHECK(a.ready_s == done);
    done += 0.25;
    ++n;
  }
  CHECK(n == 5);
  CHECK(src->total_requests() == 5);
}

// ------------------------------------------------------------------ fleet dispatchers (docs/fleet.md)
namespace {
std::vector<int> dispatch(const std::string& name, const Arrivals& a, const std::vector<ChipState>& chips) {
  const auto& e = DispatcherRegistry::get().find(name, "dispatcher.name", "dispatcher");
  Params p(Json::object(), "dispatcher", e.params);
  std::vector<int> out;
  e.make(p)->assign(a, chips, out);
  return out;
}
}  // namespace

TEST_CASE("Dispatchers - round_robin continues its rotation across batches", "[scenario][fleet]") {
  std::vector<ChipState> chips(3, ChipState{0, 0, 1e-3, false});
  const auto& e = DispatcherRegistry::get().find("round_robin", "dispatcher.name", "dispatcher");
  Params p(Json::object(), "dispatcher", e.params);
  auto d = e.make(p);
  Arrivals a;
  a.n = 4;
  std::vector<int> out;
  d->assign(a, chips, out);
  CHECK(out == std::vector<int>{0, 1, 2, 0});
  a.n = 2;
  d->assign(a, chips, out);
  CHECK(out == std::vector<int>{1, 2});  // requests 4 and 5 of the run
}

TEST_CASE("Dispatchers - least_loaded fills the chip that completes each request first", "[scenario][fleet]") {
  // Service 1 s. Chip 0 booked until 3 s, chip 1 until 1 s with 1 queued request (its queue
  // ends at 2 s), chip 2 idle. Five requests ready at 0, projected completions (hand-computed): 1
  // on chip 2; 2 on chip 2 (chip 1: 3); 3 on chip 1 (tie with chip 2, lower index); 3 on chip 2;
  // then 4 on every chip, tie -> chip 0. The dispatcher reads the queue's end (queued_done_s).
  std::vector<ChipState> chips = {{3.0, 0, 1.0, false, 3.0}, {1.0, 1, 1.0, false, 2.0}, {0.0, 0, 1.0, false, 0.0}};
  Arrivals a;
  a.n = 5;
  a.ready_s = 0;
  CHECK(dispatch("least_loaded", a, chips) == std::vector<int>{2, 2, 1, 2, 0});
  // drain_for_calibration skips a draining chip (chip 2) and falls back to all when every chip drains.
  chips[2].draining = true;
  CHECK(dispatch("drain_for_calibration", a, chips) == std::vector<int>{1, 0, 1, 0, 1});
  for (auto& c : chips) c.draining = true;
  CHECK(dispatch("drain_for_calibration", a, chips) == std::vector<int>{2, 2, 1, 2, 0});
  // Exact arrival times: a request arriving late goes where it completes first from its arrival.
  a.n = 2;
  a.arrival_s = {0.0, 10.0};
  for (auto& c : chips) c.draining = false;
  CHECK(dispatch("least_loaded", a, chips) == std::vector<int>{2, 0});
}

TEST_CASE("device pcm: aihwkit's noise-law coefficients given by name reach the device (closed forms)", "[scenario][pcm]") {
  // Realised weights of every layer against the closed forms of docs/devices.md §2 with the laws
  // replaced: u = g_T / g_max of the positive device, the negative one at 0 (SinglePair).
  auto realise = [](const std::vector<std::string>& sets, double t_s, std::vector<float>& u, std::vector<float>& wn) {
    Json j = with_sets(minimal(), sets);
    Scenario s = parse_scenario(j, "test.json");
    Prepared p = preflight(s);
    std::unique_ptr<ptc::hw::Technology> tech = make_technology(s, p.wl);
    tech->set_times(0, {ptc::hw::NoiseTime{0, t_s}});
    const size_t kk = static_cast<size_t>(p.wl.spec.block_size * p.wl.spec.block_size);
    u.clear();
    wn.clear();
    for (size_t l = 0; l < p.wl.layers.size(); ++l)
      for (size_t g = 0; g < p.wl.layers[l].gemms.size(); ++g) {
        const auto& t = p.wl.layers[l].gemms[g];
        std::vector<float> scale(static_cast<size_t>(t.P * t.Q)), w(t.blocks.size());
        tech->realize(static_cast<int64_t>(l), static_cast<int64_t>(g), 0, w.data(), scale.data());
        for (size_t j = 0; j < t.blocks.size(); ++j) {
          u.push_back(scale[j / kk] > 0 ? t.blocks[j] / scale[j / kk] : 0);
          wn.push_back(w[j]);
        }
      }
  };
  std::vector<float> u, wn;
  // Drift exponent clamped to 0.07 for every device, no noise: wn = u ((t + t0) / t0)^-0.07 exactly.
  realise({"device.name=pcm", "device.programming_noise=false", "device.read_noise=false", "device.nu_mu_min=0.07",
           "device.nu_mu_max=0.07", "device.nu_sigma_min=0", "device.nu_sigma_max=0"},
          1e6, u, wn);
  const double f = std::pow((1e6 + 20) / 20, -0.07);
  int64_t n = 0;
  for (size_t j = 0; j < u.size(); ++j)
    if (u[j] != 0) {
      CHECK(wn[j] == Approx(u[j] * f).epsilon(1e-5));
      ++n;
    }
  REQUIRE(n > 100);
  // Relative spread of the positive device, measured over every weight with u > 0.2.
  auto rel_sd = [&]() {
    double s1 = 0, s2 = 0, m = 0;
    for (size_t j = 0; j < u.size(); ++j)
      if (u[j] > 0.2) {
        const double r = wn[j] / u[j] - 1;
        s1 += r, s2 += r * r, ++m;
      }
    REQUIRE(m > 50);
    return std::make_pair(std::sqrt(s2 / m - (s1 / m) * (s1 / m)), m);
  };
  // Programming noise sigma_prog = c1 u (25 uS scale): relative spread c1 / 25; the off device stays 0.
  realise({"device.name=pcm", "device.drift=false", "device.read_noise=false", "device.prog_c0=0", "device.prog_c1=0.8",
           "device.prog_c2=0"},
          0, u, wn);
  auto [sd, m] = rel_sd();
  CHECK(std::abs(sd / (0.8 / 25) - 1) < 5 * std::sqrt(0.5 / m));
  // The same coefficients fitted at g_max = 50 uS on a 50 uS device (aihwkit with prog_coeff of
  // one's own: reference = g_max): sigma_prog = c1 u uS at g = 50 u, relative spread c1 / 50.
  realise({"device.name=pcm", "device.drift=false", "device.read_noise=false", "device.prog_c0=0", "device.prog_c1=0.8",
           "device.prog_c2=0", "device.g_max_us=50", "device.prog_g_max_reference_us=50"},
          0, u, wn);
  std::tie(sd, m) = rel_sd();
  CHECK(std::abs(sd / (0.8 / 50) - 1) < 5 * std::sqrt(0.5 / m));
  // 1/f read noise with Q_s = c (exponent 0) and t_read: relative spread c sqrt(ln((t + t0 + t_read) / (2 t_read))).
  realise({"device.name=pcm", "device.drift=false", "device.programming_noise=false", "device.read_q_c=0.05",
           "device.read_q_exp=0", "device.t_read_s=1e-6"},
          3600, u, wn);
  std::tie(sd, m) = rel_sd();
  const double expect = 0.05 * std::sqrt(std::log((3600 + 20 + 1e-6) / 2e-6));
  CHECK(std::abs(sd / expect - 1) < 5 * std::sqrt(0.5 / m));
  // Inverted clamps are one error naming the key.
  CHECK_THAT(preflight_error(with_sets(minimal(), {"device.name=pcm", "device.nu_mu_min=0.2"})), Contains("device.nu_mu_min"));
}

TEST_CASE("scenario: the streaming mapping, its order and the cell endurance are checked with their paths",
          "[scenario][streaming]") {
  const Json opt = with_sets(minimal(), {"device.name=pcm_optical", "hw.mapping.name=streaming"});
  CHECK(preflight_error(opt) == "");
  CHECK(preflight_error(
            with_sets(opt, {"hw.mapping.order=greedy", "device.endurance_steps=1e6", "device.endurance_sigma=0.3"})) == "");
  // A device without levels, a policy that re-programs, an order without streaming, endurance
  // without streaming, a spread without a budget, an unknown order.
  CHECK_THAT(preflight_error(with_set(minimal(), "hw.mapping.name=streaming")),
             Contains("hw.mapping.name: the streaming mapping") && Contains("pcm_optical") && Contains("\"mrr\""));
  CHECK_THAT(preflight_error(with_set(opt, "controller.policy.name=global_drift_compensation")),
             Contains("controller.policy.name: the streaming mapping") && Contains("\"none\""));
  CHECK_THAT(preflight_error(with_sets(minimal(), {"device.name=pcm_optical", "hw.mapping.order=greedy"})),
             Contains("hw.mapping.order: order \"greedy\" needs mapping \"streaming\", got \"cyclic\""));
  CHECK_THAT(preflight_error(with_sets(minimal(), {"device.name=pcm_optical", "device.endurance_steps=1e6"})),
             Contains("device.endurance_steps: cell endurance is modelled for the streaming mapping only"));
  // Transmission drift with streaming did nothing (the block is re-written before each read).
  CHECK_THAT(preflight_error(with_set(opt, "device.nu_opt=0.05")),
             Contains("device.nu_opt: transmission drift needs a weight-stationary mapping"));
  CHECK(preflight_error(with_sets(minimal(), {"device.name=pcm_optical", "device.nu_opt=0.05"})) == "");
  CHECK_THAT(preflight_error(with_set(opt, "device.endurance_sigma=0.5")),
             Contains("device.endurance_sigma: a spread needs device.endurance_steps > 0"));
  CHECK_THAT(preflight_error(with_set(opt, "hw.mapping.order=sorted")), Contains("hw.mapping.order") && Contains("sort_mean"));
  // Unused streaming keys stay out of other scenarios' resolved configuration.
  const Scenario plain = parse_scenario(with_set(minimal(), "device.name=pcm_optical"), "t.json");
  CHECK_FALSE(plain.resolved["hw"]["mapping"].contains("order"));
  CHECK_FALSE(plain.resolved["device"].contains("endurance_steps"));
  CHECK(parse_scenario(opt, "t.json").resolved["hw"]["mapping"]["order"] == "native");
  // Row-based remapping (docs/elight.md §6): spare rows need an endurance and the row_remap policy,
  // the policy needs streaming with an endurance; at 0 spare_rows stays out of the resolved config.
  const Json worn = with_set(opt, "device.endurance_steps=1e6");
  CHECK(preflight_error(with_sets(worn, {"device.spare_rows=4", "controller.policy.name=row_remap"})) == "");
  CHECK(preflight_error(with_set(worn, "controller.policy.name=row_remap")) == "");  // no spares: reports unrepaired rows
  CHECK_THAT(preflight_error(with_set(opt, "device.spare_rows=4")),
             Contains("device.spare_rows: spare rows replace worn rows and need device.endurance_steps > 0"));
  CHECK_THAT(
      preflight_error(with_set(worn, "device.spare_rows=4")),
      Contains("device.spare_rows: 4 spare rows per core are used only by a row-remapping policy") && Contains("\"none\""));
  CHECK_THAT(preflight_error(with_set(opt, "controller.policy.name=row_remap")),
             Contains("controller.policy: policy \"row_remap\" remaps worn rows") && Contains("device.endurance_steps > 0"));
  CHECK_THAT(preflight_error(with_sets(minimal(), {"device.name=pcm", "controller.policy.name=row_remap"})),
             Contains("needs the streaming mapping") && Contains("is \"cyclic\""));
  CHECK_THAT(preflight_error(with_sets(worn, {"controller.policy.name=row_remap", "controller.policy.interval_s=0"})),
             Contains("interval_s or interval_requests must be > 0"));
  CHECK_THAT(preflight_error(with_sets(worn, {"controller.policy.name=row_remap", "controller.policy.threshold=9"})),
             Contains("controller.policy.threshold: 9 worn cells per row can never be reached by a row of 8 cells"));
  CHECK_FALSE(parse_scenario(with_set(worn, "device.spare_rows=0"), "t.json").resolved["device"].contains("spare_rows"));
  CHECK(parse_scenario(with_sets(worn, {"device.spare_rows=3", "controller.policy.name=row_remap"}), "t.json")
            .resolved["device"]["spare_rows"] == 3);
}

TEST_CASE("scenario: which layers meet the array (hw.mapping.batchnorm, digital_layers) is checked with its paths",
          "[scenario][layers]") {
  // Defaults leave the resolved configuration (and so the run directory's hash) as it was.
  const Scenario plain = parse_scenario(minimal(), "t.json");
  CHECK(plain.tiling.batchnorm == "fold");
  CHECK(plain.tiling.digital_layers.empty());
  CHECK_FALSE(plain.resolved["hw"]["mapping"].contains("batchnorm"));
  CHECK_FALSE(plain.resolved["hw"]["mapping"].contains("digital_layers"));
  const Json both = with_sets(minimal(), {"hw.mapping.batchnorm=digital", "hw.mapping.digital_layers=[\"last\"]"});
  const Scenario s = parse_scenario(both, "t.json");
  CHECK(s.tiling.batchnorm == "digital");
  CHECK(s.tiling.digital_layers == std::vector<std::string>{"last"});
  CHECK(s.resolved["hw"]["mapping"]["batchnorm"] == "digital");
  CHECK(s.resolved["hw"]["mapping"]["digital_layers"] == Json::array({"last"}));
  CHECK(joined(schema_errors(s.resolved)) == "");
  CHECK(preflight_error(with_set(minimal(), "hw.mapping.digital_layers=[\"last\"]")) == "");
  // LeNet-5 has no BatchNorm (and the zoo's BatchNorms were folded at export): "digital" is refused.
  CHECK_THAT(preflight_error(both, "my.json"),
             Contains("my.json: hw.mapping.batchnorm: \"digital\" keeps BatchNormalization nodes") && Contains("has none"));
  // Names are checked against the model's weight layers, with the JSON path and the file.
  CHECK_THAT(
      preflight_error(with_set(minimal(), "hw.mapping.digital_layers=[\"first\",\"fc9\"]"), "my.json"),
      Contains("my.json: hw.mapping.digital_layers[1]: \"fc9\" is not a weight layer of model ") && Contains("(weight layers: "));
  CHECK_THAT(joined(schema_errors(with_set(minimal(), "hw.mapping.digital_layers=[1]"))),
             Contains("hw.mapping.digital_layers[0]: expected a string"));
  CHECK_THAT(preflight_error(with_set(minimal(), "hw.mapping.digital_layers=\"first\"")),
             Contains("hw.mapping.digital_layers: expected an array of strings"));
  CHECK_THAT(joined(schema_errors(with_set(minimal(), "hw.mapping.batchnorm=keep"))),
             Contains("hw.mapping.batchnorm: \"keep\" is not one of fold, digital"));
}
