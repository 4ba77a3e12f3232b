// Dense tensors for the DNN side: row-major, float32 activations/weights and int64 shape data.
// Contract: a Tensor owns its data; shape dims are non-negative; numel() == product of dims.
// Sizes are guarded before any allocation (check_numel) so a model that declares a huge tensor
// is an error, not an out-of-memory crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ptc::models {

using Shape = std::vector<int64_t>;

enum class DType { f32, i64 };

const char* dtype_name(DType t);

// Largest tensor ptcsim will allocate: 2^30 elements (4 GiB of float32).
constexpr int64_t kMaxTensorElements = int64_t{1} << 30;

// Product of dims with overflow and negative-dim checks; throws ptc::Error naming `what`.
int64_t checked_numel(const Shape& shape, const std::string& what);

std::string shape_str(const Shape& s);

struct Tensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<float> f;    // data when dtype == f32
  std::vector<int64_t> i;  // data when dtype == i64

  Tensor() = default;
  static Tensor zeros(DType t, const Shape& shape, const std::string& what = "tensor");
  static Tensor from_f32(Shape shape, std::vector<float> data);
  static Tensor from_i64(Shape shape, std::vector<int64_t> data);

  int64_t numel() const;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Resize storage for `shape` (reuses capacity; never shrinks the allocation).
  void reshape_storage(DType t, const Shape& new_shape);
  // Values as int64 (i64 tensors, or f32 converted); used for shape-like inputs.
  std::vector<int64_t> as_i64() const;
};

// Row-major strides of a shape.
Shape strides_of(const Shape& s);

}  // namespace ptc::models
