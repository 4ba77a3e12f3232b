// Bad model files give one clear error naming the node, op type or tensor, never a crash.
#include <catch2/catch.hpp>
#include <fstream>
#include <limits>
#include <random>

#include "models/error.h"
#include "models/onnx_import.h"
#include "models/ops.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;
using Catch::Contains;

TEST_CASE("unsupported op names node, op and the supported list", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y");
  b.node("LSTM", {"x"}, {"y"}, "rnn7");
  REQUIRE_THROWS_AS(import_onnx_bytes(b.bytes(), "model.onnx"), Unsupported);
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "model.onnx"), Contains("model.onnx") && Contains("node 'rnn7' (LSTM)") &&
                                                                      Contains("unsupported op") && Contains("Conv") &&
                                                                      Contains("Gemm"));
}

TEST_CASE("missing initializer names the node and the input", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y");
  b.node("Gemm", {"x", "fc.weight"}, {"y"}, "fc");
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"),
                      Contains("node 'fc' (Gemm)") && Contains("'fc.weight'") && Contains("missing initializer"));
}

TEST_CASE("a dimension that does not fit is reported at import", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 3});
  b.output("y");
  b.init("w", {4, 5}, std::vector<float>(20, 0.5f));
  b.node("Gemm", {"x", "w"}, {"y"}, "fc1");
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"), Contains("node 'fc1' (Gemm)") && Contains("inner dimensions"));

  test::OnnxBuilder c;
  c.input("x", {1, 3, 8, 8});
  c.output("y");
  c.init("w", {2, 4, 3, 3}, std::vector<float>(72, 0.1f));  // expects 4 input channels
  c.node("Conv", {"x", "w"}, {"y"}, "conv1");
  REQUIRE_THROWS_WITH(import_onnx_bytes(c.bytes(), "m"), Contains("node 'conv1' (Conv)") && Contains("input channels"));
}

TEST_CASE("a declared 10^12-element tensor is an error, not an allocation", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 1000000});
  b.output("y");
  auto* t = b.graph->add_initializer();
  t->set_name("huge");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(1000000);
  t->add_dims(1000000);
  b.node("MatMul", {"x", "huge"}, {"y"}, "mm");
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"), Contains("initializer 'huge'") && Contains("limit"));

  // Declared size and stored data disagree.
  test::OnnxBuilder c;
  c.input("x", {1, 2});
  c.output("y");
  c.init("w", {2, 3}, {1, 2, 3});
  c.node("MatMul", {"x", "w"}, {"y"}, "mm");
  REQUIRE_THROWS_WITH(import_onnx_bytes(c.bytes(), "m"), Contains("initializer 'w'") && Contains("needs 6 elements"));

  // A graph input with an absurd static shape.
  test::OnnxBuilder d;
  d.input("x", {1000000, 1000000, 1000});
  d.output("y");
  d.node("Relu", {"x"}, {"y"}, "r");
  REQUIRE_THROWS_WITH(import_onnx_bytes(d.bytes(), "m"), Contains("limit"));
}

TEST_CASE("corrupt, truncated and missing files", "[import]") {
  std::mt19937 rng(7);
  std::string junk(4096, '\0');
  for (auto& ch : junk) ch = static_cast<char>(rng());
  REQUIRE_THROWS_AS(import_onnx_bytes(junk, "junk.onnx"), Error);
  REQUIRE_THROWS_WITH(import_onnx_bytes("", "empty.onnx"), Contains("empty.onnx") && Contains("not a valid ONNX model"));
  REQUIRE_THROWS_WITH(import_onnx("/nonexistent/model.onnx"), Contains("/nonexistent/model.onnx") && Contains("cannot open"));

  // Every truncation of a real model is an error or (rarely) a valid smaller model, never a crash.
  std::ifstream f(std::string(PTC_SOURCE_DIR) + "/models/zoo/lenet5_fmnist.onnx", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 1000);
  int errors = 0;
  for (size_t cut : {size_t{10}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 7}) {
    try {
      import_onnx_bytes(bytes.substr(0, cut), "cut.onnx");
    } catch (const Error&) {
      ++errors;
    }
  }
  CHECK(errors == 4);
}

TEST_CASE("opsets above 17, ops older than their implementation, and foreign domains are unsupported", "[import]") {
  test::OnnxBuilder b(18);
  b.input("x", {1, 4});
  b.output("y");
  b.node("Relu", {"x"}, {"y"});
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"), Contains("opset 18"));

  // Reshape took its shape as an attribute before opset 5.
  test::OnnxBuilder old(4);
  old.input("x", {1, 4});
  old.output("y");
  test::OnnxBuilder::attr_ints(old.node("Reshape", {"x"}, {"y"}, "rs"), "shape", {2, 2});
  REQUIRE_THROWS_WITH(import_onnx_bytes(old.bytes(), "m"), Contains("node 'rs' (Reshape)") && Contains("opset 5"));

  test::OnnxBuilder c;
  c.input("x", {1, 4});
  c.output("y");
  c.node("Relu", {"x"}, {"y"}, "ms")->set_domain("com.microsoft");
  REQUIRE_THROWS_WITH(import_onnx_bytes(c.bytes(), "m"), Contains("com.microsoft"));
}

TEST_CASE("unsupported attribute variants are Unsupported, not wrong answers", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 4, 4, 4});
  b.output("y");
  auto* n = b.node("MaxPool", {"x"}, {"y"}, "pool3d");
  test::OnnxBuilder::attr_ints(n, "kernel_shape", {2, 2, 2});
  REQUIRE_THROWS_AS(import_onnx_bytes(b.bytes(), "m"), Unsupported);
}

// Issue 17: Clip, Pad and Slice read their first input before checking the input count (SIGSEGV on
// a node with no inputs). Every supported op, at the oldest and newest opset, with no inputs and
// with one, must be an error naming the node, never a crash.
TEST_CASE("every op with too few inputs is an error naming the node, never a crash", "[import]") {
  for (const std::string& op : supported_ops()) {
    if (op == "Constant") continue;  // takes no inputs
    for (int64_t opset : {op_since(op) < 7 ? int64_t{7} : op_since(op), int64_t{17}}) {
      test::OnnxBuilder b(opset);
      b.input("x", {1, 4});
      b.output("y");
      b.node(op, {}, {"y"}, "n0");
      INFO(op << " opset " << opset << ", no inputs");
      REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m.onnx"), Contains("node 'n0' (" + op + ")"));
    }
  }
  for (const char* op : {"Clip", "Pad", "Slice"}) {
    test::OnnxBuilder b;
    b.input("x", {1, 4});
    b.output("y");
    b.node(op, {"", "x"}, {"y"}, "n1");  // input 0 named empty (omitted), a later one given
    INFO(op << ", input 0 omitted");
    REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m.onnx"), Contains("node 'n1' (" + std::string(op) + ")"));
  }
}

// Issue 17 (UBSan): huge declared reshape targets, pads, strides and steps overflowed int64 before
// they were rejected. Each is now an error naming the node and the limit.
TEST_CASE("huge shape entries, pads, strides and steps are rejected before any arithmetic", "[import]") {
  const int64_t big = std::numeric_limits<int64_t>::max() - 1;
  {
    test::OnnxBuilder b;
    b.input("x", {1, 4});
    b.output("y");
    b.init_i64("s", {3}, {big, big, -1});
    b.node("Reshape", {"x", "s"}, {"y"}, "rs");
    REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"),
                        Contains("node 'rs' (Reshape)") && Contains("shape") && Contains("limit"));
  }
  {
    test::OnnxBuilder b;
    b.input("x", {1, 4});
    b.output("y");
    b.init_i64("p", {4}, {0, big, 0, big});
    b.node("Pad", {"x", "p"}, {"y"}, "pad");
    REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"), Contains("node 'pad' (Pad)") && Contains("pads") && Contains("limit"));
  }
  {
    test::OnnxBuilder b;
    b.input("x", {1, 1, 8, 8});
    b.output("y");
    auto* n = b.node("MaxPool", {"x"}, {"y"}, "pool");
    test::OnnxBuilder::attr_ints(n, "kernel_shape", {2, 2});
    test::OnnxBuilder::attr_ints(n, "strides", {big, big});
    REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"),
                        Contains("node 'pool' (MaxPool)") && Contains("strides") && Contains("limit"));
  }
  {
    test::OnnxBuilder b;
    b.input("x", {1, 8});
    b.output("y");
    b.init_i64("st", {1}, {0});
    b.init_i64("en", {1}, {8});
    b.init_i64("ax", {1}, {1});
    b.init_i64("sp", {1}, {std::numeric_limits<int64_t>::min()});
    b.node("Slice", {"x", "st", "en", "ax", "sp"}, {"y"}, "sl");
    REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m"),
                        Contains("node 'sl' (Slice)") && Contains("steps") && Contains("limit"));
  }
}

// Node names identify layers (hw.mapping.digital_layers "first", per-layer statistics); the ONNX IR
// requires them unique within a graph, which onnx.checker does not enforce.
TEST_CASE("two nodes with one name are an error naming both, and an unnamed node never takes a used name", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("z");
  b.init("w1", {4, 4}, std::vector<float>(16, 0.5f));
  b.init("w2", {4, 4}, std::vector<float>(16, 0.25f));
  b.node("Gemm", {"x", "w1"}, {"y"}, "dup");
  b.node("Gemm", {"y", "w2"}, {"z"}, "dup");
  REQUIRE_THROWS_WITH(import_onnx_bytes(b.bytes(), "m.onnx"), Contains("m.onnx: node 1 (Gemm) is named 'dup' like node 0") &&
                                                                  Contains("node names must be unique within a graph"));

  // Node 0 is unnamed (it would be Gemm_0), node 1 is explicitly named Gemm_0.
  test::OnnxBuilder c;
  c.input("x", {1, 4});
  c.output("z");
  c.init("w1", {4, 4}, std::vector<float>(16, 0.5f));
  c.init("w2", {4, 4}, std::vector<float>(16, 0.25f));
  c.node("Gemm", {"x", "w1"}, {"y"})->set_name("");
  c.node("Gemm", {"y", "w2"}, {"z"}, "Gemm_0");
  const Graph g = import_onnx_bytes(c.bytes(), "m.onnx");
  std::vector<std::string> names;
  for (Vertex v : g.order) names.push_back(g.node(v).name);
  CHECK(names == std::vector<std::string>{"Gemm_0_", "Gemm_0"});
}
