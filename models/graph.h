// The imported network as a DAG (Boost.Graph adjacency_list): one vertex per ONNX node, one edge
// per produced->consumed value. Contract: after import (onnx_import.h) the graph is
// topologically ordered (`order`), dead nodes are removed, constant subgraphs are folded into
// `constants`, BatchNormalization is folded into a preceding Conv/Gemm where exact, and every op
// is supported (ops.h). Values are named by their ONNX names. The batch dimension of graph inputs
// stays dynamic (-1 in `inputs[i].shape`).
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/tensor.h"

namespace ptc::models {

struct Attr {
  enum class Kind { Int, Float, String, Ints, Floats, Tensor } kind = Kind::Int;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::shared_ptr<models::Tensor> t;
};

struct Node {
  std::string name;                 // ONNX node name, or "<op>_<index>" when the file has none
  std::string op;                   // op type (default domain)
  std::vector<std::string> inputs;  // "" = optional input left out
  std::vector<std::string> outputs;
  std::map<std::string, Attr> attrs;

  bool has(const std::string& a) const { return attrs.count(a) != 0; }
  int64_t attr_i(const std::string& a, int64_t dflt) const;
  float attr_f(const std::string& a, float dflt) const;
  std::string attr_s(const std::string& a, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& a, const std::vector<int64_t>& dflt) const;
  // "node 'conv1' (Conv)" for error messages
  std::string where() const;
  // Number of inputs actually given (trailing omitted ones do not count).
  size_t given_inputs() const;
  bool input_given(size_t k) const { return k < inputs.size() && !inputs[k].empty(); }
};

struct ValueInfo {
  std::string name;
  Shape shape;  // -1 = dynamic dimension
  DType dtype = DType::f32;
};

using Dag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Node>;
using Vertex = Dag::vertex_descriptor;

struct Graph {
  std::string name;
  int64_t opset = 0;
  std::vector<ValueInfo> inputs;                // runtime inputs (not initializers)
  std::vector<ValueInfo> outputs;               // graph outputs (shape as declared, may be empty)
  std::map<std::string, Tensor> constants;      // initializers + folded values
  std::map<std::string, std::string> metadata;  // ONNX metadata_props
  Dag dag;
  std::vector<Vertex> order;  // topological order of dag vertices

  const Node& node(Vertex v) const { return dag[v]; }
  bool is_constant(const std::string& value) const { return constants.count(value) != 0; }
  // Rebuild edges from value names, drop nodes that no graph output depends on, re-sort.
  void rebuild();
  // Names of all nodes in order (for messages and tests).
  std::vector<std::string> op_sequence() const;
};

}  // namespace ptc::models
