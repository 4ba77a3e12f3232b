// Hook through which the hardware model computes the weight layers of a compiled workload.
// Contract: gemm() computes y = W_eff * x for one group of one weight layer (numbered as in
// CompiledWorkload::layers) and one sample of the current batch, where W_eff is the [rows, cols]
// weight matrix the hardware realises for that sample. x holds n input vectors, laid out
// [cols, n] (x_trans = false) or [n, cols] (x_trans = true), row-major; y is written [rows, n] or
// [n, rows] likewise. It is called concurrently for different samples and must be thread-safe;
// results must not depend on the calling thread.
// conv_same_width() is an optional shortcut for convolutions: the same y = W_eff * x with x the
// im2col matrix of one image, without materialising it; it returns false when the hardware model
// does not provide it (the caller then runs im2col and gemm()), and when it returns true the
// result is the same (bits) as gemm() on the im2col matrix followed by the epilogue (bias, then
// Relu/Clip, each rounded as the separate passes round them).
#pragma once

#include <cstdint>

namespace ptc::models {

// A unit-stride convolution whose output is as wide as its input (ow = iw, e.g. "same" padding):
// im2col row (c kh + i) kw + j, column oh iw + ow holds image[c][oh + i dh - pt][ow + j dw - pl]
// (0 outside the image), oh < out_h.
struct SameWidthConv {
  int64_t channels = 0, ih = 0, iw = 0, kh = 1, kw = 1, dh = 1, dw = 1, pt = 0, pl = 0, out_h = 0;
};

// What follows a convolution's product, applied by conv_same_width() while the output is in
// cache: y[m, :] += bias[m] (bias may be null), then Relu (x > 0 ? x : 0) or Clip (min(max(x, lo), hi)).
enum class PostOp { None, Relu, Clip };
struct ConvEpilogue {
  const float* bias = nullptr;
  PostOp post = PostOp::None;
  float lo = 0.0f, hi = 0.0f;
};

class MappedGemm {
 public:
  virtual ~MappedGemm() = default;
  virtual void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
                    bool y_trans) = 0;
  // y [rows, out_h iw] = epilogue(W_eff * im2col(image)) (image [channels, ih, iw] of one sample
  // and group; ep null: no epilogue).
  virtual bool conv_same_width(int64_t /*layer*/, int64_t /*group*/, int64_t /*sample*/, const float* /*image*/,
                               const SameWidthConv& /*c*/, float* /*y*/, const ConvEpilogue* /*ep*/ = nullptr) {
    return false;
  }
};

}  // namespace ptc::models
