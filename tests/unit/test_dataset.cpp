#include <unistd.h>
#include <zlib.h>
#include <algorithm>
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

TEST_CASE("a partial load reads only the first images, identical to the full load's", "[dataset]") {
  Dataset full = load_fashion_mnist("train");
  Dataset part = load_fashion_mnist("train", kFashionMnistDir, 1000);
  CHECK(part.count == 1000);
  CHECK(part.height == 28);
  REQUIRE(part.pixels.size() == 1000u * 784u);
  CHECK(std::equal(part.pixels.begin(), part.pixels.end(), full.pixels.begin()));
  CHECK(std::equal(part.labels.begin(), part.labels.end(), full.labels.begin()));
  CHECK(load_fashion_mnist("test", kFashionMnistDir, 20000).count == 10000);  // more than there are: all
  REQUIRE_THROWS_WITH(load_fashion_mnist("test", kFashionMnistDir, -1), Contains("max_images"));
}

TEST_CASE("IDX files shorter or longer than their header are errors naming the file", "[dataset]") {
  auto dir = std::filesystem::temp_directory_path() / ("ptc_idx_len_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen((dir / name).string().c_str(), "wb");
    REQUIRE(f);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  };
  // 3 images of 2x2 and 3 labels; the header says 3 images.
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<uint8_t>(i));
  write("t10k-labels-idx1-ubyte.gz", labels);
  write("t10k-images-idx3-ubyte.gz", images);
  Dataset ok = load_fashion_mnist("test", dir.string());
  CHECK(ok.count == 3);
  CHECK(ok.pixels[11] == 11);
  CHECK(ok.labels[2] == 3);
  std::vector<uint8_t> shorter(images.begin(), images.end() - 1), longer = images;
  longer.push_back(7);
  write("t10k-images-idx3-ubyte.gz", shorter);
  REQUIRE_THROWS_WITH(load_fashion_mnist("test", dir.string()),
                      Contains("t10k-images-idx3-ubyte.gz") && Contains("header says 12 bytes of data, the file has 11"));
  CHECK(load_fashion_mnist("test", dir.string(), 2).count == 2);  // the part asked for is complete
  write("t10k-images-idx3-ubyte.gz", longer);
  REQUIRE_THROWS_WITH(load_fashion_mnist("test", dir.string()), Contains("the file has more"));
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
  REQUIRE_THROWS_WITH(parse_preprocess(R"({"input_shape": [1, 28, 28], "sclae": 1})", "pre"), Contains("pre.sclae: unknown key"));
  REQUIRE_THROWS_WITH(parse_preprocess(R"({"input_shape": [1, 28, 28], "std": [0]})", "pre"), Contains("pre.std"));
  Preprocess wrong = parse_preprocess(R"({"input_shape": [3, 32, 32]})", "pre");
  REQUIRE_THROWS_WITH(fill_batch(d, wrong, 0, 1, t), Contains("[3,32,32]"));
}
