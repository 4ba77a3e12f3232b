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
// a constant 2-D B; all other ops run digitally and are listed as such.
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
};

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
  std::vector<std::string> digital_ops;  // nodes executed digitally ("name (Op)")
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
