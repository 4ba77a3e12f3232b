#include "models/compiler.h"

#include <algorithm>
#include <map>
#include <set>

#include "models/error.h"
#include "models/executor.h"

namespace ptc::models {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Cuts a row-major [rows, cols] matrix into zero-padded k x k blocks.
GemmTiles tile(const float* w, int64_t rows, int64_t cols, int64_t k) {
  GemmTiles t;
  t.rows = rows;
  t.cols = cols;
  t.P = ceil_div(rows, k);
  t.Q = ceil_div(cols, k);
  t.blocks.assign(static_cast<size_t>(checked_numel({t.P, t.Q, k, k}, "tiled weights")), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.blocks[(((r / k) * t.Q + c / k) * k + r % k) * k + c % k] = w[r * cols + c];
  t.core.assign(t.P * t.Q, 0);
  t.chunk.assign(t.P * t.Q, 0);
  return t;
}

}  // namespace

bool has_batchnorm(const Graph& g) {
  for (Vertex v : g.order)
    if (g.node(v).op == "BatchNormalization") return true;
  return false;
}

bool is_weight_layer(const Graph& g, const Node& n) {
  if (n.op == "Conv") return n.inputs.size() > 1 && g.is_constant(n.inputs[1]);
  if ((n.op == "Gemm" || n.op == "MatMul") && n.inputs.size() > 1 && g.is_constant(n.inputs[1]) && !g.is_constant(n.inputs[0])) {
    const Tensor& b = g.constants.at(n.inputs[1]);
    return b.rank() == 2 && b.dtype == DType::f32;
  }
  return false;
}

std::vector<std::string> weight_layer_names(const Graph& g) {
  std::vector<std::string> v;
  for (Vertex x : g.order)
    if (is_weight_layer(g, g.node(x))) v.push_back(g.node(x).name);
  return v;
}

std::vector<std::string> resolve_digital_layers(const Graph& g, const std::vector<std::string>& digital,
                                                const std::string& model) {
  const std::vector<std::string> layers = weight_layer_names(g);
  std::map<std::string, size_t> chosen;  // layer -> the entry that named it
  for (size_t i = 0; i < digital.size(); ++i) {
    const std::string& d = digital[i];
    std::string layer;
    if (std::find(layers.begin(), layers.end(), d) != layers.end()) {
      layer = d;
    } else if ((d == "first" || d == "last") && !layers.empty()) {
      layer = d == "first" ? layers.front() : layers.back();
    }
    if (!layer.empty()) {  // a layer named twice is most likely a slip for another one
      const auto [it, fresh] = chosen.emplace(layer, i);
      if (!fresh)
        throw Error("digital_layers[" + std::to_string(i) + "]: \"" + d + "\" names layer " + layer +
                    ", already named by digital_layers[" + std::to_string(it->second) + "] (\"" + digital[it->second] +
                    "\"); name each layer once");
    } else {
      std::string list;
      for (const auto& l : layers) list += (list.empty() ? "" : ", ") + l;
      throw Error("digital_layers[" + std::to_string(i) + "]: \"" + d + "\" is not a weight layer of " + model +
                  " (weight layers: " + list + "; or first, last)");
    }
  }
  std::vector<std::string> out;  // in topological order
  for (const auto& l : layers)
    if (chosen.count(l)) out.push_back(l);
  return out;
}

const std::vector<std::string>& mapping_names() {
  static const std::vector<std::string> names = {"cyclic", "stationary", "streaming"};
  return names;
}

const std::vector<std::string>& stream_order_names() {
  static const std::vector<std::string> names = {"native", "per_cell", "greedy", "sort_mean"};
  return names;
}

std::vector<std::vector<float>> weight_to_blocks(const CompiledLayer& L, const std::vector<float>& w, int64_t k) {
  int64_t numel = 1;
  for (int64_t d : L.weight_shape) numel *= d;
  if (static_cast<int64_t>(w.size()) != numel)
    throw Error("layer " + L.node + ": weight has " + std::to_string(w.size()) + " values, expected " + std::to_string(numel));
  std::vector<std::vector<float>> out;
  for (size_t g = 0; g < L.gemms.size(); ++g) {
    const GemmTiles& t = L.gemms[g];
    std::vector<float> m(static_cast<size_t>(t.rows * t.cols));
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t c = 0; c < t.cols; ++c)
        m[r * t.cols + c] = L.weight_transposed ? w[c * t.rows + r] : w[(static_cast<int64_t>(g) * t.rows + r) * t.cols + c];
    GemmTiles b = tile(m.data(), t.rows, t.cols, k);
    out.push_back(std::move(b.blocks));
  }
  return out;
}

std::vector<float> blocks_to_weight(const CompiledLayer& L, const std::vector<std::vector<float>>& blocks, int64_t k) {
  if (blocks.size() != L.gemms.size())
    throw Error("layer " + L.node + ": expected " + std::to_string(L.gemms.size()) + " groups");
  int64_t numel = 1;
  for (int64_t d : L.weight_shape) numel *= d;
  std::vector<float> w(static_cast<size_t>(numel));
  for (size_t g = 0; g < L.gemms.size(); ++g) {
    GemmTiles t = L.gemms[g];
    if (blocks[g].size() != t.blocks.size()) throw Error("layer " + L.node + ": block count mismatch");
    t.blocks = blocks[g];
    std::vector<float> m = untile(t, k);
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t c = 0; c < t.cols; ++c)
        (L.weight_transposed ? w[c * t.rows + r] : w[(static_cast<int64_t>(g) * t.rows + r) * t.cols + c]) = m[r * t.cols + c];
  }
  return w;
}

std::vector<float> untile(const GemmTiles& t, int64_t k) {
  std::vector<float> w(static_cast<size_t>(t.rows * t.cols));
  for (int64_t r = 0; r < t.rows; ++r)
    for (int64_t c = 0; c < t.cols; ++c) w[r * t.cols + c] = t.blocks[(((r / k) * t.Q + c / k) * k + r % k) * k + c % k];
  return w;
}

CompiledWorkload compile(const Graph& g, const TilingSpec& spec) {
  if (spec.rows < 1 || spec.cols < 1 || spec.block_size < 1)
    throw Error("tensor-core array " + std::to_string(spec.rows) + "x" + std::to_string(spec.cols) + " with block size " +
                std::to_string(spec.block_size) + ": all must be >= 1");
  const auto& names = mapping_names();
  if (std::find(names.begin(), names.end(), spec.mapping) == names.end())
    throw Error("unknown mapping \"" + spec.mapping + "\"; registered: cyclic, stationary, streaming");
  const auto& orders = stream_order_names();
  if (std::find(orders.begin(), orders.end(), spec.order) == orders.end())
    throw Error("unknown streaming order \"" + spec.order + "\"; registered: native, per_cell, greedy, sort_mean");
  if (spec.order != "native" && spec.mapping != "streaming")
    throw Error("streaming order \"" + spec.order + "\" needs mapping \"streaming\", got \"" + spec.mapping + "\"");
  if (spec.batchnorm != "fold" && spec.batchnorm != "digital")
    throw Error("batchnorm \"" + spec.batchnorm + "\": expected fold or digital");
  std::vector<Shape> in_shapes;
  for (const auto& in : g.inputs) {
    Shape s = in.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;  // one sample
    in_shapes.push_back(s);
  }
  std::map<std::string, Shape> shapes = infer_shapes(g, in_shapes);
  const int64_t R = spec.rows, C = spec.cols, k = spec.block_size;
  CompiledWorkload wl;
  wl.spec = spec;
  wl.digital_layers = resolve_digital_layers(g, spec.digital_layers);
  const std::set<std::string> digital(wl.digital_layers.begin(), wl.digital_layers.end());
  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    CompiledLayer L;
    L.node = n.name;
    L.op = n.op;
    std::vector<float> wmat;  // [rows, cols] per group, concatenated
    int64_t rows = 0, cols = 0;
    const bool weight_layer = is_weight_layer(g, n);
    if (weight_layer && n.op == "Conv") {
      const Tensor& w = g.constants.at(n.inputs[1]);
      L.groups = n.attr_i("group", 1);
      rows = w.shape[0] / L.groups;
      cols = w.numel() / w.shape[0];
      wmat = w.f;  // [M, C/g*kh*kw] row-major: group g = rows [g*rows, (g+1)*rows)
      L.weight_shape = w.shape;
      const Shape& y = shapes.at(n.outputs[0]);
      L.num_vectors = 1;
      for (size_t d = 2; d < y.size(); ++d) L.num_vectors *= y[d];
    } else if (weight_layer) {
      const Tensor& b = g.constants.at(n.inputs[1]);
      bool tb = n.op == "Gemm" && n.attr_i("transB", 0);
      int64_t K = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
      rows = N;
      cols = K;
      L.weight_shape = b.shape;
      L.weight_transposed = !tb;
      wmat.resize(N * K);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < K; ++j) wmat[i * K + j] = tb ? b.f[i * K + j] : b.f[j * N + i];
      const Shape& y = shapes.at(n.outputs[0]);
      int64_t total = 1;
      for (int64_t d : y) total *= d;
      L.num_vectors = N ? total / N : 0;
    }
    if (!weight_layer || digital.count(n.name)) {
      wl.digital_ops.push_back(n.name + " (" + n.op + ")");
      if (weight_layer) wl.digital_macs += rows * cols * L.groups * L.num_vectors;
      continue;
    }
    L.weight = n.inputs[1];
    for (int64_t gi = 0; gi < L.groups; ++gi) {
      GemmTiles t = tile(wmat.data() + gi * rows * cols, rows, cols, k);
      int64_t pc = ceil_div(t.P, R), qc = ceil_div(t.Q, C);
      for (int64_t p = 0; p < t.P; ++p)
        for (int64_t q = 0; q < t.Q; ++q) {
          if (spec.mapping == "cyclic") {
            t.core[p * t.Q + q] = static_cast<int32_t>((p % R) * C + q % C);
            t.chunk[p * t.Q + q] = static_cast<int32_t>(L.chunks + (p / R) * qc + q / C);
          } else if (spec.mapping == "streaming") {
            // Block-row p on core p mod RC; its Q blocks are programmed on it one after another.
            t.core[p * t.Q + q] = static_cast<int32_t>(p % (R * C));
            t.chunk[p * t.Q + q] = static_cast<int32_t>(L.chunks + (p / (R * C)) * t.Q + q);
          } else {
            t.core[p * t.Q + q] = static_cast<int32_t>(wl.blocks + p * t.Q + q);
            t.chunk[p * t.Q + q] = 0;
          }
        }
      if (spec.mapping == "cyclic") L.chunks += pc * qc;
      if (spec.mapping == "streaming") L.chunks += ceil_div(t.P, R * C) * t.Q;
      L.macs += rows * cols * L.num_vectors;
      wl.blocks += t.P * t.Q;
      L.gemms.push_back(std::move(t));
    }
    if (spec.mapping == "stationary") L.chunks = 1;
    L.cycles = L.chunks * L.num_vectors;
    wl.chunks += L.chunks;
    wl.cycles_per_inference += L.cycles;
    wl.macs += L.macs;
    wl.layers.push_back(std::move(L));
  }
  if (spec.mapping == "stationary" && wl.blocks > R * C)
    throw Error("mapping.name: stationary mapping needs " + std::to_string(wl.blocks) + " tensor cores (one per " +
                std::to_string(k) + "x" + std::to_string(k) + " block), the array has " + std::to_string(R) + "x" +
                std::to_string(C) + " = " + std::to_string(R * C) + "; use a larger array or mapping \"cyclic\"");
  if (wl.layers.empty() && !wl.digital_layers.empty())
    throw Error("mapping.digital_layers: every weight layer of the model is kept digital (" +
                std::to_string(wl.digital_layers.size()) + "); at least one must run on the tensor cores");
  return wl;
}

std::map<std::string, int64_t> CompiledWorkload::layer_index() const {
  std::map<std::string, int64_t> m;
  for (size_t i = 0; i < layers.size(); ++i) m[layers[i].node] = static_cast<int64_t>(i);
  return m;
}

nlohmann::json CompiledWorkload::to_json(bool include_blocks) const {
  nlohmann::json j;
  j["tiling"] = {{"rows", spec.rows}, {"cols", spec.cols}, {"block_size", spec.block_size}, {"mapping", spec.mapping}};
  if (spec.mapping == "streaming") j["tiling"]["order"] = spec.order;
  if (spec.batchnorm != "fold") j["tiling"]["batchnorm"] = spec.batchnorm;
  j["totals"] = {{"cycles_per_inference", cycles_per_inference},
                 {"chunks", chunks},
                 {"blocks", blocks},
                 {"macs_per_inference", macs},
                 {"weight_layers", layers.size()}};
  j["layers"] = nlohmann::json::array();
  for (const auto& L : layers) {
    nlohmann::json l = {{"node", L.node},
                        {"op", L.op},
                        {"weight", L.weight},
                        {"groups", L.groups},
                        {"gemm_rows", L.gemms[0].rows},
                        {"gemm_cols", L.gemms[0].cols},
                        {"P", L.gemms[0].P},
                        {"Q", L.gemms[0].Q},
                        {"chunks", L.chunks},
                        {"num_vectors", L.num_vectors},
                        {"cycles", L.cycles},
                        {"macs", L.macs}};
    if (include_blocks) {
      // core_of_block[group][p][q] = core index (core_row * cols + core_col)
      nlohmann::json groups = nlohmann::json::array();
      for (const auto& t : L.gemms) {
        nlohmann::json rowsj = nlohmann::json::array();
        for (int64_t p = 0; p < t.P; ++p)
          rowsj.push_back(std::vector<int32_t>(t.core.begin() + p * t.Q, t.core.begin() + (p + 1) * t.Q));
        groups.push_back(rowsj);
      }
      l["core_of_block"] = groups;
    }
    j["layers"].push_back(l);
  }
  j["digital_ops"] = digital_ops;
  if (!digital_layers.empty()) {  // only when some are (the JSON of other workloads stays as it was)
    j["digital_layers"] = digital_layers;
    j["totals"]["digital_macs_per_inference"] = digital_macs;
  }
  return j;
}

}  // namespace ptc::models
