#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "models/dataset.h"
#include "models/error.h"

using namespace ptc;
using namespace ptc::models;
using Catch::Contains;

TEST_CASE("Fashion-MNIST from Debian's dataset-fashion-mnist", "[dataset]") {
  Dataset test = load_fashion_mnist("test");
  CHECK(test.count == 10000);
  CHECK(test.height == 28);
  CHECK(test.width == 28);
  // The Fashion-MNIST test set is balanced: 1,000 images per class.
  std::vector<int> per_class(10, 0);
  for (uint8_t l : test.labels) ++per_class[l];
  CHECK(per_class == std::vector<int>(10, 1000));
  Dataset train = load_fashion_mnist("train");
  CHECK(train.count == 60000);
  CHECK(train.pixels.size() == 60000u * 784u);
}

TEST_CASE("dataset errors name the file and the Debian package", "[dataset]") {
  REQUIRE_THROWS_WITH(load_fashion_mnist("test", "/nonexistent/fmnist"),
                      Contains("/nonexistent/fmnist/t10k-images-idx3-ubyte.gz") && Contains("dataset-fashion-mnist"));
  REQUIRE_THROWS_WITH(load_fashion_mnist("validation"), Contains("unknown Fashion-MNIST split"));
  auto dir = std::filesystem::temp_directory_path() / "ptc_bad_idx";
  std::filesystem::create_directories(dir);
  for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::ofstream o(dir / f, std::ios::binary);
    o << "this is not gzip and not IDX";
  }
  REQUIRE_THROWS_AS(load_fashion_mnist("test", dir.string()), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("preprocessing travels with the model and is validated", "[dataset]") {
  Preprocess p = parse_preprocess(R"({"input_shape": [1, 28, 28], "scale": 0.5, "mean": [0.25], "std": [0.5]})", "pre");
  Dataset d;
  d.count = 1;
  d.height = d.width = 28;
  d.pixels.assign(784, 2);
  d.labels = {0};
  Tensor t;
  fill_batch(d, p, 0, 1, t);
  CHECK(t.shape == Shape{1, 1, 28, 28});
  CHECK(t.f[0] == Approx((2 * 0.5 - 0.25) / 0.5));
  REQUIRE_THROWS_WITH(parse_preprocess(R"({"input_shape": [1, 28, 28], "sclae": 1})", "pre"),
                      Contains("pre.sclae: unknown key"));
  REQUIRE_THROWS_WITH(parse_preprocess(R"({"input_shape": [1, 28, 28], "std": [0]})", "pre"), Contains("pre.std"));
  Preprocess wrong = parse_preprocess(R"({"input_shape": [3, 32, 32]})", "pre");
  REQUIRE_THROWS_WITH(fill_batch(d, wrong, 0, 1, t), Contains("[3,32,32]"));
}
