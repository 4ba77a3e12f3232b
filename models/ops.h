// The op set: for each supported ONNX op, a `prepare` function that checks the node against its
// input shapes/types (and input values known before run time), infers output shapes, and returns
// the kernel that computes it. Contract: prepare throws ptc::Error naming the node for a shape that
// does not fit and ptc::Unsupported for a valid-but-unimplemented variant; the returned kernel
// never allocates and only writes its preallocated outputs (plus the plan's scratch buffer).
#pragma once

#include <algorithm>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/mapped_gemm.h"
#include "models/tensor.h"

namespace ptc::models {

// What is known about an input when a node is prepared for a given batch size.
struct ValueState {
  Shape shape;
  DType dtype = DType::f32;
  const Tensor* value = nullptr;  // non-null when the value is known before run time
};

struct KernelArgs {
  std::vector<const Tensor*> in;  // nullptr for omitted optional inputs
  std::vector<Tensor*> out;
  float* scratch = nullptr;  // threads x Prepared::scratch_floats floats (one slice per thread)
  int threads = 1;           // worker threads a kernel may use (results never depend on it)
  // Weight layers (Conv/Gemm/MatMul with constant weights) run through `mapped` when it is set
  // and `layer` >= 0 (index in the compiled workload); otherwise with the dense weights.
  MappedGemm* mapped = nullptr;
  int64_t layer = -1;
  int64_t sample_base = 0;  // index of this batch's sample 0 in the mapped model's draws
  // Epilogue fused by the Executor into a Conv: the following Relu or Clip (static bounds),
  // applied to each sample's output inside the Conv's parallel loop with the very expression the
  // Relu/Clip kernel uses (same bits, one memory pass less).
  using Post = PostOp;
  Post post = Post::None;
  float post_lo = 0.0f, post_hi = 0.0f;
};

// y[j] = the epilogue of k applied to y[j], for j < n.
inline void apply_post(const KernelArgs& k, float* y, int64_t n) {
  if (k.post == KernelArgs::Post::Relu) {
    for (int64_t j = 0; j < n; ++j) y[j] = y[j] > 0.0f ? y[j] : 0.0f;  // as prep_relu
  } else if (k.post == KernelArgs::Post::Clip) {
    const float l = k.post_lo, h = k.post_hi;
    for (int64_t j = 0; j < n; ++j) y[j] = std::min(std::max(y[j], l), h);  // as prep_clip
  }
}

using Kernel = std::function<void(const KernelArgs&)>;

struct Prepared {
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  // Set when the op computes its outputs at prepare time (Shape: the shape is known per plan).
  std::vector<std::optional<Tensor>> statics;
  Kernel run;
  size_t scratch_floats = 0;
};

using PrepareFn = Prepared (*)(const Node&, const std::vector<ValueState>&, int64_t opset);

// nullptr if the op is not supported.
PrepareFn find_op(const std::string& op);
// Oldest opset the implementation of `op` covers (0 if unsupported).
int64_t op_since(const std::string& op);
// Sorted names of the supported ops.
const std::vector<std::string>& supported_ops();
std::string supported_ops_list();  // comma-separated, for error messages

// Lowest and highest default-domain opset the importer accepts.
constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 17;

// Evaluates one node whose inputs are all known (constant folding, tests).
std::vector<Tensor> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset);

}  // namespace ptc::models
