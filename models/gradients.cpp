// Reverse-mode differentiation of the cross-entropy loss over the op set of ops.h. The forward pass
// runs the ops' own prepared kernels (so it equals the Executor), keeping every activation; each
// node on the gradient path gets a backward closure built once per input shape. Backward rules are
// the standard adjoints (e.g. Goodfellow, Bengio, Courville, "Deep Learning", section 6.5):
// Conv dW = dY col(X)^T, dX = col2im(W^T dY); Gemm/MatMul dA = dY B^T, dB = A^T dY; elementwise
// ops by their local derivative, reduced over broadcast dims; data movement by scattering dY back
// through the source index of every output element.
#include "models/gradients.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "models/error.h"
#include "models/executor.h"
#include "models/ops.h"

namespace ptc::models {
namespace {

[[noreturn]] void unsupported(const Node& n, const std::string& msg) {
  throw Unsupported(n.where() + ": " + msg);
}

// Samples are split into this many contiguous slots for parallel weight-gradient sums; partial
// sums are added in slot order, so the result does not depend on the thread count.
constexpr int64_t kSlots = 8;

struct BwdArgs {
  std::vector<const Tensor*> in;  // forward inputs (nullptr: omitted)
  const Tensor* out = nullptr;    // forward output
  const float* dy = nullptr;      // dL/d(output)
  std::vector<float*> din;        // dL/d(input k) is ADDED here; nullptr: not needed
  int threads = 1;
  BackwardGemm* hw = nullptr;  // hardware products of a mapped layer (GradientEngine::set_hardware)
  int64_t layer = -1;
};

// One product of a GEMM-like backward: through the hardware hook of a mapped layer (din[0]'s
// product is the input gradient, din[1]'s the weight gradient), else exact (cblas_sgemm).
void bw_sgemm(const BwdArgs& r, GemmPass pass, uint64_t site, bool ta, bool tb, int m, int n, int k, float alpha, const float* A,
              int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (r.hw) {
    r.hw->gemm({r.layer, pass, site}, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta,
              C, ldc);
}
constexpr GemmPass kDX = GemmPass::input_gradient, kDW = GemmPass::weight_gradient;
using Backward = std::function<void(const BwdArgs&)>;

// Ops with a backward, and the inputs a gradient may flow into (-1: all of them).
const std::map<std::string, std::vector<int>>& backward_inputs() {
  static const std::map<std::string, std::vector<int>> table = {
      {"Add", {0, 1}},        {"AveragePool", {0}}, {"BatchNormalization", {0, 1, 2, 3, 4}},
      {"Clip", {0}},          {"Concat", {-1}},     {"Conv", {0, 1, 2}},
      {"Div", {0, 1}},        {"Dropout", {0}},     {"Flatten", {0}},
      {"Gather", {0}},        {"Gemm", {0, 1, 2}},  {"GlobalAveragePool", {0}},
      {"GlobalMaxPool", {0}}, {"Identity", {0}},    {"LeakyRelu", {0}},
      {"MatMul", {0, 1}},     {"MaxPool", {0}},     {"Mul", {0, 1}},
      {"Pad", {0}},           {"ReduceMean", {0}},  {"Relu", {0}},
      {"Reshape", {0}},       {"Sigmoid", {0}},     {"Slice", {0}},
      {"Softmax", {0}},       {"Squeeze", {0}},     {"Sub", {0, 1}},
      {"Tanh", {0}},          {"Transpose", {0}},   {"Unsqueeze", {0}},
  };
  return table;
}

std::string backward_ops_list() {
  std::string s;
  for (const auto& kv : backward_inputs()) s += (s.empty() ? "" : ", ") + kv.first;
  return s;
}

bool differentiable_input(const std::string& op, size_t k) {
  const auto& v = backward_inputs().at(op);
  return std::find(v.begin(), v.end(), -1) != v.end() || std::find(v.begin(), v.end(), static_cast<int>(k)) != v.end();
}

// ---------------------------------------------------------------- broadcasting helpers
Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape st(out.size(), 0), s = strides_of(in);
  size_t off = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) st[k + off] = in[k] == 1 ? 0 : s[k];
  return st;
}

// Calls f(j, oa, ob) for every element j of `out` in row-major order, oa/ob the offsets of two
// operands read through strides sa/sb (0 along broadcast dims).
template <class F>
void for_each_bcast(const Shape& out, const Shape& sa, const Shape& sb, F f) {
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  int64_t r = static_cast<int64_t>(out.size());
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t j = 0; j < total; ++j) {
    f(j, oa, ob);
    for (int64_t d = r - 1; d >= 0; --d) {
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// ---------------------------------------------------------------- elementwise
template <class F>
Backward unary_bwd(F deriv) {  // deriv(x, y) = dy/dx
  return [deriv](const BwdArgs& a) {
    const float* x = a.in[0]->f.data();
    const float* y = a.out->f.data();
    float* dx = a.din[0];
    size_t n = a.in[0]->f.size();
    for (size_t j = 0; j < n; ++j) dx[j] += a.dy[j] * deriv(x[j], y[j]);
  };
}

Backward clip_bwd(const Node& n, int64_t opset) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (opset < 11) {
    lo = n.attr_f("min", lo);
    hi = n.attr_f("max", hi);
  }
  bool has_lo = opset >= 11 && n.input_given(1), has_hi = opset >= 11 && n.input_given(2);
  return [=](const BwdArgs& a) {
    float l = has_lo ? a.in[1]->f[0] : lo, h = has_hi ? a.in[2]->f[0] : hi;
    const float* x = a.in[0]->f.data();
    size_t cnt = a.in[0]->f.size();
    for (size_t j = 0; j < cnt; ++j)
      if (x[j] >= l && x[j] <= h) a.din[0][j] += a.dy[j];
  };
}

// Data that is only relabelled (same elements, same order): dX = dY.
Backward alias_bwd() {
  return [](const BwdArgs& a) {
    size_t n = a.out->f.size();
    for (size_t j = 0; j < n; ++j) a.din[0][j] += a.dy[j];
  };
}

enum class Bin { Add, Sub, Mul, Div };

Backward binary_bwd(const Node& n, const std::vector<ValueState>& in, int64_t opset, Bin op) {
  Shape a = in[0].shape, b = in[1].shape;
  if (opset < 7 && n.attr_i("broadcast", 0)) {  // legacy: B's dims align with A's from `axis`
    int64_t axis = n.attr_i("axis", static_cast<int64_t>(a.size() - b.size()));
    if (axis < 0) axis += static_cast<int64_t>(a.size());
    Shape nb(a.size() - axis, 1);
    std::copy(b.begin(), b.end(), nb.begin());
    b = nb;
  }
  Shape out = broadcast_shape(a, b);
  Shape sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  return [=](const BwdArgs& r) {
    const float* A = r.in[0]->f.data();
    const float* B = r.in[1]->f.data();
    const float* dy = r.dy;
    float *da = r.din[0], *db = r.din[1];
    for_each_bcast(out, sa, sb, [&](int64_t j, int64_t oa, int64_t ob) {
      float g = dy[j];
      switch (op) {
        case Bin::Add:
          if (da) da[oa] += g;
          if (db) db[ob] += g;
          break;
        case Bin::Sub:
          if (da) da[oa] += g;
          if (db) db[ob] -= g;
          break;
        case Bin::Mul:
          if (da) da[oa] += g * B[ob];
          if (db) db[ob] += g * A[oa];
          break;
        case Bin::Div:  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
          if (da) da[oa] += g / B[ob];
          if (db) db[ob] -= g * (A[oa] / B[ob]) / B[ob];
          break;
      }
    });
  };
}

// ---------------------------------------------------------------- GEMM-like ops
// squared_coefs: alpha^2 and beta^2 in place of alpha and beta (the curvature pass).
Backward gemm_bwd(const Node& n, const std::vector<ValueState>& in, bool squared_coefs = false) {
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  float alpha = n.attr_f("alpha", 1.0f), beta = n.attr_f("beta", 1.0f);
  if (squared_coefs) {
    alpha *= alpha;
    beta *= beta;
  }
  Shape a = in[0].shape, b = in[1].shape;
  int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
  Shape out{M, N}, sc;
  if (n.input_given(2)) sc = broadcast_strides(in[2].shape, out);
  int lda = static_cast<int>(a[1]), ldb = static_cast<int>(b[1]);
  int m = static_cast<int>(M), k = static_cast<int>(K), nn = static_cast<int>(N);
  return [=](const BwdArgs& r) {
    const float* A = r.in[0]->f.data();
    const float* B = r.in[1]->f.data();
    const float* dY = r.dy;
    if (M > 0 && N > 0 && K > 0) {
      // Y = alpha A' B', A' = op(A) [M,K], B' = op(B) [K,N]: dA' = alpha dY B'^T, dB' = alpha A'^T
      // dY.
      if (float* dA = r.din[0]) {
        if (!ta)
          bw_sgemm(r, kDX, 0, false, !tb, m, k, nn, alpha, dY, nn, B, ldb, 1.0f, dA, k);
        else  // dA = (dA')^T = alpha B' dY^T
          bw_sgemm(r, kDX, 0, tb, true, k, m, nn, alpha, B, ldb, dY, nn, 1.0f, dA, m);
      }
      if (float* dB = r.din[1]) {
        if (!tb)
          bw_sgemm(r, kDW, 0, !ta, false, k, nn, m, alpha, A, lda, dY, nn, 1.0f, dB, nn);
        else  // dB = (dB')^T = alpha dY^T A'
          bw_sgemm(r, kDW, 0, true, ta, nn, k, m, alpha, dY, nn, A, lda, 1.0f, dB, k);
      }
    }
    if (r.din.size() > 2 && r.din[2]) {
      float* dC = r.din[2];
      for_each_bcast(out, sc, sc, [&](int64_t j, int64_t oc, int64_t) { dC[oc] += beta * dY[j]; });
    }
  };
}

Backward matmul_bwd(const std::vector<ValueState>& in) {
  Shape a = in[0].shape, b = in[1].shape;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape batch = broadcast_shape(ba, bb);
  int64_t nb = 1;
  for (int64_t d : batch) nb *= d;
  std::vector<int64_t> offa(nb), offb(nb);
  Shape sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
  for_each_bcast(batch, sa, sb, [&](int64_t j, int64_t oa, int64_t ob) {
    offa[j] = oa * M * K;
    offb[j] = ob * K * N;
  });
  // B shared by all batches and A contiguous over them: fold the batch into M (one sgemm each).
  bool fold = std::all_of(offb.begin(), offb.end(), [](int64_t o) { return o == 0; });
  for (int64_t j = 0; fold && j < nb; ++j) fold = offa[j] == j * M * K;
  int m = static_cast<int>(M), k = static_cast<int>(K), n = static_cast<int>(N);
  return [=](const BwdArgs& r) {
    const float* A = r.in[0]->f.data();
    const float* B = r.in[1]->f.data();
    const float* dY = r.dy;
    float *dA = r.din[0], *dB = r.din[1];
    if (M == 0 || N == 0 || K == 0 || nb == 0) return;
    if (fold) {
      int mm = static_cast<int>(nb * M);
      if (dA) bw_sgemm(r, kDX, 0, false, true, mm, k, n, 1.0f, dY, n, B, n, 1.0f, dA, k);
      if (dB) bw_sgemm(r, kDW, 0, true, false, k, n, mm, 1.0f, A, k, dY, n, 1.0f, dB, n);
      return;
    }
    for (int64_t j = 0; j < nb; ++j) {
      const float* dYj = dY + j * M * N;
      const uint64_t site = static_cast<uint64_t>(j);
      if (dA) bw_sgemm(r, kDX, site, false, true, m, k, n, 1.0f, dYj, n, B + offb[j], n, 1.0f, dA + offa[j], k);
      if (dB) bw_sgemm(r, kDW, site, true, false, k, n, m, 1.0f, A + offa[j], k, dYj, n, 1.0f, dB + offb[j], n);
    }
  };
}

// ---------------------------------------------------------------- convolution and pooling
// Spatial geometry as the forward op computes it (ONNX Conv/Pool: pads, strides, dilations,
// auto_pad, ceil_mode); 1-D inputs are handled as 2-D with H = 1.
struct Window {
  int64_t ih = 1, iw = 1, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0, oh = 1, ow = 1;
};

Window window_of(const Node& n, const Shape& x, const Shape& kernel, bool ceil_mode) {
  size_t sd = x.size() - 2;
  if (sd < 1 || sd > 2) unsupported(n, std::to_string(sd) + "-D spatial input");
  Shape strides = n.attr_ints("strides", Shape(sd, 1)), dil = n.attr_ints("dilations", Shape(sd, 1));
  Shape pads = n.attr_ints("pads", Shape(2 * sd, 0));
  std::string autopad = n.attr_s("auto_pad", "NOTSET");
  Shape out(sd);
  for (size_t k = 0; k < sd; ++k) {
    int64_t in = x[k + 2], ek = (kernel[k] - 1) * dil[k] + 1;
    if (autopad == "SAME_UPPER" || autopad == "SAME_LOWER") {
      out[k] = (in + strides[k] - 1) / strides[k];
      int64_t total = std::max<int64_t>(0, (out[k] - 1) * strides[k] + ek - in);
      pads[k] = autopad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[k + sd] = total - pads[k];
    } else {
      if (autopad == "VALID") pads[k] = pads[k + sd] = 0;
      int64_t span = in + pads[k] + pads[k + sd] - ek;
      out[k] = (ceil_mode ? (span + strides[k] - 1) / strides[k] : span / strides[k]) + 1;
    }
  }
  Window w;
  auto set = [&](size_t k, int64_t& iv, int64_t& kv, int64_t& sv, int64_t& dv, int64_t& pbeg, int64_t& pend, int64_t& ov) {
    iv = x[k + 2];
    kv = kernel[k];
    sv = strides[k];
    dv = dil[k];
    pbeg = pads[k];
    pend = pads[k + sd];
    ov = out[k];
  };
  if (sd == 2) {
    set(0, w.ih, w.kh, w.sh, w.dh, w.pt, w.pb, w.oh);
    set(1, w.iw, w.kw, w.sw, w.dw, w.pl, w.pr, w.ow);
  } else {
    set(0, w.iw, w.kw, w.sw, w.dw, w.pl, w.pr, w.ow);
  }
  return w;
}

// Output columns ow in [lo, hi) whose input column ow*sw - pl + j*dw lies inside [0, iw).
void col_range(const Window& w, int64_t j, int64_t& lo, int64_t& hi) {
  int64_t off = j * w.dw - w.pl;
  lo = off >= 0 ? 0 : (-off + w.sw - 1) / w.sw;
  hi = w.iw - off <= 0 ? 0 : std::min(w.ow, (w.iw - off + w.sw - 1) / w.sw);
  lo = std::min(lo, hi);
}

// col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw] (0 outside).
void im2col(const float* x, int64_t channels, const Window& w, float* col) {
  int64_t ohw = w.oh * w.ow;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < w.kh; ++i)
      for (int64_t j = 0; j < w.kw; ++j) {
        float* row = col + ((c * w.kh + i) * w.kw + j) * ohw;
        int64_t lo, hi, off = j * w.dw - w.pl;
        col_range(w, j, lo, hi);
        for (int64_t oh = 0; oh < w.oh; ++oh) {
          float* r = row + oh * w.ow;
          int64_t ih = oh * w.sh - w.pt + i * w.dh;
          std::fill(r, r + w.ow, 0.0f);
          if (ih < 0 || ih >= w.ih) continue;
          const float* xr = x + (c * w.ih + ih) * w.iw + off;
          for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * w.sw];
        }
      }
}

// Adjoint of im2col: x[c][ih][iw] += every col entry that im2col read from it.
void col2im_add(const float* col, int64_t channels, const Window& w, float* x) {
  int64_t ohw = w.oh * w.ow;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < w.kh; ++i)
      for (int64_t j = 0; j < w.kw; ++j) {
        const float* row = col + ((c * w.kh + i) * w.kw + j) * ohw;
        int64_t lo, hi, off = j * w.dw - w.pl;
        col_range(w, j, lo, hi);
        for (int64_t oh = 0; oh < w.oh; ++oh) {
          int64_t ih = oh * w.sh - w.pt + i * w.dh;
          if (ih < 0 || ih >= w.ih) continue;
          const float* r = row + oh * w.ow;
          float* xr = x + (c * w.ih + ih) * w.iw + off;
          for (int64_t ow = lo; ow < hi; ++ow) xr[ow * w.sw] += r[ow];
        }
      }
}

// Scratch shared by every backward closure of one plan (they run one at a time): sized at plan
// time to the largest need, read through the pointer at call time.
using SharedScratch = std::shared_ptr<std::vector<float>>;

Backward conv_bwd(const Node& n, const std::vector<ValueState>& in, int threads, const SharedScratch& shared) {
  const Shape &x = in[0].shape, &wt = in[1].shape;
  Window w = window_of(n, x, Shape(wt.begin() + 2, wt.end()), false);
  int64_t group = n.attr_i("group", 1), N = x[0], C = x[1], M = wt[0];
  int64_t Cg = C / group, Mg = M / group, Kg = Cg * w.kh * w.kw, ohw = w.oh * w.ow, ihw = w.ih * w.iw;
  bool direct = w.kh == 1 && w.kw == 1 && w.sh == 1 && w.sw == 1 && w.pt == 0 && w.pl == 0 && w.pb == 0 && w.pr == 0;
  int64_t slots = std::max<int64_t>(1, std::min(N, kSlots));
  size_t per_thread = direct ? 0 : static_cast<size_t>(2 * Kg * ohw), wsize = static_cast<size_t>(M * Kg);
  // Scratch: im2col and column-gradient buffers per thread, then one dW partial per slot.
  const size_t need = per_thread * static_cast<size_t>(threads) + wsize * static_cast<size_t>(slots);
  if (shared->size() < need) shared->resize(need);
  SharedScratch buf = shared;
  int mg = static_cast<int>(Mg), kg = static_cast<int>(Kg), no = static_cast<int>(ohw);
  return [=](const BwdArgs& a) {
    const float* X = a.in[0]->f.data();
    const float* W = a.in[1]->f.data();
    const float* dY = a.dy;
    float *dX = a.din[0], *dW = a.din[1], *dB = a.din.size() > 2 ? a.din[2] : nullptr;
    float* part = buf->data() + per_thread * static_cast<size_t>(threads);
    if (dW) std::fill(part, part + wsize * slots, 0.0f);
    if ((dW || dX) && ohw > 0 && Kg > 0 && Mg > 0) {
#pragma omp parallel for schedule(static) num_threads(a.threads) if (a.threads > 1 && slots > 1)
      for (int64_t s = 0; s < slots; ++s) {
        float* col = buf->data() + per_thread * static_cast<size_t>(omp_get_thread_num());
        float* dcol = col + per_thread / 2;
        float* dWs = dW ? part + wsize * s : nullptr;
        for (int64_t b = s * N / slots; b < (s + 1) * N / slots; ++b)
          for (int64_t g = 0; g < group; ++g) {
            const float* xg = X + (b * C + g * Cg) * ihw;
            const float* dyg = dY + (b * M + g * Mg) * ohw;
            const float* wg = W + g * Mg * Kg;
            const uint64_t site = static_cast<uint64_t>(b * group + g);
            if (dWs) {  // dW_g += dY_g [Mg, ohw] col^T [ohw, Kg]
              const float* cl = xg;
              if (!direct) {
                im2col(xg, Cg, w, col);
                cl = col;
              }
              bw_sgemm(a, kDW, site, false, true, mg, kg, no, 1.0f, dyg, no, cl, no, 1.0f, dWs + g * Mg * Kg, kg);
            }
            if (dX) {  // dcol = W_g^T [Kg, Mg] dY_g [Mg, ohw], scattered back onto the input
              float* dxg = dX + (b * C + g * Cg) * ihw;
              if (direct) {
                bw_sgemm(a, kDX, site, true, false, kg, no, mg, 1.0f, wg, kg, dyg, no, 1.0f, dxg, no);
              } else {
                bw_sgemm(a, kDX, site, true, false, kg, no, mg, 1.0f, wg, kg, dyg, no, 0.0f, dcol, no);
                col2im_add(dcol, Cg, w, dxg);
              }
            }
          }
      }
    }
    if (dW)
      for (int64_t s = 0; s < slots; ++s)
        for (size_t j = 0; j < wsize; ++j) dW[j] += part[wsize * s + j];
    if (dB)
      for (int64_t m = 0; m < M; ++m) {
        double acc = 0;
        for (int64_t b = 0; b < N; ++b)
          for (int64_t j = 0; j < ohw; ++j) acc += dY[(b * M + m) * ohw + j];
        dB[m] += static_cast<float>(acc);
      }
  };
}

// squared: an average pool's coefficients 1/k enter squared (the exact curvature rule).
Backward pool_bwd(const Node& n, const std::vector<ValueState>& in, bool is_max, bool squared = false) {
  const Shape& x = in[0].shape;
  bool ceil_mode = n.attr_i("ceil_mode", 0) != 0, include_pad = n.attr_i("count_include_pad", 0) != 0;
  Window w = window_of(n, x, n.attr_ints("kernel_shape", {}), ceil_mode);
  int64_t planes = x[0] * x[1];
  return [=](const BwdArgs& a) {
    const float* X = a.in[0]->f.data();
    float* dX = a.din[0];
    // Planes are disjoint: any split over threads gives the same sums.
#pragma omp parallel for schedule(static) num_threads(a.threads) if (a.threads > 1 && planes > 1)
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = X + p * w.ih * w.iw;
      float* dxp = dX + p * w.ih * w.iw;
      const float* dyp = a.dy + p * w.oh * w.ow;
      for (int64_t oh = 0; oh < w.oh; ++oh)
        for (int64_t ow = 0; ow < w.ow; ++ow) {
          int64_t h0 = oh * w.sh - w.pt, w0 = ow * w.sw - w.pl;
          float best = -std::numeric_limits<float>::infinity();
          int64_t arg = -1, inside = 0, padded = 0;
          for (int pass = 0; pass < (is_max ? 1 : 2); ++pass)
            for (int64_t i = 0; i < w.kh; ++i) {
              int64_t ih = h0 + i * w.dh;
              bool hin = ih >= 0 && ih < w.ih, hpad = ih >= -w.pt && ih < w.ih + w.pb;
              for (int64_t j = 0; j < w.kw; ++j) {
                int64_t iw = w0 + j * w.dw;
                if (pass == 0 && hpad && iw >= -w.pl && iw < w.iw + w.pr) ++padded;
                if (!hin || iw < 0 || iw >= w.iw) continue;
                int64_t at = ih * w.iw + iw;
                if (is_max) {
                  if (xp[at] > best) {  // the forward keeps the first maximum
                    best = xp[at];
                    arg = at;
                  }
                } else if (pass == 0) {
                  ++inside;
                } else {
                  int64_t div = include_pad ? padded : inside;
                  if (squared)
                    dxp[at] += dyp[oh * w.ow + ow] / (static_cast<float>(div) * static_cast<float>(div));
                  else
                    dxp[at] += dyp[oh * w.ow + ow] / static_cast<float>(div);
                }
              }
            }
          if (is_max && arg >= 0) dxp[arg] += dyp[oh * w.ow + ow];
        }
    }
  };
}

Backward global_pool_bwd(const std::vector<ValueState>& in, bool is_max, bool squared = false) {
  const Shape& x = in[0].shape;
  int64_t planes = x[0] * x[1], area = 1;
  for (size_t k = 2; k < x.size(); ++k) area *= x[k];
  return [=](const BwdArgs& a) {
    const float* X = a.in[0]->f.data();
    for (int64_t p = 0; p < planes && area > 0; ++p) {
      float* dx = a.din[0] + p * area;
      if (is_max) {
        const float* xp = X + p * area;
        dx[std::max_element(xp, xp + area) - xp] += a.dy[p];
      } else {
        float g = static_cast<float>(a.dy[p] / (squared ? static_cast<double>(area) * area : static_cast<double>(area)));
        for (int64_t j = 0; j < area; ++j) dx[j] += g;
      }
    }
  };
}

// squared: the mean's coefficient 1/count enters squared (the exact curvature rule).
Backward reduce_mean_bwd(const Node& n, const std::vector<ValueState>& in, bool squared = false) {
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes = n.attr_ints("axes", {});
  std::vector<bool> red(r, axes.empty());
  for (int64_t ax : axes) red[ax < 0 ? ax + r : ax] = true;
  Shape kept(r);
  int64_t count = 1;
  for (int64_t d = 0; d < r; ++d) {
    kept[d] = red[d] ? 1 : x[d];
    if (red[d]) count *= x[d];
  }
  Shape so = broadcast_strides(kept, x);  // output offset of every input element
  float inv = count ? 1.0f / static_cast<float>(count) : 0.0f;
  if (squared) inv *= inv;
  return [=](const BwdArgs& a) {
    float* dx = a.din[0];
    for_each_bcast(x, so, so, [&](int64_t j, int64_t oo, int64_t) { dx[j] += a.dy[oo] * inv; });
  };
}

// Softmax groups: outer x len x inner per the node's opset (< 13: over the flattened dims >= axis).
void softmax_groups(const Node& n, const Shape& x, int64_t opset, int64_t& outer, int64_t& len, int64_t& inner) {
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = n.attr_i("axis", opset >= 13 ? -1 : 1);
  if (axis < 0) axis += r;
  outer = len = inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= x[k];
  if (opset >= 13) {
    len = r ? x[axis] : 1;
    for (int64_t k = axis + 1; k < r; ++k) inner *= x[k];
  } else {
    for (int64_t k = axis; k < r; ++k) len *= x[k];
  }
}

Backward softmax_bwd(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  int64_t outer, len, inner;
  softmax_groups(n, in[0].shape, opset, outer, len, inner);
  return [=](const BwdArgs& a) {  // dx = y * (dy - sum(dy * y)) over each group
    const float* Y = a.out->f.data();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t base = o * len * inner + i;
        double s = 0;
        for (int64_t j = 0; j < len; ++j) s += static_cast<double>(a.dy[base + j * inner]) * Y[base + j * inner];
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = base + j * inner;
          a.din[0][at] += Y[at] * static_cast<float>(a.dy[at] - s);
        }
      }
  };
}

Backward batchnorm_bwd(const Node& n, const std::vector<ValueState>& in) {
  const Shape& x = in[0].shape;
  int64_t N = x[0], C = x[1], area = 1;
  for (size_t k = 2; k < x.size(); ++k) area *= x[k];
  float eps = n.attr_f("epsilon", 1e-5f);
  return [=](const BwdArgs& a) {
    // y = (x - m) * s / sqrt(v + eps) + b
    const float *X = a.in[0]->f.data(), *s = a.in[1]->f.data(), *m = a.in[3]->f.data(), *v = a.in[4]->f.data();
    for (int64_t c = 0; c < C; ++c) {
      double inv = 1.0 / std::sqrt(static_cast<double>(v[c]) + eps);
      float scale = s[c] / std::sqrt(v[c] + eps);
      double sum_dy = 0, sum_dy_xm = 0;
      for (int64_t b = 0; b < N; ++b) {
        const float* xp = X + (b * C + c) * area;
        const float* dyp = a.dy + (b * C + c) * area;
        if (a.din[0]) {
          float* dxp = a.din[0] + (b * C + c) * area;
          for (int64_t j = 0; j < area; ++j) dxp[j] += dyp[j] * scale;
        }
        for (int64_t j = 0; j < area; ++j) {
          sum_dy += dyp[j];
          sum_dy_xm += static_cast<double>(dyp[j]) * (xp[j] - m[c]);
        }
      }
      if (a.din[1]) a.din[1][c] += static_cast<float>(sum_dy_xm * inv);
      if (a.din[2]) a.din[2][c] += static_cast<float>(sum_dy);
      if (a.din[3]) a.din[3][c] -= static_cast<float>(sum_dy * s[c] * inv);
      if (a.din[4]) a.din[4][c] -= static_cast<float>(0.5 * sum_dy_xm * s[c] * inv * inv * inv);
    }
  };
}

// ---------------------------------------------------------------- data movement via index maps
// Source of every output element of a data-movement op (Slice, Transpose, Concat, Pad, Gather):
// the op's own kernel runs on int64 element indices, twice with different offsets; an output that
// moved by the offset between the runs is a copy of that input element, one that did not is a
// constant (Pad).
struct IndexMap {
  std::vector<int32_t> slot;  // input the element comes from (-1: constant)
  std::vector<int64_t> src;   // offset in that input
};

IndexMap index_map(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  bool all_data = n.op == "Concat";
  std::vector<ValueState> st = in;
  std::vector<int64_t> start(in.size() + 1, 0);
  for (size_t k = 0; k < in.size(); ++k) {
    bool data = all_data || k == 0;
    start[k + 1] = start[k] + (data ? checked_numel(in[k].shape, n.where()) : 0);
    if (data) {
      st[k].dtype = DType::i64;
      st[k].value = nullptr;
    } else if (n.input_given(k) && !in[k].value) {
      unsupported(n, "the backward pass needs input " + std::to_string(k) + " to be known before run time");
    }
  }
  int64_t total = start.back();
  Prepared p = find_op(n.op)(n, st, opset);
  auto run = [&](int64_t base) {
    std::vector<Tensor> data(in.size());
    KernelArgs args;
    for (size_t k = 0; k < in.size(); ++k) {
      if (all_data || k == 0) {
        std::vector<int64_t> idx(static_cast<size_t>(start[k + 1] - start[k]));
        for (size_t j = 0; j < idx.size(); ++j) idx[j] = base + start[k] + static_cast<int64_t>(j);
        data[k] = Tensor::from_i64(in[k].shape, std::move(idx));
        args.in.push_back(&data[k]);
      } else {
        args.in.push_back(in[k].value);
      }
    }
    Tensor out = Tensor::zeros(DType::i64, p.shapes[0], n.where() + " index map");
    args.out = {&out};
    p.run(args);
    return out.i;
  };
  std::vector<int64_t> a = run(1), b = run(1 + total);
  IndexMap m;
  m.slot.assign(a.size(), -1);
  m.src.assign(a.size(), -1);
  for (size_t j = 0; j < a.size(); ++j) {
    if (b[j] - a[j] != total || a[j] < 1 || a[j] > total) continue;
    int64_t gidx = a[j] - 1;
    size_t k = static_cast<size_t>(std::upper_bound(start.begin(), start.end(), gidx) - start.begin()) - 1;
    m.slot[j] = static_cast<int32_t>(k);
    m.src[j] = gidx - start[k];
  }
  return m;
}

Backward index_map_bwd(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  auto m = std::make_shared<IndexMap>(index_map(n, in, opset));
  return [m](const BwdArgs& a) {
    size_t cnt = m->src.size();
    for (size_t j = 0; j < cnt; ++j) {
      int32_t k = m->slot[j];
      if (k >= 0 && a.din[k]) a.din[k][m->src[j]] += a.dy[j];
    }
  };
}

Backward prepare_backward(const Node& n, const std::vector<ValueState>& in, int64_t opset, int threads,
                          const SharedScratch& shared) {
  const std::string& op = n.op;
  if (op == "Conv") return conv_bwd(n, in, threads, shared);
  if (op == "Gemm") return gemm_bwd(n, in);
  if (op == "MatMul") return matmul_bwd(in);
  if (op == "Relu") return unary_bwd([](float x, float) { return x > 0.0f ? 1.0f : 0.0f; });
  if (op == "LeakyRelu") {
    float alpha = n.attr_f("alpha", 0.01f);
    return unary_bwd([alpha](float x, float) { return x >= 0.0f ? 1.0f : alpha; });
  }
  if (op == "Sigmoid") return unary_bwd([](float, float y) { return y * (1.0f - y); });
  if (op == "Tanh") return unary_bwd([](float, float y) { return 1.0f - y * y; });
  if (op == "Clip") return clip_bwd(n, opset);
  if (op == "Add") return binary_bwd(n, in, opset, Bin::Add);
  if (op == "Sub") return binary_bwd(n, in, opset, Bin::Sub);
  if (op == "Mul") return binary_bwd(n, in, opset, Bin::Mul);
  if (op == "Div") return binary_bwd(n, in, opset, Bin::Div);
  if (op == "MaxPool") return pool_bwd(n, in, true);
  if (op == "AveragePool") return pool_bwd(n, in, false);
  if (op == "GlobalAveragePool") return global_pool_bwd(in, false);
  if (op == "GlobalMaxPool") return global_pool_bwd(in, true);
  if (op == "ReduceMean") return reduce_mean_bwd(n, in);
  if (op == "Softmax") return softmax_bwd(n, in, opset);
  if (op == "BatchNormalization") return batchnorm_bwd(n, in);
  if (op == "Slice" || op == "Transpose" || op == "Concat" || op == "Pad" || op == "Gather") return index_map_bwd(n, in, opset);
  if (op == "Identity" || op == "Dropout" || op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze")
    return alias_bwd();
  unsupported(n, "no backward implementation; gradients support " + backward_ops_list());
}

// ---------------------------------------------------------------- curvature (docs/swim.md §2)
// Runs a backward closure with the flagged inputs replaced by their elementwise squares: for the
// bilinear ops (Conv, Gemm, MatMul, Mul, Div by b) the adjoint applied to h with squared operands
// is the diagonal Gauss-Newton rule h_W = h_Y X^2, h_X = (W^2)^T h_Y.
Backward with_squared_inputs(Backward inner, std::vector<bool> square) {
  auto sq = std::make_shared<std::vector<Tensor>>(square.size());
  return [inner = std::move(inner), square = std::move(square), sq](const BwdArgs& a) {
    BwdArgs b = a;
    for (size_t k = 0; k < square.size() && k < a.in.size(); ++k) {
      if (!square[k] || !a.in[k]) continue;
      Tensor& t = (*sq)[k];
      t.reshape_storage(DType::f32, a.in[k]->shape);
      const std::vector<float>& src = a.in[k]->f;
      for (size_t j = 0; j < src.size(); ++j) t.f[j] = src[j] * src[j];
      b.in[k] = &t;
    }
    inner(b);
  };
}

const char* const kCurvatureOps =
    "Conv, Gemm, MatMul, Mul, Div, Add, Sub, Relu, LeakyRelu, Clip, Sigmoid, Tanh, MaxPool, GlobalMaxPool, AveragePool, "
    "GlobalAveragePool, ReduceMean, BatchNormalization (input 0), Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout, "
    "Transpose, "
    "Slice, Concat, Gather, Pad";

// need[k]: input k's curvature is needed; data[k]: input k depends on the graph input (else it is
// a function of weights and constants only, e.g. a transposed weight).
Backward prepare_curvature_step(const Node& n, const std::vector<ValueState>& in, const std::vector<bool>& need,
                                const std::vector<bool>& data, int64_t opset, int threads, const SharedScratch& shared,
                                bool exact_avgpool) {
  const std::string& op = n.op;
  auto needs = [&](size_t k) { return k < need.size() && need[k]; };
  if (op == "Conv") return with_squared_inputs(conv_bwd(n, in, threads, shared), {true, true, false});
  if (op == "Gemm") return with_squared_inputs(gemm_bwd(n, in, true), {true, true, false});
  if (op == "MatMul" || op == "Mul" || op == "Div") {
    if (needs(0) && needs(1) && data.size() > 1 && data[0] && data[1])
      unsupported(n,
                  "no curvature rule for a product of two activations that both depend on a weight (diagonal "
                  "Gauss-Newton back-propagation needs one factor that is a weight or a constant)");
    if (op == "Div" && needs(1)) unsupported(n, "no curvature rule with respect to a divisor that depends on a weight");
    if (op == "MatMul") return with_squared_inputs(matmul_bwd(in), {true, true});
    return with_squared_inputs(binary_bwd(n, in, opset, op == "Mul" ? Bin::Mul : Bin::Div), {true, true});
  }
  if (op == "Add" || op == "Sub") return binary_bwd(n, in, opset, Bin::Add);  // coefficient (+-1)^2 = 1
  if (op == "Relu") return unary_bwd([](float x, float) { return x > 0.0f ? 1.0f : 0.0f; });
  if (op == "LeakyRelu") {
    float alpha = n.attr_f("alpha", 0.01f);
    return unary_bwd([alpha](float x, float) { return x >= 0.0f ? 1.0f : alpha * alpha; });
  }
  if (op == "Sigmoid")
    return unary_bwd([](float, float y) {
      float d = y * (1.0f - y);
      return d * d;
    });
  if (op == "Tanh")
    return unary_bwd([](float, float y) {
      float d = 1.0f - y * y;
      return d * d;
    });
  if (op == "Clip") {
    for (size_t k = 1; k < need.size(); ++k)
      if (need[k]) unsupported(n, "no curvature rule with respect to Clip's bounds");
    return clip_bwd(n, opset);
  }
  if (op == "MaxPool") return pool_bwd(n, in, true);
  if (op == "GlobalMaxPool") return global_pool_bwd(in, true);
  if (op == "AveragePool") return pool_bwd(n, in, false, exact_avgpool);
  if (op == "GlobalAveragePool") return global_pool_bwd(in, false, exact_avgpool);
  if (op == "ReduceMean") return reduce_mean_bwd(n, in, exact_avgpool);  // an average pool over the reduced axes
  if (op == "BatchNormalization") {
    for (size_t k = 1; k < need.size(); ++k)
      if (need[k]) unsupported(n, "no curvature rule with respect to BatchNormalization's parameters (input 0 only)");
    const Shape& x = in[0].shape;
    int64_t N = x[0], C = x[1], area = 1;
    for (size_t k = 2; k < x.size(); ++k) area *= x[k];
    float eps = n.attr_f("epsilon", 1e-5f);
    return [=](const BwdArgs& a) {  // h_x = h_y (gamma / sqrt(var + eps))^2
      const float *s = a.in[1]->f.data(), *v = a.in[4]->f.data();
      for (int64_t c = 0; c < C; ++c) {
        float scale = s[c] / std::sqrt(v[c] + eps);
        float sq = scale * scale;
        for (int64_t b = 0; b < N; ++b) {
          const float* hy = a.dy + (b * C + c) * area;
          float* hx = a.din[0] + (b * C + c) * area;
          for (int64_t j = 0; j < area; ++j) hx[j] += hy[j] * sq;
        }
      }
    };
  }
  if (op == "Slice" || op == "Transpose" || op == "Concat" || op == "Pad" || op == "Gather") return index_map_bwd(n, in, opset);
  if (op == "Identity" || op == "Dropout" || op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze")
    return alias_bwd();
  unsupported(n, std::string("no curvature rule (SWIM's diagonal Gauss-Newton pass supports ") + kCurvatureOps + ")");
}

// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : m_state(seed) {}
  uint64_t next() {
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t m_state;
};

}  // namespace

// ---------------------------------------------------------------- plan
struct GradientEngine::Plan {
  struct Step {
    const Node* node = nullptr;
    Kernel run;
    std::vector<int> in, out;
    KernelArgs args;
    Backward backward;                 // set when a gradient flows through the step
    Backward curvature;                // built by the first curvature call (prepare_curvature)
    std::vector<ValueState> in_state;  // inputs at plan time (for the curvature closures)
    std::vector<bool> need;            // per input: its gradient is needed
    std::vector<int> born;             // values whose gradient starts at this step's backward (zeroed first)
  };
  Shape input_shape;
  std::vector<const Tensor*> values;           // by value index
  std::vector<std::unique_ptr<Tensor>> owned;  // activations and plan-time statics
  std::vector<Step> steps;
  // Gradient storage. The weights' and the loss's gradients own a buffer each; the activations'
  // gradients share buffers by lifetime (a gradient lives from its last consumer's backward to
  // its producer's), so the backward pass holds a few activation gradients at a time, not all.
  std::vector<std::vector<float>> buffers;
  std::vector<float*> grad;       // by value index; nullptr unless a weight feeds the value
  std::vector<size_t> grad_size;  // by value index
  std::vector<int> dedicated;     // weights and loss: zeroed before each backward pass
  std::vector<float> scratch;
  // Curvature storage: the same lifetime-shared layout as the gradients (buffer of each value).
  std::vector<int> buf_of;
  std::vector<std::vector<float>> curv_buffers;
  std::vector<float*> curv;  // by value index
  bool curv_ready = false, curv_exact_avgpool = false;
  int input_idx = -1, loss_idx = -1;
  std::vector<int> weight_idx;
};

GradientEngine::GradientEngine(const Graph& g, std::vector<std::string> weights, int threads)
    : m_graph(g), m_weights(std::move(weights)), m_threads(resolve_threads(threads)) {
  openblas_set_num_threads(1);  // parallel over samples here; BLAS threads would oversubscribe
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    throw Error("gradients need a model with one input and one output, '" + g.name + "' has " + std::to_string(g.inputs.size()) +
                " and " + std::to_string(g.outputs.size()));
  if (g.inputs[0].dtype != DType::f32) throw Error("gradients: input '" + g.inputs[0].name + "' must be float32");
  std::set<std::string> required;
  for (const auto& w : m_weights) {
    auto it = g.constants.find(w);
    if (it == g.constants.end()) throw Error("gradients: weight '" + w + "' is not a constant of the graph");
    if (it->second.dtype != DType::f32) throw Error("gradients: weight '" + w + "' is not float32");
    if (!required.insert(w).second) throw Error("gradients: weight '" + w + "' is listed twice");
    m_weight_constants.push_back(&it->second);
  }
  m_override_storage.resize(m_weights.size());
  // The loss reads the graph output, or the input of a final Softmax (absorbed into the loss).
  m_loss_value = g.outputs[0].name;
  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    if (n.op == "Softmax" && !n.outputs.empty() && n.outputs[0] == m_loss_value) {
      m_final_softmax = n.name;
      m_loss_value = n.inputs[0];
    }
  }
  // Every node between a weight and the loss needs a backward for the inputs a weight reaches.
  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    if (n.name == m_final_softmax || n.op == "Shape") continue;  // Shape's output is not differentiable
    bool any = false;
    for (const auto& in : n.inputs) any |= !in.empty() && required.count(in);
    if (!any) continue;
    if (!backward_inputs().count(n.op)) unsupported(n, "no backward implementation; gradients support " + backward_ops_list());
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (!n.inputs[k].empty() && required.count(n.inputs[k]) && !differentiable_input(n.op, k))
        unsupported(n, "no gradient with respect to input " + std::to_string(k) + " ('" + n.inputs[k] +
                           "'), which depends on a differentiated weight");
    for (const auto& o : n.outputs)
      if (!o.empty()) required.insert(o);
  }
}

GradientEngine::~GradientEngine() = default;

void GradientEngine::release() {
  m_plans.clear();
}

const Shape& GradientEngine::weight_shape(size_t k) const {
  return m_weight_constants.at(k)->shape;
}

std::vector<std::vector<float>> GradientEngine::weight_values() const {
  std::vector<std::vector<float>> w;
  for (const Tensor* t : m_weight_constants) w.push_back(t->f);
  return w;
}

GradientEngine::Plan& GradientEngine::plan_for(const Shape& input_shape) {
  for (auto it = m_plans.begin(); it != m_plans.end(); ++it)
    if ((*it)->input_shape == input_shape) {
      if (it != m_plans.begin()) m_plans.splice(m_plans.begin(), m_plans, it);
      return *m_plans.front();
    }
  const Graph& g = m_graph;
  const ValueInfo& vi = g.inputs[0];
  bool ok = vi.shape.empty() || vi.shape.size() == input_shape.size();
  for (size_t d = 0; ok && d < vi.shape.size(); ++d) ok = vi.shape[d] < 0 || vi.shape[d] == input_shape[d];
  if (!ok)
    throw Error("input '" + vi.name + "' has shape " + shape_str(input_shape) + ", the model expects " + shape_str(vi.shape));
  checked_numel(input_shape, "input '" + vi.name + "'");

  auto p = std::make_unique<Plan>();
  p->input_shape = input_shape;
  std::map<std::string, int> index;
  std::vector<ValueState> state;
  std::vector<bool> req;  // depends on a differentiated weight
  auto idx = [&](const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    int k = static_cast<int>(state.size());
    index[name] = k;
    state.emplace_back();
    req.push_back(false);
    p->values.push_back(nullptr);
    return k;
  };
  p->input_idx = idx(vi.name);
  state[p->input_idx] = {input_shape, DType::f32, nullptr};
  for (const auto& [name, t] : g.constants) {
    int i = idx(name);
    state[i] = {t.shape, t.dtype, &t};
    p->values[i] = &t;
  }
  for (const auto& w : m_weights) {
    int i = idx(w);
    state[i].value = nullptr;  // varies between calls: never folded at plan time
    req[i] = true;
    p->weight_idx.push_back(i);
  }
  size_t scratch = 0;
  auto bwd_scratch = std::make_shared<std::vector<float>>();
  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    if (n.name == m_final_softmax) continue;
    std::vector<ValueState> ins;
    std::vector<int> in_idx;
    bool all_known = true, any_req = false;
    for (const auto& name : n.inputs) {
      if (name.empty()) {
        ins.emplace_back();
        in_idx.push_back(-1);
        continue;
      }
      int i = idx(name);
      ins.push_back(state[i]);
      in_idx.push_back(i);
      all_known &= state[i].value != nullptr;
      any_req |= req[i];
    }
    PrepareFn prep = find_op(n.op);
    if (!prep) unsupported(n, "unsupported op");
    Prepared pr = prep(n, ins, g.opset);
    bool all_static = std::all_of(pr.statics.begin(), pr.statics.end(), [](const auto& s) { return s.has_value(); });
    if (!all_static && all_known) {  // a shape computation: evaluate now, as the Executor does
      std::vector<const Tensor*> cins;
      for (int i : in_idx) cins.push_back(i < 0 ? nullptr : state[i].value);
      std::vector<Tensor> outs = evaluate_node(n, cins, g.opset);
      for (size_t k = 0; k < outs.size(); ++k) pr.statics[k] = std::move(outs[k]);
      all_static = true;
    }
    Plan::Step st;
    st.node = &n;
    for (size_t k = 0; k < n.outputs.size() && k < pr.shapes.size(); ++k) {
      int o = n.outputs[k].empty() ? -1 : idx(n.outputs[k]);
      st.out.push_back(o);
      st.args.out.push_back(nullptr);
      if (o < 0) continue;
      checked_numel(pr.shapes[k], n.where() + " output " + std::to_string(k));
      state[o] = {pr.shapes[k], pr.dtypes[k], nullptr};
      if (pr.statics[k]) {
        p->owned.push_back(std::make_unique<Tensor>(std::move(*pr.statics[k])));
        state[o].value = p->owned.back().get();
      } else {
        p->owned.push_back(std::make_unique<Tensor>(Tensor::zeros(pr.dtypes[k], pr.shapes[k], n.where() + " output")));
        st.args.out.back() = p->owned.back().get();
        req[o] = any_req;
      }
      p->values[o] = p->owned.back().get();
    }
    if (all_static) continue;
    st.in = in_idx;
    st.run = std::move(pr.run);
    st.args.in.resize(in_idx.size(), nullptr);
    scratch = std::max(scratch, pr.scratch_floats);
    if (any_req) {
      if (st.out.size() != 1) unsupported(n, "a gradient through more than one output");
      if (state[st.out[0]].dtype != DType::f32) unsupported(n, "a gradient through a non-float output");
      for (size_t k = 0; k < in_idx.size(); ++k) {
        st.need.push_back(in_idx[k] >= 0 && req[in_idx[k]]);
        if (st.need.back() && state[in_idx[k]].dtype != DType::f32)
          unsupported(n, "a gradient through non-float input " + std::to_string(k));
      }
      st.backward = prepare_backward(n, ins, g.opset, m_threads, bwd_scratch);
      st.in_state = ins;
    }
    p->steps.push_back(std::move(st));
  }
  p->scratch.resize(scratch * static_cast<size_t>(m_threads));

  auto it = index.find(m_loss_value);
  if (it == index.end()) throw Error("graph output '" + m_loss_value + "' is never produced");
  p->loss_idx = it->second;
  const ValueState& ls = state[p->loss_idx];
  if (ls.dtype != DType::f32 || ls.shape.empty() || ls.shape[0] != input_shape[0])
    throw Error("gradients: model output " + shape_str(ls.shape) + " is not [batch, classes] logits");
  if (!m_final_softmax.empty()) {
    for (Vertex v : g.order)
      if (g.node(v).name == m_final_softmax) {
        int64_t outer, len, inner;
        softmax_groups(g.node(v), ls.shape, g.opset, outer, len, inner);
        if (outer != ls.shape[0] || inner != 1)
          unsupported(g.node(v), "a final Softmax that does not normalise over each sample's classes");
      }
  }
  const size_t nv = state.size();
  p->grad.assign(nv, nullptr);
  p->grad_size.assign(nv, 0);
  for (size_t i = 0; i < nv; ++i)
    if (req[i]) p->grad_size[i] = static_cast<size_t>(checked_numel(state[i].shape, "gradient"));
  std::vector<int> buf_of(nv, -1);
  std::vector<size_t> buf_len;
  std::multimap<size_t, int> free_bufs;  // by length: best fit
  auto take = [&](size_t n) {
    auto it = free_bufs.lower_bound(n);
    if (it != free_bufs.end()) {
      int b = it->second;
      free_bufs.erase(it);
      return b;
    }
    buf_len.push_back(n);
    return static_cast<int>(buf_len.size()) - 1;
  };
  std::vector<char> own(nv, 0);
  for (int w : p->weight_idx) own[w] = 1;
  if (req[p->loss_idx]) own[p->loss_idx] = 1;
  for (size_t i = 0; i < nv; ++i)
    if (own[i] && req[i]) {
      buf_len.push_back(p->grad_size[i]);
      buf_of[i] = static_cast<int>(buf_len.size()) - 1;
      p->dedicated.push_back(static_cast<int>(i));
    }
  for (auto it = p->steps.rbegin(); it != p->steps.rend(); ++it) {
    Plan::Step& st = *it;
    if (!st.backward) continue;
    const int o = st.out[0];
    if (buf_of[o] < 0) {  // an output nothing downstream differentiates: a zero gradient
      buf_of[o] = take(p->grad_size[o]);
      st.born.push_back(o);
    }
    for (size_t k = 0; k < st.in.size(); ++k) {
      const int v = st.in[k];
      if (!st.need[k] || buf_of[v] >= 0) continue;
      buf_of[v] = take(p->grad_size[v]);
      st.born.push_back(v);
    }
    if (!own[o]) free_bufs.emplace(buf_len[static_cast<size_t>(buf_of[o])], buf_of[o]);
  }
  p->buf_of = buf_of;
  p->buffers.resize(buf_len.size());
  for (size_t b = 0; b < buf_len.size(); ++b) p->buffers[b].resize(buf_len[b]);
  for (size_t i = 0; i < nv; ++i)
    if (buf_of[i] >= 0) p->grad[i] = p->buffers[static_cast<size_t>(buf_of[i])].data();
  m_plans.push_front(std::move(p));
  if (m_plans.size() > 4) m_plans.pop_back();
  return *m_plans.front();
}

void GradientEngine::forward(Plan& p, const Tensor& x, const WeightOverrides& overrides) {
  if (overrides.size() > m_weights.size())
    throw Error("gradients: " + std::to_string(overrides.size()) + " weight overrides for " + std::to_string(m_weights.size()) +
                " weights");
  p.values[p.input_idx] = &x;
  for (size_t k = 0; k < m_weights.size(); ++k) {
    const std::vector<float>* o = k < overrides.size() ? overrides[k] : nullptr;
    if (!o) {
      p.values[p.weight_idx[k]] = m_weight_constants[k];
      continue;
    }
    const Tensor& c = *m_weight_constants[k];
    if (o->size() != c.f.size())
      throw Error("gradients: override of weight '" + m_weights[k] + "' has " + std::to_string(o->size()) +
                  " values, the weight " + shape_str(c.shape) + " has " + std::to_string(c.f.size()));
    Tensor& t = m_override_storage[k];
    t.reshape_storage(DType::f32, c.shape);
    std::copy(o->begin(), o->end(), t.f.begin());
    p.values[p.weight_idx[k]] = &t;
  }
  for (auto& st : p.steps) {
    for (size_t k = 0; k < st.in.size(); ++k) st.args.in[k] = st.in[k] < 0 ? nullptr : p.values[st.in[k]];
    st.args.scratch = p.scratch.data();
    st.args.threads = m_threads;
    st.args.mapped = nullptr;
    st.args.layer = -1;
    if (m_hw_forward) {
      auto it = m_hw_layer_of.find(st.node->name);
      if (it != m_hw_layer_of.end()) {
        st.args.mapped = m_hw_forward;
        st.args.layer = it->second;
        st.args.sample_base = 0;
      }
    }
    st.run(st.args);
  }
}

void GradientEngine::set_hardware(MappedGemm* forward, std::map<std::string, int64_t> layer_of_node, BackwardGemm* backward) {
  for (const auto& [node, layer] : layer_of_node) {
    const Node* n = nullptr;
    for (Vertex v : m_graph.order)
      if (m_graph.node(v).name == node) n = &m_graph.node(v);
    if (!n || (n->op != "Conv" && n->op != "Gemm" && n->op != "MatMul"))
      throw Error("gradients: hardware layer " + std::to_string(layer) + " names node '" + node +
                  "', which is not a Conv, Gemm or MatMul of the graph");
  }
  m_hw_forward = forward;
  m_hw_backward = backward;
  m_hw_layer_of = std::move(layer_of_node);
}

void GradientEngine::prepare_curvature(Plan& p, const CurvatureOptions& options) {
  if (p.curv_ready && p.curv_exact_avgpool == options.exact_avgpool) return;
  auto scratch = std::make_shared<std::vector<float>>();
  std::vector<bool> data(p.values.size(), false);  // depends on the graph input
  data[static_cast<size_t>(p.input_idx)] = true;
  for (auto& st : p.steps) {
    std::vector<bool> in_data(st.in.size(), false);
    bool any = false;
    for (size_t k = 0; k < st.in.size(); ++k) any |= (in_data[k] = st.in[k] >= 0 && data[static_cast<size_t>(st.in[k])]);
    for (int o : st.out)
      if (o >= 0) data[static_cast<size_t>(o)] = any;
    st.curvature = nullptr;
    if (st.backward)
      st.curvature = prepare_curvature_step(*st.node, st.in_state, st.need, in_data, m_graph.opset, m_threads, scratch,
                                            options.exact_avgpool);
  }
  if (p.curv_buffers.size() != p.buffers.size()) {
    p.curv_buffers.resize(p.buffers.size());
    for (size_t b = 0; b < p.buffers.size(); ++b) p.curv_buffers[b].resize(p.buffers[b].size());
    p.curv.assign(p.buf_of.size(), nullptr);
    for (size_t i = 0; i < p.buf_of.size(); ++i)
      if (p.buf_of[i] >= 0) p.curv[i] = p.curv_buffers[static_cast<size_t>(p.buf_of[i])].data();
  }
  p.curv_exact_avgpool = options.exact_avgpool;
  p.curv_ready = true;
}

GradientEngine::Result GradientEngine::run(const Tensor& x, const std::vector<int64_t>& labels, const WeightOverrides& overrides,
                                           bool with_grad, const CurvatureOptions* curvature) {
  if (x.dtype != DType::f32 || x.rank() < 1) throw Error("gradients: the input batch must be a float32 [N, ...] tensor");
  int64_t N = x.shape[0];
  if (static_cast<int64_t>(labels.size()) != N)
    throw Error("gradients: " + std::to_string(labels.size()) + " labels for a batch of " + std::to_string(N));
  Plan& p = plan_for(x.shape);
  if (curvature) prepare_curvature(p, *curvature);  // before the forward: an Unsupported op fails fast
  forward(p, x, overrides);
  const Tensor& z = *p.values[p.loss_idx];
  int64_t classes = N ? z.numel() / N : 0;
  Result r;
  std::vector<double> prob(static_cast<size_t>(classes));
  float* dz = with_grad ? p.grad[p.loss_idx] : nullptr;
  float* hz = with_grad && curvature ? p.curv[p.loss_idx] : nullptr;
  if (with_grad)
    for (int i : p.dedicated) std::fill_n(p.grad[i], p.grad_size[i], 0.0f);
  if (hz)
    for (int i : p.dedicated) std::fill_n(p.curv[i], p.grad_size[i], 0.0f);
  for (int64_t s = 0; s < N; ++s) {
    if (labels[s] < 0 || labels[s] >= classes)
      throw Error("gradients: label " + std::to_string(labels[s]) + " of sample " + std::to_string(s) + " is outside [0, " +
                  std::to_string(classes) + ")");
    const float* row = z.f.data() + s * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best]) best = c;
    r.correct += best == labels[s];
    // log-softmax with the max subtracted: L_s = log sum exp(z - max) - (z_y - max)
    double mx = row[best], sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += (prob[c] = std::exp(static_cast<double>(row[c]) - mx));
    r.loss += std::log(sum) - (row[labels[s]] - mx);
    if (dz)  // dL/dz = (softmax(z) - onehot(y)) / N
      for (int64_t c = 0; c < classes; ++c)
        dz[s * classes + c] = static_cast<float>((prob[c] / sum - (c == labels[s] ? 1.0 : 0.0)) / N);
    if (hz)  // d2L_s/dz_c^2 = p_c (1 - p_c), per sample: the batch SUM, not the mean (docs/swim.md §2)
      for (int64_t c = 0; c < classes; ++c) {
        double pc = prob[c] / sum;
        hz[s * classes + c] = static_cast<float>(pc * (1.0 - pc));
      }
  }
  if (N > 0) r.loss /= static_cast<double>(N);
  if (!with_grad) return r;
  if (dz) {
    BwdArgs a;
    a.threads = m_threads;
    for (auto it = p.steps.rbegin(); it != p.steps.rend(); ++it) {
      Plan::Step& st = *it;
      if (!st.backward) continue;
      a.in = st.args.in;
      a.out = p.values[st.out[0]];
      for (int v : st.born) std::fill_n(p.grad[v], p.grad_size[v], 0.0f);
      a.dy = p.grad[st.out[0]];
      a.din.assign(st.in.size(), nullptr);
      for (size_t k = 0; k < st.in.size(); ++k)
        if (st.need[k]) a.din[k] = p.grad[st.in[k]];
      a.hw = nullptr;
      a.layer = -1;
      if (m_hw_backward) {
        auto hw = m_hw_layer_of.find(st.node->name);
        if (hw != m_hw_layer_of.end()) {
          a.hw = m_hw_backward;
          a.layer = hw->second;
        }
      }
      st.backward(a);
    }
  }
  if (hz) {  // the same walk with the curvature closures and buffers
    BwdArgs a;
    a.threads = m_threads;
    for (auto it = p.steps.rbegin(); it != p.steps.rend(); ++it) {
      Plan::Step& st = *it;
      if (!st.curvature) continue;
      a.in = st.args.in;
      a.out = p.values[st.out[0]];
      for (int v : st.born) std::fill_n(p.curv[v], p.grad_size[v], 0.0f);
      a.dy = p.curv[st.out[0]];
      a.din.assign(st.in.size(), nullptr);
      for (size_t k = 0; k < st.in.size(); ++k)
        if (st.need[k]) a.din[k] = p.curv[st.in[k]];
      st.curvature(a);
    }
  }
  for (size_t k = 0; k < m_weights.size(); ++k) {
    const int w = p.weight_idx[k];
    r.grad.emplace_back(p.grad[w], p.grad[w] + p.grad_size[w]);
    if (hz) r.curv.emplace_back(p.curv[w], p.curv[w] + p.grad_size[w]);
  }
  return r;
}

GradientEngine::Result GradientEngine::loss_and_grad(const Tensor& x, const std::vector<int64_t>& labels,
                                                     const WeightOverrides& overrides) {
  return run(x, labels, overrides, true);
}

GradientEngine::Result GradientEngine::loss_grad_curvature(const Tensor& x, const std::vector<int64_t>& labels,
                                                           const WeightOverrides& overrides, const CurvatureOptions& options) {
  return run(x, labels, overrides, true, &options);
}

GradientEngine::Result GradientEngine::loss(const Tensor& x, const std::vector<int64_t>& labels,
                                            const WeightOverrides& overrides) {
  return run(x, labels, overrides, false);
}

std::vector<std::vector<float>> GradientEngine::hessian_vector(const Tensor& x, const std::vector<int64_t>& labels,
                                                               const std::vector<std::vector<float>>& v,
                                                               const WeightOverrides& overrides, double rel_step) {
  if (v.size() != m_weights.size())
    throw Error("gradients: hessian_vector got " + std::to_string(v.size()) + " vectors for " + std::to_string(m_weights.size()) +
                " weights");
  if (!(rel_step > 0)) throw Error("gradients: hessian_vector needs rel_step > 0");
  double nw = 0, nv = 0;
  std::vector<const std::vector<float>*> w(m_weights.size());
  for (size_t k = 0; k < m_weights.size(); ++k) {
    w[k] = k < overrides.size() && overrides[k] ? overrides[k] : &m_weight_constants[k]->f;
    if (v[k].size() != w[k]->size())
      throw Error("gradients: hessian_vector vector " + std::to_string(k) + " has " + std::to_string(v[k].size()) +
                  " values, weight '" + m_weights[k] + "' has " + std::to_string(w[k]->size()));
    for (size_t j = 0; j < v[k].size(); ++j) {
      nw += static_cast<double>((*w[k])[j]) * (*w[k])[j];
      nv += static_cast<double>(v[k][j]) * v[k][j];
    }
  }
  std::vector<std::vector<float>> hv(m_weights.size());
  for (size_t k = 0; k < v.size(); ++k) hv[k].assign(v[k].size(), 0.0f);
  if (nv == 0) return hv;
  double e = rel_step * (nw > 0 ? std::sqrt(nw) : 1.0) / std::sqrt(nv);
  std::vector<std::vector<float>> wp(m_weights.size()), wm(m_weights.size());
  WeightOverrides op(m_weights.size()), om(m_weights.size());
  for (size_t k = 0; k < m_weights.size(); ++k) {
    wp[k].resize(v[k].size());
    wm[k].resize(v[k].size());
    for (size_t j = 0; j < v[k].size(); ++j) {
      wp[k][j] = static_cast<float>((*w[k])[j] + e * v[k][j]);
      wm[k][j] = static_cast<float>((*w[k])[j] - e * v[k][j]);
    }
    op[k] = &wp[k];
    om[k] = &wm[k];
  }
  std::vector<std::vector<float>> gp = run(x, labels, op, true).grad;
  std::vector<std::vector<float>> gm = run(x, labels, om, true).grad;
  for (size_t k = 0; k < hv.size(); ++k)
    for (size_t j = 0; j < hv[k].size(); ++j) hv[k][j] = static_cast<float>((static_cast<double>(gp[k][j]) - gm[k][j]) / (2 * e));
  return hv;
}

Salience compute_salience(GradientEngine& e, const Dataset& d, const Preprocess& p, int64_t count, int64_t batch,
                          int hutchinson_samples, uint64_t seed, bool with_hessian, const WeightOverrides& overrides,
                          const std::atomic<bool>* stop) {
  if (batch < 1) throw Error("salience: batch size must be >= 1");
  if (with_hessian && hutchinson_samples < 1) throw Error("salience: hutchinson_samples must be >= 1");
  int64_t n = count > 0 ? std::min(count, d.count) : d.count;
  if (n < 1) throw Error("salience: no images in " + d.name);
  size_t nwt = e.weights().size();
  std::vector<std::vector<double>> g(nwt), h(nwt);
  std::vector<std::vector<float>> z(nwt);
  for (size_t k = 0; k < nwt; ++k) {
    size_t sz = static_cast<size_t>(checked_numel(e.weight_shape(k), "weight"));
    g[k].assign(sz, 0.0);
    if (with_hessian) h[k].assign(sz, 0.0);
    z[k].resize(sz);
  }
  SplitMix64 rng(seed);
  Tensor x;
  std::vector<int64_t> labels;
  for (int64_t first = 0; first < n; first += batch) {
    if (stop && stop->load(std::memory_order_relaxed)) throw Stopped("salience: stopped");
    int64_t cnt = std::min(batch, n - first);
    fill_batch(d, p, first, cnt, x);
    labels.assign(d.labels.begin() + first, d.labels.begin() + first + cnt);
    GradientEngine::Result r = e.loss_and_grad(x, labels, overrides);
    for (size_t k = 0; k < nwt; ++k)
      for (size_t j = 0; j < g[k].size(); ++j) g[k][j] += static_cast<double>(cnt) * r.grad[k][j];
    if (!with_hessian) continue;
    for (int s = 0; s < hutchinson_samples; ++s) {
      // z: Rademacher (+-1), one bit of the SplitMix64 stream per entry.
      uint64_t bits = 0;
      int left = 0;
      for (auto& zk : z)
        for (float& zj : zk) {
          if (left == 0) {
            bits = rng.next();
            left = 64;
          }
          zj = (bits & 1) ? 1.0f : -1.0f;
          bits >>= 1;
          --left;
        }
      std::vector<std::vector<float>> hz = e.hessian_vector(x, labels, z, overrides);
      double wgt = static_cast<double>(cnt) / hutchinson_samples;
      for (size_t k = 0; k < nwt; ++k)
        for (size_t j = 0; j < h[k].size(); ++j) h[k][j] += wgt * z[k][j] * hz[k][j];
    }
  }
  Salience out;
  auto mean = [n](const std::vector<std::vector<double>>& acc) {
    std::vector<std::vector<float>> m(acc.size());
    for (size_t k = 0; k < acc.size(); ++k)
      for (double v : acc[k]) m[k].push_back(static_cast<float>(v / static_cast<double>(n)));
    return m;
  };
  out.grad = mean(g);
  if (with_hessian) out.hess_diag = mean(h);
  return out;
}

}  // namespace ptc::models
