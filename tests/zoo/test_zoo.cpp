// Model zoo: ptcsim's ideal executor reproduces the PyTorch test accuracy recorded at training
// time (models/zoo/<name>.json, written by tools/train_zoo.py) within 0.1 points on the full
// 10,000-image Fashion-MNIST test set.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/accuracy.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/onnx_import.h"

using namespace ptc::models;

namespace {

void check_zoo_model(const std::string& name) {
  const std::string base = std::string(PTC_SOURCE_DIR) + "/models/zoo/" + name;
  std::ifstream f(base + ".json");
  REQUIRE(f.good());
  nlohmann::json rec = nlohmann::json::parse(f);
  double torch_acc = rec.at("pytorch_test_accuracy").get<double>();
  REQUIRE(rec.at("test_samples").get<int64_t>() == 10000);
  static const Dataset test = load_fashion_mnist("test");
  Graph g = import_onnx(base + ".onnx");
  Preprocess pre = preprocess_for(g, base + ".onnx");
  Executor ex(g);
  AccuracyResult r = evaluate_accuracy(ex, test, pre);
  REQUIRE(r.samples == 10000);
  INFO(name << ": ptcsim " << 100 * r.accuracy() << " %, PyTorch " << 100 * torch_acc << " %");
  CHECK(std::abs(r.accuracy() - torch_acc) <= 0.001 + 1e-12);
}

}  // namespace

TEST_CASE("zoo lenet5_fmnist matches PyTorch", "[zoo]") {
  check_zoo_model("lenet5_fmnist");
}
TEST_CASE("zoo cnn3_fmnist matches PyTorch", "[zoo]") {
  check_zoo_model("cnn3_fmnist");
}
TEST_CASE("zoo cnn3_fmnist_nat matches PyTorch", "[zoo]") {
  check_zoo_model("cnn3_fmnist_nat");
}
TEST_CASE("zoo cnn3_fmnist_init (untrained) matches PyTorch", "[zoo]") {
  check_zoo_model("cnn3_fmnist_init");
}
TEST_CASE("zoo vgg8_fmnist matches PyTorch", "[zoo]") {
  check_zoo_model("vgg8_fmnist");
}
TEST_CASE("zoo vgg8_fmnist_wa (write-aware) matches PyTorch", "[zoo]") {
  check_zoo_model("vgg8_fmnist_wa");
}
TEST_CASE("zoo cnn3_fmnist_bn (BatchNorm nodes kept) matches PyTorch", "[zoo]") {
  check_zoo_model("cnn3_fmnist_bn");
}

TEST_CASE("zoo cnn3_fmnist reaches DOCTOR's accuracy class (>= 91 %)", "[zoo]") {
  std::ifstream f(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.json");
  REQUIRE(f.good());
  CHECK(nlohmann::json::parse(f).at("pytorch_test_accuracy").get<double>() >= 0.91);
}
