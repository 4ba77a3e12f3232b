#include <catch2/catch.hpp>

#include "models/error.h"
#include "models/onnx_import.h"
#include "models/ops.h"
#include "models/tensor.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;

TEST_CASE("checked_numel guards sizes before allocation", "[tensor]") {
  CHECK(checked_numel({2, 3, 4}, "t") == 24);
  CHECK(checked_numel({}, "t") == 1);
  CHECK(checked_numel({5, 0, 7}, "t") == 0);
  // 10^12 elements: an error naming the tensor, not an allocation.
  REQUIRE_THROWS_WITH(checked_numel({1000000, 1000000}, "weight 'w'"), Catch::Contains("weight 'w'") && Catch::Contains("limit"));
  // Products that overflow int64 are caught too.
  REQUIRE_THROWS_AS(checked_numel({int64_t{1} << 40, int64_t{1} << 40}, "t"), Error);
  REQUIRE_THROWS_AS(checked_numel({-1, 3}, "t"), Error);
}

TEST_CASE("dead nodes are removed and the order is topological", "[graph]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 4});
  b.output("y");
  // Nodes listed out of order: ONNX requires topological order, but our DAG sorts anyway; a dead
  // branch (Sigmoid -> Tanh) feeds no output.
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("Sigmoid", {"x"}, {"dead1"}, "dead_sigmoid");
  b.node("Tanh", {"dead1"}, {"dead2"}, "dead_tanh");
  b.node("Neg", {"dead2"}, {"dead3"}, "dead_unsupported_but_unused");
  b.node("Relu", {"r"}, {"y"}, "relu2");
  // An unsupported op is reported even on a dead branch (the file is wrong for ptcsim).
  REQUIRE_THROWS_AS(import_onnx_bytes(b.bytes(), "m"), Unsupported);
  b.graph->mutable_node()->RemoveLast();  // drop relu2
  b.graph->mutable_node()->RemoveLast();  // drop Neg
  b.node("Relu", {"r"}, {"y"}, "relu2");
  Graph g = import_onnx_bytes(b.bytes(), "m");
  CHECK(g.op_sequence() == std::vector<std::string>{"Relu", "Relu"});
  CHECK(g.node(g.order[0]).name == "relu");
}

TEST_CASE("constant subgraphs are folded", "[graph]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 3});
  b.output("y");
  b.init("a", {3}, {1, 2, 3});
  b.init("c", {3}, {10, 20, 30});
  b.node("Mul", {"a", "c"}, {"ac"}, "fold_me");  // constant * constant
  b.node("Add", {"x", "ac"}, {"y"}, "add");
  Graph g = import_onnx_bytes(b.bytes(), "m");
  REQUIRE(g.op_sequence() == std::vector<std::string>{"Add"});
  REQUIRE(g.is_constant("ac"));
  CHECK(g.constants.at("ac").f == std::vector<float>{10, 40, 90});
  CHECK_FALSE(g.is_constant("a"));  // no longer read: dropped
}

TEST_CASE("supported op list contains the required ops", "[ops]") {
  for (const char* op : {"Conv",
                         "Gemm",
                         "MatMul",
                         "Add",
                         "Sub",
                         "Mul",
                         "Div",
                         "Relu",
                         "LeakyRelu",
                         "Clip",
                         "Sigmoid",
                         "Tanh",
                         "Softmax",
                         "MaxPool",
                         "AveragePool",
                         "GlobalAveragePool",
                         "BatchNormalization",
                         "Flatten",
                         "Reshape",
                         "Transpose",
                         "Concat",
                         "Pad",
                         "Dropout",
                         "Identity",
                         "Constant",
                         "Shape",
                         "Gather",
                         "Unsqueeze"})
    CHECK(find_op(op) != nullptr);
  CHECK(find_op("LSTM") == nullptr);
}
