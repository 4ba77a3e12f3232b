// Scenario files: declared parameters, the generated JSON Schema, validation messages, fragments
// and --set. Links ptc_sim + ptc_policies (the policy registry), hence SystemC: its own binary,
// sc_main runs Catch; no test starts the SystemC kernel.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <systemc>
#include <unistd.h>

#include "models/error.h"
#include "sim/scenario.h"

int sc_main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }

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

Json minimal() { return Json{{"model", kModel}}; }

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

TEST_CASE("every shipped scenario validates (schema, semantics, horizon) and its resolved form does too", "[scenario]") {
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
  cases.push_back(with_set(minimal(), "accuracy.log_spaced={\"start_s\": 1, \"stop_s\": 10, \"points\": 3}"));
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
  CHECK_THROWS_WITH(p.num("c"), Contains("\"c\"") && Contains("not declared"));
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
    for (const char* builtin : {"doctor", "none", "periodic_full", "threshold_full", "onchip_training", "global_drift_compensation"})
      CHECK_THAT(m, Contains(builtin));
  }
  // a typo'd key inside a plug-in (the policy's own parameters)
  Json pk = with_set(with_set(minimal(), "controller.policy.name=doctor"), "controller.policy.sparsty=0.1");
  CHECK_THAT(parse_error(pk), Contains("controller.policy.sparsty: unknown key") && Contains("did you mean \"sparsity\""));
  CHECK_THAT(joined(schema_errors(pk)), Contains("controller.policy.sparsty: unknown key") && Contains("did you mean \"sparsity\""));
}

TEST_CASE("out-of-range and ill-typed values name the path and the rule, in the schema and the parse alike", "[scenario]") {
  struct Case {
    std::string set, message;
  };
  std::vector<Case> cases = {
      {"hw.cores.rows=0", "hw.cores.rows: expected integer in [1,1024], got 0"},
      {"hw.adc.bits=25", "hw.adc.bits: expected integer in [0,24], got 25"},
      {"controller.policy={\"name\": \"doctor\", \"sparsity\": 2}", "controller.policy.sparsity: expected number in [1e-06,1], got 2"},
      {"monitor.t_thres_k=-1", "monitor.t_thres_k: expected number in [0,1e+06], got -1"},
      {"noise=[{\"name\": \"thermal_crosstalk\", \"kappa_per_um\": 101}]", "noise[0].kappa_per_um: expected number in [0,100], got 101"},
      {"accuracy.times_s=[1,-2]", "accuracy.times_s[1]: expected number in [0,1e+15], got -2"},
  };
  for (const auto& c : cases) {
    Json j = with_set(minimal(), c.set);
    INFO(c.set);
    CHECK_THAT(parse_error(j), Contains(c.message));
    CHECK(schema_errors(j) == std::vector<std::string>{c.message});
  }
  // a choice
  Json j = with_set(minimal(), "time.step=second");
  CHECK_THAT(parse_error(j), Contains("time.step: \"second\" is not one of inference, seconds") && Contains("did you mean \"seconds\""));
  CHECK_THAT(joined(schema_errors(j)), Contains("time.step: \"second\" is not one of inference, seconds") && Contains("did you mean \"seconds\""));
  // missing required: model
  CHECK(schema_errors(Json::object()) == std::vector<std::string>{"model: required parameter missing (ONNX model, relative to the scenario file)"});
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
  CHECK(d.monitor.interval_requests == 100);  // file over default (200)
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
  std::string f = t.write("scen/s.json", Json{{"model", kModel},
                                              {"hw", "../frag/hw.json"},
                                              {"noise", {"../frag/noise_pair.json", "../frag/one_noise.json"}}}
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
  CHECK_THROWS_WITH(load_scenario_json(missing, {}), Contains("monitor: fragment file") && Contains("nope.json") && Contains("not found"));
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
  CHECK(s.device.device == "pcm_table");
  CHECK(s.energy.device == "pcm");  // priced as non-volatile cells
  CHECK(s.device.pcm_table.persistent_fraction == 0.25);
  CHECK(s.device.pcm_table.table.measured_levels() == std::vector<double>{0.5, 1.0});
  CHECK(s.resolved["device"]["file"] == "data/dev.csv");
  CHECK_THROWS_WITH(parse_scenario(load_scenario_json(f, {"device.file=data/bad.csv"}), f),
                    Contains("device.file:") && Contains("bad.csv line 3, column 2 (t_s)"));
  CHECK_THROWS_WITH(parse_scenario(load_scenario_json(f, {"device.file=data/none.csv"}), f),
                    Contains("device.file:") && Contains("none.csv: cannot open"));
  CHECK_THAT(parse_error(with_set(minimal(), "device.name=pcm_table")), Contains("device.file: required parameter missing"));
}
