// Runner for ONNX backend test cases (the layout of ONNX's own test data, as shipped by Debian's
// libonnx-testdata): DIR/model.onnx + DIR/test_data_set_*/{input,output}_N.pb.
// A case passes when every output matches within |got - want| <= atol + rtol*|want| (NaN = NaN);
// it is skipped when the model uses an op, data type or variant ptcsim does not support
// (ptc::Unsupported), and fails on any other error or mismatch.
#pragma once

#include <string>
#include <vector>

namespace ptc::models {

struct CaseResult {
  enum class Status { pass, fail, skip };
  std::string dir;
  Status status = Status::fail;
  std::string message;           // reason for fail/skip
  std::vector<std::string> ops;  // op types in the model file (sorted, unique)
  int datasets = 0;              // test_data_set_* folders compared
};

CaseResult run_onnx_case(const std::string& dir, double rtol = 1e-3, double atol = 1e-5);

// Case folders under `dir`: `dir` itself if it holds model.onnx, else its sub-folders that do.
std::vector<std::string> find_onnx_cases(const std::string& dir);

const char* status_name(CaseResult::Status s);

}  // namespace ptc::models
