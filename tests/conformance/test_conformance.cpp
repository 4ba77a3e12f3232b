// ONNX conformance: every ONNX backend test case in Debian's libonnx-testdata whose ops and data
// types ptcsim supports must pass (rtol 1e-3, atol 1e-5), and every supported op must be covered
// by at least one passing case. Prints passed/total per folder (also written to
// <build>/conformance_summary.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "models/onnx_testcase.h"
#include "models/ops.h"

using namespace ptc::models;

TEST_CASE("libonnx-testdata conformance", "[conformance]") {
  const std::string root = "/usr/share/libonnx-testdata/data";
  REQUIRE(std::filesystem::is_directory(root));  // installed by tools/setup.sh (libonnx-testdata)
  std::map<std::string, int> passing_per_op;
  std::vector<std::string> failures;
  std::string summary;
  int total_pass = 0;
  for (const char* folder : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    int pass = 0, fail = 0, skip = 0;
    for (const auto& c : find_onnx_cases(root + "/" + folder)) {
      CaseResult r = run_onnx_case(c, 1e-3, 1e-5);
      if (r.status == CaseResult::Status::pass) {
        ++pass;
        for (const auto& op : r.ops) ++passing_per_op[op];
      } else if (r.status == CaseResult::Status::fail) {
        ++fail;
        failures.push_back(c + ": " + r.message);
      } else {
        ++skip;
      }
    }
    char line[256];
    std::snprintf(line, sizeof line, "%-18s %4d/%-4d passed (%d failed, %d skipped: unsupported op or data type)\n", folder, pass,
                  pass + fail, fail, skip);
    summary += line;
    total_pass += pass;
  }
  summary += "passing cases per supported op:";
  for (const auto& op : supported_ops()) summary += " " + op + "=" + std::to_string(passing_per_op[op]);
  summary += "\n";
  std::printf("%s", summary.c_str());
  std::ofstream(std::string(PTC_BINARY_DIR) + "/conformance_summary.txt") << summary;

  for (const auto& f : failures) UNSCOPED_INFO(f);
  CHECK(failures.empty());
  for (const auto& op : supported_ops()) {
    INFO("supported op " << op << " has no passing conformance case");
    CHECK(passing_per_op[op] > 0);
  }
  CHECK(total_pass > 200);
}
