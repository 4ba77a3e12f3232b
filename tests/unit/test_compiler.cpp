#include <catch2/catch.hpp>

#include "hw/hw_spec.h"
#include "models/compiler.h"
#include "models/error.h"
#include "models/onnx_import.h"
#include "onnx_builder.h"

using namespace ptc;
using namespace ptc::models;
using Catch::Contains;

namespace {
const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";
}

TEST_CASE("CNN3 on DOCTOR's 4x4x8x8 array: chunks and cycles of the DOCTOR cycle model (docs/doctor.md)", "[compiler]") {
  Graph g = import_onnx(kZoo + "cnn3_fmnist.onnx");
  CompiledWorkload wl = compile(g, TilingSpec{4, 4, 8, "cyclic"});
  REQUIRE(wl.layers.size() == 4);
  std::vector<int64_t> chunks, cycles;
  for (const auto& L : wl.layers) {
    chunks.push_back(L.chunks);
    cycles.push_back(L.cycles);
  }
  // Reference: conv1 2, conv2 36, conv3 36, fc 50 chunks; 1,568 + 28,224 + 28,224 + 50 = 58,066.
  CHECK(chunks == std::vector<int64_t>{2, 36, 36, 50});
  CHECK(cycles == std::vector<int64_t>{1568, 28224, 28224, 50});
  CHECK(wl.chunks == 124);
  CHECK(wl.cycles_per_inference == 58066);
  // "about 58 M MACs per inference"
  CHECK(wl.macs == 64 * 9 * 784 + 2 * 64 * 576 * 784 + 10 * 1600);
  CHECK(wl.macs > 57000000);
  CHECK(wl.macs < 59000000);
  // Block layout: conv2 is [64 x 576] -> P = 8, Q = 72.
  CHECK(wl.layers[1].gemms[0].P == 8);
  CHECK(wl.layers[1].gemms[0].Q == 72);
}

TEST_CASE("cyclic mapping puts block (p,q) on core (p mod R, q mod C) - tiling is lossless", "[compiler]") {
  Graph g = import_onnx(kZoo + "lenet5_fmnist.onnx");
  for (TilingSpec spec : {TilingSpec{4, 4, 8, "cyclic"}, TilingSpec{3, 2, 5, "cyclic"}}) {
    CompiledWorkload wl = compile(g, spec);
    for (const auto& L : wl.layers)
      for (const auto& t : L.gemms) {
        for (int64_t p = 0; p < t.P; ++p)
          for (int64_t q = 0; q < t.Q; ++q) REQUIRE(t.core[p * t.Q + q] == (p % spec.rows) * spec.cols + q % spec.cols);
        // The blocks hold exactly the weight matrix, zero-padded.
        // (LeNet's Conv weights flatten to [M, C*kh*kw] and its Gemms use transB = 1, so the
        // weight matrix is the initializer itself.)
        CHECK(untile(t, spec.block_size) == g.constants.at(L.weight).f);
        double padded = 0;
        for (float v : t.blocks) padded += std::abs(v);
        double orig = 0;
        for (float v : g.constants.at(L.weight).f) orig += std::abs(v);
        CHECK(padded == Approx(orig));
      }
  }
}

TEST_CASE("stationary mapping: one block per core, or an error naming the cores needed", "[compiler]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 16});
  b.output("y");
  b.init("w", {16, 8}, std::vector<float>(128, 1.0f));  // MatMul B [16, 8] -> W [8 x 16] -> 1 x 2 blocks of 8
  b.node("MatMul", {"x", "w"}, {"y"}, "fc");
  Graph g = import_onnx_bytes(b.bytes(), "m");
  CompiledWorkload wl = compile(g, TilingSpec{1, 2, 8, "stationary"});
  REQUIRE(wl.blocks == 2);
  CHECK(wl.cycles_per_inference == 1);
  CHECK(wl.layers[0].gemms[0].core == std::vector<int32_t>{0, 1});
  Graph cnn3 = import_onnx(kZoo + "cnn3_fmnist.onnx");
  REQUIRE_THROWS_WITH(compile(cnn3, TilingSpec{4, 4, 8, "stationary"}),
                      Contains("needs 1568 tensor cores") && Contains("4x4 = 16"));
  REQUIRE_THROWS_WITH(compile(cnn3, TilingSpec{4, 4, 8, "diagonal"}), Contains("registered: cyclic, stationary"));
}

TEST_CASE("grouped Conv lowers to one GEMM per group", "[compiler]") {
  test::OnnxBuilder b;
  b.input("x", {-1, 4, 6, 6});
  b.output("y");
  b.init("w", {4, 1, 3, 3}, std::vector<float>(36, 1.0f));
  test::OnnxBuilder::attr_i(b.node("Conv", {"x", "w"}, {"y"}, "dw"), "group", 4);
  Graph g = import_onnx_bytes(b.bytes(), "m");
  CompiledWorkload wl = compile(g, TilingSpec{2, 2, 8, "cyclic"});
  REQUIRE(wl.layers[0].gemms.size() == 4);
  CHECK(wl.layers[0].gemms[0].rows == 1);
  CHECK(wl.layers[0].gemms[0].cols == 9);
  CHECK(wl.layers[0].chunks == 4);       // 4 groups x ceil(1/2) x ceil(2/2)
  CHECK(wl.layers[0].cycles == 4 * 16);  // 4x4 output pixels per chunk
}

TEST_CASE("hardware JSON: paths in errors, unknown keys, ranges", "[hw]") {
  using nlohmann::json;
  auto spec =
      hw::parse_hw_spec(json::parse(R"({"cores": {"rows": 2, "cols": 3, "block_size": 16}, "mapping": {"name": "stationary"}})"));
  CHECK(spec.tiling.rows == 2);
  CHECK(spec.tiling.cols == 3);
  CHECK(spec.tiling.block_size == 16);
  CHECK(spec.tiling.mapping == "stationary");
  REQUIRE_THROWS_WITH(hw::parse_hw_spec(json::parse(R"({"cores": {"rowz": 2}})")), Contains("hw.cores.rowz: unknown key"));
  REQUIRE_THROWS_WITH(hw::parse_hw_spec(json::parse(R"({"cores": {"rows": 0}})")),
                      Contains("hw.cores.rows: expected integer in [1,1024], got 0"));
  REQUIRE_THROWS_WITH(hw::parse_hw_spec(json::parse(R"({"mapping": {"name": "cyclc"}})")),
                      Contains("unknown mapping \"cyclc\" at hw.mapping.name; registered: cyclic, stationary"));
}
