#include "models/onnx_testcase.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "models/error.h"
#include "models/executor.h"
#include "models/onnx_import.h"

namespace fs = std::filesystem;

namespace ptc::models {
namespace {

std::vector<std::string> op_types(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  onnx::ModelProto m;
  std::set<std::string> ops;
  if (m.ParseFromString(ss.str()))
    for (const auto& n : m.graph().node()) ops.insert(n.op_type());
  return {ops.begin(), ops.end()};
}

// Files name_0.pb, name_1.pb ... in index order.
std::vector<std::string> numbered(const fs::path& dir, const std::string& name) {
  std::vector<std::string> files;
  for (int k = 0;; ++k) {
    fs::path p = dir / (name + "_" + std::to_string(k) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p.string());
  }
  return files;
}

std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.shape != want.shape) return "shape " + shape_str(got.shape) + ", expected " + shape_str(want.shape);
  if (got.dtype != want.dtype) return std::string("type ") + dtype_name(got.dtype) + ", expected " + dtype_name(want.dtype);
  int64_t n = want.numel(), bad = 0, first = -1;
  double worst = 0;
  for (int64_t j = 0; j < n; ++j) {
    double a = got.dtype == DType::f32 ? got.f[j] : static_cast<double>(got.i[j]);
    double b = want.dtype == DType::f32 ? want.f[j] : static_cast<double>(want.i[j]);
    bool ok = (std::isnan(a) && std::isnan(b)) || a == b || std::abs(a - b) <= atol + rtol * std::abs(b);
    if (!ok) {
      if (first < 0) first = j;
      ++bad;
      worst = std::max(worst, std::abs(a - b));
    }
  }
  if (!bad) return "";
  double a = got.dtype == DType::f32 ? got.f[first] : static_cast<double>(got.i[first]);
  double b = want.dtype == DType::f32 ? want.f[first] : static_cast<double>(want.i[first]);
  std::ostringstream os;
  os << bad << " of " << n << " values differ (first at " << first << ": " << a << " vs " << b << "; max |diff| " << worst << ")";
  return os.str();
}

}  // namespace

const char* status_name(CaseResult::Status s) {
  return s == CaseResult::Status::pass ? "PASS" : s == CaseResult::Status::fail ? "FAIL" : "SKIP";
}

std::vector<std::string> find_onnx_cases(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(dir + ": not a directory");
  if (fs::exists(fs::path(dir) / "model.onnx")) return {dir};
  std::vector<std::string> cases;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) cases.push_back(e.path().string());
  std::sort(cases.begin(), cases.end());
  if (cases.empty()) throw Error(dir + ": no model.onnx here or in its sub-folders");
  return cases;
}

CaseResult run_onnx_case(const std::string& dir, double rtol, double atol) {
  CaseResult r;
  r.dir = dir;
  fs::path model = fs::path(dir) / "model.onnx";
  r.ops = op_types(model.string());
  try {
    Graph g = import_onnx(model.string());
    Executor ex(g);
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw Error("no test_data_set_* folders");
    for (const auto& set : sets) {
      std::vector<Tensor> inputs;
      for (const auto& f : numbered(set, "input")) inputs.push_back(load_tensor_pb(f));
      std::vector<Tensor> wants;
      for (const auto& f : numbered(set, "output")) wants.push_back(load_tensor_pb(f));
      if (inputs.size() != g.inputs.size())
        throw Error(set.filename().string() + ": " + std::to_string(inputs.size()) + " inputs for a model with " +
                    std::to_string(g.inputs.size()));
      std::vector<const Tensor*> ptrs;
      for (const auto& t : inputs) ptrs.push_back(&t);
      const auto& outs = ex.run(ptrs);
      if (wants.size() != outs.size())
        throw Error(set.filename().string() + ": " + std::to_string(wants.size()) + " expected outputs, the model has " +
                    std::to_string(outs.size()));
      for (size_t k = 0; k < outs.size(); ++k) {
        std::string diff = compare(*outs[k], wants[k], rtol, atol);
        if (!diff.empty()) {
          r.status = CaseResult::Status::fail;
          r.message = set.filename().string() + " output " + std::to_string(k) + ": " + diff;
          return r;
        }
      }
      ++r.datasets;
    }
    r.status = CaseResult::Status::pass;
  } catch (const Unsupported& e) {
    r.status = CaseResult::Status::skip;
    r.message = e.what();
  } catch (const std::exception& e) {
    r.status = CaseResult::Status::fail;
    r.message = e.what();
  }
  return r;
}

}  // namespace ptc::models
