// How layers meet the array (docs/layers.md): BatchNormalization folded into the weights or kept
// digital after the tensor cores (hw.mapping.batchnorm), and weight layers kept digital in fp32
// (hw.mapping.digital_layers). Expectations are independent of the compiler: the trained ONNX
// weights and BatchNorm constants (the fold's closed form a = gamma / sqrt(var + eps)), the fp32
// reference executor on the unfolded graph, and the chain rule for the gradients.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hw/device/mrr_bank.h"
#include "hw/hardware_gemm.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/error.h"
#include "models/executor.h"
#include "models/gradients.h"
#include "models/onnx_import.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;
using namespace ptc::hw;

namespace {

const std::string kCnn3 = std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx";

Graph import_cnn3() {
  return import_onnx(kCnn3);
}

std::vector<float> randn(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * d(rng);
  return v;
}

// x [N,3,6,6] -> Conv 3x3 (4 out, pad 1) -> BatchNormalization -> Relu -> Flatten -> Gemm [10, 144]
// (transB) -> logits [N, 10]. BatchNorm scales a_c = 1.5/1, 0.5/0.5, -2/2, 1/0.1 (spread as trained
// BatchNorms are, one negative).
std::string conv_bn_net() {
  test::OnnxBuilder b;
  b.input("x", {-1, 3, 6, 6});
  b.output("logits");
  b.init("w", {4, 3, 3, 3}, randn(108, 4, 0.3f));
  b.init("s", {4}, {1.5f, 0.5f, -2.0f, 1.0f});
  b.init("beta", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
  b.init("mean", {4}, {0.05f, 0.5f, -1.0f, 2.0f});
  b.init("var", {4}, {1.0f, 0.25f, 4.0f, 0.01f});
  b.init("wf", {10, 144}, randn(1440, 9, 0.1f));
  b.init("bf", {10}, randn(10, 11, 0.1f));
  auto* c = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  test::OnnxBuilder::attr_ints(c, "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "s", "beta", "mean", "var"}, {"bn"}, "bn");
  b.node("Relu", {"bn"}, {"r"}, "relu");
  b.node("Flatten", {"r"}, {"f"}, "flatten");
  auto* g = b.node("Gemm", {"f", "wf", "bf"}, {"logits"}, "fc");
  test::OnnxBuilder::attr_i(g, "transB", 1);
  return b.bytes();
}

Graph import_net(bool fold) {
  ImportOptions o;
  o.fold_batchnorm = fold;
  return import_onnx_bytes(conv_bn_net(), "conv_bn_net", o);
}

Tensor random_batch(int64_t n, unsigned seed) {
  return Tensor::from_f32({n, 3, 6, 6}, randn(static_cast<size_t>(n * 108), seed));
}

const Dataset& test_set() {
  static const Dataset d = load_fashion_mnist("test");
  return d;
}

Tensor cnn3_batch(const Graph& g, int64_t n) {
  Tensor in;
  fill_batch(test_set(), preprocess_for(g, kCnn3), 0, n, in);
  return in;
}

const Node& node_named(const Graph& g, const std::string& name) {
  for (Vertex v : g.order)
    if (g.node(v).name == name) return g.node(v);
  FAIL("no node " << name);
  throw 0;
}

// DOCTOR's MRR bank under high phase variation and crosstalk behind 8-bit converters.
struct NoisyMrr {
  MrrBank bank;
  HardwareGemm hg;
  static MrrBankConfig config() {
    MrrBankConfig cfg;
    cfg.noise = {phase_variation_noise(PhaseVariationParams{}), crosstalk_noise(CrosstalkParams{})};
    return cfg;
  }
  static IoSpec io() {
    IoSpec s;
    s.dac = {8, 1.0, 0};
    s.adc = {8, 8.0, 0};
    return s;
  }
  explicit NoisyMrr(const CompiledWorkload& wl)
      : bank(wl, config(), RandomStream(7, 0xde)), hg(wl, bank, io(), RandomStream(7, 0x5e)) {}
};

// Graph g with its output moved to `value` (nodes after it dropped).
Graph truncated_at(const Graph& g, const std::string& value) {
  Graph t = g;
  t.outputs = {ValueInfo{value, {}, DType::f32}};
  t.rebuild();
  return t;
}

}  // namespace

TEST_CASE("BatchNorm kept digital: the cores hold the trained weights, folding scales row c by gamma_c/sqrt(var_c+eps)",
          "[layers]") {
  const Graph folded = import_net(true), plain = import_net(false);
  REQUIRE(plain.op_sequence() == std::vector<std::string>{"Conv", "BatchNormalization", "Relu", "Flatten", "Gemm"});
  REQUIRE(has_batchnorm(plain));
  REQUIRE_FALSE(has_batchnorm(folded));
  TilingSpec spec{4, 4, 8, "cyclic"};
  const CompiledWorkload wf = compile(folded, spec);
  spec.batchnorm = "digital";
  const CompiledWorkload wd = compile(plain, spec);
  REQUIRE(wf.layers.size() == 2);
  REQUIRE(wd.layers.size() == 2);
  // The conv: digital BatchNorm leaves the trained weights on the cores, bit for bit; folded, row c
  // is a_c times them (and so is the row's largest magnitude, the scale a per-row encoding uses).
  const Tensor& w = plain.constants.at("w");
  const Tensor &gamma = plain.constants.at("s"), &var = plain.constants.at("var");
  const std::vector<float> md = untile(wd.layers[0].gemms[0], 8), mf = untile(wf.layers[0].gemms[0], 8);
  REQUIRE(wd.layers[0].weight == "w");
  REQUIRE(md.size() == 4u * 27u);
  for (size_t i = 0; i < md.size(); ++i) REQUIRE(md[i] == w.f[i]);
  for (int64_t c = 0; c < 4; ++c) {
    const double a = gamma.f[c] / std::sqrt(static_cast<double>(var.f[c]) + 1e-5);
    double max_f = 0, max_d = 0;
    for (int64_t j = 0; j < 27; ++j) {
      REQUIRE(mf[c * 27 + j] == Approx(a * md[c * 27 + j]).epsilon(1e-6).margin(1e-12));
      max_f = std::max(max_f, std::abs(static_cast<double>(mf[c * 27 + j])));
      max_d = std::max(max_d, std::abs(static_cast<double>(md[c * 27 + j])));
    }
    REQUIRE(max_f == Approx(std::abs(a) * max_d).epsilon(1e-6));
  }
  // The 8x8 block holding all four rows: its scale is max_c |a_c| max|W_c| folded, max|W| digital.
  // The classifier has no BatchNorm: the same weights either way.
  REQUIRE(untile(wd.layers[1].gemms[0], 8) == untile(wf.layers[1].gemms[0], 8));
  CHECK(std::count(wd.digital_ops.begin(), wd.digital_ops.end(), "bn (BatchNormalization)") == 1);
  CHECK(wd.to_json(false)["tiling"]["batchnorm"] == "digital");
  CHECK_FALSE(wf.to_json(false)["tiling"].contains("batchnorm"));
  CHECK(wd.macs == wf.macs);
  CHECK(wd.cycles_per_inference == wf.cycles_per_inference);
}

TEST_CASE("ideal tensor cores: BatchNorm folded or kept digital, the logits are the fp32 reference's", "[layers]") {
  const Graph folded = import_net(true), plain = import_net(false);
  TilingSpec spec{4, 4, 8, "cyclic"};
  const CompiledWorkload wf = compile(folded, spec);
  spec.batchnorm = "digital";
  const CompiledWorkload wd = compile(plain, spec);
  const Tensor in = random_batch(8, 21);
  Executor reference(plain);  // the ONNX semantics: BatchNorm executed as written
  const Tensor y_ref = reference.run(in);
  IdealRealizer rf(wf), rd(wd);
  HardwareGemm hf(wf, rf, IoSpec{}, RandomStream(1, 0)), hd(wd, rd, IoSpec{}, RandomStream(1, 0));
  Executor ef(folded), ed(plain);
  ef.set_mapped(&hf, wf.layer_index());
  ed.set_mapped(&hd, wd.layer_index());
  const Tensor yf = ef.run(in);
  const Tensor yd = ed.run(in);
  REQUIRE(yf.shape == (Shape{8, 10}));
  REQUIRE(yd.shape == y_ref.shape);
  for (size_t j = 0; j < y_ref.f.size(); ++j) {
    REQUIRE(yf.f[j] == Approx(y_ref.f[j]).margin(1e-4).epsilon(1e-4));
    REQUIRE(yd.f[j] == Approx(y_ref.f[j]).margin(1e-4).epsilon(1e-4));
  }
  // Under device noise both run (the array holds different numbers, so the logits differ).
  NoisyMrr nf(wf), nd(wd);
  ef.set_mapped(&nf.hg, wf.layer_index());
  ed.set_mapped(&nd.hg, wd.layer_index());
  const Tensor zf = ef.run(in);
  const Tensor zd = ed.run(in);
  double diff = 0;
  for (size_t j = 0; j < zf.f.size(); ++j) diff = std::max(diff, std::abs(static_cast<double>(zf.f[j]) - zd.f[j]));
  CHECK(diff > 0);
}

TEST_CASE("a layer kept digital gives exactly the fp32 reference output under device noise", "[layers]") {
  const Graph g = import_cnn3();
  const std::vector<std::string> layers = weight_layer_names(g);
  REQUIRE(layers.size() == 4);
  TilingSpec spec{4, 4, 8, "cyclic"};
  const CompiledWorkload all = compile(g, spec);
  spec.digital_layers = {"first"};
  const CompiledWorkload first = compile(g, spec);
  REQUIRE(first.layers.size() == 3);
  REQUIRE(first.digital_layers == std::vector<std::string>{layers.front()});
  CHECK(first.digital_macs == all.layers[0].macs);
  CHECK(first.macs == all.macs - all.layers[0].macs);
  CHECK(first.blocks == all.blocks - all.layers[0].gemms[0].P * all.layers[0].gemms[0].Q);
  CHECK(first.cycles_per_inference == all.cycles_per_inference - all.layers[0].cycles);
  CHECK(std::count(first.digital_ops.begin(), first.digital_ops.end(), layers.front() + " (Conv)") == 1);
  const nlohmann::json j = first.to_json(false);
  CHECK(j["digital_layers"] == nlohmann::json::array({layers.front()}));
  CHECK(j["totals"]["digital_macs_per_inference"] == all.layers[0].macs);
  CHECK_FALSE(all.to_json(false).contains("digital_layers"));

  // The first layer's output (its BatchNorm folded in): reference, noisy with the layer on the
  // array, noisy with it kept digital.
  const Graph head = truncated_at(g, node_named(g, layers.front()).outputs[0]);
  REQUIRE(head.op_sequence() == std::vector<std::string>{"Conv"});
  const Tensor in = cnn3_batch(g, 16);
  Executor reference(head);
  const Tensor y_ref = reference.run(in);
  NoisyMrr hw_all(all), hw_first(first);
  Executor on_array(head), kept(head);
  on_array.set_mapped(&hw_all.hg, all.layer_index());
  kept.set_mapped(&hw_first.hg, first.layer_index());
  const Tensor y_noisy = on_array.run(in);
  const Tensor& y_kept = kept.run(in);
  REQUIRE(y_kept.shape == y_ref.shape);
  double max_noise = 0;
  for (size_t i = 0; i < y_ref.f.size(); ++i) {
    REQUIRE(y_kept.f[i] == y_ref.f[i]);  // bit for bit: no converter, no device, fp32 as the reference
    max_noise = std::max(max_noise, std::abs(static_cast<double>(y_noisy.f[i]) - y_ref.f[i]));
  }
  CHECK(max_noise > 1e-2);  // the same layer on the noisy array does differ

  // "last" keeps the classifier off the array; "first" and the first layer's name are one layer,
  // so naming it both ways is refused (naming both entries), and either way alone is that layer.
  spec.digital_layers = {"last", layers.front(), "first"};
  CHECK_THROWS_WITH(compile(g, spec), Catch::Contains("digital_layers[2]: \"first\" names layer " + layers.front() +
                                                      ", already named by digital_layers[1]"));
  spec.digital_layers = {"last", layers.front()};
  CHECK(compile(g, spec).digital_layers == std::vector<std::string>{layers.front(), layers.back()});
  spec.digital_layers = {"last", "first"};
  const CompiledWorkload ends = compile(g, spec);
  CHECK(ends.digital_layers == std::vector<std::string>{layers.front(), layers.back()});
  REQUIRE(ends.layers.size() == 2);
  CHECK(ends.layers[0].node == layers[1]);
  CHECK(ends.layers[1].node == layers[2]);
}

TEST_CASE("digital_layers: an unknown name is an error naming the entry and the weight layers, all digital is refused",
          "[layers]") {
  const Graph g = import_cnn3();
  const std::vector<std::string> layers = weight_layer_names(g);
  TilingSpec spec{4, 4, 8, "cyclic"};
  spec.digital_layers = {"first", "conv_nope"};
  try {
    compile(g, spec);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("digital_layers[1]") != std::string::npos);
    CHECK(m.find("\"conv_nope\"") != std::string::npos);
    for (const auto& l : layers) CHECK(m.find(l) != std::string::npos);
  }
  spec.digital_layers = layers;
  CHECK_THROWS_WITH(compile(g, spec), Catch::Contains("every weight layer of the model is kept digital"));
  spec.digital_layers = {};
  spec.batchnorm = "on";
  CHECK_THROWS_WITH(compile(g, spec), Catch::Contains("expected fold or digital"));
}

TEST_CASE("gradients with BatchNorm kept digital: dL/dW_trained = a_c dL/dW_folded (chain rule)", "[layers]") {
  const Graph folded = import_net(true), plain = import_net(false);
  TilingSpec spec{4, 4, 8, "cyclic"};
  const CompiledWorkload wf = compile(folded, spec);
  spec.batchnorm = "digital";
  const CompiledWorkload wd = compile(plain, spec);
  std::vector<std::string> nf, nd;
  for (const auto& L : wf.layers) nf.push_back(L.weight);
  for (const auto& L : wd.layers) nd.push_back(L.weight);
  GradientEngine ef(folded, nf, 1), ed(plain, nd, 1);
  const Tensor in = random_batch(16, 5);
  std::vector<int64_t> labels(16);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>((i * 7) % 10);
  const GradientEngine::Result rf = ef.loss_and_grad(in, labels), rd = ed.loss_and_grad(in, labels);
  CHECK(rd.loss == Approx(rf.loss).epsilon(1e-5));
  // Conv: W_folded[c] = a_c W[c], so dL/dW[c] = a_c dL/dW_folded[c].
  const Tensor &gamma = plain.constants.at("s"), &var = plain.constants.at("var");
  double norm = 0;
  for (float x : rf.grad[0]) norm = std::max(norm, std::abs(static_cast<double>(x)));
  REQUIRE(norm > 0);
  for (int64_t c = 0; c < 4; ++c) {
    const double a = gamma.f[c] / std::sqrt(static_cast<double>(var.f[c]) + 1e-5);
    for (int64_t j = 0; j < 27; ++j)
      REQUIRE(rd.grad[0][c * 27 + j] == Approx(a * rf.grad[0][c * 27 + j]).margin(1e-5 * norm).epsilon(1e-4));
  }
  // The classifier sees the same activations: the same gradient.
  for (size_t i = 0; i < rd.grad[1].size(); ++i) REQUIRE(rd.grad[1][i] == Approx(rf.grad[1][i]).margin(1e-6).epsilon(1e-4));
  // SWIM's curvature pass runs through the digital BatchNorm too (h_x = h_y a_c^2).
  const GradientEngine::Result cd = ed.loss_grad_curvature(in, labels), cf = ef.loss_grad_curvature(in, labels);
  double hnorm = 0;
  for (float x : cf.curv[0]) hnorm = std::max(hnorm, std::abs(static_cast<double>(x)));
  REQUIRE(hnorm > 0);
  for (int64_t c = 0; c < 4; ++c) {
    const double a = gamma.f[c] / std::sqrt(static_cast<double>(var.f[c]) + 1e-5);
    for (int64_t j = 0; j < 27; ++j)
      REQUIRE(cd.curv[0][c * 27 + j] == Approx(a * a * cf.curv[0][c * 27 + j]).margin(1e-5 * hnorm).epsilon(1e-4));
  }
}
