// Sweeps (sim/sweep/): Student t quantiles and the statistics over seeds against published table
// values and hand computations; spec expansion (order, stable ids, validation of every entry with
// one message naming the spec, the entry and the path); the Slurm array range and script.
// sc_main runs Catch; no test starts the SystemC kernel (the expansion only parses scenarios).
#define CATCH_CONFIG_RUNNER
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <systemc>

#include "models/error.h"
#include "sim/scenario.h"
#include "sim/sweep/stats.h"
#include "sim/sweep/sweep.h"

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

using namespace ptc::sim::sweep;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = PTC_SOURCE_DIR;
const std::string kTiny = kSrc + "/tests/cli/tiny_doctor.json";

struct TmpDir {
  fs::path p;
  TmpDir() {
    char t[] = "/tmp/ptc_sweep_XXXXXX";
    p = mkdtemp(t);
  }
  ~TmpDir() { fs::remove_all(p); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(p / name) << text;
    return (p / name).string();
  }
};

std::string spec_with(const std::string& body) {
  return "{\"scenario\": \"" + kTiny + "\"" + (body.empty() ? "" : ", " + body) + "}";
}

}  // namespace

TEST_CASE("Student t 0.975 quantiles equal the published table values", "[sweep]") {
  // Two-sided 95 % critical values of Student's t (standard tables, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
  const std::vector<std::pair<double, double>> table = {{1, 12.706204736}, {2, 4.302652730},  {3, 3.182446305},  {4, 2.776445105},
                                                        {9, 2.262157163},  {29, 2.045229642}, {100, 1.983971519}};
  for (const auto& [nu, t] : table) {
    INFO("nu = " << nu);
    CHECK(student_t_quantile(0.975, nu) == Approx(t).epsilon(1e-9));
    CHECK(student_t_cdf(t, nu) == Approx(0.975).epsilon(1e-9));
  }
  CHECK(student_t_quantile(0.5, 5) == 0);
  CHECK(student_t_quantile(0.025, 4) == Approx(-2.776445105).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 1e6) == Approx(1.959966).epsilon(1e-6));  // the normal limit
  // nu = 2 has a closed form: t_p = (2p - 1) sqrt(2 / (4p(1-p)))
  for (double p : {0.6, 0.9, 0.99, 0.999})
    CHECK(student_t_quantile(p, 2) == Approx((2 * p - 1) * std::sqrt(2 / (4 * p * (1 - p)))).epsilon(1e-10));
}

TEST_CASE("statistics over seeds: mean, sample std, 95 % CI by hand", "[sweep]") {
  // x = 1, 2, 3, 4: mean 2.5, sum of squares 5, std = sqrt(5/3), CI = t_{0.975,3} std / 2.
  SampleStats s = sample_stats({1, 2, 3, 4});
  CHECK(s.n == 4);
  CHECK(s.mean == Approx(2.5));
  CHECK(s.std == Approx(std::sqrt(5.0 / 3.0)));
  CHECK(s.ci95 == Approx(3.182446305 * std::sqrt(5.0 / 3.0) / 2).epsilon(1e-9));
  // 0.9, 0.92, 0.94: mean 0.92, std 0.02, CI = 4.302652730 * 0.02 / sqrt(3)
  s = sample_stats({0.9, 0.92, 0.94});
  CHECK(s.mean == Approx(0.92));
  CHECK(s.std == Approx(0.02));
  CHECK(s.ci95 == Approx(4.302652730 * 0.02 / std::sqrt(3.0)).epsilon(1e-9));
  s = sample_stats({7});
  CHECK(s.mean == 7);
  CHECK(std::isnan(s.std));
  CHECK(std::isnan(s.ci95));
  CHECK(std::isnan(sample_stats({}).mean));
}

TEST_CASE("sweep expansion - order, points, seeds and stable ids", "[sweep]") {
  TmpDir d;
  std::vector<std::string> params;
  std::string name;
  const std::string spec = d.write(
      "a.json", spec_with("\"name\": \"t\", \"set\": {\"traffic.requests\": 60}, \"grid\": {\"monitor.w_thres\": [0.02, 0.05]}, "
                          "\"zip\": {\"controller.policy.steps\": [2, 3], \"controller.policy.lr\": [0.001, 0.002]}, "
                          "\"seeds\": {\"first\": 4, \"count\": 3}"));
  std::vector<Entry> e = expand(spec, &params, &name);
  REQUIRE(e.size() == 2 * 2 * 3);
  CHECK(name == "t");
  CHECK(params == std::vector<std::string>{"monitor.w_thres", "controller.policy.steps", "controller.policy.lr"});
  // grid slowest, then the zip group, seeds innermost
  CHECK(e[0].point.dump() == R"({"monitor.w_thres":0.02,"controller.policy.steps":2,"controller.policy.lr":0.001})");
  CHECK(e[3].point.dump() == R"({"monitor.w_thres":0.02,"controller.policy.steps":3,"controller.policy.lr":0.002})");
  CHECK(e[6].point.dump() == R"({"monitor.w_thres":0.05,"controller.policy.steps":2,"controller.policy.lr":0.001})");
  CHECK(e[0].seed_value == 4);
  CHECK(e[2].seed_value == 6);
  CHECK(e[3].seed_value == 4);
  CHECK(e[0].set == std::vector<std::string>{"traffic.requests=60", "monitor.w_thres=0.02", "controller.policy.steps=2",
                                             "controller.policy.lr=0.001"});
  std::set<std::string> ids;
  for (const auto& x : e) {
    CHECK(x.id.size() == 16);
    CHECK(x.run_dir == "runs/" + x.id);
    ids.insert(x.id);
  }
  CHECK(ids.size() == e.size());
  // The same configurations reached another way (other spec file, folder, key order, the fixed
  // value as a one-value grid, seeds as a list) give the same ids: the id is the configuration's.
  TmpDir d2;
  const std::string spec2 = d2.write(
      "other.json",
      spec_with(
          "\"seeds\": [4, 5, 6], \"zip\": {\"controller.policy.lr\": [0.001, 0.002], "
          "\"controller.policy.steps\": [2, 3]}, \"grid\": {\"traffic.requests\": [60], \"monitor.w_thres\": [0.02, 0.05]}"));
  std::vector<Entry> e2 = expand(spec2);
  REQUIRE(e2.size() == e.size());
  for (size_t i = 0; i < e.size(); ++i) CHECK(e2[i].id == e[i].id);
  // without "seeds": the scenario's own seed (7), and that id equals the explicit seed 7's
  std::vector<Entry> own = expand(d.write("own.json", spec_with("")));
  REQUIRE(own.size() == 1);
  CHECK(own[0].seed_value == 7);
  CHECK(expand(d.write("seven.json", spec_with("\"seeds\": [7]")))[0].id == own[0].id);
  CHECK(expand(d.write("eight.json", spec_with("\"seeds\": [8]")))[0].id != own[0].id);
  // the manifest round-trips
  write_manifest(e, d.p / "sw");
  Manifest m = read_manifest((d.p / "sw" / "manifest.jsonl").string());
  REQUIRE(m.entries.size() == e.size());
  CHECK(m.params == params);
  CHECK(m.entries[5].to_json().dump() == e[5].to_json().dump());
  CHECK(run_status(m, m.entries[0]) == "missing");
}

TEST_CASE("sweep expansion - one bad entry fails it all, naming spec, entry and path", "[sweep]") {
  TmpDir d;
  auto err = [&](const std::string& body) {
    const std::string f = d.write("bad.json", body);
    try {
      expand(f);
    } catch (const ptc::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string s = (d.p / "bad.json").string();
  std::string m = err(spec_with("\"grid\": {\"monitor.w_thres\": [0.02, -2, 0.05]}, \"seeds\": [1, 2]"));
  CHECK_THAT(m, Contains(s + ": entry 2 (") && Contains("monitor.w_thres=-2, seed 1): monitor.w_thres") && Contains("[0,1e+06]"));
  m = err(spec_with("\"grid\": {\"controller.policy.name\": [\"doctr\"]}"));
  CHECK_THAT(m, Contains("entry 0") && Contains("\"doctr\" is not one of doctor,"));
  CHECK_THAT(err(spec_with("\"gird\": {}")), Contains(s + ": gird: unknown key"));
  CHECK_THAT(err(spec_with("\"grid\": {\"monitor.w_thres\": 0.1}")), Contains("grid.monitor.w_thres: expected a non-empty list"));
  CHECK_THAT(err(spec_with("\"zip\": {\"monitor.w_thres\": [0.1, 0.2], \"monitor.t_thres_k\": [1]}")),
             Contains("zip.monitor.t_thres_k: zipped lists must have equal lengths"));
  CHECK_THAT(err(spec_with("\"set\": {\"monitor.w_thres\": 0.1}, \"grid\": {\"monitor.w_thres\": [0.1]}")),
             Contains("grid.monitor.w_thres: monitor.w_thres is set or swept twice"));
  // a section set whole after a value below it would replace the value (set, grid, zip apply in
  // that order); a value below a section set earlier refines it
  CHECK_THAT(err(spec_with("\"set\": {\"monitor.w_thres\": 0.5}, \"grid\": {\"monitor\": [{\"interval_requests\": 10}]}")),
             Contains("grid.monitor: monitor set whole after set.monitor.w_thres would replace it"));
  CHECK_THAT(err(spec_with("\"grid\": {\"monitor.w_thres\": [0.02], \"monitor\": [{\"w_thres\": 0.1}]}")),
             Contains("grid.monitor: monitor set whole after grid.monitor.w_thres would replace it"));
  // list indices written either way are one path (noise[0].x is noise.0.x)
  CHECK_THAT(err(spec_with("\"set\": {\"noise[0].schedule\": \"high\"}, \"grid\": {\"noise.0\": [{\"name\": \"x\"}]}")),
             Contains("grid.noise.0: noise.0 set whole after set.noise[0].schedule would replace it"));
  CHECK_THAT(err(spec_with("\"set\": {\"noise[0].schedule\": \"high\"}, \"grid\": {\"noise.0.schedule\": [\"low\"]}")),
             Contains("grid.noise.0.schedule: noise.0.schedule is set or swept twice"));
  CHECK(err(spec_with("\"grid\": {\"monitor\": [{\"w_thres\": 0.1}]}, \"zip\": {\"monitor.w_thres\": [0.02]}"))
            .find("would replace") == std::string::npos);
  CHECK(err(spec_with("\"set\": {\"monitor.w_thres\": 0.1}, \"grid\": {\"monitor.w_thres_x\": [1]}")).find("would replace") ==
        std::string::npos);  // a shared prefix is not a parent path
  CHECK_THAT(err(spec_with("\"grid\": {\"monitor.w_thres\": [0.1, 0.1]}")),
             Contains("entry 1") && Contains("same configuration and seed as entry 0"));
  CHECK_THAT(err(spec_with("\"seeds\": [1, -2]")), Contains("seeds.1: expected a non-negative integer"));
  CHECK_THAT(err(spec_with("\"grid\": {\"seed\": [1, 2]}")), Contains("sweep seeds with \"seeds\""));
  CHECK_THAT(err(spec_with("\"grid\": {\"base_dir\": [\"a\", \"b\"]}")),
             Contains("grid.base_dir: base_dir is not part of an entry's id, so it cannot be set or swept"));
  CHECK_THAT(err(spec_with("\"set\": {\"base_dir\": \"a\"}")), Contains("set.base_dir: base_dir is not part of an entry's id"));
  CHECK_THAT(err(spec_with("\"grid\": {\"threads\": [1, 2]}")),
             Contains("grid.threads: threads is not part of an entry's id (outputs are the same at any thread count)"));
  CHECK_THAT(err("{\"scenario\": \"nowhere.json\"}"), Contains(s + ": scenario: file \"nowhere.json\" not found"));
  CHECK_THAT(err("{\"scenario\": "), Contains(s + ": not valid JSON"));
  CHECK_THAT(err(spec_with("\"set\": {\"traffic.requets\": 5}")), Contains("entry 0") && Contains("traffic.requets"));
}

TEST_CASE("Slurm job array - compressed ranges, %K and one sweep task per index", "[sweep]") {
  CHECK(array_spec({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 4) == "0-11%4");
  CHECK(array_spec({0, 1, 2, 3}, 0) == "0-3");
  CHECK(array_spec({1, 4, 5, 6, 9}, 0) == "1,4-6,9");
  CHECK(array_spec({3}, 2) == "3%2");
  TmpDir d;
  std::vector<Entry> e = expand(d.write("s.json", spec_with("\"seeds\": [1, 2, 3]")));
  write_manifest(e, d.p / "sw");
  Manifest m = read_manifest((d.p / "sw" / "manifest.jsonl").string());
  SlurmOptions o;
  o.partition = "debug";
  o.time = "00:10:00";
  o.mem = "2G";
  o.max_parallel = 2;
  o.exe = "/opt/ptc sim/ptcsim";
  const std::string s = slurm_script(m, {0, 2}, o, "sw");
  CHECK_THAT(s, Contains("#!/bin/bash\n") && Contains("\n#SBATCH --array=0,2%2\n") && Contains("\n#SBATCH --partition=debug\n") &&
                    Contains("\n#SBATCH --time=00:10:00\n") && Contains("\n#SBATCH --mem=2G\n") &&
                    Contains("\n#SBATCH --cpus-per-task=1\n"));
  CHECK_THAT(s, Contains("\nexec '/opt/ptc sim/ptcsim' sweep task '" + m.file.string() +
                         "' --index \"$SLURM_ARRAY_TASK_ID\" --threads 1\n"));
  CHECK(s.find("partition") != std::string::npos);
  CHECK(slurm_script(m, {0, 1, 2}, SlurmOptions{}, "sw").find("--partition") == std::string::npos);
}
