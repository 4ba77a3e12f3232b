#include "models/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "models/error.h"
#include "models/executor.h"
#include "models/json_io.h"
#include "models/ops.h"

namespace ptc::models {
namespace {

const char* onnx_type_name(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return "FLOAT";
    case onnx::TensorProto::UINT8:
      return "UINT8";
    case onnx::TensorProto::INT8:
      return "INT8";
    case onnx::TensorProto::UINT16:
      return "UINT16";
    case onnx::TensorProto::INT16:
      return "INT16";
    case onnx::TensorProto::INT32:
      return "INT32";
    case onnx::TensorProto::INT64:
      return "INT64";
    case onnx::TensorProto::STRING:
      return "STRING";
    case onnx::TensorProto::BOOL:
      return "BOOL";
    case onnx::TensorProto::FLOAT16:
      return "FLOAT16";
    case onnx::TensorProto::DOUBLE:
      return "DOUBLE";
    case onnx::TensorProto::UINT32:
      return "UINT32";
    case onnx::TensorProto::UINT64:
      return "UINT64";
    case onnx::TensorProto::BFLOAT16:
      return "BFLOAT16";
    default:
      return "UNDEFINED";
  }
}

DType dtype_of(int t, const std::string& what) {
  if (t == onnx::TensorProto::FLOAT) return DType::f32;
  if (t == onnx::TensorProto::INT64 || t == onnx::TensorProto::INT32) return DType::i64;
  throw Unsupported(what + ": data type " + onnx_type_name(t) + " is not supported (FLOAT, INT64, INT32)");
}

template <class T>
void read_raw(const std::string& raw, std::vector<T>& out, int64_t n) {
  out.resize(static_cast<size_t>(n));
  if (n) std::memcpy(out.data(), raw.data(), sizeof(T) * static_cast<size_t>(n));
}

Tensor convert_tensor(const onnx::TensorProto& tp, const std::string& what) {
  if (tp.has_data_location() && tp.data_location() == onnx::TensorProto::EXTERNAL)
    throw Unsupported(what + ": external tensor data is not supported; save the model with the data inside");
  if (tp.segment().begin() || tp.segment().end()) throw Unsupported(what + ": segmented tensors are not supported");
  DType dt = dtype_of(tp.data_type(), what);
  Shape shape(tp.dims().begin(), tp.dims().end());
  int64_t n = checked_numel(shape, what);  // size guard before any allocation
  Tensor t;
  t.dtype = dt;
  t.shape = shape;
  const std::string& raw = tp.raw_data();
  int elem = tp.data_type() == onnx::TensorProto::INT32 ? 4 : (dt == DType::f32 ? 4 : 8);
  auto mismatch = [&](int64_t have) {
    return Error(what + ": shape " + shape_str(shape) + " needs " + std::to_string(n) + " elements, the file holds " +
                 std::to_string(have));
  };
  if (tp.has_raw_data()) {
    if (static_cast<int64_t>(raw.size()) != n * elem) throw mismatch(static_cast<int64_t>(raw.size()) / elem);
    if (tp.data_type() == onnx::TensorProto::FLOAT)
      read_raw(raw, t.f, n);
    else if (tp.data_type() == onnx::TensorProto::INT64)
      read_raw(raw, t.i, n);
    else {
      std::vector<int32_t> v;
      read_raw(raw, v, n);
      t.i.assign(v.begin(), v.end());
    }
    return t;
  }
  if (tp.data_type() == onnx::TensorProto::FLOAT) {
    if (tp.float_data_size() != n) throw mismatch(tp.float_data_size());
    t.f.assign(tp.float_data().begin(), tp.float_data().end());
  } else if (tp.data_type() == onnx::TensorProto::INT64) {
    if (tp.int64_data_size() != n) throw mismatch(tp.int64_data_size());
    t.i.assign(tp.int64_data().begin(), tp.int64_data().end());
  } else {
    if (tp.int32_data_size() != n) throw mismatch(tp.int32_data_size());
    t.i.assign(tp.int32_data().begin(), tp.int32_data().end());
  }
  return t;
}

Attr convert_attr(const onnx::AttributeProto& a, const std::string& what) {
  Attr r;
  switch (a.type()) {
    case onnx::AttributeProto::INT:
      r.kind = Attr::Kind::Int;
      r.i = a.i();
      break;
    case onnx::AttributeProto::FLOAT:
      r.kind = Attr::Kind::Float;
      r.f = a.f();
      break;
    case onnx::AttributeProto::STRING:
      r.kind = Attr::Kind::String;
      r.s = a.s();
      break;
    case onnx::AttributeProto::INTS:
      r.kind = Attr::Kind::Ints;
      r.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      r.kind = Attr::Kind::Floats;
      r.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::TENSOR:
      r.kind = Attr::Kind::Tensor;
      r.t = std::make_shared<Tensor>(convert_tensor(a.t(), what + " attribute '" + a.name() + "'"));
      break;
    default:
      throw Unsupported(what + ": attribute '" + a.name() + "' has an unsupported type");
  }
  return r;
}

ValueInfo convert_value_info(const onnx::ValueInfoProto& v, bool need_type) {
  ValueInfo vi;
  vi.name = v.name();
  if (!v.type().has_tensor_type()) {
    if (need_type) throw Unsupported("graph input '" + v.name() + "': only tensor inputs are supported");
    return vi;
  }
  const auto& tt = v.type().tensor_type();
  if (need_type) vi.dtype = dtype_of(tt.elem_type(), "graph input '" + v.name() + "'");
  if (tt.has_shape())
    for (const auto& d : tt.shape().dim()) vi.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return vi;
}

// Folds every node whose inputs are all constants into `constants`.
void fold_constants(Graph& g) {
  bool changed = false;
  std::set<Vertex> folded;
  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    bool all_const = true;
    for (const auto& in : n.inputs)
      if (!in.empty() && !g.is_constant(in)) all_const = false;
    if (!all_const || n.op == "Shape") continue;
    std::vector<const Tensor*> ins;
    for (const auto& in : n.inputs) ins.push_back(in.empty() ? nullptr : &g.constants.at(in));
    std::vector<Tensor> outs = evaluate_node(n, ins, g.opset);
    for (size_t k = 0; k < outs.size() && k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty()) g.constants[n.outputs[k]] = std::move(outs[k]);
    folded.insert(v);
    changed = true;
  }
  if (!changed) return;
  Dag fresh;
  for (Vertex v : g.order)
    if (!folded.count(v)) boost::add_vertex(g.dag[v], fresh);
  g.dag = std::move(fresh);
  g.rebuild();
}

// Consumers of each value.
std::map<std::string, int> use_counts(const Graph& g) {
  std::map<std::string, int> uses;
  for (Vertex v : g.order)
    for (const auto& in : g.node(v).inputs) ++uses[in];
  for (const auto& o : g.outputs) ++uses[o.name];
  return uses;
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base + "__bnfold";
  for (int k = 1; g.is_constant(name); ++k) name = base + "__bnfold" + std::to_string(k);
  return name;
}

// BatchNormalization(Conv/Gemm(x)) -> Conv/Gemm'(x) with scaled weights and a new bias. Exact in
// real arithmetic: y = a*(Wx + b) + o = (a*W)x + (a*b + o), a = s/sqrt(v+eps), o = beta - m*a.
void fold_batchnorm(Graph& g) {
  auto uses = use_counts(g);
  std::map<std::string, Vertex> producer;
  for (Vertex v : g.order)
    for (const auto& o : g.node(v).outputs) producer[o] = v;
  std::set<Vertex> removed;
  for (Vertex v : g.order) {
    const Node& bn = g.node(v);
    if (bn.op != "BatchNormalization" || bn.given_inputs() != 5) continue;
    if (bn.attr_i("training_mode", 0) || (g.opset < 7 && !bn.attr_i("is_test", 0)) || (g.opset < 9 && !bn.attr_i("spatial", 1)))
      continue;
    bool extra_out = false;
    for (size_t k = 1; k < bn.outputs.size(); ++k) extra_out |= !bn.outputs[k].empty();
    if (extra_out) continue;
    auto pit = producer.find(bn.inputs[0]);
    if (pit == producer.end() || uses[bn.inputs[0]] != 1) continue;
    for (size_t k = 1; k < 5; ++k)
      if (!g.is_constant(bn.inputs[k])) goto next;
    {
      Node& up = g.dag[pit->second];
      bool conv = up.op == "Conv", gemm = up.op == "Gemm";
      if (!(conv || gemm) || !g.is_constant(up.inputs[1])) continue;
      if (up.input_given(2) && !g.is_constant(up.inputs[2])) continue;
      const Tensor& w = g.constants.at(up.inputs[1]);
      if (w.dtype != DType::f32) continue;
      const Tensor &s = g.constants.at(bn.inputs[1]), &beta = g.constants.at(bn.inputs[2]), &mean = g.constants.at(bn.inputs[3]),
                   &var = g.constants.at(bn.inputs[4]);
      int64_t C = s.numel();
      bool trans_b = gemm && up.attr_i("transB", 0);
      int64_t out_ch = conv ? w.shape[0] : (w.rank() == 2 ? (trans_b ? w.shape[0] : w.shape[1]) : -1);
      if (out_ch != C || beta.numel() != C || mean.numel() != C || var.numel() != C) continue;
      float eps = bn.attr_f("epsilon", 1e-5f);
      std::vector<float> a(C), o(C);
      for (int64_t c = 0; c < C; ++c) {
        a[c] = s.f[c] / std::sqrt(var.f[c] + eps);
        o[c] = beta.f[c] - mean.f[c] * a[c];
      }
      // Existing bias (Conv B [C]; Gemm beta*C, only if C is per-output [C] / [1,C] / scalar).
      std::vector<float> bias(C, 0.0f);
      if (up.input_given(2)) {
        const Tensor& b = g.constants.at(up.inputs[2]);
        if (b.dtype != DType::f32) continue;
        float bscale = gemm ? up.attr_f("beta", 1.0f) : 1.0f;
        if (b.numel() == C && (b.rank() == 1 || (b.rank() == 2 && b.shape[0] == 1)))
          for (int64_t c = 0; c < C; ++c) bias[c] = bscale * b.f[c];
        else if (b.numel() == 1)
          for (int64_t c = 0; c < C; ++c) bias[c] = bscale * b.f[0];
        else
          continue;
      }
      Tensor nw = w;
      if (conv || trans_b) {
        int64_t per = w.numel() / C;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t j = 0; j < per; ++j) nw.f[c * per + j] *= a[c];
      } else {
        int64_t rows = w.shape[0];
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < C; ++c) nw.f[r * C + c] *= a[c];
      }
      std::vector<float> nb(C);
      for (int64_t c = 0; c < C; ++c) nb[c] = a[c] * bias[c] + o[c];
      std::string wname = fresh_name(g, up.inputs[1]);
      g.constants[wname] = std::move(nw);
      std::string bname = fresh_name(g, bn.name + "_bias");
      g.constants[bname] = Tensor::from_f32({C}, nb);
      up.inputs[1] = wname;
      up.inputs.resize(3);
      up.inputs[2] = bname;
      if (gemm) {
        Attr beta1;
        beta1.kind = Attr::Kind::Float;
        beta1.f = 1.0f;
        up.attrs["beta"] = beta1;
      }
      up.outputs[0] = bn.outputs[0];
      removed.insert(v);
    }
  next:;
  }
  if (removed.empty()) return;
  Dag fresh;
  for (Vertex v : g.order)
    if (!removed.count(v)) boost::add_vertex(g.dag[v], fresh);
  g.dag = std::move(fresh);
  g.rebuild();
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const std::string& what, const ImportOptions& opt) {
  onnx::ModelProto model;
  if (static_cast<int64_t>(bytes.size()) > kMaxModelBytes)
    throw Error(what + ": file is " + std::to_string(bytes.size()) + " bytes, more than the limit of " +
                std::to_string(kMaxModelBytes));
  if (bytes.empty() || !model.ParseFromString(bytes)) throw Error(what + ": not a valid ONNX model (protobuf parse failed)");
  if (!model.has_graph()) throw Error(what + ": the ONNX model has no graph");

  Graph g;
  g.name = model.graph().name();
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  if (model.opset_import_size() == 0) g.opset = 1;
  if (g.opset < kMinOpset || g.opset > kMaxOpset)
    throw Unsupported(what + ": opset " + std::to_string(g.opset) + " is not supported (ptcsim supports " +
                      std::to_string(kMinOpset) + "-" + std::to_string(kMaxOpset) + ")");
  for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();

  const auto& gp = model.graph();
  if (gp.sparse_initializer_size()) throw Unsupported(what + ": sparse initializers are not supported");
  for (const auto& init : gp.initializer())
    g.constants[init.name()] = convert_tensor(init, what + ": initializer '" + init.name() + "'");
  for (const auto& in : gp.input())
    if (!g.is_constant(in.name())) {
      ValueInfo vi;
      try {
        vi = convert_value_info(in, true);
      } catch (const Unsupported& e) {
        throw Unsupported(what + ": " + e.what());
      }
      for (int64_t d : vi.shape)
        if (d >= 0) checked_numel({d}, what + ": graph input '" + vi.name + "'");
      g.inputs.push_back(vi);
    }
  for (const auto& out : gp.output()) g.outputs.push_back(convert_value_info(out, false));
  if (g.outputs.empty()) throw Error(what + ": the graph has no outputs");

  std::set<std::string> known;
  for (const auto& kv : g.constants) known.insert(kv.first);
  for (const auto& in : g.inputs) known.insert(in.name);
  // Node names identify layers (hw.mapping.digital_layers, per-layer statistics): the ONNX IR
  // requires them unique within a graph ("Names within a graph"). An unnamed node is called
  // <op>_<index>, with "_" appended while another node has that name.
  std::set<std::string> named;
  std::map<std::string, int> first_index;
  {
    int i = 0;
    for (const auto& np : gp.node()) {
      if (!np.name().empty()) {
        const auto [it, fresh] = first_index.emplace(np.name(), i);
        if (!fresh)
          throw Error(what + ": node " + std::to_string(i) + " (" + np.op_type() + ") is named '" + np.name() + "' like node " +
                      std::to_string(it->second) +
                      ": node names must be unique within a graph (ONNX IR, \"Names within a graph\"); rename one");
        named.insert(np.name());
      }
      ++i;
    }
  }
  int index = 0;
  for (const auto& np : gp.node()) {
    Node n;
    n.op = np.op_type();
    if (np.name().empty()) {
      n.name = n.op + "_" + std::to_string(index);
      while (named.count(n.name)) n.name += "_";
      named.insert(n.name);
    } else {
      n.name = np.name();
    }
    ++index;
    if (!np.domain().empty() && np.domain() != "ai.onnx")
      throw Unsupported(what + ": " + n.where() + ": op domain '" + np.domain() +
                        "' is not supported; supported ops (default domain): " + supported_ops_list());
    if (!find_op(n.op)) throw Unsupported(what + ": " + n.where() + ": unsupported op; supported: " + supported_ops_list());
    if (g.opset < op_since(n.op))
      throw Unsupported(what + ": " + n.where() + ": opset " + std::to_string(g.opset) + " predates the " + n.op +
                        " semantics ptcsim implements (opset " + std::to_string(op_since(n.op)) + " and later)");
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const auto& in : n.inputs)
      if (!in.empty() && !known.count(in))
        throw Error(what + ": " + n.where() + ": input '" + in +
                    "' is not produced by any earlier node, initializer or graph input (missing initializer?)");
    for (const auto& a : np.attribute()) n.attrs[a.name()] = convert_attr(a, what + ": " + n.where());
    for (const auto& o : n.outputs)
      if (!o.empty()) known.insert(o);
    boost::add_vertex(n, g.dag);
  }
  for (const auto& o : g.outputs)
    if (!known.count(o.name)) throw Error(what + ": graph output '" + o.name + "' is not produced by any node");

  try {
    g.rebuild();
    if (opt.fold_constants) fold_constants(g);
    if (opt.fold_batchnorm) fold_batchnorm(g);
    // Shape inference with every dynamic dim taken as 1: reports dims that do not fit now.
    // (Skipped when an int64 graph input carries shape data known only at run time.)
    bool shape_inputs = false;
    for (const auto& in : g.inputs) shape_inputs |= in.dtype == DType::i64;
    std::vector<Shape> shapes;
    for (const auto& in : g.inputs) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? 1 : d;
      shapes.push_back(s);
    }
    if (!shape_inputs) infer_shapes(g, shapes);
  } catch (const Unsupported& e) {
    throw Unsupported(what + ": " + e.what());
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  return g;
}

Graph import_onnx(const std::string& path, const ImportOptions& opt) {
  // Regular files only, size checked first: a directory used to read as a 9.2e18-byte file.
  return import_onnx_bytes(read_regular_file(path, "model", static_cast<uintmax_t>(kMaxModelBytes)), path, opt);
}

Tensor load_tensor_pb(const std::string& path) {
  onnx::TensorProto tp;
  if (!tp.ParseFromString(read_regular_file(path, "tensor", static_cast<uintmax_t>(kMaxModelBytes))))
    throw Error(path + ": not a valid ONNX TensorProto");
  return convert_tensor(tp, path);
}

}  // namespace ptc::models
