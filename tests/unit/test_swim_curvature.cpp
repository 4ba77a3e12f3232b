// SWIM's selection metric (models/swim_curvature.h, the curvature pass of models/gradients.h):
// the curvature of a last layer and of softmax regression against the exact Hessian diagonal by
// central differences of the gradient, every layer of a small Conv/BN/Relu/MaxPool/AveragePool net
// against a plain-loop reference written from the rules of docs/swim.md §2, the max-normalisation
// identities, the scores and the global top-p selection, and sanity on the zoo's LeNet-5.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <random>

#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/gradients.h"
#include "models/onnx_import.h"
#include "models/swim_curvature.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;
using test::OnnxBuilder;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

std::vector<float> randn(size_t n, unsigned seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = mean + scale * d(rng);
  return v;
}

std::vector<float> scaled(std::vector<float> v, float c) {
  for (auto& x : v) x *= c;
  return v;
}

// x [-1, D] (or [-1, 1, 3, 3] flattened when image_input, D = 9) -> Gemm(W1 [H, D], b1, transB) -> Relu -> Gemm(W2 [C, H], b2,
// transB) -> logits. s1, s2 != 0: a Mul by that scalar after each Gemm (SWIM's normalised layer y = s (W_n x)).
Graph mlp(const std::vector<float>& w1, const std::vector<float>& b1, const std::vector<float>& w2, const std::vector<float>& b2,
          int64_t D, int64_t H, int64_t C, float s1 = 0, float s2 = 0, bool image_input = false) {
  OnnxBuilder b;
  b.input(image_input ? "img" : "x", image_input ? std::vector<int64_t>{-1, 1, 3, 3} : std::vector<int64_t>{-1, D});
  if (image_input) b.node("Flatten", {"img"}, {"x"});
  b.output("y");
  b.init("W1", {H, D}, w1);
  b.init("b1", {H}, b1);
  b.init("W2", {C, H}, w2);
  b.init("b2", {C}, b2);
  auto* g1 = b.node("Gemm", {"x", "W1", "b1"}, {s1 != 0 ? "g1" : "a1"});
  OnnxBuilder::attr_i(g1, "transB", 1);
  if (s1 != 0) {
    b.init("s1", {}, {s1});
    b.node("Mul", {"g1", "s1"}, {"a1"});
  }
  b.node("Relu", {"a1"}, {"r1"});
  auto* g2 = b.node("Gemm", {"r1", "W2", "b2"}, {s2 != 0 ? "g2" : "y"});
  OnnxBuilder::attr_i(g2, "transB", 1);
  if (s2 != 0) {
    b.init("s2", {}, {s2});
    b.node("Mul", {"g2", "s2"}, {"y"});
  }
  return import_onnx_bytes(b.bytes(), "mlp");
}

// A synthetic data set of n images [1, H, W] with random pixels and labels < C.
Dataset synthetic(int64_t n, int64_t H, int64_t W, int64_t C, unsigned seed, Preprocess& p) {
  Dataset d;
  d.name = "synthetic";
  d.count = n;
  d.height = H;
  d.width = W;
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < n * H * W; ++i) d.pixels.push_back(static_cast<uint8_t>(rng() % 256));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(rng() % C));
  p = Preprocess{};
  p.input_shape = {1, H, W};
  p.scale = 1.0f / 255;
  p.mean = {0.5f};
  p.std = {0.3f};
  return d;
}

// Exact Hessian diagonal of the batch-SUM loss for weight k, by central differences of the
// engine's (batch-mean) gradient along unit vectors: N (g_i(w + e e_i) - g_i(w - e e_i)) / (2e).
std::vector<double> fd_hessian_diag(GradientEngine& e, const Tensor& x, const std::vector<int64_t>& y, size_t k, float step) {
  std::vector<std::vector<float>> w = e.weight_values();
  std::vector<double> out(w[k].size());
  for (size_t i = 0; i < w[k].size(); ++i) {
    std::vector<float> wp = w[k], wm = w[k];
    wp[i] += step;
    wm[i] -= step;
    WeightOverrides op(w.size(), nullptr), om(w.size(), nullptr);
    op[k] = &wp;
    om[k] = &wm;
    double gp = e.loss_and_grad(x, y, op).grad[k][i], gm = e.loss_and_grad(x, y, om).grad[k][i];
    out[i] = static_cast<double>(x.shape[0]) * (gp - gm) / (static_cast<double>(wp[i]) - wm[i]);
  }
  return out;
}

}  // namespace

TEST_CASE("swim curvature of the last layer equals the exact Hessian diagonal (finite differences)", "[swim]") {
  const int64_t D = 5, H = 7, C = 4, N = 6;
  Graph g = mlp(randn(H * D, 1, 0.6f), randn(H, 2, 0.2f), randn(C * H, 3, 0.8f), randn(C, 4, 0.2f), D, H, C);
  GradientEngine e(g, {"W1", "W2"}, 2);
  Tensor x = Tensor::from_f32({N, D}, randn(N * D, 5));
  std::vector<int64_t> y = {0, 1, 2, 3, 1, 2};
  GradientEngine::Result r = e.loss_grad_curvature(x, y);
  REQUIRE(r.curv.size() == 2);
  std::vector<double> fd = fd_hessian_diag(e, x, y, 1, 1e-2f);
  double largest = 0;
  for (size_t i = 0; i < fd.size(); ++i) {
    INFO("W2 entry " << i << ": curvature " << r.curv[1][i] << ", finite-difference Hessian " << fd[i]);
    CHECK(std::abs(r.curv[1][i] - fd[i]) <= 2e-4 + 1e-2 * std::abs(fd[i]));
    largest = std::max(largest, fd[i]);
  }
  CHECK(largest > 0.05);  // the check is not vacuous
  // The gradient of the curvature call is the gradient of loss_and_grad, bit for bit.
  GradientEngine::Result plain = e.loss_and_grad(x, y);
  CHECK(plain.grad == r.grad);
  CHECK(plain.loss == r.loss);
  CHECK(plain.curv.empty());
}

TEST_CASE("swim curvature of softmax regression is the exact Hessian diagonal for every weight and bias", "[swim]") {
  const int64_t D = 6, C = 3, N = 8;
  OnnxBuilder b;
  b.input("x", {-1, D});
  b.output("y");
  b.init("W", {C, D}, randn(C * D, 11, 0.7f));
  b.init("b", {C}, randn(C, 12, 0.3f));
  auto* gm = b.node("Gemm", {"x", "W", "b"}, {"y"});
  OnnxBuilder::attr_i(gm, "transB", 1);
  Graph g = import_onnx_bytes(b.bytes(), "softmax_regression");
  GradientEngine e(g, {"W", "b"}, 2);
  Tensor x = Tensor::from_f32({N, D}, randn(N * D, 13));
  std::vector<int64_t> y = {0, 1, 2, 0, 1, 2, 2, 1};
  GradientEngine::Result r = e.loss_grad_curvature(x, y);
  for (size_t k = 0; k < 2; ++k) {
    std::vector<double> fd = fd_hessian_diag(e, x, y, k, 1e-2f);
    for (size_t i = 0; i < fd.size(); ++i) {
      INFO(e.weights()[k] << " entry " << i << ": curvature " << r.curv[k][i] << ", finite-difference Hessian " << fd[i]);
      CHECK(std::abs(r.curv[k][i] - fd[i]) <= 2e-4 + 1e-2 * std::abs(fd[i]));
    }
  }
  // And the closed form sum_n p_c (1 - p_c) x_d^2 in double.
  const std::vector<float>&W = g.constants.at("W").f, &bias = g.constants.at("b").f;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t d = 0; d < D; ++d) {
      double want = 0;
      for (int64_t n = 0; n < N; ++n) {
        std::vector<double> z(C);
        double mx = -1e300, s = 0;
        for (int64_t k = 0; k < C; ++k) {
          z[k] = bias[k];
          for (int64_t j = 0; j < D; ++j) z[k] += static_cast<double>(W[k * D + j]) * x.f[n * D + j];
          mx = std::max(mx, z[k]);
        }
        for (auto& v : z) s += (v = std::exp(v - mx));
        double p = z[c] / s, xv = x.f[n * D + d];
        want += p * (1 - p) * xv * xv;
      }
      CHECK(r.curv[0][c * D + d] == Approx(want).epsilon(1e-5));
    }
}

namespace {

// Conv(w1, b1, pad 1) -> BatchNormalization -> Relu -> MaxPool 2x2 -> Conv(w2, pad 1) -> Relu ->
// AveragePool 2x2 stride 1 -> Flatten -> Gemm(w3, transB) on x [N, 2, 6, 6]: 6x6 -> 6x6 -> 3x3 ->
// 3x3 -> 2x2, 4 channels, 16 features, 5 classes.
struct ConvNet {
  std::vector<float> w1 = randn(3 * 2 * 3 * 3, 21, 0.5f), b1 = randn(3, 22, 0.1f), gamma = randn(3, 23, 0.3f, 1.0f),
                     beta = randn(3, 24, 0.2f), mean = randn(3, 25, 0.1f), var = {0.7f, 1.3f, 0.9f},
                     w2 = randn(4 * 3 * 3 * 3, 26, 0.5f), w3 = randn(5 * 16, 27, 0.4f);
  Graph graph() const {
    OnnxBuilder b;
    b.input("x", {-1, 2, 6, 6});
    b.output("y");
    b.init("w1", {3, 2, 3, 3}, w1);
    b.init("b1", {3}, b1);
    b.init("gamma", {3}, gamma);
    b.init("beta", {3}, beta);
    b.init("mean", {3}, mean);
    b.init("var", {3}, var);
    b.init("w2", {4, 3, 3, 3}, w2);
    b.init("w3", {5, 16}, w3);
    auto* c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"});
    OnnxBuilder::attr_ints(c1, "pads", {1, 1, 1, 1});
    b.node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"}, {"bn"});
    b.node("Relu", {"bn"}, {"r1"});
    auto* mp = b.node("MaxPool", {"r1"}, {"mp"});
    OnnxBuilder::attr_ints(mp, "kernel_shape", {2, 2});
    OnnxBuilder::attr_ints(mp, "strides", {2, 2});
    auto* c2 = b.node("Conv", {"mp", "w2"}, {"c2"});
    OnnxBuilder::attr_ints(c2, "pads", {1, 1, 1, 1});
    b.node("Relu", {"c2"}, {"r2"});
    auto* ap = b.node("AveragePool", {"r2"}, {"ap"});
    OnnxBuilder::attr_ints(ap, "kernel_shape", {2, 2});
    OnnxBuilder::attr_ints(ap, "strides", {1, 1});
    b.node("Flatten", {"ap"}, {"f"});
    auto* gm = b.node("Gemm", {"f", "w3"}, {"y"});
    OnnxBuilder::attr_i(gm, "transB", 1);
    ImportOptions keep_bn;  // the importer would fold the BatchNormalization into w1
    keep_bn.fold_batchnorm = false;
    return import_onnx_bytes(b.bytes(), "swim_convnet", keep_bn);
  }

  // The curvature of w1, w2, w3 summed over the batch, written directly from the rules of
  // docs/swim.md §2 in double precision; avg_coef: the average pool's coefficient applied to h
  // (1/4 as SWIM's code, 1/16 for the exact Gauss-Newton rule).
  std::vector<std::vector<double>> reference(const Tensor& x, double avg_coef) const {
    const int64_t N = x.shape[0];
    std::vector<std::vector<double>> h = {std::vector<double>(w1.size()), std::vector<double>(w2.size()),
                                          std::vector<double>(w3.size())};
    for (int64_t n = 0; n < N; ++n) {
      const float* xn = x.f.data() + n * 72;
      // forward: conv1 (3x6x6), BN, Relu
      std::vector<double> bn(108), r1(108);
      for (int m = 0; m < 3; ++m)
        for (int oh = 0; oh < 6; ++oh)
          for (int ow = 0; ow < 6; ++ow) {
            double s = b1[m];
            for (int c = 0; c < 2; ++c)
              for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                  int ih = oh - 1 + i, iw = ow - 1 + j;
                  if (ih >= 0 && ih < 6 && iw >= 0 && iw < 6) s += w1[((m * 2 + c) * 3 + i) * 3 + j] * xn[(c * 6 + ih) * 6 + iw];
                }
            double v = (s - mean[m]) * gamma[m] / std::sqrt(var[m] + 1e-5) + beta[m];
            bn[(m * 6 + oh) * 6 + ow] = v;
            r1[(m * 6 + oh) * 6 + ow] = std::max(v, 0.0);
          }
      // max pool 2x2 -> 3x3x3, remembering the first maximum
      std::vector<double> p1(27);
      std::vector<int> arg(27);
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            int best = -1;
            for (int di = 0; di < 2; ++di)
              for (int dj = 0; dj < 2; ++dj) {
                int at = (c * 6 + 2 * i + di) * 6 + 2 * j + dj;
                if (best < 0 || r1[at] > r1[best]) best = at;
              }
            p1[(c * 3 + i) * 3 + j] = r1[best];
            arg[(c * 3 + i) * 3 + j] = best;
          }
      // conv2 pad 1: 3x3 -> 4x3x3, Relu
      std::vector<double> a2(36), r2(36);
      for (int m = 0; m < 4; ++m)
        for (int oh = 0; oh < 3; ++oh)
          for (int ow = 0; ow < 3; ++ow) {
            double s = 0;
            for (int c = 0; c < 3; ++c)
              for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                  int ih = oh - 1 + i, iw = ow - 1 + j;
                  if (ih >= 0 && ih < 3 && iw >= 0 && iw < 3) s += w2[((m * 3 + c) * 3 + i) * 3 + j] * p1[(c * 3 + ih) * 3 + iw];
                }
            a2[(m * 3 + oh) * 3 + ow] = s;
            r2[(m * 3 + oh) * 3 + ow] = std::max(s, 0.0);
          }
      // average pool 2x2 stride 1: 3x3 -> 2x2 per channel, 16 features; logits; p
      std::vector<double> f(16);
      for (int m = 0; m < 4; ++m)
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j)
            f[(m * 2 + i) * 2 + j] = (r2[(m * 3 + i) * 3 + j] + r2[(m * 3 + i) * 3 + j + 1] + r2[(m * 3 + i + 1) * 3 + j] +
                                      r2[(m * 3 + i + 1) * 3 + j + 1]) /
                                     4;
      std::vector<double> z(5, 0.0);
      double mx = -1e300, se = 0;
      for (int k = 0; k < 5; ++k) {
        for (int j = 0; j < 16; ++j) z[k] += w3[k * 16 + j] * f[j];
        mx = std::max(mx, z[k]);
      }
      for (auto& v : z) se += (v = std::exp(v - mx));
      // curvature: logits, Gemm
      std::vector<double> hz(5), hf(16, 0.0);
      for (int k = 0; k < 5; ++k) {
        double p = z[k] / se;
        hz[k] = p * (1 - p);
      }
      for (int k = 0; k < 5; ++k)
        for (int j = 0; j < 16; ++j) {
          h[2][k * 16 + j] += hz[k] * f[j] * f[j];
          hf[j] += static_cast<double>(w3[k * 16 + j]) * w3[k * 16 + j] * hz[k];
        }
      // average pool: every window spreads avg_coef * h to its four inputs; Relu mask
      std::vector<double> ha2(36, 0.0);
      for (int m = 0; m < 4; ++m)
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j)
            for (int di = 0; di < 2; ++di)
              for (int dj = 0; dj < 2; ++dj) ha2[(m * 3 + i + di) * 3 + j + dj] += avg_coef * hf[(m * 2 + i) * 2 + j];
      for (int j = 0; j < 36; ++j)
        if (!(a2[j] > 0)) ha2[j] = 0;
      // conv2: h_w2 = sum h_y x^2, h_x = sum w2^2 h_y
      std::vector<double> hp1(27, 0.0);
      for (int m = 0; m < 4; ++m)
        for (int oh = 0; oh < 3; ++oh)
          for (int ow = 0; ow < 3; ++ow)
            for (int c = 0; c < 3; ++c)
              for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                  int ih = oh - 1 + i, iw = ow - 1 + j;
                  if (ih < 0 || ih >= 3 || iw < 0 || iw >= 3) continue;
                  double hy = ha2[(m * 3 + oh) * 3 + ow], xv = p1[(c * 3 + ih) * 3 + iw];
                  double wv = w2[((m * 3 + c) * 3 + i) * 3 + j];
                  h[1][((m * 3 + c) * 3 + i) * 3 + j] += hy * xv * xv;
                  hp1[(c * 3 + ih) * 3 + iw] += wv * wv * hy;
                }
      // max pool routes h to the maximum; Relu mask; BN scale squared
      std::vector<double> hc1(108, 0.0);
      for (int j = 0; j < 27; ++j) hc1[arg[j]] += hp1[j];
      for (int m = 0; m < 3; ++m) {
        double sc = gamma[m] / std::sqrt(var[m] + 1e-5);
        for (int j = 0; j < 36; ++j) {
          int at = m * 36 + j;
          hc1[at] = bn[at] > 0 ? hc1[at] * sc * sc : 0.0;
        }
      }
      // conv1
      for (int m = 0; m < 3; ++m)
        for (int oh = 0; oh < 6; ++oh)
          for (int ow = 0; ow < 6; ++ow)
            for (int c = 0; c < 2; ++c)
              for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                  int ih = oh - 1 + i, iw = ow - 1 + j;
                  if (ih < 0 || ih >= 6 || iw < 0 || iw >= 6) continue;
                  double xv = xn[(c * 6 + ih) * 6 + iw];
                  h[0][((m * 2 + c) * 3 + i) * 3 + j] += hc1[(m * 6 + oh) * 6 + ow] * xv * xv;
                }
    }
    return h;
  }
};

void check_close(const std::vector<std::vector<float>>& got, const std::vector<std::vector<double>>& want,
                 const std::vector<std::string>& names) {
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    REQUIRE(got[k].size() == want[k].size());
    double scale = 0;
    size_t nonzero = 0;
    for (double v : want[k]) {
      scale = std::max(scale, std::abs(v));
      nonzero += v > 0;
    }
    CHECK(scale > 1e-6);  // every layer's reference is non-trivial
    CHECK(nonzero * 2 > want[k].size());
    for (size_t i = 0; i < want[k].size(); ++i) {
      INFO(names[k] << " entry " << i << ": engine " << got[k][i] << ", reference " << want[k][i]);
      CHECK(std::abs(got[k][i] - want[k][i]) <= 1e-5 * scale + 1e-4 * std::abs(want[k][i]));
    }
  }
}

}  // namespace

TEST_CASE("swim curvature of a Conv/BN/Relu/MaxPool/AveragePool net equals a plain-loop reference of the rules", "[swim]") {
  ConvNet net;
  Graph g = net.graph();
  const int64_t N = 5;
  Tensor x = Tensor::from_f32({N, 2, 6, 6}, randn(N * 72, 31));
  std::vector<int64_t> y = {0, 1, 2, 3, 4};
  std::vector<std::string> names = {"w1", "w2", "w3"};
  GradientEngine e(g, names, 3);
  GradientEngine::Result r = e.loss_grad_curvature(x, y);
  check_close(r.curv, net.reference(x, 1.0 / 4), names);
  // The exact Gauss-Newton average-pool rule (squared coefficients) changes the layers before it.
  CurvatureOptions exact;
  exact.exact_avgpool = true;
  GradientEngine::Result rx = e.loss_grad_curvature(x, y, {}, exact);
  check_close(rx.curv, net.reference(x, 1.0 / 16), names);
  CHECK(rx.curv[2] == r.curv[2]);
  CHECK(rx.curv[1] != r.curv[1]);
  // Bit-identical for any thread count, and the gradient is loss_and_grad's.
  GradientEngine e1(g, names, 1);
  GradientEngine::Result r1 = e1.loss_grad_curvature(x, y);
  CHECK(r1.curv == r.curv);
  CHECK(r1.grad == r.grad);
  CHECK(e.loss_and_grad(x, y).grad == r.grad);
  // A second call reuses the plan and gives the same bits.
  CHECK(e.loss_grad_curvature(x, y).curv == r.curv);
}

TEST_CASE("swim curvature: ops without a curvature rule are Unsupported, naming the node", "[swim]") {
  // x [N, 4] -> MatMul(W [4, 3]) -> Softmax inside the graph -> Identity: the Softmax has a gradient, no curvature rule.
  OnnxBuilder b2;
  b2.input("x", {-1, 4});
  b2.output("y");
  b2.init("W", {4, 3}, randn(12, 41));
  b2.node("MatMul", {"x", "W"}, {"m"});
  auto* sm2 = b2.node("Softmax", {"m"}, {"s"}, "inner_softmax");
  OnnxBuilder::attr_i(sm2, "axis", 1);
  b2.node("Identity", {"s"}, {"y"});
  Graph g = import_onnx_bytes(b2.bytes(), "inner_softmax");
  GradientEngine e(g, {"W"}, 1);
  Tensor x = Tensor::from_f32({2, 4}, randn(8, 42));
  CHECK_NOTHROW(e.loss_and_grad(x, {0, 1}));  // the gradient has a rule
  try {
    e.loss_grad_curvature(x, {0, 1});
    FAIL("no Unsupported thrown");
  } catch (const Unsupported& err) {
    std::string what = err.what();
    INFO(what);
    CHECK(what.find("inner_softmax") != std::string::npos);
    CHECK(what.find("no curvature rule") != std::string::npos);
  }
  // Curvature of a product of two values that both depend on a weight is refused too.
  OnnxBuilder b3;
  b3.input("x", {-1, 4});
  b3.output("y");
  b3.init("W", {4, 4}, randn(16, 43));
  b3.node("MatMul", {"x", "W"}, {"m"});
  b3.node("Mul", {"m", "m"}, {"y"}, "square");
  Graph g3 = import_onnx_bytes(b3.bytes(), "square");
  GradientEngine e3(g3, {"W"}, 1);
  CHECK_THROWS_WITH(e3.loss_grad_curvature(x, {0, 1}), Catch::Contains("square") && Catch::Contains("product"));
}

TEST_CASE("swim max-normalisation: h_n = h max^2 and scores invariant to a Relu-compensated rescaling", "[swim]") {
  const int64_t D = 9, H = 6, C = 4, N = 40;
  Preprocess p;
  Dataset d = synthetic(N, 3, 3, C, 51, p);
  std::vector<float> w1 = randn(H * D, 52, 0.5f), b1 = randn(H, 53, 0.2f), w2 = randn(C * H, 54, 0.7f), b2 = randn(C, 55, 0.2f);
  Graph a = mlp(w1, b1, w2, b2, D, H, C, 0, 0, true);
  GradientEngine ea(a, {"W1", "W2"}, 2);
  SwimCurvature ca = swim_curvature(ea, d, p, N, 16);
  CHECK(ca.images == N);
  CHECK(ca.batches == 3);
  // Raw curvature and gradient sums over the same batches, for the identities by hand.
  std::vector<std::vector<double>> hr(2), gr(2);
  for (int64_t first = 0; first < N; first += 16) {
    int64_t cnt = std::min<int64_t>(16, N - first);
    Tensor x;
    fill_batch(d, p, first, cnt, x);
    std::vector<int64_t> y(d.labels.begin() + first, d.labels.begin() + first + cnt);
    GradientEngine::Result r = ea.loss_grad_curvature(x, y);
    for (size_t k = 0; k < 2; ++k) {
      hr[k].resize(r.curv[k].size());
      gr[k].resize(r.grad[k].size());
      for (size_t j = 0; j < r.curv[k].size(); ++j) {
        hr[k][j] += r.curv[k][j];
        gr[k][j] += r.grad[k][j];
      }
    }
  }
  std::vector<float> mx = {0, 0};
  for (float v : w1) mx[0] = std::max(mx[0], std::abs(v));
  for (float v : w2) mx[1] = std::max(mx[1], std::abs(v));
  REQUIRE(ca.max_abs == mx);
  for (size_t k = 0; k < 2; ++k)
    for (size_t j = 0; j < hr[k].size(); ++j) {
      CHECK(ca.h[k][j] == Approx(hr[k][j] * mx[k] * mx[k]).epsilon(1e-5));
      CHECK(ca.g[k][j] == Approx(gr[k][j] * mx[k]).epsilon(1e-5).margin(1e-9));
      CHECK(ca.w_norm[k][j] == Approx((k ? w2 : w1)[j] / mx[k]).epsilon(1e-6));
    }
  // SWIM's normalised network y = max|W| (W_n x): its raw curvature w.r.t. W_n is h_n.
  Graph n = mlp(scaled(w1, 1 / mx[0]), scaled(b1, 1 / mx[0]), scaled(w2, 1 / mx[1]), scaled(b2, 1 / mx[1]), D, H, C, mx[0], mx[1],
                true);
  GradientEngine en(n, {"W1", "W2"}, 2);
  SwimCurvature cn = swim_curvature(en, d, p, N, 16);
  for (size_t k = 0; k < 2; ++k) {
    CHECK(cn.max_abs[k] == Approx(1.0f).epsilon(1e-6));
    for (size_t j = 0; j < hr[k].size(); ++j) {
      CHECK(cn.h[k][j] == Approx(ca.h[k][j]).epsilon(1e-4).margin(1e-7));
      CHECK(cn.g[k][j] == Approx(ca.g[k][j]).epsilon(1e-4).margin(1e-7));
    }
  }
  // W1 * c, b1 * c, W2 / c computes the same function (Relu is positively homogeneous): the raw
  // curvature moves by 1/c^2 and c^2, the normalised one and every ranking stay.
  const float c = 4.0f;
  Graph s = mlp(scaled(w1, c), scaled(b1, c), scaled(w2, 1 / c), b2, D, H, C, 0, 0, true);
  GradientEngine es(s, {"W1", "W2"}, 2);
  SwimCurvature cs = swim_curvature(es, d, p, N, 16);
  Tensor x0;
  fill_batch(d, p, 0, 16, x0);
  std::vector<int64_t> y0(d.labels.begin(), d.labels.begin() + 16);
  GradientEngine::Result ra = ea.loss_grad_curvature(x0, y0), rs = es.loss_grad_curvature(x0, y0);
  for (size_t j = 0; j < ra.curv[0].size(); ++j) CHECK(rs.curv[0][j] == Approx(ra.curv[0][j] / (c * c)).epsilon(1e-4));
  for (size_t j = 0; j < ra.curv[1].size(); ++j) CHECK(rs.curv[1][j] == Approx(ra.curv[1][j] * (c * c)).epsilon(1e-4));
  for (size_t k = 0; k < 2; ++k)
    for (size_t j = 0; j < ca.h[k].size(); ++j) CHECK(cs.h[k][j] == Approx(ca.h[k][j]).epsilon(1e-4).margin(1e-7));
  for (const char* m : {"swim", "second", "saliency", "swim_code", "magnitude"})
    for (double frac : {0.1, 0.3, 0.5}) {
      INFO("metric " << m << ", p " << frac);
      CHECK(swim_select(swim_scores(cs, m), frac) == swim_select(swim_scores(ca, m), frac));
    }
  // Without normalisation the ranking is NOT invariant: raw |h| across layers shifts by c^4.
  SwimCurvature raw_a = ca, raw_s = cs;
  for (size_t k = 0; k < 2; ++k)
    for (size_t j = 0; j < raw_a.h[k].size(); ++j) {
      raw_a.h[k][j] = static_cast<float>(ca.h[k][j] / (double(ca.max_abs[k]) * ca.max_abs[k]));
      raw_s.h[k][j] = static_cast<float>(cs.h[k][j] / (double(cs.max_abs[k]) * cs.max_abs[k]));
    }
  CHECK(swim_select(swim_scores(raw_s, "second"), 0.3) != swim_select(swim_scores(raw_a, "second"), 0.3));
}

TEST_CASE("swim scores follow their definitions and the global top-p selection counts, ties and errors", "[swim]") {
  SwimCurvature c;
  c.h = {{0.5f, 0.0f, 2e-6f}, {1e-6f, 0.0f}};
  c.g = {{-0.3f, 0.1f, 0.0f}, {0.0f, -1.0f}};
  c.w_norm = {{1.0f, -0.5f, 0.25f}, {-1.0f, 0.2f}};
  c.max_abs = {2.0f, 0.5f};
  auto s = swim_scores(c, "swim");
  CHECK(s[0][0] == Approx(0.5e6 + 1.0));
  CHECK(s[0][1] == Approx(0.5));
  CHECK(s[0][2] == Approx(2.0 + 0.25));
  CHECK(s[1][0] == Approx(1.0 + 1.0));
  CHECK(s[1][1] == Approx(0.2));
  CHECK(swim_scores(c, "swim", 10.0)[0][0] == Approx(6.0));
  auto m = swim_scores(c, "magnitude");
  CHECK(m[0][1] == Approx(0.5));
  CHECK(m[1][0] == Approx(1.0));
  auto sc = swim_scores(c, "swim_code");
  CHECK(sc[0][0] == Approx(0.1));  // |0.5 - 0.6|
  CHECK(sc[1][1] == Approx(2.0));
  CHECK(swim_scores(c, "second")[0][2] == Approx(2e-6));
  CHECK(swim_scores(c, "saliency")[0][2] == Approx(2e-6 * 0.0625));
  // Global top-p: p = 0.4 of 5 -> 2 weights, across layers.
  auto sel = swim_select(s, 0.4);
  CHECK(sel == std::vector<std::vector<uint8_t>>{{1, 0, 1}, {0, 0}});
  CHECK(swim_select(s, 0.6) == std::vector<std::vector<uint8_t>>{{1, 0, 1}, {1, 0}});
  CHECK(swim_select(s, 0.0) == std::vector<std::vector<uint8_t>>{{0, 0, 0}, {0, 0}});
  CHECK(swim_select(s, 1.0) == std::vector<std::vector<uint8_t>>{{1, 1, 1}, {1, 1}});
  // Rounding: floor(p N + 0.5).
  CHECK(swim_selected_count(5, 0.5) == 3);
  CHECK(swim_selected_count(5, 0.29) == 1);
  CHECK(swim_selected_count(5, 0.31) == 2);
  CHECK(swim_selected_count(1000, 0.01) == 10);
  // Ties: earlier (layer, index) first.
  std::vector<std::vector<double>> tie = {{1, 1}, {1, 1, 1}};
  CHECK(swim_select(tie, 0.4) == std::vector<std::vector<uint8_t>>{{1, 1}, {0, 0, 0}});
  CHECK(swim_select(tie, 0.6) == std::vector<std::vector<uint8_t>>{{1, 1}, {1, 0, 0}});
  std::vector<std::vector<double>> tie2 = {{0, 3}, {3, 3, 5}};
  CHECK(swim_select(tie2, 0.6) == std::vector<std::vector<uint8_t>>{{0, 1}, {1, 0, 1}});
  // Errors.
  CHECK_THROWS_WITH(swim_scores(c, "hessian"), Catch::Contains("unknown selection metric 'hessian'") &&
                                                   Catch::Contains("swim, magnitude, random, swim_code, second, saliency"));
  CHECK_THROWS_WITH(swim_select(s, 1.5), Catch::Contains("[0, 1]"));
  CHECK_THROWS_WITH(swim_select(s, -0.1), Catch::Contains("[0, 1]"));
  CHECK_THROWS_WITH(swim_select({{1.0, std::nan("")}}, 0.5), Catch::Contains("NaN"));
}

TEST_CASE("swim random metric is a seeded counter-based uniform stream", "[swim]") {
  SwimCurvature c;
  c.h = {std::vector<float>(3000, 0.0f), std::vector<float>(1000, 0.0f)};
  c.g = c.h;
  c.w_norm = c.h;
  c.max_abs = {1.0f, 1.0f};
  auto a = swim_scores(c, "random", kSwimAlpha, 7), b = swim_scores(c, "random", kSwimAlpha, 7),
       o = swim_scores(c, "random", kSwimAlpha, 8);
  CHECK(a == b);
  CHECK(a != o);
  double mean = 0;
  for (const auto& l : a)
    for (double v : l) {
      CHECK((v >= 0 && v < 1));
      mean += v / 4000;
    }
  CHECK(std::abs(mean - 0.5) < 4 * std::sqrt(1.0 / 12 / 4000));
  // Global top-10%: each layer gets about its share (binomial, 4.5 sigma).
  auto sel = swim_select(a, 0.1);
  int64_t in0 = std::count(sel[0].begin(), sel[0].end(), 1), in1 = std::count(sel[1].begin(), sel[1].end(), 1);
  CHECK(in0 + in1 == 400);
  CHECK(std::abs(in1 - 100.0) < 4.5 * std::sqrt(400 * 0.25 * 0.75));
  // Counter-based: the first layer's scores do not depend on the size of the second.
  SwimCurvature c2 = c;
  c2.h[1].resize(10);
  c2.g[1].resize(10);
  c2.w_norm[1].resize(10);
  CHECK(swim_scores(c2, "random", kSwimAlpha, 7)[0] == a[0]);
}

TEST_CASE("swim curvature of LeNet-5 on 256 Fashion-MNIST training images is sane and ranks unlike magnitude", "[swim]") {
  Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "lenet5_fmnist.onnx");
  std::vector<std::string> w;
  for (const auto& l : compile(g, TilingSpec{}).layers) w.push_back(l.weight);
  REQUIRE(w.size() == 5);
  Dataset d = load_fashion_mnist("train", kFashionMnistDir, 256);
  GradientEngine e(g, w, 0);
  SwimCurvature c = swim_curvature(e, d, pre, 256, 64);
  REQUIRE(c.h.size() == 5);
  CHECK(c.images == 256);
  CHECK(c.batches == 4);
  for (size_t k = 0; k < 5; ++k) {
    INFO("layer " << w[k]);
    REQUIRE(c.h[k].size() == g.constants.at(w[k]).f.size());
    size_t nonzero = 0;
    bool ok = true;
    for (float v : c.h[k]) {
      ok &= std::isfinite(v) && v >= 0;
      nonzero += v > 0;
    }
    CHECK(ok);
    CHECK(nonzero * 2 > c.h[k].size());  // most weights carry curvature
    CHECK(c.max_abs[k] > 0);
  }
  // The first conv sees every pixel of every image: its curvature is orders of magnitude above 0.
  double h0 = 0;
  for (float v : c.h[0]) h0 += v;
  CHECK(h0 > 1.0);
  // SWIM's metric picks a different set than magnitude (overlap well below 1), and so does swim_code.
  auto swim = swim_select(swim_scores(c, "swim"), 0.1), mag = swim_select(swim_scores(c, "magnitude"), 0.1),
       code = swim_select(swim_scores(c, "swim_code"), 0.1);
  int64_t both = 0, chosen = 0, both_code = 0;
  for (size_t k = 0; k < 5; ++k)
    for (size_t j = 0; j < swim[k].size(); ++j) {
      chosen += swim[k][j];
      both += swim[k][j] && mag[k][j];
      both_code += swim[k][j] && code[k][j];
    }
  int64_t total = 0;
  for (const auto& l : c.h) total += static_cast<int64_t>(l.size());
  CHECK(chosen == swim_selected_count(total, 0.1));
  double overlap = static_cast<double>(both) / static_cast<double>(chosen);
  INFO("swim/magnitude overlap " << overlap << ", swim/swim_code overlap " << double(both_code) / chosen);
  CHECK(overlap < 0.9);
  CHECK(both_code < chosen);
}

TEST_CASE("timing: swim curvature of LeNet-5 over 1000 training images", "[.][swim-timing]") {
  Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "lenet5_fmnist.onnx");
  std::vector<std::string> w;
  for (const auto& l : compile(g, TilingSpec{}).layers) w.push_back(l.weight);
  Dataset d = load_fashion_mnist("train", kFashionMnistDir, 1000);
  GradientEngine e(g, w, 0);
  for (int pass = 0; pass < 2; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    SwimCurvature c = swim_curvature(e, d, pre, 1000, 128);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("swim curvature, LeNet-5, 1000 images, batch 128: %.3f s\n", s);
    auto t1 = std::chrono::steady_clock::now();
    Tensor x;
    for (int64_t first = 0; first < 1000; first += 128) {
      int64_t cnt = std::min<int64_t>(128, 1000 - first);
      fill_batch(d, pre, first, cnt, x);
      std::vector<int64_t> y(d.labels.begin() + first, d.labels.begin() + first + cnt);
      e.loss_and_grad(x, y);
    }
    double sg = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::printf("gradient only, same images: %.3f s\n", sg);
    CHECK(c.images == 1000);
  }
}

TEST_CASE("swim curvature through ReduceMean and a transposed MatMul weight equals GlobalAveragePool and Gemm", "[swim]") {
  // Two spellings of the same network (CNN3's export uses the first, with Transpose folded by the
  // importer): Conv -> Relu -> mean over H, W -> linear layer; the MatMul multiplies two values
  // that both need curvature, only one of which depends on the input. The second uses ops already checked against the plain-loop
  // reference.
  std::vector<float> wc = randn(4 * 2 * 3 * 3, 61, 0.5f), wf = randn(3 * 4, 62, 0.8f);
  auto build = [&](bool onnx_export) {
    OnnxBuilder b;
    b.input("x", {-1, 2, 5, 5});
    b.output("y");
    b.init("wc", {4, 2, 3, 3}, wc);
    b.init("wf", {3, 4}, wf);
    b.node("Conv", {"x", "wc"}, {"c"});
    b.node("Relu", {"c"}, {"r"});
    if (onnx_export) {
      auto* rm = b.node("ReduceMean", {"r"}, {"m"});
      OnnxBuilder::attr_ints(rm, "axes", {2, 3});
      OnnxBuilder::attr_i(rm, "keepdims", 0);
      b.node("Transpose", {"wf"}, {"wt"});
      b.node("MatMul", {"m", "wt"}, {"y"});
    } else {
      b.node("GlobalAveragePool", {"r"}, {"g"});
      b.node("Flatten", {"g"}, {"f"});
      auto* gm = b.node("Gemm", {"f", "wf"}, {"y"});
      OnnxBuilder::attr_i(gm, "transB", 1);
    }
    ImportOptions keep;  // keep Transpose(wf): the importer would fold it into a new constant
    keep.fold_constants = false;
    return import_onnx_bytes(b.bytes(), onnx_export ? "export" : "plain", keep);
  };
  Graph ga = build(true), gb = build(false);
  GradientEngine ea(ga, {"wc", "wf"}, 2), eb(gb, {"wc", "wf"}, 2);
  Tensor x = Tensor::from_f32({6, 2, 5, 5}, randn(6 * 50, 63));
  std::vector<int64_t> y = {0, 1, 2, 0, 1, 2};
  for (bool exact : {false, true}) {
    CurvatureOptions o;
    o.exact_avgpool = exact;
    GradientEngine::Result ra = ea.loss_grad_curvature(x, y, {}, o), rb = eb.loss_grad_curvature(x, y, {}, o);
    for (size_t k = 0; k < 2; ++k)
      for (size_t j = 0; j < ra.curv[k].size(); ++j) {
        INFO("exact " << exact << " weight " << k << " entry " << j);
        CHECK(ra.curv[k][j] == Approx(rb.curv[k][j]).epsilon(1e-5).margin(1e-9));
        CHECK(ra.curv[k][j] > 0);
      }
  }
}

TEST_CASE("swim curvature of the zoo's CNN3 (Clip, ReduceMean, MatMul export) is finite, >= 0 and nonzero per layer", "[swim]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  std::vector<std::string> w;
  for (const auto& l : compile(g, TilingSpec{}).layers) w.push_back(l.weight);
  Dataset d = load_fashion_mnist("train", kFashionMnistDir, 32);
  GradientEngine e(g, w, 0);
  SwimCurvature c = swim_curvature(e, d, pre, 32, 32);
  REQUIRE(c.h.size() == w.size());
  for (size_t k = 0; k < w.size(); ++k) {
    INFO("layer " << w[k]);
    size_t nonzero = 0;
    bool ok = true;
    for (float v : c.h[k]) {
      ok &= std::isfinite(v) && v >= 0;
      nonzero += v > 0;
    }
    CHECK(ok);
    CHECK(nonzero * 4 > c.h[k].size());
  }
}
