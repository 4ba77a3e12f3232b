// ONNX import: file -> Graph (graph.h). Parses with Debian's libonnx protobuf classes, converts
// initializers (float32/int64/int32), checks opsets (1-17, per op from the
// oldest version whose semantics are implemented) and ops (ops.h), folds constant
// subgraphs, folds BatchNormalization into a preceding Conv/Gemm where that is exact, removes
// dead nodes, sorts topologically and infers shapes once (dynamic dims taken as 1) so that a
// dimension that does not fit is reported at import.
// Contract: throws ptc::Error (or ptc::Unsupported) with one line naming the file and the node,
// op type or tensor at fault; never allocates a tensor before checking its declared size.
#pragma once

#include <string>

#include "models/graph.h"

namespace ptc::models {

// Largest model file accepted (protobuf's own hard limit is 2 GiB).
constexpr int64_t kMaxModelBytes = int64_t{1} << 30;

struct ImportOptions {
  bool fold_constants = true;
  bool fold_batchnorm = true;
};

Graph import_onnx(const std::string& path, const ImportOptions& opt = {});
// Same, from serialized bytes; `what` names the source in messages.
Graph import_onnx_bytes(const std::string& bytes, const std::string& what, const ImportOptions& opt = {});

// A TensorProto file (ONNX test data input_N.pb / output_N.pb) as a Tensor.
Tensor load_tensor_pb(const std::string& path);

}  // namespace ptc::models
