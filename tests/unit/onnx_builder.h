// Builds small ONNX models in memory with the protobuf API, for tests of the importer and
// executor on cases written independently of the code under test.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace ptc::test {

struct OnnxBuilder {
  onnx::ModelProto model;
  onnx::GraphProto* graph;

  explicit OnnxBuilder(int opset = 13) {
    model.set_ir_version(8);
    auto* op = model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    graph = model.mutable_graph();
    graph->set_name("test");
  }

  static void set_shape(onnx::ValueInfoProto* v, const std::vector<int64_t>& shape, int elem) {
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (int64_t d : shape) {
      auto* dim = sh->add_dim();
      if (d < 0)
        dim->set_dim_param("batch");
      else
        dim->set_dim_value(d);
    }
  }

  void input(const std::string& name, const std::vector<int64_t>& shape, int elem = onnx::TensorProto::FLOAT) {
    auto* v = graph->add_input();
    v->set_name(name);
    set_shape(v, shape, elem);
  }

  void output(const std::string& name) { graph->add_output()->set_name(name); }

  void init(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& data) {
    auto* t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : data) t->add_float_data(f);
  }

  void init_i64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& data) {
    auto* t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : data) t->add_int64_data(v);
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                        const std::string& name = "") {
    auto* n = graph->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + std::to_string(graph->node_size()) : name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }

  static void attr_i(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  std::string bytes() const { return model.SerializeAsString(); }
};

}  // namespace ptc::test
