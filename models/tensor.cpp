#include "models/tensor.h"

#include <cmath>

#include "models/error.h"

namespace ptc::models {

const char* dtype_name(DType t) {
  return t == DType::f32 ? "float32" : "int64";
}

int64_t checked_numel(const Shape& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative dimension in shape " + shape_str(shape));
    if (d != 0 && n > kMaxTensorElements / d)
      throw Error(what + ": shape " + shape_str(shape) + " exceeds the tensor size limit of " +
                  std::to_string(kMaxTensorElements) + " elements");
    n *= d;
  }
  if (n > kMaxTensorElements)
    throw Error(what + ": shape " + shape_str(shape) + " exceeds the tensor size limit of " + std::to_string(kMaxTensorElements) +
                " elements");
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t k = 0; k < s.size(); ++k) {
    if (k) out += ",";
    out += s[k] < 0 ? std::string("?") : std::to_string(s[k]);
  }
  return out + "]";
}

Tensor Tensor::zeros(DType t, const Shape& shape, const std::string& what) {
  Tensor r;
  r.dtype = t;
  r.shape = shape;
  int64_t n = checked_numel(shape, what);
  if (t == DType::f32)
    r.f.assign(static_cast<size_t>(n), 0.0f);
  else
    r.i.assign(static_cast<size_t>(n), 0);
  return r;
}

Tensor Tensor::from_f32(Shape shape, std::vector<float> data) {
  Tensor r;
  r.dtype = DType::f32;
  r.shape = std::move(shape);
  r.f = std::move(data);
  if (static_cast<int64_t>(r.f.size()) != checked_numel(r.shape, "tensor"))
    throw Error("tensor: data size does not match shape " + shape_str(r.shape));
  return r;
}

Tensor Tensor::from_i64(Shape shape, std::vector<int64_t> data) {
  Tensor r;
  r.dtype = DType::i64;
  r.shape = std::move(shape);
  r.i = std::move(data);
  if (static_cast<int64_t>(r.i.size()) != checked_numel(r.shape, "tensor"))
    throw Error("tensor: data size does not match shape " + shape_str(r.shape));
  return r;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void Tensor::reshape_storage(DType t, const Shape& new_shape) {
  dtype = t;
  shape = new_shape;
  size_t n = static_cast<size_t>(checked_numel(new_shape, "tensor"));
  if (t == DType::f32)
    f.resize(n);
  else
    i.resize(n);
}

std::vector<int64_t> Tensor::as_i64() const {
  if (dtype == DType::i64) return i;
  std::vector<int64_t> r(f.size());
  for (size_t k = 0; k < f.size(); ++k) r[k] = static_cast<int64_t>(std::llround(f[k]));
  return r;
}

Shape strides_of(const Shape& s) {
  Shape st(s.size(), 1);
  for (int64_t k = static_cast<int64_t>(s.size()) - 2; k >= 0; --k)
    if (__builtin_mul_overflow(st[k + 1], s[k + 1], &st[k]))
      throw Error("tensor shape too large: its strides overflow 64-bit integers");
  return st;
}

}  // namespace ptc::models
