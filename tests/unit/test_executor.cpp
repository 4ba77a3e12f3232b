#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "models/error.h"
#include "models/executor.h"
#include "models/onnx_import.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;

namespace {

std::vector<float> randn(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Direct-definition 2-D convolution (ONNX Conv semantics), written independently of im2col.
std::vector<float> naive_conv(const std::vector<float>& x, const Shape& xs, const std::vector<float>& w, const Shape& ws,
                              const std::vector<float>& bias, int64_t stride, int64_t pad, int64_t dil, int64_t group,
                              Shape& ys) {
  int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], M = ws[0], kh = ws[2], kw = ws[3];
  int64_t OH = (H + 2 * pad - dil * (kh - 1) - 1) / stride + 1, OW = (W + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
  ys = {N, M, OH, OW};
  std::vector<float> y(N * M * OH * OW, 0.0f);
  int64_t Cg = C / group, Mg = M / group;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      int64_t g = m / Mg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bias.empty() ? 0.0 : bias[m];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ih = oh * stride - pad + i * dil, iw = ow * stride - pad + j * dil;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(x[((n * C + g * Cg + c) * H + ih) * W + iw]) * w[((m * Cg + c) * kh + i) * kw + j];
              }
          y[((n * M + m) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
    }
  return y;
}

}  // namespace

TEST_CASE("Conv matches the direct definition for strides, pads, dilations and groups", "[executor]") {
  struct Case {
    int64_t C, M, H, k, stride, pad, dil, group;
  };
  for (Case c :
       {Case{3, 4, 9, 3, 1, 1, 1, 1}, Case{4, 6, 10, 3, 2, 0, 1, 2}, Case{6, 6, 11, 3, 1, 2, 2, 6}, Case{2, 5, 7, 1, 1, 0, 1, 1},
        Case{3, 2, 8, 5, 3, 2, 1, 1}, Case{2, 3, 4, 5, 1, 2, 1, 1}, Case{2, 3, 6, 3, 1, 3, 3, 1}}) {
    Shape xs{2, c.C, c.H, c.H}, ws{c.M, c.C / c.group, c.k, c.k};
    auto x = randn(2 * c.C * c.H * c.H, 1), w = randn(c.M * (c.C / c.group) * c.k * c.k, 2), bias = randn(c.M, 3);
    test::OnnxBuilder b;
    b.input("x", {-1, c.C, c.H, c.H});
    b.output("y");
    b.init("w", ws, w);
    b.init("b", {c.M}, bias);
    auto* n = b.node("Conv", {"x", "w", "b"}, {"y"}, "conv");
    test::OnnxBuilder::attr_ints(n, "strides", {c.stride, c.stride});
    test::OnnxBuilder::attr_ints(n, "pads", {c.pad, c.pad, c.pad, c.pad});
    test::OnnxBuilder::attr_ints(n, "dilations", {c.dil, c.dil});
    test::OnnxBuilder::attr_i(n, "group", c.group);
    Graph g = import_onnx_bytes(b.bytes(), "conv");
    Executor ex(g);
    Tensor in = Tensor::from_f32(xs, x);
    const Tensor& y = ex.run(in);
    Shape ys;
    auto want = naive_conv(x, xs, w, ws, bias, c.stride, c.pad, c.dil, c.group, ys);
    REQUIRE(y.shape == ys);
    for (size_t j = 0; j < want.size(); ++j) REQUIRE(y.f[j] == Approx(want[j]).margin(1e-4));
  }
}

TEST_CASE("BatchNormalization folded into Conv equals executing it", "[executor][import]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 3, 6, 6});
  b.output("y");
  b.init("w", {4, 3, 3, 3}, randn(108, 4));
  b.init("s", {4}, {1.5f, 0.5f, -2.0f, 1.0f});
  b.init("beta", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
  b.init("mean", {4}, {0.05f, 0.5f, -1.0f, 2.0f});
  b.init("var", {4}, {1.0f, 0.25f, 4.0f, 0.01f});
  auto* c = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  test::OnnxBuilder::attr_ints(c, "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "s", "beta", "mean", "var"}, {"bn"}, "bn");
  b.node("Relu", {"bn"}, {"y"}, "relu");
  Graph folded = import_onnx_bytes(b.bytes(), "m");
  ImportOptions keep;
  keep.fold_batchnorm = false;
  Graph plain = import_onnx_bytes(b.bytes(), "m", keep);
  CHECK(folded.op_sequence() == std::vector<std::string>{"Conv", "Relu"});
  CHECK(plain.op_sequence() == std::vector<std::string>{"Conv", "BatchNormalization", "Relu"});
  Tensor in = Tensor::from_f32({2, 3, 6, 6}, randn(216, 5));
  Executor a(folded), p(plain);
  Tensor ya = a.run(in);
  const Tensor& yp = p.run(in);
  REQUIRE(ya.shape == yp.shape);
  for (size_t j = 0; j < ya.f.size(); ++j) REQUIRE(ya.f[j] == Approx(yp.f[j]).margin(1e-5));
}

TEST_CASE("BatchNormalization after a Conv whose output is also used elsewhere is executed", "[import]") {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 4, 4});
  b.output("y");
  b.init("w", {1, 1, 1, 1}, {2.0f});
  for (const char* p : {"s", "beta", "mean", "var"}) b.init(p, {1}, {1.0f});
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("BatchNormalization", {"c", "s", "beta", "mean", "var"}, {"bn"}, "bn");
  b.node("Add", {"bn", "c"}, {"y"}, "add");  // c has two readers: folding would be wrong
  Graph g = import_onnx_bytes(b.bytes(), "m");
  CHECK(g.op_sequence() == std::vector<std::string>{"Conv", "BatchNormalization", "Add"});
}

TEST_CASE("Gemm alpha, beta, transposes and broadcast C", "[executor]") {
  // A^T is [[1,2],[3,4],[5,6]]^T... A given as [2,3] with transA: A' = A^T is [3,2].
  test::OnnxBuilder b;
  b.input("a", {2, 3});
  b.output("y");
  b.init("b", {2, 2}, {1, 0, 0, 1});  // B given transposed: B' = B^T = I
  b.init("c", {2}, {10, 20});
  auto* n = b.node("Gemm", {"a", "b", "c"}, {"y"}, "gemm");
  test::OnnxBuilder::attr_i(n, "transA", 1);
  test::OnnxBuilder::attr_i(n, "transB", 1);
  test::OnnxBuilder::attr_f(n, "alpha", 2.0f);
  test::OnnxBuilder::attr_f(n, "beta", 0.5f);
  Graph g = import_onnx_bytes(b.bytes(), "m");
  Executor ex(g);
  Tensor a = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor& y = ex.run(a);
  // y = 2 * A^T * I + 0.5 * [10, 20] = 2*[[1,4],[2,5],[3,6]] + [5, 10]
  CHECK(y.shape == Shape{3, 2});
  CHECK(y.f == std::vector<float>{7, 18, 9, 20, 11, 22});
}

TEST_CASE("The executor runs on the threads asked for, up to the command line's 1024", "[executor]") {
  test::OnnxBuilder b(13);
  b.input("x", {1, 2});
  b.output("y");
  b.node("Relu", {"x"}, {"y"}, "r");
  Graph g = import_onnx_bytes(b.bytes(), "m");
  // --threads 512 is accepted by the command line ([1, 1024]); it ran on 256.
  CHECK(Executor(g, 512).threads() == 512);
  CHECK(Executor(g, 1024).threads() == 1024);
  CHECK(Executor(g, 5000).threads() == 1024);
  CHECK(Executor(g, 3).threads() == 3);
}

TEST_CASE("Softmax axis semantics follow the opset", "[executor]") {
  for (int opset : {11, 13}) {
    test::OnnxBuilder b(opset);
    b.input("x", {1, 2, 2});
    b.output("y");
    test::OnnxBuilder::attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
    Graph g = import_onnx_bytes(b.bytes(), "m");
    Executor ex(g);
    Tensor x = Tensor::from_f32({1, 2, 2}, {0, 0, 0, std::log(2.0f)});
    const Tensor& y = ex.run(x);
    if (opset == 11) {
      // Over the flattened trailing [2*2] = 4 values: e^0,e^0,e^0,2 -> sum 5.
      CHECK(y.f[0] == Approx(0.2));
      CHECK(y.f[3] == Approx(0.4));
    } else {
      // Over dim 1 only: pairs (x[0,0,j], x[0,1,j]).
      CHECK(y.f[0] == Approx(0.5));
      CHECK(y.f[1] == Approx(1.0 / 3));
      CHECK(y.f[3] == Approx(2.0 / 3));
    }
  }
}

TEST_CASE("the torch view(x.size(0), -1) pattern keeps the batch dynamic", "[executor]") {
  Graph g = import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/lenet5_fmnist.onnx");
  // The Shape/Gather/Unsqueeze/Concat chain survives import (it depends on the batch) ...
  auto ops = g.op_sequence();
  CHECK(std::count(ops.begin(), ops.end(), "Shape") == 1);
  Executor ex(g);
  auto x = randn(7 * 28 * 28, 9);
  Tensor batch = Tensor::from_f32({7, 1, 28, 28}, x);
  Tensor yb = ex.run(batch);
  REQUIRE(yb.shape == Shape{7, 10});
  // ... and every batch size gives the per-sample answer.
  for (int64_t s : {0, 3, 6}) {
    Tensor one = Tensor::from_f32({1, 1, 28, 28}, std::vector<float>(x.begin() + s * 784, x.begin() + (s + 1) * 784));
    const Tensor& y1 = ex.run(one);
    for (int64_t c = 0; c < 10; ++c) REQUIRE(y1.f[c] == Approx(yb.f[s * 10 + c]).margin(1e-4));
  }
}

TEST_CASE("activation buffers are reused along a chain", "[executor]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 1000});
  b.output("y20");
  std::string prev = "x";
  for (int k = 1; k <= 20; ++k) {
    std::string out = "y" + std::to_string(k);
    b.node(k % 2 ? "Relu" : "Tanh", {prev}, {out});
    prev = out;
  }
  Graph g = import_onnx_bytes(b.bytes(), "m");
  Executor ex(g);
  Tensor x = Tensor::from_f32({4, 1000}, randn(4000, 3));
  const Tensor& y = ex.run(x);
  for (size_t j = 0; j < y.f.size(); ++j) {
    double v = std::max(0.0f, x.f[j]);  // Relu, then (Tanh, Relu) pairs: tanh applied 10 times
    for (int k = 0; k < 10; ++k) v = std::tanh(v);
    REQUIRE(y.f[j] == Approx(v).margin(1e-6));
  }
  // Two buffers ping-pong: at most 2 activations of 4x1000 floats, not 20.
  CHECK(ex.buffer_bytes() <= 2 * 4000 * sizeof(float));
}

TEST_CASE("run-time input checks", "[executor]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 3});
  b.output("y");
  b.node("Relu", {"x"}, {"y"});
  Graph g = import_onnx_bytes(b.bytes(), "m");
  Executor ex(g);
  Tensor bad = Tensor::from_f32({2, 4}, std::vector<float>(8, 1.0f));
  REQUIRE_THROWS_WITH(ex.run(bad), Catch::Contains("input 'x'") && Catch::Contains("[2,4]"));
}

TEST_CASE("outputs are bit-identical for 1 and 2 threads", "[executor]") {
  Graph g = import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx");
  Tensor x = Tensor::from_f32({5, 1, 28, 28}, randn(5 * 784, 11));
  Executor one(g, 1), two(g, 2);
  Tensor y1 = one.run(x);
  const Tensor& y2 = two.run(x);
  REQUIRE(y1.shape == y2.shape);
  CHECK(y1.f == y2.f);
}
