// Backward pass (models/gradients.h): gradients against central finite differences of the loss,
// Hessian-vector products and the Hutchinson diagonal against the closed-form Hessian of softmax
// regression, straight-through overrides against a graph with replaced constants, the loss
// against the Executor's logits, determinism across thread counts, and Unsupported errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/executor.h"
#include "models/gradients.h"
#include "models/onnx_import.h"
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

std::vector<float> uniform(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int64_t numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Adds a random float initializer and returns its name.
std::string weight(OnnxBuilder& b, const std::string& name, const std::vector<int64_t>& dims, unsigned seed, float scale = 0.5f,
                   float mean = 0.0f) {
  b.init(name, dims, randn(static_cast<size_t>(numel(dims)), seed, scale, mean));
  return name;
}

const Dataset& test_set() {
  static const Dataset d = load_fashion_mnist("test");
  return d;
}

std::vector<int64_t> labels_of(const Dataset& d, int64_t first, int64_t n) {
  return std::vector<int64_t>(d.labels.begin() + first, d.labels.begin() + first + n);
}

std::vector<std::string> layer_weights(const Graph& g) {
  std::vector<std::string> w;
  for (const auto& l : compile(g, TilingSpec{}).layers) w.push_back(l.weight);
  return w;
}

// Central differences of the loss for entries of every weight (all of them, or `per_weight`
// random ones), compared with the engine's gradient: |g - fd| <= abs_tol + rel_tol * |fd|, the
// divisor being the step actually taken in float. A kink (a Relu, Clip or max switching) closer
// than the step spoils a central difference; then steps h/3 and h/10 are tried before failing,
// with abs_tol scaled by h / step for the float round-off of the loss.
void check_against_fd(GradientEngine& e, const Tensor& x, const std::vector<int64_t>& y, float h, double abs_tol, double rel_tol,
                      size_t per_weight = 0, unsigned seed = 7) {
  GradientEngine::Result r = e.loss_and_grad(x, y);
  std::vector<std::vector<float>> w = e.weight_values();
  std::mt19937 rng(seed);
  size_t checked = 0, retried = 0;
  for (size_t k = 0; k < w.size(); ++k) {
    std::vector<size_t> idx;
    if (per_weight == 0) {
      for (size_t i = 0; i < w[k].size(); ++i) idx.push_back(i);
    } else {
      std::uniform_int_distribution<size_t> pick(0, w[k].size() - 1);
      for (size_t j = 0; j < per_weight; ++j) idx.push_back(pick(rng));
    }
    for (size_t i : idx) {
      bool ok = false;
      std::string tried;
      for (float step : {h, h / 3, h / 10}) {
        std::vector<float> wp = w[k], wm = w[k];
        wp[i] += step;
        wm[i] -= step;
        WeightOverrides op(w.size(), nullptr), om(w.size(), nullptr);
        op[k] = &wp;
        om[k] = &wm;
        double lp = e.loss(x, y, op).loss, lm = e.loss(x, y, om).loss;
        double fd = (lp - lm) / (static_cast<double>(wp[i]) - wm[i]);
        tried += " " + std::to_string(fd);
        if (std::abs(r.grad[k][i] - fd) <= abs_tol * (h / step) + rel_tol * std::abs(fd)) {
          ok = true;
          break;
        }
        ++retried;
      }
      INFO("weight " << e.weights()[k] << " entry " << i << ": grad " << r.grad[k][i] << ", fd at h, h/3, h/10:" << tried);
      CHECK(ok);
      ++checked;
    }
  }
  REQUIRE(checked > 0);
  CHECK(retried * 20 <= checked);  // kinks near the point are rare
}

// LeNet-5 of the zoo in double precision, written from its definition (5x5 convs, the first
// padded by 2; Relu; 2x2 max pools; three Gemm layers), for finite differences without float
// round-off: the loss of one sample with weights `w` (c1, c2, f1, f2, f3) and biases `b`.
using Vec = std::vector<double>;
double lenet_loss_double(const std::vector<float>& img, int64_t label, const std::vector<Vec>& w, const std::vector<Vec>& b) {
  auto conv = [](const Vec& x, int C, int H, const Vec& wt, const Vec& bias, int M, int pad, int& OH) {
    OH = H + 2 * pad - 4;
    Vec y(static_cast<size_t>(M * OH * OH));
    for (int m = 0; m < M; ++m)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OH; ++ow) {
          double a = bias[m];
          for (int c = 0; c < C; ++c)
            for (int i = 0; i < 5; ++i)
              for (int j = 0; j < 5; ++j) {
                int ih = oh - pad + i, iw = ow - pad + j;
                if (ih >= 0 && ih < H && iw >= 0 && iw < H) a += wt[((m * C + c) * 5 + i) * 5 + j] * x[(c * H + ih) * H + iw];
              }
          y[(m * OH + oh) * OH + ow] = std::max(a, 0.0);  // Relu
        }
    return y;
  };
  auto pool = [](const Vec& x, int C, int H) {
    int O = H / 2;
    Vec y(static_cast<size_t>(C * O * O));
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < O; ++i)
        for (int j = 0; j < O; ++j)
          y[(c * O + i) * O + j] = std::max(std::max(x[(c * H + 2 * i) * H + 2 * j], x[(c * H + 2 * i) * H + 2 * j + 1]),
                                            std::max(x[(c * H + 2 * i + 1) * H + 2 * j], x[(c * H + 2 * i + 1) * H + 2 * j + 1]));
    return y;
  };
  auto fc = [](const Vec& x, const Vec& wt, const Vec& bias, bool relu) {
    Vec y(bias.size());
    for (size_t o = 0; o < y.size(); ++o) {
      double a = bias[o];
      for (size_t i = 0; i < x.size(); ++i) a += wt[o * x.size() + i] * x[i];
      y[o] = relu ? std::max(a, 0.0) : a;
    }
    return y;
  };
  int h1 = 0, h2 = 0;
  Vec a = conv(Vec(img.begin(), img.end()), 1, 28, w[0], b[0], 6, 2, h1);
  a = pool(a, 6, h1);
  a = conv(a, 6, h1 / 2, w[1], b[1], 16, 0, h2);
  a = pool(a, 16, h2);
  a = fc(fc(fc(a, w[2], b[2], true), w[3], b[3], true), w[4], b[4], false);
  double mx = *std::max_element(a.begin(), a.end()), s = 0;
  for (double v : a) s += std::exp(v - mx);
  return mx + std::log(s) - a[label];
}

// Conv (pads, stride, dilation, groups, bias), Relu, LeakyRelu, MaxPool, Flatten, Gemm (transB,
// alpha, beta).
Graph conv_graph(std::vector<std::string>& w) {
  OnnxBuilder b;
  b.input("x", {-1, 2, 8, 8});
  b.output("y");
  w = {weight(b, "w1", {4, 2, 3, 3}, 1), weight(b, "b1", {4}, 2, 0.1f), weight(b, "w2", {4, 2, 3, 3}, 3),
       weight(b, "w3", {5, 16}, 4), weight(b, "c3", {5}, 5)};
  auto* c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  OnnxBuilder::attr_ints(c1, "pads", {1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu");
  auto* c2 = b.node("Conv", {"r1", "w2"}, {"c2"}, "conv2");
  OnnxBuilder::attr_i(c2, "group", 2);
  OnnxBuilder::attr_ints(c2, "strides", {2, 2});
  OnnxBuilder::attr_ints(c2, "pads", {2, 1, 2, 3});
  OnnxBuilder::attr_ints(c2, "dilations", {2, 2});
  auto* l2 = b.node("LeakyRelu", {"c2"}, {"l2"});
  OnnxBuilder::attr_f(l2, "alpha", 0.1f);
  auto* mp = b.node("MaxPool", {"l2"}, {"mp"});
  OnnxBuilder::attr_ints(mp, "kernel_shape", {2, 2});
  OnnxBuilder::attr_ints(mp, "strides", {2, 2});
  b.node("Flatten", {"mp"}, {"f"});
  auto* gm = b.node("Gemm", {"f", "w3", "c3"}, {"y"});
  OnnxBuilder::attr_i(gm, "transB", 1);
  OnnxBuilder::attr_f(gm, "alpha", 0.7f);
  OnnxBuilder::attr_f(gm, "beta", 0.5f);
  return import_onnx_bytes(b.bytes(), "conv_graph");
}

// 1x1 Conv, Clip, AveragePool (ceil_mode, count_include_pad), Sigmoid, Pad (edge),
// BatchNormalization, Slice, Transpose, ReduceMean, Concat, Gather, GlobalAveragePool,
// GlobalMaxPool, Squeeze, Unsqueeze, Reshape, MatMul, Add, final Softmax.
Graph pool_graph(std::vector<std::string>& w, bool clip_min_is_weight = false) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 6, 6});
  b.output("y");
  w = {weight(b, "cw", {6, 3, 1, 1}, 11),     weight(b, "bns", {6}, 12, 0.3f, 1.0f), weight(b, "bnb", {6}, 13, 0.2f),
       weight(b, "bnm", {6}, 14, 0.1f, 0.5f), weight(b, "rw", {3, 5}, 16, 1.0f),     weight(b, "gw", {4, 5}, 17, 1.0f),
       weight(b, "fw", {75, 5}, 18, 0.5f),    weight(b, "rb", {5}, 19, 0.2f)};
  b.init("bnv", {6}, uniform(6, 15, 0.5f, 1.5f));
  w.push_back("bnv");
  b.init("lo", {}, {-0.5f});
  b.init("hi", {}, {0.8f});
  if (clip_min_is_weight) w.push_back("lo");
  b.init_i64("pads", {8}, {0, 0, 1, 0, 0, 0, 0, 1});
  b.init_i64("s1_starts", {2}, {0, 1});
  b.init_i64("s1_ends", {2}, {4, 5});
  b.init_i64("s1_axes", {2}, {1, 2});
  b.init_i64("s2_starts", {1}, {2});
  b.init_i64("s2_ends", {1}, {6});
  b.init_i64("s2_axes", {1}, {1});
  b.init_i64("gidx", {3}, {0, 2, 2});
  b.init_i64("ax3", {1}, {3});
  b.init_i64("ax1", {1}, {1});
  b.init_i64("shape", {2}, {-1, 3});
  b.node("Conv", {"x", "cw"}, {"c"});
  b.node("Clip", {"c", "lo", "hi"}, {"k"});
  auto* ap = b.node("AveragePool", {"k"}, {"a"});
  OnnxBuilder::attr_ints(ap, "kernel_shape", {3, 3});
  OnnxBuilder::attr_ints(ap, "strides", {2, 2});
  OnnxBuilder::attr_ints(ap, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr_i(ap, "ceil_mode", 1);
  OnnxBuilder::attr_i(ap, "count_include_pad", 1);
  b.node("Sigmoid", {"a"}, {"s"});
  auto* pd = b.node("Pad", {"s", "pads"}, {"p"});
  auto* mode = pd->add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("edge");
  b.node("BatchNormalization", {"p", "bns", "bnb", "bnm", "bnv"}, {"bn"});
  b.node("Slice", {"bn", "s1_starts", "s1_ends", "s1_axes"}, {"sl"});
  auto* tr = b.node("Transpose", {"sl"}, {"tr"});
  OnnxBuilder::attr_ints(tr, "perm", {0, 1, 3, 2});
  b.node("Slice", {"bn", "s2_starts", "s2_ends", "s2_axes"}, {"sl2"});
  auto* rm = b.node("ReduceMean", {"sl2"}, {"rm"});
  OnnxBuilder::attr_ints(rm, "axes", {3});
  auto* cat = b.node("Concat", {"tr", "rm"}, {"cat"});
  OnnxBuilder::attr_i(cat, "axis", 3);
  auto* ga = b.node("Gather", {"cat", "gidx"}, {"ga"});
  OnnxBuilder::attr_i(ga, "axis", 1);
  b.node("GlobalAveragePool", {"ga"}, {"gp"});
  b.node("Squeeze", {"gp", "ax3"}, {"sq"});
  b.node("Unsqueeze", {"sq", "ax1"}, {"us"});
  b.node("Reshape", {"us", "shape"}, {"rs"});
  b.node("MatMul", {"rs", "rw"}, {"m1"});
  b.node("GlobalMaxPool", {"cat"}, {"gm"});
  b.node("Flatten", {"gm"}, {"gmf"});
  b.node("MatMul", {"gmf", "gw"}, {"m2"});
  b.node("Flatten", {"ga"}, {"gaf"});
  b.node("MatMul", {"gaf", "fw"}, {"m3"});
  b.node("Add", {"m1", "m2"}, {"s1"});
  b.node("Add", {"s1", "m3"}, {"s2"});
  b.node("Add", {"s2", "rb"}, {"z"});
  auto* sm = b.node("Softmax", {"z"}, {"y"});
  OnnxBuilder::attr_i(sm, "axis", -1);
  return import_onnx_bytes(b.bytes(), "pool_graph");
}

// MatMul (2-D, batched with a shared B, activation x activation), broadcasting Add/Sub/Mul/Div
// (weights and activations on either side), Tanh, Sigmoid, Softmax inside the graph, LeakyRelu,
// Identity, Dropout, Transpose, Reshape, Flatten, Gemm (transA + transB, alpha, beta; plain).
Graph dense_graph(std::vector<std::string>& w) {
  OnnxBuilder b;
  b.input("x", {-1, 6});
  b.output("y");
  w = {weight(b, "w1", {6, 8}, 21),       weight(b, "b1", {8}, 22, 0.2f),    weight(b, "s1", {1, 8}, 23, 0.5f, 1.0f),
       weight(b, "u", {1}, 24, 0.3f),     weight(b, "w2", {5, 8}, 25, 1.0f), weight(b, "c2", {1, 5}, 26, 0.3f),
       weight(b, "w3", {4, 3}, 27, 0.7f), weight(b, "w4", {4, 5}, 28, 0.7f), weight(b, "w5", {8, 5}, 29, 1.0f)};
  b.init("d1", {8}, uniform(8, 30, 1.0f, 2.0f));
  b.init("one", {1}, {1.0f});
  w.push_back("d1");
  w.push_back("one");
  b.init_i64("shape", {3}, {-1, 2, 4});
  b.node("MatMul", {"x", "w1"}, {"h1"});
  b.node("Add", {"h1", "b1"}, {"h2"});
  b.node("Tanh", {"h2"}, {"h3"});
  b.node("Mul", {"h3", "s1"}, {"h4"});
  b.node("Sigmoid", {"h2"}, {"e"});
  b.node("Add", {"e", "one"}, {"den"});
  b.node("Div", {"h4", "den"}, {"h5"});
  b.node("Div", {"h5", "d1"}, {"h6"});
  b.node("Mul", {"h6", "h3"}, {"h7"});
  b.node("Sub", {"h7", "u"}, {"h8"});
  auto* sm = b.node("Softmax", {"h8"}, {"sm"});
  OnnxBuilder::attr_i(sm, "axis", 1);
  auto* lk = b.node("LeakyRelu", {"h8"}, {"lk"});
  OnnxBuilder::attr_f(lk, "alpha", 0.2f);
  b.node("Mul", {"sm", "lk"}, {"h9"});
  b.node("Identity", {"h9"}, {"h10"});
  b.node("Dropout", {"h10"}, {"h11"});
  b.node("Transpose", {"h11"}, {"t"});
  auto* g1 = b.node("Gemm", {"t", "w2", "c2"}, {"g1"});
  OnnxBuilder::attr_i(g1, "transA", 1);
  OnnxBuilder::attr_i(g1, "transB", 1);
  OnnxBuilder::attr_f(g1, "alpha", 0.9f);
  OnnxBuilder::attr_f(g1, "beta", 1.3f);
  b.node("Reshape", {"h3", "shape"}, {"r3"});
  b.node("MatMul", {"r3", "w3"}, {"m3"});
  auto* tp = b.node("Transpose", {"m3"}, {"m3t"});
  OnnxBuilder::attr_ints(tp, "perm", {0, 2, 1});
  b.node("MatMul", {"m3", "m3t"}, {"mm"});
  b.node("Flatten", {"mm"}, {"mf"});
  b.node("MatMul", {"mf", "w4"}, {"g2"});
  b.node("Sub", {"g1", "g2"}, {"o1"});
  b.node("Gemm", {"h11", "w5"}, {"g3"});
  b.node("Add", {"o1", "g3"}, {"y"});
  return import_onnx_bytes(b.bytes(), "dense_graph");
}

// Softmax regression: logits = W flatten(x) + b, W [C, D] (Gemm transB = 1).
Graph softmax_regression(int64_t C, int64_t H, int64_t W, std::vector<float>& wv, std::vector<float>& bv) {
  OnnxBuilder b;
  b.input("x", {-1, 1, H, W});
  b.output("y");
  wv = randn(static_cast<size_t>(C * H * W), 41, 0.8f);
  bv = randn(static_cast<size_t>(C), 42, 0.3f);
  b.init("W", {C, H * W}, wv);
  b.init("b", {C}, bv);
  b.node("Flatten", {"x"}, {"f"});
  auto* gm = b.node("Gemm", {"f", "W", "b"}, {"y"});
  OnnxBuilder::attr_i(gm, "transB", 1);
  return import_onnx_bytes(b.bytes(), "softmax_regression");
}

// Closed form for softmax regression with x~ = [x, 1] and parameters theta = [W | b] ([C, D+1]):
// H[(c,d),(c',d')] = mean_i (p_ic delta_cc' - p_ic p_ic') x~_id x~_id'.
struct SoftmaxRegression {
  int64_t C, D;
  std::vector<std::vector<double>> p, xt;  // per sample: probabilities, [x, 1]
  SoftmaxRegression(const std::vector<float>& x, int64_t n, int64_t D_, const std::vector<float>& wv,
                    const std::vector<float>& bv)
      : C(static_cast<int64_t>(bv.size())), D(D_) {
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> xi(x.begin() + i * D, x.begin() + (i + 1) * D), z(C);
      xi.push_back(1.0);
      double mx = -1e300, s = 0;
      for (int64_t c = 0; c < C; ++c) {
        z[c] = bv[c];
        for (int64_t d = 0; d < D; ++d) z[c] += static_cast<double>(wv[c * D + d]) * xi[d];
        mx = std::max(mx, z[c]);
      }
      for (auto& v : z) s += (v = std::exp(v - mx));
      for (auto& v : z) v /= s;
      p.push_back(z);
      xt.push_back(xi);
    }
  }
  // Entry ((c,d),(c2,d2)) of the Hessian; d == D is the bias.
  double hess(int64_t c, int64_t d, int64_t c2, int64_t d2) const {
    double h = 0;
    for (size_t i = 0; i < p.size(); ++i) h += (p[i][c] * (c == c2 ? 1.0 : 0.0) - p[i][c] * p[i][c2]) * xt[i][d] * xt[i][d2];
    return h / static_cast<double>(p.size());
  }
  // Gradient entry (c, d): mean_i (p_ic - [y_i = c]) x~_id.
  double grad(int64_t c, int64_t d, const std::vector<int64_t>& y) const {
    double g = 0;
    for (size_t i = 0; i < p.size(); ++i) g += (p[i][c] - (y[i] == c ? 1.0 : 0.0)) * xt[i][d];
    return g / static_cast<double>(p.size());
  }
};

}  // namespace

TEST_CASE("gradients of Conv/Relu/LeakyRelu/MaxPool/Gemm match finite differences", "[gradients]") {
  std::vector<std::string> w;
  Graph g = conv_graph(w);
  GradientEngine e(g, w, 2);
  Tensor x = Tensor::from_f32({3, 2, 8, 8}, randn(3 * 2 * 64, 100));
  check_against_fd(e, x, {0, 3, 4}, 1e-3f, 3e-4, 1e-2);
}

TEST_CASE(
    "gradients of pools, BatchNormalization, data movement and a final Softmax match finite "
    "differences",
    "[gradients]") {
  std::vector<std::string> w;
  Graph g = pool_graph(w);
  GradientEngine e(g, w, 2);
  Tensor x = Tensor::from_f32({3, 3, 6, 6}, randn(3 * 3 * 36, 101));
  check_against_fd(e, x, {1, 4, 2}, 1e-3f, 3e-4, 1e-2);
}

TEST_CASE(
    "gradients of broadcasting arithmetic, MatMul, Softmax and Gemm transposes match finite "
    "differences",
    "[gradients]") {
  std::vector<std::string> w;
  Graph g = dense_graph(w);
  GradientEngine e(g, w, 2);
  Tensor x = Tensor::from_f32({4, 6}, randn(24, 102));
  check_against_fd(e, x, {0, 1, 2, 4}, 1e-3f, 3e-4, 1e-2);
}

TEST_CASE("LeNet-5 gradients match double-precision finite differences on sampled weights", "[gradients]") {
  Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "lenet5_fmnist.onnx");
  std::vector<std::string> ops;
  for (Vertex v : g.order) ops.push_back(g.node(v).op);
  REQUIRE(ops == std::vector<std::string>{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Shape", "Gather", "Unsqueeze",
                                          "Concat", "Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"});
  std::vector<std::string> w = layer_weights(g);
  REQUIRE(w == std::vector<std::string>{"c1.weight", "c2.weight", "f1.weight", "f2.weight", "f3.weight"});
  GradientEngine e(g, w, 2);
  const int64_t N = 8;
  Tensor x;
  fill_batch(test_set(), pre, 0, N, x);
  std::vector<int64_t> y = labels_of(test_set(), 0, N);
  for (size_t i = 0; i < y.size(); i += 2) y[i] = (y[i] + 3) % 10;  // larger gradients
  GradientEngine::Result r = e.loss_and_grad(x, y);
  std::vector<Vec> wd, bd;
  for (const auto& name : w) wd.emplace_back(g.constants.at(name).f.begin(), g.constants.at(name).f.end());
  for (const char* name : {"c1.bias", "c2.bias", "f1.bias", "f2.bias", "f3.bias"})
    bd.emplace_back(g.constants.at(name).f.begin(), g.constants.at(name).f.end());
  auto batch_loss = [&](const std::vector<Vec>& wt) {
    double l = 0;
    for (int64_t i = 0; i < N; ++i)
      l += lenet_loss_double(std::vector<float>(x.f.begin() + i * 784, x.f.begin() + (i + 1) * 784), y[i], wt, bd);
    return l / N;
  };
  CHECK(r.loss == Approx(batch_loss(wd)).epsilon(1e-5));
  std::mt19937 rng(3);
  for (size_t k = 0; k < w.size(); ++k) {
    std::uniform_int_distribution<size_t> pick(0, wd[k].size() - 1);
    for (int j = 0; j < 20; ++j) {
      size_t i = pick(rng);
      const double h = 1e-6;
      std::vector<Vec> wp = wd, wm = wd;
      wp[k][i] += h;
      wm[k][i] -= h;
      double fd = (batch_loss(wp) - batch_loss(wm)) / (2 * h);
      INFO(w[k] << " entry " << i << ": grad " << r.grad[k][i] << ", double fd " << fd);
      CHECK(std::abs(r.grad[k][i] - fd) <= 1e-4 + 1e-3 * std::abs(fd));
    }
  }
}

TEST_CASE("CNN3 gradients match finite differences on sampled weights", "[gradients]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  GradientEngine e(g, layer_weights(g), 2);
  Tensor x;
  fill_batch(test_set(), pre, 100, 8, x);
  std::vector<int64_t> y = labels_of(test_set(), 100, 8);
  for (size_t i = 0; i < y.size(); i += 2) y[i] = (y[i] + 5) % 10;
  check_against_fd(e, x, y, 2e-3f, 3e-4, 2e-2, 6);
}

TEST_CASE("Hessian-vector product equals the closed form of softmax regression", "[gradients]") {
  const int64_t C = 3, H = 2, W = 3, D = H * W, N = 16;
  std::vector<float> wv, bv;
  Graph g = softmax_regression(C, H, W, wv, bv);
  GradientEngine e(g, {"W", "b"}, 2);
  std::vector<float> xs = randn(N * D, 50);
  Tensor x = Tensor::from_f32({N, 1, H, W}, xs);
  std::vector<int64_t> y(N);
  for (int64_t i = 0; i < N; ++i) y[i] = (i * 7) % C;
  SoftmaxRegression ref(xs, N, D, wv, bv);
  for (unsigned seed : {1u, 2u}) {
    std::vector<std::vector<float>> v = {randn(C * D, 60 + seed), randn(C, 70 + seed)};
    auto hv = e.hessian_vector(x, y, v);
    double scale = 0;
    std::vector<double> want;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t d = 0; d <= D; ++d) {
        double s = 0;
        for (int64_t c2 = 0; c2 < C; ++c2)
          for (int64_t d2 = 0; d2 <= D; ++d2) s += ref.hess(c, d, c2, d2) * (d2 < D ? v[0][c2 * D + d2] : v[1][c2]);
        want.push_back(s);
        scale = std::max(scale, std::abs(s));
      }
    for (int64_t c = 0; c < C; ++c)
      for (int64_t d = 0; d <= D; ++d) {
        double got = d < D ? hv[0][c * D + d] : hv[1][c];
        INFO("entry (" << c << ", " << d << ")");
        CHECK(got == Approx(want[c * (D + 1) + d]).margin(1e-3 * scale));
      }
  }
  // The gradient too, for good measure.
  auto r = e.loss_and_grad(x, y);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t d = 0; d <= D; ++d)
      CHECK((d < D ? r.grad[0][c * D + d] : r.grad[1][c]) == Approx(ref.grad(c, d, y)).margin(1e-6));
}

TEST_CASE("Hessian-vector product of a deep smooth graph matches second differences of the loss", "[gradients]") {
  std::vector<std::string> w;
  Graph g = dense_graph(w);
  GradientEngine e(g, w, 2);
  Tensor x = Tensor::from_f32({5, 6}, randn(30, 103));
  std::vector<int64_t> y = {0, 1, 2, 3, 4};
  std::vector<std::vector<float>> w0 = e.weight_values();
  auto unit = [&](unsigned seed) {  // random direction of unit norm over all weights
    std::vector<std::vector<float>> v;
    double n2 = 0;
    for (size_t k = 0; k < w0.size(); ++k) {
      v.push_back(randn(w0[k].size(), seed + 13 * static_cast<unsigned>(k)));
      for (float f : v.back()) n2 += double(f) * f;
    }
    for (auto& vk : v)
      for (float& f : vk) f = static_cast<float>(f / std::sqrt(n2));
    return v;
  };
  auto dot = [](const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    double s = 0;
    for (size_t k = 0; k < a.size(); ++k)
      for (size_t j = 0; j < a[k].size(); ++j) s += double(a[k][j]) * b[k][j];
    return s;
  };
  // L(w + a u + b v) for the mixed second difference u^T H v ~ sum_{a,b = +-h} a b L / (4 h^2).
  auto loss_at = [&](const std::vector<std::vector<float>>& u, const std::vector<std::vector<float>>& v, double a, double b) {
    std::vector<std::vector<float>> wt = w0;
    WeightOverrides ov;
    for (size_t k = 0; k < wt.size(); ++k) {
      for (size_t j = 0; j < wt[k].size(); ++j) wt[k][j] = static_cast<float>(w0[k][j] + a * u[k][j] + b * v[k][j]);
    }
    for (auto& wk : wt) ov.push_back(&wk);
    return e.loss(x, y, ov).loss;
  };
  auto u = unit(200), v = unit(300);
  auto hv = e.hessian_vector(x, y, v), hu = e.hessian_vector(x, y, u);
  const double h = 2e-2;
  for (const auto* dir : {&u, &v}) {
    double want =
        (loss_at(*dir, v, h, h) - loss_at(*dir, v, h, -h) - loss_at(*dir, v, -h, h) + loss_at(*dir, v, -h, -h)) / (4 * h * h);
    double got = dot(*dir, hv);
    INFO("direction " << (dir == &u ? "u" : "v") << ": " << got << " vs second difference " << want);
    CHECK(got == Approx(want).epsilon(2e-2).margin(2e-3));
  }
  // The Hessian is symmetric.
  CHECK(dot(u, hv) == Approx(dot(v, hu)).epsilon(1e-3).margin(1e-5));
}

TEST_CASE("Hutchinson diagonal and mean gradient of compute_salience match the closed form", "[gradients]") {
  const int64_t C = 3, H = 2, W = 2, D = H * W, N = 64;
  std::vector<float> wv, bv;
  Graph g = softmax_regression(C, H, W, wv, bv);
  GradientEngine e(g, {"W", "b"}, 2);
  Dataset d;
  d.name = "synthetic";
  d.count = N;
  d.height = H;
  d.width = W;
  std::mt19937 rng(5);
  for (int64_t i = 0; i < N * D; ++i) d.pixels.push_back(static_cast<uint8_t>(rng() % 256));
  for (int64_t i = 0; i < N; ++i) d.labels.push_back(static_cast<uint8_t>(rng() % C));
  Preprocess p;
  p.input_shape = {1, H, W};
  p.scale = 1.0f / 255;
  p.mean = {0.5f};
  p.std = {0.25f};
  Tensor all;
  fill_batch(d, p, 0, N, all);
  std::vector<int64_t> y(d.labels.begin(), d.labels.end());
  // Two batches of 32: the estimate is the mean of the per-batch diagonals, whose Monte-Carlo
  // variance per sample is sum_{j != i} H_b[i][j]^2 (Rademacher z).
  SoftmaxRegression b0(std::vector<float>(all.f.begin(), all.f.begin() + 32 * D), 32, D, wv, bv);
  SoftmaxRegression b1(std::vector<float>(all.f.begin() + 32 * D, all.f.end()), 32, D, wv, bv);
  SoftmaxRegression full(all.f, N, D, wv, bv);
  const int S = 1500;
  Salience s = compute_salience(e, d, p, N, 32, S, 9, true);
  REQUIRE(s.hess_diag.size() == 2);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j <= D; ++j) {
      double var = 0;
      for (int64_t c2 = 0; c2 < C; ++c2)
        for (int64_t j2 = 0; j2 <= D; ++j2) {
          if (c2 == c && j2 == j) continue;
          double h0 = b0.hess(c, j, c2, j2), h1 = b1.hess(c, j, c2, j2);
          var += 0.25 * (h0 * h0 + h1 * h1) / S;
        }
      double got = j < D ? s.hess_diag[0][c * D + j] : s.hess_diag[1][c], want = full.hess(c, j, c, j);
      double g = j < D ? s.grad[0][c * D + j] : s.grad[1][c];
      INFO("entry (" << c << ", " << j << "): hutchinson " << got << ", exact " << want << ", mc sd " << std::sqrt(var));
      CHECK(std::abs(got - want) <= 4.5 * std::sqrt(var) + 2e-3 * std::abs(want) + 1e-6);
      CHECK(g == Approx(full.grad(c, j, y)).margin(1e-6));
    }
  // Seeded: the same seed gives the same bits, another seed another draw.
  Salience again = compute_salience(e, d, p, N, 32, S, 9, true);
  CHECK(again.hess_diag == s.hess_diag);
  CHECK(again.grad == s.grad);
  Salience other = compute_salience(e, d, p, N, 32, 3, 10, true);
  CHECK(other.hess_diag != compute_salience(e, d, p, N, 32, 3, 9, true).hess_diag);
  CHECK(compute_salience(e, d, p, N, 32, 3, 9, false).hess_diag.empty());
  // A stop flag: unset, the same bits; set, Stopped before the first batch.
  std::atomic<bool> stop{false};
  CHECK(compute_salience(e, d, p, N, 32, S, 9, true, {}, &stop).hess_diag == s.hess_diag);
  stop = true;
  CHECK_THROWS_AS(compute_salience(e, d, p, N, 32, S, 9, true, {}, &stop), Stopped);
  // The threads asked for, up to the command line's 1024 (it clamped to 256).
  CHECK(GradientEngine(g, {"W", "b"}, 512).threads() == 512);
  CHECK(GradientEngine(g, {"W", "b"}, 5000).threads() == 1024);
}

TEST_CASE("overridden weights give the gradient of a graph whose constants were replaced", "[gradients]") {
  Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "lenet5_fmnist.onnx");
  std::vector<std::string> w = layer_weights(g);
  GradientEngine e(g, w, 2);
  std::vector<std::vector<float>> noisy = e.weight_values();
  for (size_t k = 0; k < noisy.size(); ++k) {
    std::vector<float> n = randn(noisy[k].size(), 80 + static_cast<unsigned>(k), 0.05f);
    for (size_t j = 0; j < n.size(); ++j) noisy[k][j] *= 1.0f + n[j];
  }
  Tensor x;
  fill_batch(test_set(), pre, 32, 12, x);
  std::vector<int64_t> y = labels_of(test_set(), 32, 12);
  // All weights overridden, then only layer 2 (the others keep the graph's constants).
  for (int variant = 0; variant < 2; ++variant) {
    WeightOverrides ov(w.size(), nullptr);
    Graph g2 = g;
    for (size_t k = 0; k < w.size(); ++k)
      if (variant == 0 || k == 2) {
        ov[k] = &noisy[k];
        g2.constants[w[k]].f = noisy[k];
      }
    GradientEngine e2(g2, w, 2);
    auto ste = e.loss_and_grad(x, y, ov), ref = e2.loss_and_grad(x, y), latent = e.loss_and_grad(x, y);
    CHECK(ste.loss == ref.loss);
    CHECK(ste.correct == ref.correct);
    CHECK(ste.grad == ref.grad);
    CHECK(ste.grad != latent.grad);
  }
  std::vector<float> bad(3);
  CHECK_THROWS_AS(e.loss_and_grad(x, y, {&bad}), ptc::Error);
}

TEST_CASE("CNN3 loss equals the cross-entropy of the Executor's logits on 256 test images", "[gradients]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  GradientEngine e(g, layer_weights(g), 2);
  Executor ex(g, 2);
  double loss_engine = 0, loss_ref = 0;
  int64_t correct_engine = 0, correct_ref = 0;
  for (int64_t first = 0; first < 256; first += 64) {
    Tensor x;
    fill_batch(test_set(), pre, first, 64, x);
    std::vector<int64_t> y = labels_of(test_set(), first, 64);
    auto r = e.loss(x, y);
    loss_engine += r.loss * 64;
    correct_engine += r.correct;
    const Tensor& z = ex.run(x);
    REQUIRE(z.shape == Shape{64, 10});
    for (int64_t i = 0; i < 64; ++i) {
      const float* row = z.f.data() + i * 10;
      double mx = *std::max_element(row, row + 10), s = 0;
      for (int c = 0; c < 10; ++c) s += std::exp(double(row[c]) - mx);
      loss_ref += mx + std::log(s) - row[y[i]];
      correct_ref += std::max_element(row, row + 10) - row == y[i];
    }
  }
  CHECK(loss_engine / 256 == Approx(loss_ref / 256).epsilon(1e-12));
  CHECK(correct_engine == correct_ref);
  CHECK(correct_ref > 220);  // the zoo model is ~93 % accurate
}

TEST_CASE("gradients are bit-identical for any thread count", "[gradients]") {
  for (const char* name : {"cnn3_fmnist", "lenet5_fmnist"}) {
    Graph g = import_onnx(kZoo + name + ".onnx");
    Preprocess pre = preprocess_for(g, kZoo + std::string(name) + ".onnx");
    std::vector<std::string> w = layer_weights(g);
    Tensor x;
    fill_batch(test_set(), pre, 7, 11, x);
    std::vector<int64_t> y = labels_of(test_set(), 7, 11);
    GradientEngine e1(g, w, 1), e2(g, w, 2), e3(g, w, 3);
    auto r1 = e1.loss_and_grad(x, y), r2 = e2.loss_and_grad(x, y), r3 = e3.loss_and_grad(x, y);
    CHECK(r1.loss == r2.loss);
    CHECK(r1.grad == r2.grad);
    CHECK(r1.grad == r3.grad);
  }
}

TEST_CASE("ops without a backward on the gradient path are Unsupported, naming the op", "[gradients]") {
  std::vector<std::string> w;
  Graph g = conv_graph(w);
  for (Vertex v : g.order)
    if (g.dag[v].op == "Relu") g.dag[v].op = "Erf";
  try {
    GradientEngine e(g, w);
    FAIL("expected ptc::Unsupported");
  } catch (const ptc::Unsupported& ex) {
    CHECK(std::string(ex.what()).find("Erf") != std::string::npos);
    CHECK(std::string(ex.what()).find("relu") != std::string::npos);
  }
  // Gradient into a non-differentiable input: Clip's min.
  Graph gp = pool_graph(w, true);
  try {
    GradientEngine e(gp, w);
    FAIL("expected ptc::Unsupported");
  } catch (const ptc::Unsupported& ex) {
    CHECK(std::string(ex.what()).find("Clip") != std::string::npos);
  }
  // A final Softmax that does not normalise per sample.
  OnnxBuilder b;
  b.input("x", {-1, 3, 4});
  b.output("y");
  b.init("m", {4, 5}, randn(20, 1));
  b.node("MatMul", {"x", "m"}, {"z"});
  auto* sm = b.node("Softmax", {"z"}, {"y"});
  OnnxBuilder::attr_i(sm, "axis", 1);
  Graph gs = import_onnx_bytes(b.bytes(), "softmax_axis");
  GradientEngine es(gs, {"m"});
  Tensor x = Tensor::from_f32({2, 3, 4}, randn(24, 2));
  CHECK_THROWS_AS(es.loss_and_grad(x, {0, 1}), ptc::Unsupported);
  // Unknown weight names are errors.
  CHECK_THROWS_AS(GradientEngine(gs, {"nope"}), ptc::Error);
}

TEST_CASE("timing: CNN3 loss_and_grad on 32 images", "[.][gradients-timing]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  Preprocess pre = preprocess_for(g, kZoo + "cnn3_fmnist.onnx");
  GradientEngine e(g, layer_weights(g), 2);
  Executor ex(g, 2);
  Tensor x;
  fill_batch(test_set(), pre, 0, 32, x);
  std::vector<int64_t> y = labels_of(test_set(), 0, 32);
  e.loss_and_grad(x, y);
  ex.run(x);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) e.loss_and_grad(x, y);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) e.loss(x, y);
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) ex.run(x);
  auto t3 = std::chrono::steady_clock::now();
  auto s = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count() / 5; };
  std::printf("CNN3 batch 32, 2 threads: loss_and_grad %.3f s, loss %.3f s, Executor %.3f s\n", s(t0, t1), s(t1, t2), s(t2, t3));
  CHECK(s(t0, t1) > 0);
}
