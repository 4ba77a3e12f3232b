// Workload compiler: lowers every weight layer of a Graph to GEMMs, cuts each weight matrix into
// k x k blocks [P, Q, k, k] (zero-padded) and maps the blocks onto an R x C array of tensor cores.
// Cycle model (DOCTOR, Lu et al. JLT 2024; docs/doctor.md §1): with the `cyclic` mapping, block
// (p, q) runs on core (p mod R, q mod C) and the ceil(P/R) x ceil(Q/C) chunks of a layer run one after another, each
// taking one cycle per input vector (num_vectors = Hout*Wout for Conv, rows per sample for
// Gemm/MatMul); with `stationary`, every block owns a core and a layer takes num_vectors cycles.
// With `streaming` (ELight, Zhu et al. ASP-DAC 2022 §III; docs/elight.md §1), block-row p of a
// layer runs on core p mod RC and its Q blocks are programmed onto that core one after another
// (partial products accumulated digitally): ceil(P/RC) x Q chunks, each re-programming the cores
// before its num_vectors cycles. The programming cost is the device's (hw/streaming.h).
// Contract: weight layers are Conv with a constant weight, Gemm with a constant B and MatMul with
// a constant 2-D B; all other ops run digitally and are listed as such. Weight layers named in
// TilingSpec::digital_layers stay off the array too (docs/layers.md §2: aihwkit converts
// only the layers it is given; the first and last layer are often kept digital): they run in fp32
// on the digital side, are listed in `digital_ops` and counted in `digital_macs`, and own no blocks.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ptc::models {

struct TilingSpec {
  int64_t rows = 4;        // R: tensor-core rows
  int64_t cols = 4;        // C: tensor-core columns
  int64_t block_size = 8;  // k: each core is a k x k weight bank
  std::string mapping = "cyclic";
  std::string order = "native";  // streaming order of each block-row (streaming only; hw/streaming.h)
  // Streaming only: images computed per pass (each block programmed once, then its cycles for
  // every image of the pass; docs/elight.md §1). The compiler's cycles stay per image.
  int64_t images_per_pass = 1;
  // Weight layers kept digital: ONNX node names, or "first" / "last" (the first / last weight
  // layer in topological order). Unknown names are errors; at least one layer must stay analog.
  std::vector<std::string> digital_layers = {};
  // BatchNormalization after a weight layer: "fold" (into the weights and bias at import) or
  // "digital" (kept as a digital op; the array holds the trained pre-BatchNorm weights). Read by
  // whoever imports the model (ImportOptions::fold_batchnorm); the compiler only reports it.
  std::string batchnorm = "fold";
};

// Whether g has a BatchNormalization node (left by import with ImportOptions::fold_batchnorm off).
bool has_batchnorm(const Graph& g);
// Whether node n of g is a weight layer the compiler can map (the Contract above), before the
// digital_layers choice.
bool is_weight_layer(const Graph& g, const Node& n);
// The mappable weight layers of g in topological order (node names).
std::vector<std::string> weight_layer_names(const Graph& g);
// The node names `digital` selects among the weight layers (resolving "first" / "last"); throws
// ptc::Error naming the entry (its index) and listing the weight layers for an unknown name.
// `model` names the model in that message.
std::vector<std::string> resolve_digital_layers(const Graph& g, const std::vector<std::string>& digital,
                                                const std::string& model = "the model");

// Registered mapping names (cyclic, stationary, streaming).
const std::vector<std::string>& mapping_names();
// Registered streaming orders (native, per_cell, greedy, sort_mean; hw/streaming.h).
const std::vector<std::string>& stream_order_names();

// One GEMM of a layer (a layer has `groups` of them; grouped Conv).
struct GemmTiles {
  int64_t rows = 0, cols = 0;  // weight matrix [rows = outputs, cols = inputs]
  int64_t P = 0, Q = 0;        // blocks per column / row: ceil(rows/k), ceil(cols/k)
  std::vector<float> blocks;   // [P, Q, k, k], zero-padded
  std::vector<int32_t> core;   // per block p*Q+q: core index row*C + col
  std::vector<int32_t> chunk;  // per block: chunk index within the layer (execution order)
};

struct CompiledLayer {
  std::string node, op, weight;    // node name, op type, weight value
  Shape weight_shape;              // the weight tensor as stored in the graph
  bool weight_transposed = false;  // stored [K, N] (MatMul, Gemm without transB): GEMM row i = column i
  int64_t groups = 1;
  std::vector<GemmTiles> gemms;  // one per group
  int64_t num_vectors = 0;       // input vectors per sample
  int64_t chunks = 0;
  int64_t cycles = 0;  // per inference of one sample
  int64_t macs = 0;    // per sample, unpadded
};

struct CompiledWorkload {
  TilingSpec spec;
  std::vector<CompiledLayer> layers;
  std::vector<std::string> digital_ops;     // nodes executed digitally ("name (Op)")
  std::vector<std::string> digital_layers;  // weight layers kept digital (spec.digital_layers resolved), in order
  int64_t digital_macs = 0;                 // per sample, the MACs of those layers (fp32, off the array)
  int64_t cycles_per_inference = 0;
  int64_t chunks = 0;
  int64_t blocks = 0;
  int64_t macs = 0;
  // Node name -> index in `layers` (for Executor::set_mapped).
  std::map<std::string, int64_t> layer_index() const;
  // include_blocks: add the core of every block (can be large).
  nlohmann::json to_json(bool include_blocks = true) const;
};

CompiledWorkload compile(const Graph& g, const TilingSpec& spec);

// Inverse of the tiling: the [rows, cols] weight matrix of one GEMM.
std::vector<float> untile(const GemmTiles& t, int64_t block_size);

// Between a layer's weight tensor (graph layout, e.g. a gradient) and its blocks [P, Q, k, k] per
// group (the compiled layout, zero-padded). Shapes are checked.
std::vector<std::vector<float>> weight_to_blocks(const CompiledLayer& L, const std::vector<float>& w, int64_t block_size);
std::vector<float> blocks_to_weight(const CompiledLayer& L, const std::vector<std::vector<float>>& blocks, int64_t block_size);

}  // namespace ptc::models
