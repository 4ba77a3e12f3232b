// Backward pass: the cross-entropy loss of a Graph, its gradient with respect to chosen weight
// constants, Hessian-vector products and the weight salience of DOCTOR (docs/doctor.md §4:
// mean gradient g = dL/dW and the Hutchinson Hessian diagonal h = E[z * (H z)], z Rademacher)
// and the straight-through gradients of on-chip training (docs/doctor.md §7).
//
// Contract:
// - The forward pass runs the same prepared kernels as the ideal Executor (ops.h), so the loss
//   and logits equal the Executor's bit for bit; every activation is kept for the backward pass.
// - Loss: L = (1/N) sum_n [logsumexp(z_n) - z_n[label_n]] over the single graph output read as
//   logits z [N, classes] (classes = numel / N). When the graph output is produced by a Softmax
//   over each sample's values, the Softmax is absorbed into the loss (L is computed from its input
//   logits, which equals -log p[label] of its output without the round-off of log(softmax)).
//   A final Softmax over another axis is ptc::Unsupported.
// - Gradients are exact (up to float32 round-off) for every op on the gradient path: Conv, Gemm,
//   MatMul, Relu, Clip, LeakyRelu, Sigmoid, Tanh, Softmax, MaxPool, AveragePool,
//   GlobalAveragePool, GlobalMaxPool, ReduceMean, BatchNormalization (inference), Add, Sub, Mul,
//   Div (broadcasting), Slice, Concat, Transpose, Pad, Gather (constant indices), Flatten,
//   Reshape, Squeeze, Unsqueeze, Identity, Dropout (inference = identity). At a kink (Relu at 0,
//   Clip at a bound, MaxPool ties) the one-sided choice is: Relu' (0) = 0, Clip' = 1 on
//   [min, max] inclusive, MaxPool routes to the first maximum in scan order (as the forward).
// - The gradient path is every node between a differentiated weight and the loss; an op there
//   without a backward (or a weight reaching a non-differentiable input such as Clip's min) is
//   ptc::Unsupported naming the node, thrown by the constructor where it can be told from names
//   alone, else by the first call. Ops only on the input side (before any weight) need no backward.
// - Deterministic: the same inputs give the same bits at any thread count (work is split over
//   samples in a fixed number of slots whose partial sums are reduced in slot order).
// - Not thread-safe: one engine per thread. The graph must outlive the engine.
// - Curvature (loss_grad_curvature; docs/swim.md §2): after the gradient, one more backward pass
//   carries the diagonal Gauss-Newton curvature h of LeCun's Optimal Brain Damage (LeCun, Denker,
//   Solla, NIPS 1989; Becker, LeCun 1988) as SWIM computes it (Yan, Hu, Shi, DAC 2022, §3):
//   seed h_z = p_k (1 - p_k) at the logits of every sample (a SUM over the batch, not divided by
//   N, while the gradient keeps the batch mean), then per op:
//   * Gemm/MatMul/Conv: h_W = h_Y (X^2), h_X = (W^2)^T h_Y (alpha^2, beta^2 for Gemm; bias
//     h_b = sum h_Y); W may be a weight or a weight-only value such as Transpose(W);
//   * Mul: h_a = h_Y b^2, h_b = h_Y a^2; Div by b: h_a = h_Y / b^2; Add/Sub: h passes to both
//     operands (summed over broadcast dims);
//   * Relu h_X = h_Y 1[x > 0]; LeakyRelu, Clip, Sigmoid, Tanh h_X = h_Y f'(x)^2 (f'' ignored);
//   * MaxPool/GlobalMaxPool route h to the forward's maximum; AveragePool, GlobalAveragePool and
//     ReduceMean apply the pooling's adjoint (coefficient 1/k, as SWIM's code) or, with
//     CurvatureOptions::exact_avgpool, its squared coefficients 1/k^2 (exact Gauss-Newton);
//   * BatchNormalization (inference, input 0 only) h_X = h_Y (gamma / sqrt(var + eps))^2;
//   * Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout, Transpose, Slice, Concat, Gather,
//     Pad move h like the gradient.
//   Any other op on the gradient path, a MatMul/Mul of two activations (values that depend on the
//   graph input) that both need curvature, or a divisor that needs it, is ptc::Unsupported naming
//   the node, thrown by the first curvature call. The gradient of loss_grad_curvature is bit-identical to loss_and_grad's,
//   and h is deterministic at any thread count like the gradient.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/dataset.h"
#include "models/graph.h"
#include "models/mapped_gemm.h"
#include "models/tensor.h"

namespace ptc::models {

// Relative step of the central-difference Hessian-vector product (see hessian_vector).
constexpr double kHvpRelStep = 1e-3;

// Weight values that replace the graph's constants: one entry per differentiated weight (same
// order); nullptr (or an empty list) keeps the graph's constant.
using WeightOverrides = std::vector<const std::vector<float>*>;

// On-chip training on the hardware's arithmetic (docs/onchip_training.md): the backward
// products of a hardware layer, routed through the chip's numerics instead of exact float GEMMs.
enum class GemmPass { input_gradient, weight_gradient };
struct BackwardSite {
  int64_t layer = 0;  // index in the layer map given to GradientEngine::set_hardware
  GemmPass pass = GemmPass::input_gradient;
  uint64_t site = 0;  // which product of this pass: 0 (Gemm), batch index (MatMul), sample * groups + group (Conv)
};
class BackwardGemm {
 public:
  virtual ~BackwardGemm() = default;
  // C[M, N] = beta C + alpha op(A)[M, K] op(B)[K, N], row-major with leading dimensions as
  // cblas_sgemm (the reduction runs over K). Called concurrently for different sites
  // (thread-safe); the result must be a pure function of the arguments (no dependence on the
  // calling thread or the call order).
  virtual void gemm(const BackwardSite& at, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc) = 0;
};

// Options of the curvature pass (loss_grad_curvature).
struct CurvatureOptions {
  bool exact_avgpool = false;  // average pools: squared coefficients 1/k^2 (exact) instead of 1/k (SWIM's code)
};

class GradientEngine {
 public:
  // weights: names of f32 constants of `g` to differentiate, e.g. the `weight` field of the
  // CompiledWorkload layers in order. threads <= 0: $PTC_THREADS, else all hardware threads.
  GradientEngine(const Graph& g, std::vector<std::string> weights, int threads = 0);
  // The threads it runs on: as asked, within [1, 1024] (the command line's range).
  int threads() const { return m_threads; }
  ~GradientEngine();
  GradientEngine(const GradientEngine&) = delete;
  GradientEngine& operator=(const GradientEngine&) = delete;

  const Graph& graph() const { return m_graph; }
  const std::vector<std::string>& weights() const { return m_weights; }
  const Shape& weight_shape(size_t k) const;
  // The graph's constant values of the weights (the latent weights when nothing is overridden).
  std::vector<std::vector<float>> weight_values() const;

  struct Result {
    double loss = 0;                       // mean cross-entropy over the batch (nats)
    int64_t correct = 0;                   // samples whose first maximal logit is the label
    std::vector<std::vector<float>> grad;  // dL/dW per weight, weight layout (empty: loss only)
    std::vector<std::vector<float>> curv;  // diagonal Gauss-Newton curvature per weight, summed over
                                           // the batch (loss_grad_curvature only, else empty)
  };
  using CurvatureOptions = models::CurvatureOptions;
  // x: [N, ...] float32 batch; labels: N class indices. With overrides the forward AND backward
  // pass use the substituted weights (straight-through estimator: the gradient is evaluated at
  // the effective weights and the caller applies it to its latent weights).
  Result loss_and_grad(const Tensor& x, const std::vector<int64_t>& labels, const WeightOverrides& overrides = {});
  // Gradient (as loss_and_grad, bit for bit) plus the curvature h of the contract above, w.r.t. the
  // weights as they are (overrides or the graph's), summed over the batch's samples.
  Result loss_grad_curvature(const Tensor& x, const std::vector<int64_t>& labels, const WeightOverrides& overrides = {},
                             const CurvatureOptions& options = {});
  // Hardware arithmetic for the nodes of `layer_of_node` (node name -> layer index, e.g.
  // CompiledWorkload::layer_index(), the layer's weight being the node's input 1): the forward
  // product runs through forward->gemm (as the Executor's mapped path, sample s of the batch is
  // sample s of the mapped model's current batch), the input- and weight-gradient products of the
  // gradient pass through backward->gemm. Either may be null (exact float for that part); with
  // both null (the default) everything is exact. The curvature pass stays exact. The pointees
  // must outlive their use; set_hardware(nullptr, {}, nullptr) restores the exact arithmetic.
  void set_hardware(MappedGemm* forward, std::map<std::string, int64_t> layer_of_node, BackwardGemm* backward);

  // Frees the cached plans (activations, gradients, scratch; rebuilt on the next call).
  void release();
  // Forward only (grad left empty).
  Result loss(const Tensor& x, const std::vector<int64_t>& labels, const WeightOverrides& overrides = {});

  // H v, H the Hessian of the batch loss w.r.t. all weights at the given weights (overrides or the
  // graph's), v in the weights' layout. Central difference of gradients:
  //   H v ~ (g(w + e v) - g(w - e v)) / (2 e),  e = rel_step * ||w||_2 / ||v||_2
  // (norms over all weights together, ||w|| taken as 1 if it is 0), so each entry moves by about
  // rel_step times the RMS weight for a Rademacher v. Error O(e^2) plus float round-off of the
  // gradients / e; for piecewise-linear nets (Relu, MaxPool) the difference also sees kinks
  // crossed within +-e, where the exact Hessian (autograd) would see none.
  std::vector<std::vector<float>> hessian_vector(const Tensor& x, const std::vector<int64_t>& labels,
                                                 const std::vector<std::vector<float>>& v, const WeightOverrides& overrides = {},
                                                 double rel_step = kHvpRelStep);

 private:
  struct Plan;  // per input shape: prepared forward kernels and backward closures
  Plan& plan_for(const Shape& input_shape);
  void forward(Plan& p, const Tensor& x, const WeightOverrides& overrides);
  Result run(const Tensor& x, const std::vector<int64_t>& labels, const WeightOverrides& overrides, bool with_grad,
             const CurvatureOptions* curvature = nullptr);
  void prepare_curvature(Plan& p, const CurvatureOptions& options);

  const Graph& m_graph;
  std::vector<std::string> m_weights;
  std::vector<const Tensor*> m_weight_constants;
  std::string m_loss_value;     // logits the loss reads
  std::string m_final_softmax;  // node name of an absorbed final Softmax ("" if none)
  std::vector<Tensor> m_override_storage;
  MappedGemm* m_hw_forward = nullptr;
  BackwardGemm* m_hw_backward = nullptr;
  std::map<std::string, int64_t> m_hw_layer_of;
  std::list<std::unique_ptr<Plan>> m_plans;  // most recently used first
  int m_threads = 1;
};

// DOCTOR weight salience (docs/doctor.md §4) over images [0, count) of `d` in batches of
// `batch` (count <= 0: the whole set): grad = mean over images of dL/dW (each batch's mean gradient
// weighted by its size), hess_diag = Hutchinson estimate mean of z * (H z) with
// `hutchinson_samples` Rademacher z per batch drawn from a SplitMix64 stream seeded with `seed`
// (empty unless with_hessian). overrides: the (noisy) weights the salience is evaluated at.
struct Salience {
  std::vector<std::vector<float>> grad, hess_diag;
};
// stop: read before each batch; once set, throws Stopped (a salience over the whole training set
// takes up to a minute, and a signal waited for it).
Salience compute_salience(GradientEngine& e, const Dataset& d, const Preprocess& p, int64_t count, int64_t batch,
                          int hutchinson_samples, uint64_t seed, bool with_hessian, const WeightOverrides& overrides = {},
                          const std::atomic<bool>* stop = nullptr);

}  // namespace ptc::models
