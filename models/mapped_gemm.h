// Hook through which the hardware model computes the weight layers of a compiled workload.
// Contract: gemm() computes y = W_eff * x for one group of one weight layer (numbered as in
// CompiledWorkload::layers) and one sample of the current batch, where W_eff is the [rows, cols]
// weight matrix the hardware realises for that sample. x holds n input vectors, laid out
// [cols, n] (x_trans = false) or [n, cols] (x_trans = true), row-major; y is written [rows, n] or
// [n, rows] likewise. It is called concurrently for different samples and must be thread-safe;
// results must not depend on the calling thread.
#pragma once

#include <cstdint>

namespace ptc::models {

class MappedGemm {
 public:
  virtual ~MappedGemm() = default;
  virtual void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
                    bool y_trans) = 0;
};

}  // namespace ptc::models
