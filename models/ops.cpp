// Op implementations. Semantics follow the ONNX operator specification for opsets 6-17; where an
// op changed between opsets (Softmax axis, Clip/Pad/Slice/Unsqueeze attributes becoming inputs,
// legacy `broadcast` attributes) the node's opset selects the behaviour.
#include "models/ops.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <type_traits>

#include "models/error.h"

namespace ptc::models {
namespace {

[[noreturn]] void fail(const Node& n, const std::string& msg) {
  throw Error(n.where() + ": " + msg);
}
[[noreturn]] void unsupported(const Node& n, const std::string& msg) {
  throw Unsupported(n.where() + ": " + msg);
}

void need_inputs(const Node& n, const std::vector<ValueState>& in, size_t lo, size_t hi) {
  size_t given = n.given_inputs();
  if (given < lo || given > hi)
    fail(n, "expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi)) + " inputs, got " +
                std::to_string(given));
  for (size_t k = 0; k < lo; ++k)
    if (!n.input_given(k)) fail(n, "required input " + std::to_string(k) + " is missing");
  (void)in;
}

// Dimension-like integers read from attributes or static inputs (shape entries, pads, strides,
// dilations, kernel sizes, steps) are checked against the tensor size limit before any
// arithmetic: within +-kMaxTensorElements (2^30) a sum or a product of two cannot overflow int64.
void need_dims_in_range(const Node& n, const std::vector<int64_t>& v, const char* what) {
  for (int64_t d : v)
    if (d > kMaxTensorElements || d < -kMaxTensorElements)
      fail(n, std::string(what) + ": " + std::to_string(d) + " exceeds the tensor size limit of " +
                  std::to_string(kMaxTensorElements));
}

void need_f32(const Node& n, const ValueState& v, const char* what) {
  if (v.dtype != DType::f32) unsupported(n, std::string(what) + " must be float32, got " + dtype_name(v.dtype));
}

// Only the first `k` outputs may be requested.
void max_outputs(const Node& n, size_t k) {
  for (size_t j = k; j < n.outputs.size(); ++j)
    if (!n.outputs[j].empty()) unsupported(n, "output " + std::to_string(j) + " is not supported");
}

const Tensor& static_input(const Node& n, const std::vector<ValueState>& in, size_t k, const char* what) {
  if (!in[k].value) fail(n, std::string(what) + " (input " + std::to_string(k) + ") must be known before run time");
  return *in[k].value;
}

Prepared single(Shape s, DType t, Kernel k, size_t scratch = 0) {
  Prepared p;
  p.shapes = {std::move(s)};
  p.dtypes = {t};
  p.statics.resize(1);
  p.run = std::move(k);
  p.scratch_floats = scratch;
  return p;
}

Prepared single_static(Tensor t) {
  Prepared p;
  p.shapes = {t.shape};
  p.dtypes = {t.dtype};
  p.statics.emplace_back(std::move(t));
  return p;
}

// ---------------------------------------------------------------- broadcasting elementwise
Shape broadcast_shapes(const Node& n, const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) fail(n, "shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// Strides of `in` read as `out` (0 along broadcast dims).
Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape st(out.size(), 0), s = strides_of(in);
  size_t off = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) st[k + off] = in[k] == 1 ? 0 : s[k];
  return st;
}

// A strided n-ary iteration plan with adjacent dims merged where all operands allow it.
struct Loop {
  Shape dims;
  std::vector<Shape> strides;  // per operand (operand 0 is the output)
};

Loop make_loop(const Shape& out, std::vector<Shape> strides) {
  Loop l;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k] == 1) continue;
    bool merge = !l.dims.empty();
    for (size_t o = 0; merge && o < strides.size(); ++o) merge = l.strides[o].back() == strides[o][k] * out[k];
    if (merge) {
      l.dims.back() *= out[k];
      for (size_t o = 0; o < strides.size(); ++o) l.strides[o].back() = strides[o][k];
    } else {
      l.dims.push_back(out[k]);
      if (l.strides.empty()) l.strides.resize(strides.size());
      for (size_t o = 0; o < strides.size(); ++o) l.strides[o].push_back(strides[o][k]);
    }
  }
  if (l.dims.empty()) {
    l.dims.push_back(1);
    l.strides.assign(strides.size(), Shape{1});
  }
  return l;
}

// Calls f(offsets..., inner_count, inner_strides...) for every innermost run.
template <size_t N, class F>
void for_each_run(const Loop& l, F&& f) {
  size_t r = l.dims.size();
  std::vector<int64_t> idx(r, 0);
  std::array<int64_t, N> off{};
  std::array<int64_t, N> inner{};
  for (size_t o = 0; o < N; ++o) inner[o] = l.strides[o][r - 1];
  int64_t n_inner = l.dims[r - 1];
  while (true) {
    f(off, n_inner, inner);
    int64_t k = static_cast<int64_t>(r) - 2;
    for (; k >= 0; --k) {
      ++idx[k];
      for (size_t o = 0; o < N; ++o) off[o] += l.strides[o][k];
      if (idx[k] < l.dims[k]) break;
      for (size_t o = 0; o < N; ++o) off[o] -= l.strides[o][k] * l.dims[k];
      idx[k] = 0;
    }
    if (k < 0) break;
  }
}

enum class BinOp { Add, Sub, Mul, Div };

template <class T>
T apply_bin(BinOp op, T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    // Integer tensors wrap around on overflow (two's complement, as numpy and ONNX Runtime do);
    // in signed arithmetic that would be undefined behaviour, so it is done unsigned.
    using U = std::make_unsigned_t<T>;
    switch (op) {
      case BinOp::Add:
        return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
      case BinOp::Sub:
        return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
      case BinOp::Mul:
        return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
      default:
        if (b == 0) throw Error("integer division by zero");
        if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));  // min / -1 wraps to min
        return a / b;
    }
  }
  switch (op) {
    case BinOp::Add:
      return a + b;
    case BinOp::Sub:
      return a - b;
    case BinOp::Mul:
      return a * b;
    default:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) throw Error("integer division by zero");
        return a / b;
      } else {
        return a / b;
      }
  }
}

template <class T, BinOp OP>
void binary_loop(const Loop& l, const T* a, const T* b, T* y) {
  for_each_run<3>(l, [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    T* yo = y + off[0];
    const T* ao = a + off[1];
    const T* bo = b + off[2];
    if (st[1] == 1 && st[2] == 1) {
      for (int64_t k = 0; k < n; ++k) yo[k] = apply_bin<T>(OP, ao[k], bo[k]);
    } else if (st[1] == 1 && st[2] == 0) {
      T bv = *bo;
      for (int64_t k = 0; k < n; ++k) yo[k] = apply_bin<T>(OP, ao[k], bv);
    } else if (st[1] == 0 && st[2] == 1) {
      T av = *ao;
      for (int64_t k = 0; k < n; ++k) yo[k] = apply_bin<T>(OP, av, bo[k]);
    } else {
      for (int64_t k = 0; k < n; ++k) yo[k] = apply_bin<T>(OP, ao[k * st[1]], bo[k * st[2]]);
    }
  });
}

template <BinOp OP>
Prepared prep_binary(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 2, 2);
  if (in[0].dtype != in[1].dtype)
    fail(n, std::string("input types differ: ") + dtype_name(in[0].dtype) + " and " + dtype_name(in[1].dtype));
  Shape a = in[0].shape, b = in[1].shape;
  if (opset < 7 && n.attr_i("broadcast", 0)) {
    // Legacy (opset < 7) broadcasting: B's dims align with A's starting at `axis`.
    int64_t axis = n.attr_i("axis", static_cast<int64_t>(a.size() - b.size()));
    if (axis < 0) axis += static_cast<int64_t>(a.size());
    if (axis < 0 || axis + static_cast<int64_t>(b.size()) > static_cast<int64_t>(a.size()))
      fail(n, "legacy broadcast axis out of range");
    Shape nb(a.size() - axis, 1);
    std::copy(b.begin(), b.end(), nb.begin());
    b = nb;
  }
  Shape out = broadcast_shapes(n, a, b);
  if (opset < 7 && !n.attr_i("broadcast", 0) && a != b) fail(n, "shapes differ and broadcast=0");
  Shape so = strides_of(out);
  Loop l = make_loop(out, {so, broadcast_strides(a, out), broadcast_strides(b, out)});
  DType t = in[0].dtype;
  return single(out, t, [l, t](const KernelArgs& k) {
    if (t == DType::f32)
      binary_loop<float, OP>(l, k.in[0]->f.data(), k.in[1]->f.data(), k.out[0]->f.data());
    else
      binary_loop<int64_t, OP>(l, k.in[0]->i.data(), k.in[1]->i.data(), k.out[0]->i.data());
  });
}

// ---------------------------------------------------------------- unary elementwise
template <class F>
Prepared unary_f32(const Node& n, const std::vector<ValueState>& in, F f) {
  need_f32(n, in[0], "input");
  return single(in[0].shape, DType::f32, [f](const KernelArgs& k) {
    const float* x = k.in[0]->f.data();
    float* y = k.out[0]->f.data();
    size_t cnt = k.in[0]->f.size();
    for (size_t j = 0; j < cnt; ++j) y[j] = f(x[j]);
  });
}

Prepared prep_relu(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  return unary_f32(n, in, [](float x) { return x > 0.0f ? x : 0.0f; });
}

Prepared prep_leaky_relu(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  float alpha = n.attr_f("alpha", 0.01f);
  return unary_f32(n, in, [alpha](float x) { return x >= 0.0f ? x : alpha * x; });
}

Prepared prep_sigmoid(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  return unary_f32(n, in, [](float x) {
    // Split by sign so exp never overflows.
    if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
    float e = std::exp(x);
    return e / (1.0f + e);
  });
}

Prepared prep_tanh(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  return unary_f32(n, in, [](float x) { return std::tanh(x); });
}

Prepared prep_clip(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (opset < 11) {
    need_inputs(n, in, 1, 1);
    lo = n.attr_f("min", lo);
    hi = n.attr_f("max", hi);
  } else {
    need_inputs(n, in, 1, 3);
    for (size_t k = 1; k < 3; ++k)
      if (n.input_given(k)) {
        if (checked_numel(in[k].shape, n.where()) != 1) fail(n, "min/max must be scalars");
        need_f32(n, in[k], k == 1 ? "min" : "max");
      }
  }
  need_f32(n, in[0], "input");  // only after the input count is checked: in[0] may not exist
  bool has_lo = n.input_given(1), has_hi = n.input_given(2);
  return single(in[0].shape, DType::f32, [=](const KernelArgs& k) {
    // min/max are read at run time (they may be graph inputs).
    float l = has_lo ? k.in[1]->f[0] : lo, h = has_hi ? k.in[2]->f[0] : hi;
    const float* x = k.in[0]->f.data();
    float* y = k.out[0]->f.data();
    size_t cnt = k.in[0]->f.size();
    for (size_t j = 0; j < cnt; ++j) y[j] = std::min(std::max(x[j], l), h);
  });
}

Prepared prep_copy(const Node& n, const std::vector<ValueState>& in, Shape out) {
  DType t = in[0].dtype;
  (void)n;
  return single(std::move(out), t, [](const KernelArgs& k) {
    if (k.in[0]->dtype == DType::f32)
      std::copy(k.in[0]->f.begin(), k.in[0]->f.end(), k.out[0]->f.begin());
    else
      std::copy(k.in[0]->i.begin(), k.in[0]->i.end(), k.out[0]->i.begin());
  });
}

Prepared prep_identity(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  return prep_copy(n, in, in[0].shape);
}

Prepared prep_dropout(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 1, opset >= 12 ? 3 : 1);
  max_outputs(n, 1);
  if (opset >= 12 && n.input_given(2)) {
    const Tensor& t = static_input(n, in, 2, "training_mode");
    if (t.numel() != 1) fail(n, "training_mode must be a scalar");
    if (t.as_i64()[0] != 0) unsupported(n, "training_mode=1 (ptcsim runs inference only)");
  }
  if (opset < 7 && n.attr_i("is_test", 0) == 0) unsupported(n, "is_test=0 (ptcsim runs inference only)");
  return prep_copy(n, in, in[0].shape);
}

// ---------------------------------------------------------------- GEMM-like ops
Prepared prep_gemm(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, opset >= 11 ? 2 : 3, 3);
  for (size_t k = 0; k < n.given_inputs(); ++k) need_f32(n, in[k], "input");
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  float alpha = n.attr_f("alpha", 1.0f), beta = n.attr_f("beta", 1.0f);
  const Shape &a = in[0].shape, &b = in[1].shape;
  if (a.size() != 2 || b.size() != 2) fail(n, "A and B must be 2-D, got " + shape_str(a) + " and " + shape_str(b));
  int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1];
  int64_t Kb = tb ? b[1] : b[0], N = tb ? b[0] : b[1];
  if (K != Kb)
    fail(n, "inner dimensions do not match: A " + shape_str(a) + (ta ? "^T" : "") + " x B " + shape_str(b) + (tb ? "^T" : ""));
  Shape out{M, N};
  bool has_c = n.input_given(2);
  Loop cl;
  if (has_c) {
    Shape c = in[2].shape;
    Shape bc = broadcast_shapes(n, c, out);
    if (bc != out) fail(n, "C " + shape_str(c) + " does not broadcast to " + shape_str(out));
    cl = make_loop(out, {strides_of(out), broadcast_strides(c, out)});
  }
  return single(
      out, DType::f32,
      [=](const KernelArgs& k) {
        float* y = k.out[0]->f.data();
        if (k.mapped && k.layer >= 0) {
          // Hardware path: one vector per sample; y = alpha * W_eff a_row + beta * C.
          const float* A = k.in[0]->f.data();
#pragma omp parallel for schedule(static) num_threads(k.threads) if (k.threads > 1 && M > 1)
          for (int64_t r = 0; r < M; ++r) {
            float* xr = k.scratch + static_cast<size_t>(omp_get_thread_num()) * static_cast<size_t>(K);
            if (ta)
              for (int64_t j = 0; j < K; ++j) xr[j] = A[j * M + r];
            else
              std::copy(A + r * K, A + (r + 1) * K, xr);
            k.mapped->gemm(k.layer, 0, k.sample_base + r, xr, false, 1, y + r * N, false);
            for (int64_t j = 0; j < N; ++j) y[r * N + j] *= alpha;
          }
          if (has_c && beta != 0.0f) {
            const float* c = k.in[2]->f.data();
            for_each_run<2>(cl, [&](const std::array<int64_t, 2>& off, int64_t cnt, const std::array<int64_t, 2>& st) {
              for (int64_t j = 0; j < cnt; ++j) y[off[0] + j] += beta * c[off[1] + j * st[1]];
            });
          }
          return;
        }
        float b0 = 0.0f;
        if (has_c && beta != 0.0f) {
          const float* c = k.in[2]->f.data();
          for_each_run<2>(cl, [&](const std::array<int64_t, 2>& off, int64_t cnt, const std::array<int64_t, 2>& st) {
            for (int64_t j = 0; j < cnt; ++j) y[off[0] + j] = beta * c[off[1] + j * st[1]];
          });
          b0 = 1.0f;
        }
        if (M == 0 || N == 0) return;
        if (K == 0) {
          if (b0 == 0.0f) std::fill(y, y + M * N, 0.0f);
          return;
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                    static_cast<int>(N), static_cast<int>(K), alpha, k.in[0]->f.data(), static_cast<int>(a[1]), k.in[1]->f.data(),
                    static_cast<int>(b[1]), b0, y, static_cast<int>(N));
      },
      static_cast<size_t>(K));
}

Prepared prep_matmul(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 2, 2);
  need_f32(n, in[0], "A");
  need_f32(n, in[1], "B");
  Shape a = in[0].shape, b = in[1].shape;
  if (a.empty() || b.empty()) fail(n, "inputs must have rank >= 1");
  bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), Kb = b[b.size() - 2], N = b.back();
  if (K != Kb) fail(n, "inner dimensions do not match: " + shape_str(in[0].shape) + " x " + shape_str(in[1].shape));
  Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape batch = broadcast_shapes(n, ba, bb);
  Shape out = batch;
  if (!a1) out.push_back(M);
  if (!b1) out.push_back(N);
  // Batch offsets of A and B (in matrices) by the broadcast strides, computed as the kernel goes: a
  // table per output matrix would cost 16 bytes each, and nb may be as large as the size limit.
  const int64_t nb = checked_numel(batch, n.where());
  const Shape sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
  // If B is shared by all batches and A is contiguous over them, fold the batch into M: every dim
  // that varies has B's stride 0 and A's contiguous stride.
  bool fold = nb > 1;
  {
    int64_t contiguous = 1;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      if (batch[d] > 1 && (sb[d] != 0 || sa[d] != contiguous)) fold = false;
      contiguous *= batch[d];
    }
  }
  const bool fold_or_single = fold || nb == 1;                       // one batch: B's offset is 0
  const bool rows_are_samples = in[0].shape.size() == 2 && nb == 1;  // [batch, K] x [K, N]
  return single(out, DType::f32, [=](const KernelArgs& k) {
    const float* A = k.in[0]->f.data();
    const float* B = k.in[1]->f.data();
    float* Y = k.out[0]->f.data();
    if (M == 0 || N == 0 || nb == 0) return;
    if (k.mapped && k.layer >= 0 && fold_or_single) {
      if (rows_are_samples) {
        // Hardware path, 2-D A: each row is one sample's vector (its own draw, as for Gemm).
#pragma omp parallel for schedule(static) num_threads(k.threads) if (k.threads > 1 && M > 1)
        for (int64_t r = 0; r < M; ++r) k.mapped->gemm(k.layer, 0, k.sample_base + r, A + r * K, true, 1, Y + r * N, true);
        return;
      }
      // Hardware path (constant B): each leading index is a sample with M vectors (rows of A).
#pragma omp parallel for schedule(static) num_threads(k.threads) if (k.threads > 1 && nb > 1)
      for (int64_t j = 0; j < nb; ++j) k.mapped->gemm(k.layer, 0, k.sample_base + j, A + j * M * K, true, M, Y + j * M * N, true);
      return;
    }
    if (K == 0) {
      std::fill(Y, Y + nb * M * N, 0.0f);
      return;
    }
    if (fold) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(nb * M), static_cast<int>(N), static_cast<int>(K),
                  1.0f, A, static_cast<int>(K), B, static_cast<int>(N), 0.0f, Y, static_cast<int>(N));
      return;
    }
    Shape idx(batch.size(), 0);
    for (int64_t j = 0; j < nb; ++j) {
      int64_t oa = 0, ob = 0;
      for (size_t d = 0; d < batch.size(); ++d) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f,
                  A + oa * M * K, static_cast<int>(K), B + ob * K * N, static_cast<int>(N), 0.0f, Y + j * M * N,
                  static_cast<int>(N));
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d)
        if (++idx[d] < batch[d])
          break;
        else
          idx[d] = 0;
    }
  });
}

// ---------------------------------------------------------------- convolution and pooling
// Spatial geometry shared by Conv and the pools; 1-D inputs are handled as 2-D with H = 1.
struct Window {
  int64_t ih = 1, iw = 1, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0, oh = 1, ow = 1;
};

Window make_window(const Node& n, const Shape& x, const Shape& kernel, bool ceil_mode) {
  size_t sd = x.size() - 2;
  if (sd < 1 || sd > 2) unsupported(n, std::to_string(sd) + "-D spatial input (ptcsim supports 1-D and 2-D)");
  if (kernel.size() != sd) fail(n, "kernel has " + std::to_string(kernel.size()) + " spatial dims, input " + std::to_string(sd));
  Shape strides = n.attr_ints("strides", Shape(sd, 1));
  Shape dil = n.attr_ints("dilations", Shape(sd, 1));
  Shape pads = n.attr_ints("pads", Shape(2 * sd, 0));
  std::string autopad = n.attr_s("auto_pad", "NOTSET");
  if (strides.size() != sd || dil.size() != sd || pads.size() != 2 * sd)
    fail(n, "strides/dilations/pads do not match the " + std::to_string(sd) + "-D input");
  need_dims_in_range(n, kernel, "kernel");
  need_dims_in_range(n, strides, "strides");
  need_dims_in_range(n, dil, "dilations");
  need_dims_in_range(n, pads, "pads");
  for (size_t k = 0; k < sd; ++k) {
    if (strides[k] < 1 || dil[k] < 1 || kernel[k] < 1) fail(n, "strides, dilations and kernel must be >= 1");
    if (pads[k] < 0 || pads[k + sd] < 0) fail(n, "pads must be >= 0");
  }
  Shape in(x.begin() + 2, x.end()), out(sd);
  for (size_t k = 0; k < sd; ++k) {
    int64_t ek = (kernel[k] - 1) * dil[k] + 1;
    if (autopad == "SAME_UPPER" || autopad == "SAME_LOWER") {
      out[k] = (in[k] + strides[k] - 1) / strides[k];
      int64_t total = std::max<int64_t>(0, (out[k] - 1) * strides[k] + ek - in[k]);
      int64_t small = total / 2;
      pads[k] = autopad == "SAME_UPPER" ? small : total - small;
      pads[k + sd] = total - pads[k];
    } else if (autopad == "VALID" || autopad == "NOTSET") {
      if (autopad == "VALID") pads[k] = pads[k + sd] = 0;
      int64_t span = in[k] + pads[k] + pads[k + sd] - ek;
      if (span < 0) fail(n, "kernel " + shape_str(kernel) + " is larger than the padded input " + shape_str(x));
      out[k] = (ceil_mode ? (span + strides[k] - 1) / strides[k] : span / strides[k]) + 1;
    } else {
      fail(n, "unknown auto_pad '" + autopad + "'");
    }
  }
  Window w;
  size_t o = sd == 2 ? 0 : 1;  // 1-D: fill the W fields
  auto set = [&](size_t k, int64_t& iv, int64_t& kv, int64_t& sv, int64_t& dv, int64_t& pbeg, int64_t& pend, int64_t& ov) {
    iv = in[k];
    kv = kernel[k];
    sv = strides[k];
    dv = dil[k];
    pbeg = pads[k];
    pend = pads[k + sd];
    ov = out[k];
  };
  if (o == 0) {
    set(0, w.ih, w.kh, w.sh, w.dh, w.pt, w.pb, w.oh);
    set(1, w.iw, w.kw, w.sw, w.dw, w.pl, w.pr, w.ow);
  } else {
    set(0, w.iw, w.kw, w.sw, w.dw, w.pl, w.pr, w.ow);
  }
  return w;
}

Shape out_shape(const Shape& x, int64_t channels, const Window& w) {
  Shape s{x[0], channels};
  if (x.size() == 4) s.push_back(w.oh);
  s.push_back(w.ow);
  return s;
}

// col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw] (0 outside).
void im2col(const float* x, int64_t channels, const Window& w, float* col) {
  int64_t ohw = w.oh * w.ow;
  if (w.sh == 1 && w.sw == 1 && w.ow == w.iw) {
    // Unit stride, output as wide as the input ("same" padding): a row of col is the input plane
    // shifted by (dr, dc) = (i dh - pt, j dw - pl), so one copy per row of col, then zeros for
    // the rows and columns that fall outside the input.
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < w.kh; ++i)
        for (int64_t j = 0; j < w.kw; ++j) {
          float* row = col + ((c * w.kh + i) * w.kw + j) * ohw;
          const float* xc = x + c * w.ih * w.iw;
          const int64_t dr = i * w.dh - w.pt, dc = j * w.dw - w.pl, off = dr * w.iw + dc;
          const int64_t h0 = std::clamp<int64_t>(-dr, 0, w.oh), h1 = std::max(h0, std::clamp<int64_t>(w.ih - dr, 0, w.oh));
          const int64_t k0 = h0 * w.ow, k1 = h1 * w.ow;
          const int64_t a = std::min(k1, std::max(k0, -off)), b = std::max(a, std::min(k1, w.ih * w.iw - off));
          std::fill(row, row + a, 0.0f);
          std::memcpy(row + a, xc + a + off, sizeof(float) * (b - a));
          std::fill(row + b, row + ohw, 0.0f);
          const int64_t lo = std::min(w.ow, std::max<int64_t>(0, -dc)), hi = std::max(lo, std::min(w.ow, w.iw - dc));
          if (lo > 0 || hi < w.ow)
            for (int64_t oh = h0; oh < h1; ++oh) {
              float* r = row + oh * w.ow;
              for (int64_t k = 0; k < lo; ++k) r[k] = 0.0f;
              for (int64_t k = hi; k < w.ow; ++k) r[k] = 0.0f;
            }
        }
    return;
  }
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < w.kh; ++i)
      for (int64_t j = 0; j < w.kw; ++j) {
        float* row = col + ((c * w.kh + i) * w.kw + j) * ohw;
        const float* xc = x + c * w.ih * w.iw;
        // Output columns whose input column is inside [0, iw): ow in [lo, hi).
        int64_t off = j * w.dw - w.pl;
        int64_t lo = off >= 0 ? 0 : (-off + w.sw - 1) / w.sw;
        int64_t hi = w.iw - off <= 0 ? 0 : std::min(w.ow, (w.iw - off + w.sw - 1) / w.sw);
        lo = std::min(lo, hi);
        for (int64_t oh = 0; oh < w.oh; ++oh) {
          float* r = row + oh * w.ow;
          int64_t ih = oh * w.sh - w.pt + i * w.dh;
          if (ih < 0 || ih >= w.ih) {
            std::fill(r, r + w.ow, 0.0f);
            continue;
          }
          const float* xr = xc + ih * w.iw + off;
          std::fill(r, r + lo, 0.0f);
          if (w.sw == 1)
            std::memcpy(r + lo, xr + lo, sizeof(float) * (hi - lo));
          else
            for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * w.sw];
          std::fill(r + hi, r + w.ow, 0.0f);
        }
      }
}

Prepared prep_conv(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 2, 3);
  for (size_t k = 0; k < n.given_inputs(); ++k) need_f32(n, in[k], "input");
  const Shape &x = in[0].shape, &wt = in[1].shape;
  if (x.size() < 3) fail(n, "input must have rank >= 3, got " + shape_str(x));
  if (wt.size() != x.size()) fail(n, "weight " + shape_str(wt) + " and input " + shape_str(x) + " ranks differ");
  int64_t group = n.attr_i("group", 1);
  int64_t C = x[1], M = wt[0];
  if (group < 1 || C % group || M % group)
    fail(n, "group " + std::to_string(group) + " does not divide channels " + std::to_string(C) + " / " + std::to_string(M));
  if (wt[1] != C / group)
    fail(n, "weight " + shape_str(wt) + " expects " + std::to_string(wt[1] * group) + " input channels, input " + shape_str(x) +
                " has " + std::to_string(C));
  Shape kernel(wt.begin() + 2, wt.end());
  Shape ks = n.attr_ints("kernel_shape", kernel);
  if (ks != kernel) fail(n, "kernel_shape " + shape_str(ks) + " does not match weight " + shape_str(wt));
  bool has_b = n.input_given(2);
  if (has_b && (in[2].shape.size() != 1 || in[2].shape[0] != M))
    fail(n, "bias " + shape_str(in[2].shape) + " must be [" + std::to_string(M) + "]");
  Window w = make_window(n, x, kernel, false);
  Shape out = out_shape(x, M, w);
  int64_t N = x[0], Cg = C / group, Mg = M / group, Kg = Cg * w.kh * w.kw, ohw = w.oh * w.ow;
  bool direct = w.kh == 1 && w.kw == 1 && w.sh == 1 && w.sw == 1 && w.pt == 0 && w.pl == 0 && w.pb == 0 && w.pr == 0;
  size_t scratch = direct ? 0 : static_cast<size_t>(checked_numel({Kg, ohw}, n.where() + " im2col buffer"));
  const bool same_width = !direct && w.sh == 1 && w.sw == 1 && w.ow == w.iw;
  SameWidthConv sw{Cg, w.ih, w.iw, w.kh, w.kw, w.dh, w.dw, w.pt, w.pl, w.oh};
  return single(
      out, DType::f32,
      [=](const KernelArgs& k) {
        const float* X = k.in[0]->f.data();
        const float* W = k.in[1]->f.data();
        float* Y = k.out[0]->f.data();
    // Samples are independent: split the batch over threads (each with its own im2col slice);
    // every output element is computed by the same sgemm call whatever the thread count.
#pragma omp parallel for schedule(static) num_threads(k.threads) if (k.threads > 1 && N > 1)
        for (int64_t b = 0; b < N; ++b) {
          float* col_buf = k.scratch + static_cast<size_t>(omp_get_thread_num()) * scratch;
          for (int64_t g = 0; g < group; ++g) {
            const float* xg = X + (b * C + g * Cg) * w.ih * w.iw;
            float* yg = Y + (b * M + g * Mg) * ohw;
            ConvEpilogue ep;
            ep.bias = has_b ? k.in[2]->f.data() + g * Mg : nullptr;
            ep.post = k.post;
            ep.lo = k.post_lo;
            ep.hi = k.post_hi;
            if (k.mapped && k.layer >= 0 && same_width &&
                k.mapped->conv_same_width(k.layer, g, k.sample_base + b, xg, sw, yg, &ep)) {
              continue;  // the hardware model read the windows straight from the image, epilogue included
            } else {
              const float* col = xg;
              if (!direct) {
                im2col(xg, Cg, w, col_buf);
                col = col_buf;
              }
              if (k.mapped && k.layer >= 0)
                k.mapped->gemm(k.layer, g, k.sample_base + b, col, false, ohw, yg, false);
              else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(Mg), static_cast<int>(ohw),
                            static_cast<int>(Kg), 1.0f, W + g * Mg * Kg, static_cast<int>(Kg), col, static_cast<int>(ohw), 0.0f,
                            yg, static_cast<int>(ohw));
            }
            if (has_b) {
              const float* bias = k.in[2]->f.data() + g * Mg;
              for (int64_t m = 0; m < Mg; ++m) {
                float bv = bias[m];
                float* r = yg + m * ohw;
                for (int64_t j = 0; j < ohw; ++j) r[j] += bv;
              }
            }
            apply_post(k, yg, Mg * ohw);
          }
        }
      },
      scratch);
}

Prepared prep_pool(const Node& n, const std::vector<ValueState>& in, int64_t opset, bool is_max) {
  need_inputs(n, in, 1, 1);
  need_f32(n, in[0], "input");
  max_outputs(n, 1);
  const Shape& x = in[0].shape;
  if (x.size() < 3) fail(n, "input must have rank >= 3, got " + shape_str(x));
  if (!n.has("kernel_shape")) fail(n, "attribute kernel_shape is required");
  if (is_max && n.attr_i("storage_order", 0) != 0) unsupported(n, "storage_order=1");
  if (!is_max && opset < 19 && n.has("dilations")) fail(n, "AveragePool has no dilations before opset 19");
  Shape kernel = n.attr_ints("kernel_shape", {});
  bool ceil_mode = n.attr_i("ceil_mode", 0) != 0;
  bool include_pad = n.attr_i("count_include_pad", 0) != 0;
  Window w = make_window(n, x, kernel, ceil_mode);
  Shape out = out_shape(x, x[1], w);
  int64_t planes = x[0] * x[1];
  return single(out, DType::f32, [=](const KernelArgs& k) {
    const float* X = k.in[0]->f.data();
    float* Y = k.out[0]->f.data();
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = X + p * w.ih * w.iw;
      float* yp = Y + p * w.oh * w.ow;
      for (int64_t oh = 0; oh < w.oh; ++oh)
        for (int64_t ow = 0; ow < w.ow; ++ow) {
          int64_t h0 = oh * w.sh - w.pt, w0 = ow * w.sw - w.pl;
          float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
          int64_t inside = 0, padded = 0;
          for (int64_t i = 0; i < w.kh; ++i) {
            int64_t ih = h0 + i * w.dh;
            bool hin = ih >= 0 && ih < w.ih;
            bool hpad = ih >= -w.pt && ih < w.ih + w.pb;
            for (int64_t j = 0; j < w.kw; ++j) {
              int64_t iw = w0 + j * w.dw;
              if (hpad && iw >= -w.pl && iw < w.iw + w.pr) ++padded;
              if (!hin || iw < 0 || iw >= w.iw) continue;
              float v = xp[ih * w.iw + iw];
              ++inside;
              if (is_max)
                acc = std::max(acc, v);
              else
                acc += v;
            }
          }
          if (!is_max) {
            int64_t div = include_pad ? padded : inside;
            acc = div > 0 ? acc / static_cast<float>(div) : 0.0f;
          }
          yp[oh * w.ow + ow] = acc;
        }
    }
  });
}

Prepared prep_maxpool(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  return prep_pool(n, in, opset, true);
}
Prepared prep_avgpool(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  return prep_pool(n, in, opset, false);
}

Prepared prep_global_pool(const Node& n, const std::vector<ValueState>& in, bool is_max) {
  need_inputs(n, in, 1, 1);
  need_f32(n, in[0], "input");
  const Shape& x = in[0].shape;
  if (x.size() < 3) fail(n, "input must have rank >= 3, got " + shape_str(x));
  Shape out(x.size(), 1);
  out[0] = x[0];
  out[1] = x[1];
  int64_t planes = x[0] * x[1], area = 1;
  for (size_t k = 2; k < x.size(); ++k) area *= x[k];
  return single(out, DType::f32, [=](const KernelArgs& k) {
    const float* X = k.in[0]->f.data();
    float* Y = k.out[0]->f.data();
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = X + p * area;
      if (is_max) {
        Y[p] = area ? *std::max_element(xp, xp + area) : 0.0f;
      } else {
        double s = 0;
        for (int64_t j = 0; j < area; ++j) s += xp[j];
        Y[p] = area ? static_cast<float>(s / static_cast<double>(area)) : 0.0f;
      }
    }
  });
}
Prepared prep_gap(const Node& n, const std::vector<ValueState>& in, int64_t) {
  return prep_global_pool(n, in, false);
}
Prepared prep_gmp(const Node& n, const std::vector<ValueState>& in, int64_t) {
  return prep_global_pool(n, in, true);
}

Prepared prep_batchnorm(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 5, 5);
  for (size_t k = 0; k < 5; ++k) need_f32(n, in[k], "input");
  max_outputs(n, 1);
  if (n.attr_i("training_mode", 0) != 0) unsupported(n, "training_mode=1 (ptcsim runs inference only)");
  if (opset < 7 && n.attr_i("is_test", 0) == 0) unsupported(n, "is_test=0 (ptcsim runs inference only)");
  if (opset < 9 && n.attr_i("spatial", 1) == 0) unsupported(n, "spatial=0");
  const Shape& x = in[0].shape;
  if (x.size() < 2) fail(n, "input must have rank >= 2, got " + shape_str(x));
  int64_t C = x[1];
  for (size_t k = 1; k < 5; ++k)
    if (in[k].shape != Shape{C})
      fail(n, "input " + std::to_string(k) + " " + shape_str(in[k].shape) + " must be [" + std::to_string(C) + "]");
  float eps = n.attr_f("epsilon", 1e-5f);
  int64_t area = 1;
  for (size_t k = 2; k < x.size(); ++k) area *= x[k];
  int64_t N = x[0];
  return single(x, DType::f32, [=](const KernelArgs& k) {
    const float *X = k.in[0]->f.data(), *s = k.in[1]->f.data(), *b = k.in[2]->f.data(), *m = k.in[3]->f.data(),
                *v = k.in[4]->f.data();
    float* Y = k.out[0]->f.data();
    for (int64_t c = 0; c < C; ++c) {
      float a = s[c] / std::sqrt(v[c] + eps), o = b[c] - m[c] * a;
      for (int64_t bi = 0; bi < N; ++bi) {
        const float* xp = X + (bi * C + c) * area;
        float* yp = Y + (bi * C + c) * area;
        for (int64_t j = 0; j < area; ++j) yp[j] = xp[j] * a + o;
      }
    }
  });
}

Prepared prep_softmax(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 1, 1);
  need_f32(n, in[0], "input");
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = n.attr_i("axis", opset >= 13 ? -1 : 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= std::max<int64_t>(r, 1)) fail(n, "axis out of range for " + shape_str(x));
  // opset < 13: softmax over the flattened [prod(dims >= axis)]; opset >= 13: over dim `axis`.
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= x[k];
  if (opset >= 13) {
    len = r ? x[axis] : 1;
    for (int64_t k = axis + 1; k < r; ++k) inner *= x[k];
  } else {
    for (int64_t k = axis; k < r; ++k) len *= x[k];
  }
  return single(x, DType::f32, [=](const KernelArgs& k) {
    const float* X = k.in[0]->f.data();
    float* Y = k.out[0]->f.data();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const float* xp = X + o * len * inner + i;
        float* yp = Y + o * len * inner + i;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xp[j * inner]);
        float s = 0;
        for (int64_t j = 0; j < len; ++j) s += (yp[j * inner] = std::exp(xp[j * inner] - mx));
        for (int64_t j = 0; j < len; ++j) yp[j * inner] /= s;
      }
  });
}

// ---------------------------------------------------------------- shape and data movement
Prepared prep_flatten(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = n.attr_i("axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) fail(n, "axis out of range for " + shape_str(x));
  int64_t a = 1, b = 1;
  for (int64_t k = 0; k < r; ++k) (k < axis ? a : b) *= x[k];
  return prep_copy(n, in, {a, b});
}

Prepared prep_reshape(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 2, 2);
  const Shape& x = in[0].shape;
  std::vector<int64_t> target = static_input(n, in, 1, "shape").as_i64();
  need_dims_in_range(n, target, "shape");
  bool allowzero = opset >= 14 && n.attr_i("allowzero", 0) != 0;
  int64_t total = checked_numel(x, n.where()), known = 1, infer = -1;
  Shape out(target.size());
  for (size_t k = 0; k < target.size(); ++k) {
    int64_t d = target[k];
    if (d == 0 && !allowzero) {
      if (k >= x.size()) fail(n, "shape " + shape_str(target) + ": 0 at position " + std::to_string(k) + " has no input dim");
      d = x[k];
    }
    if (d == -1) {
      if (infer >= 0) fail(n, "shape " + shape_str(target) + " has more than one -1");
      infer = static_cast<int64_t>(k);
      continue;
    }
    if (d < -1) fail(n, "shape " + shape_str(target) + " has a negative dim");
    out[k] = d;
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known) fail(n, "cannot reshape " + shape_str(x) + " to " + shape_str(target));
    out[infer] = total / known;
  }
  if (checked_numel(out, n.where()) != total) fail(n, "cannot reshape " + shape_str(x) + " to " + shape_str(target));
  return prep_copy(n, in, out);
}

// General strided copy: out[idx] = in[src_offset(idx)].
template <class T>
void strided_copy(const Loop& l, const T* x, T* y) {
  for_each_run<2>(l, [&](const std::array<int64_t, 2>& off, int64_t cnt, const std::array<int64_t, 2>& st) {
    T* yo = y + off[0];
    const T* xo = x + off[1];
    if (st[1] == 1)
      std::copy(xo, xo + cnt, yo);
    else
      for (int64_t j = 0; j < cnt; ++j) yo[j] = xo[j * st[1]];
  });
}

Kernel strided_kernel(const Loop& l, int64_t src_base) {
  return [l, src_base](const KernelArgs& k) {
    if (k.out[0]->numel() == 0) return;
    if (k.in[0]->dtype == DType::f32)
      strided_copy(l, k.in[0]->f.data() + src_base, k.out[0]->f.data());
    else
      strided_copy(l, k.in[0]->i.data() + src_base, k.out[0]->i.data());
  };
}

Prepared prep_transpose(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 1, 1);
  const Shape& x = in[0].shape;
  size_t r = x.size();
  Shape perm(r);
  for (size_t k = 0; k < r; ++k) perm[k] = static_cast<int64_t>(r - 1 - k);
  perm = n.attr_ints("perm", perm);
  if (perm.size() != r) fail(n, "perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  Shape out(r), src(r), xs = strides_of(x);
  for (size_t k = 0; k < r; ++k) {
    if (perm[k] < 0 || perm[k] >= static_cast<int64_t>(r) || seen[perm[k]]) fail(n, "perm is not a permutation");
    seen[perm[k]] = true;
    out[k] = x[perm[k]];
    src[k] = xs[perm[k]];
  }
  Prepared p = single(out, in[0].dtype, {});
  p.run = strided_kernel(make_loop(out, {strides_of(out), src}), 0);
  return p;
}

Prepared prep_concat(const Node& n, const std::vector<ValueState>& in, int64_t) {
  size_t cnt = n.inputs.size();
  if (cnt < 1) fail(n, "needs at least one input");
  for (size_t k = 0; k < cnt; ++k) {
    if (!n.input_given(k)) fail(n, "input " + std::to_string(k) + " is missing");
    if (in[k].dtype != in[0].dtype) fail(n, "inputs have different types");
  }
  if (!n.has("axis")) fail(n, "attribute axis is required");
  Shape out = in[0].shape;
  int64_t r = static_cast<int64_t>(out.size());
  int64_t axis = n.attr_i("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) fail(n, "axis out of range for " + shape_str(out));
  out[axis] = 0;
  for (size_t k = 0; k < cnt; ++k) {
    const Shape& s = in[k].shape;
    if (static_cast<int64_t>(s.size()) != r) fail(n, "input ranks differ");
    for (int64_t d = 0; d < r; ++d)
      if (d != axis && s[d] != out[d])
        fail(n, "input " + std::to_string(k) + " " + shape_str(s) + " does not match " + shape_str(in[0].shape) +
                    " outside axis " + std::to_string(axis));
    out[axis] += s[axis];
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= out[d];
  std::vector<int64_t> chunk(cnt);
  for (size_t k = 0; k < cnt; ++k) chunk[k] = in[k].shape[axis] * inner;
  int64_t row = out[axis] * inner;
  return single(out, in[0].dtype, [=](const KernelArgs& k) {
    auto go = [&](auto* y, auto data_of) {
      int64_t at = 0;
      for (size_t j = 0; j < cnt; ++j) {
        const auto* x = data_of(*k.in[j]);
        for (int64_t o = 0; o < outer; ++o) std::copy(x + o * chunk[j], x + (o + 1) * chunk[j], y + o * row + at);
        at += chunk[j];
      }
    };
    if (k.out[0]->dtype == DType::f32)
      go(k.out[0]->f.data(), [](const Tensor& t) { return t.f.data(); });
    else
      go(k.out[0]->i.data(), [](const Tensor& t) { return t.i.data(); });
  });
}

Prepared prep_pad(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  std::string mode = n.attr_s("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") fail(n, "unknown mode '" + mode + "'");
  need_inputs(n, in, opset < 11 ? 1 : 2, opset < 11 ? 1 : 4);  // before in[0] is read
  const Shape& x = in[0].shape;
  size_t r = x.size();
  std::vector<int64_t> pads;
  float value = 0.0f;
  if (opset < 11) {
    pads = n.attr_ints(opset < 2 ? "paddings" : "pads", {});
    value = n.attr_f("value", 0.0f);
  } else {
    pads = static_input(n, in, 1, "pads").as_i64();
    if (n.input_given(2) && checked_numel(in[2].shape, n.where()) != 1) fail(n, "constant_value must be a scalar");
    if (n.input_given(3)) unsupported(n, "the axes input (opset 18)");
  }
  if (pads.size() != 2 * r) fail(n, "pads has " + std::to_string(pads.size()) + " entries for rank " + std::to_string(r));
  need_dims_in_range(n, pads, "pads");
  Shape out(r);
  for (size_t d = 0; d < r; ++d) {
    out[d] = x[d] + pads[d] + pads[d + r];
    if (out[d] < 0) fail(n, "pads remove more than the input has");
    if (mode == "reflect" && (pads[d] >= x[d] || pads[d + r] >= x[d]) && (pads[d] > 0 || pads[d + r] > 0))
      fail(n, "reflect padding must be smaller than the input dim");
    if (mode != "constant" && x[d] == 0 && out[d] > 0) fail(n, mode + " padding of an empty dim");
  }
  checked_numel(out, n.where());
  DType t = in[0].dtype;
  // Source index in dim d of output index o (-1 = the constant value), computed as the kernel goes:
  // a table per dim would cost 8 bytes per output index, and a dim may be as long as the tensor
  // size limit allows (an import's shape inference built 8 GB of them for a 10^9-long padded dim).
  const int kind = mode == "constant" ? 0 : mode == "edge" ? 1 : 2;
  const auto source = [pads, x, kind](size_t d, int64_t o) {
    int64_t i = o - pads[d];
    if (i >= 0 && i < x[d]) return i;
    if (kind == 0) return int64_t{-1};
    if (kind == 1) return std::min(std::max<int64_t>(i, 0), x[d] - 1);
    const int64_t period = 2 * (x[d] - 1);  // reflect
    if (period == 0) return int64_t{0};
    i = ((i % period) + period) % period;
    return i >= x[d] ? period - i : i;
  };
  Shape xs = strides_of(x);
  bool cv_input = opset >= 11 && n.input_given(2);
  return single(out, t, [=](const KernelArgs& k) {
    float value_now = value;  // constant_value is read at run time (it may be a graph input)
    if (cv_input) value_now = k.in[2]->dtype == DType::f32 ? k.in[2]->f[0] : static_cast<float>(k.in[2]->i[0]);
    int64_t total = k.out[0]->numel();
    std::vector<int64_t> idx(r, 0);
    for (int64_t j = 0; j < total; ++j) {
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d < r; ++d) {
        const int64_t s = source(d, idx[d]);
        if (s < 0) {
          inside = false;
          break;
        }
        off += s * xs[d];
      }
      if (t == DType::f32)
        k.out[0]->f[j] = inside ? k.in[0]->f[off] : value_now;
      else
        k.out[0]->i[j] = inside ? k.in[0]->i[off] : static_cast<int64_t>(value_now);
      for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d)
        if (++idx[d] < out[d])
          break;
        else
          idx[d] = 0;
    }
  });
}

Tensor attr_tensor_copy(const Node& n) {
  if (n.has("value")) {
    const Attr& a = n.attrs.at("value");
    if (a.kind != Attr::Kind::Tensor || !a.t) fail(n, "attribute value must be a tensor");
    return *a.t;
  }
  if (n.has("value_float")) return Tensor::from_f32({}, {n.attr_f("value_float", 0)});
  if (n.has("value_floats")) {
    const Attr& a = n.attrs.at("value_floats");
    return Tensor::from_f32({static_cast<int64_t>(a.floats.size())}, a.floats);
  }
  if (n.has("value_int")) return Tensor::from_i64({}, {n.attr_i("value_int", 0)});
  if (n.has("value_ints")) {
    auto v = n.attr_ints("value_ints", {});
    return Tensor::from_i64({static_cast<int64_t>(v.size())}, v);
  }
  unsupported(n, "only value, value_float(s) and value_int(s) are supported");
}

Prepared prep_constant(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 0, 0);
  return single_static(attr_tensor_copy(n));
}

Prepared prep_shape(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 1, 1);
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  int64_t start = opset >= 15 ? n.attr_i("start", 0) : 0, end = opset >= 15 ? n.attr_i("end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> dims(x.begin() + start, x.begin() + std::max(start, end));
  return single_static(Tensor::from_i64({static_cast<int64_t>(dims.size())}, dims));
}

Prepared prep_gather(const Node& n, const std::vector<ValueState>& in, int64_t) {
  need_inputs(n, in, 2, 2);
  if (in[1].dtype != DType::i64) unsupported(n, "indices must be int64");
  const Shape &x = in[0].shape, &ind = in[1].shape;
  int64_t r = static_cast<int64_t>(x.size());
  if (r < 1) fail(n, "data must have rank >= 1");
  int64_t axis = n.attr_i("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) fail(n, "axis out of range for " + shape_str(x));
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), ind.begin(), ind.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  int64_t outer = 1, inner = 1, dim = x[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= x[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= x[d];
  return single(out, in[0].dtype, [=](const KernelArgs& k) {
    const auto& idx = k.in[1]->i;
    int64_t ni = static_cast<int64_t>(idx.size());
    for (int64_t j = 0; j < ni; ++j)
      if (idx[j] < -dim || idx[j] >= dim)
        throw Error(n.where() + ": index " + std::to_string(idx[j]) + " out of range [" + std::to_string(-dim) + ", " +
                    std::to_string(dim) + ")");
    auto go = [&](const auto* X, auto* Y) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < ni; ++j) {
          int64_t s = idx[j] < 0 ? idx[j] + dim : idx[j];
          std::copy(X + (o * dim + s) * inner, X + (o * dim + s + 1) * inner, Y + (o * ni + j) * inner);
        }
    };
    if (k.in[0]->dtype == DType::f32)
      go(k.in[0]->f.data(), k.out[0]->f.data());
    else
      go(k.in[0]->i.data(), k.out[0]->i.data());
  });
}

std::vector<int64_t> axes_of(const Node& n, const std::vector<ValueState>& in, int64_t opset, int64_t from_opset, bool required) {
  if (opset >= from_opset) {
    if (n.input_given(1)) return static_input(n, in, 1, "axes").as_i64();
    if (required) fail(n, "input axes is required");
    return {};
  }
  if (!n.has("axes") && required) fail(n, "attribute axes is required");
  return n.attr_ints("axes", {});
}

Prepared prep_unsqueeze(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, opset >= 13 ? 2 : 1, opset >= 13 ? 2 : 1);
  std::vector<int64_t> axes = axes_of(n, in, opset, 13, true);
  int64_t r = static_cast<int64_t>(in[0].shape.size() + axes.size());
  std::vector<bool> is_new(r, false);
  for (int64_t a : axes) {
    if (a < 0) a += r;
    if (a < 0 || a >= r || is_new[a]) fail(n, "axes " + shape_str(axes) + " invalid for output rank " + std::to_string(r));
    is_new[a] = true;
  }
  Shape out;
  size_t src = 0;
  for (int64_t d = 0; d < r; ++d) out.push_back(is_new[d] ? 1 : in[0].shape[src++]);
  return prep_copy(n, in, out);
}

Prepared prep_squeeze(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 1, opset >= 13 ? 2 : 1);
  std::vector<int64_t> axes = axes_of(n, in, opset, 13, false);
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  std::vector<bool> drop(r, false);
  if (axes.empty()) {
    for (int64_t d = 0; d < r; ++d) drop[d] = x[d] == 1;
  } else {
    for (int64_t a : axes) {
      if (a < 0) a += r;
      if (a < 0 || a >= r) fail(n, "axis out of range for " + shape_str(x));
      if (x[a] != 1) fail(n, "cannot squeeze dim " + std::to_string(a) + " of " + shape_str(x));
      drop[a] = true;
    }
  }
  Shape out;
  for (int64_t d = 0; d < r; ++d)
    if (!drop[d]) out.push_back(x[d]);
  return prep_copy(n, in, out);
}

Prepared prep_slice(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, opset < 10 ? 1 : 3, opset < 10 ? 1 : 5);  // before in[0] is read
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = n.attr_ints("starts", {});
    ends = n.attr_ints("ends", {});
    axes = n.attr_ints("axes", {});
  } else {
    starts = static_input(n, in, 1, "starts").as_i64();
    ends = static_input(n, in, 2, "ends").as_i64();
    if (n.input_given(3)) axes = static_input(n, in, 3, "axes").as_i64();
    if (n.input_given(4)) steps = static_input(n, in, 4, "steps").as_i64();
  }
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  need_dims_in_range(n, steps, "steps");
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail(n, "starts, ends, axes and steps must have the same length");
  Shape out = x, step(r, 1), begin(r, 0);
  std::vector<bool> seen(r, false);
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a = axes[k] < 0 ? axes[k] + r : axes[k];
    if (a < 0 || a >= r || seen[a]) fail(n, "invalid or repeated axis " + std::to_string(axes[k]));
    seen[a] = true;
    int64_t dim = x[a], s = steps[k];
    if (s == 0) fail(n, "step must not be 0");
    int64_t st = starts[k], en = ends[k];
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    if (s > 0) {
      st = std::clamp<int64_t>(st, 0, dim);
      en = std::clamp<int64_t>(en, 0, dim);
      out[a] = en > st ? (en - st + s - 1) / s : 0;
    } else {
      st = std::clamp<int64_t>(st, 0, dim - 1);
      en = std::clamp<int64_t>(en, -1, dim - 1);
      out[a] = st > en ? (st - en + (-s) - 1) / (-s) : 0;
    }
    begin[a] = st;
    step[a] = s;
  }
  Shape xs = strides_of(x), src(r);
  int64_t base = 0;
  for (int64_t d = 0; d < r; ++d) {
    src[d] = xs[d] * step[d];
    if (out[d] > 0) base += begin[d] * xs[d];
  }
  Prepared p = single(out, in[0].dtype, {});
  p.run = strided_kernel(make_loop(out, {strides_of(out), src}), base);
  return p;
}

Prepared prep_reduce_mean(const Node& n, const std::vector<ValueState>& in, int64_t opset) {
  need_inputs(n, in, 1, 1);
  need_f32(n, in[0], "input");
  (void)opset;
  const Shape& x = in[0].shape;
  int64_t r = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes = n.attr_ints("axes", {});
  bool keep = n.attr_i("keepdims", 1) != 0;
  std::vector<bool> red(r, axes.empty());
  for (int64_t a : axes) {
    if (a < 0) a += r;
    if (a < 0 || a >= r) fail(n, "axis out of range for " + shape_str(x));
    red[a] = true;
  }
  Shape kept(r), out;
  int64_t count = 1;
  for (int64_t d = 0; d < r; ++d) {
    kept[d] = red[d] ? 1 : x[d];
    if (red[d]) count *= x[d];
    if (!red[d] || keep) out.push_back(kept[d]);
  }
  // Read the input through a loop whose output strides are 0 on reduced dims.
  Shape ks = strides_of(kept), os(r);
  for (int64_t d = 0; d < r; ++d) os[d] = red[d] ? 0 : ks[d];
  Loop l = make_loop(x, {os, strides_of(x)});
  float inv = count ? 1.0f / static_cast<float>(count) : 0.0f;
  return single(out, DType::f32, [=](const KernelArgs& k) {
    float* y = k.out[0]->f.data();
    const float* X = k.in[0]->f.data();
    size_t no = k.out[0]->f.size();
    std::fill(y, y + no, 0.0f);
    if (k.in[0]->numel() == 0) {
      std::fill(y, y + no, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    for_each_run<2>(l, [&](const std::array<int64_t, 2>& off, int64_t cnt, const std::array<int64_t, 2>& st) {
      float* yo = y + off[0];
      const float* xo = X + off[1];
      if (st[0] == 0) {
        float s = 0;
        for (int64_t j = 0; j < cnt; ++j) s += xo[j * st[1]];
        *yo += s;
      } else {
        for (int64_t j = 0; j < cnt; ++j) yo[j * st[0]] += xo[j * st[1]];
      }
    });
    for (size_t j = 0; j < no; ++j) y[j] *= inv;
  });
}

// Each op with the oldest opset whose semantics the implementation covers (later versions only
// added attributes/inputs that the prepare functions handle by opset).
struct OpEntry {
  PrepareFn prepare;
  int64_t since;
};

const std::map<std::string, OpEntry>& registry() {
  static const std::map<std::string, OpEntry> ops = {
      {"Add", {prep_binary<BinOp::Add>, 1}},
      {"AveragePool", {prep_avgpool, 1}},
      {"BatchNormalization", {prep_batchnorm, 6}},
      {"Clip", {prep_clip, 6}},
      {"Concat", {prep_concat, 4}},
      {"Constant", {prep_constant, 1}},
      {"Conv", {prep_conv, 1}},
      {"Div", {prep_binary<BinOp::Div>, 1}},
      {"Dropout", {prep_dropout, 6}},
      {"Flatten", {prep_flatten, 1}},
      {"Gather", {prep_gather, 1}},
      {"Gemm", {prep_gemm, 6}},
      {"GlobalAveragePool", {prep_gap, 1}},
      {"GlobalMaxPool", {prep_gmp, 1}},
      {"Identity", {prep_identity, 1}},
      {"LeakyRelu", {prep_leaky_relu, 1}},
      {"MatMul", {prep_matmul, 1}},
      {"MaxPool", {prep_maxpool, 1}},
      {"Mul", {prep_binary<BinOp::Mul>, 1}},
      {"Pad", {prep_pad, 2}},
      {"ReduceMean", {prep_reduce_mean, 1}},
      {"Relu", {prep_relu, 1}},
      {"Reshape", {prep_reshape, 5}},
      {"Shape", {prep_shape, 1}},
      {"Sigmoid", {prep_sigmoid, 1}},
      {"Slice", {prep_slice, 1}},
      {"Softmax", {prep_softmax, 1}},
      {"Squeeze", {prep_squeeze, 1}},
      {"Sub", {prep_binary<BinOp::Sub>, 1}},
      {"Tanh", {prep_tanh, 1}},
      {"Transpose", {prep_transpose, 1}},
      {"Unsqueeze", {prep_unsqueeze, 1}},
  };
  return ops;
}

}  // namespace

PrepareFn find_op(const std::string& op) {
  auto it = registry().find(op);
  return it == registry().end() ? nullptr : it->second.prepare;
}

int64_t op_since(const std::string& op) {
  auto it = registry().find(op);
  return it == registry().end() ? 0 : it->second.since;
}

const std::vector<std::string>& supported_ops() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& kv : registry()) v.push_back(kv.first);
    return v;
  }();
  return names;
}

std::string supported_ops_list() {
  std::string s;
  for (const auto& op : supported_ops()) s += (s.empty() ? "" : ", ") + op;
  return s;
}

std::vector<Tensor> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset) {
  PrepareFn fn = find_op(node.op);
  if (!fn) throw Unsupported(node.where() + ": unsupported op; supported: " + supported_ops_list());
  std::vector<ValueState> st(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k)
    if (inputs[k]) st[k] = {inputs[k]->shape, inputs[k]->dtype, inputs[k]};
  Prepared p = fn(node, st, opset);
  std::vector<Tensor> outs(p.shapes.size());
  KernelArgs args;
  args.in = inputs;
  bool all_static = true;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (p.statics[k])
      outs[k] = *p.statics[k];
    else {
      all_static = false;
      outs[k] = Tensor::zeros(p.dtypes[k], p.shapes[k], node.where() + " output");
    }
    args.out.push_back(&outs[k]);
  }
  if (!all_static) {
    std::vector<float> scratch(p.scratch_floats);
    args.scratch = scratch.data();
    p.run(args);
  }
  return outs;
}

}  // namespace ptc::models
