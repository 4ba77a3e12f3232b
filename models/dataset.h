// Datasets and input preprocessing. Fashion-MNIST comes from Debian's dataset-fashion-mnist
// (IDX files, gzip) and is read with zlib. The preprocessing a model expects (scale, per-channel
// mean/std, input shape) travels with the model: ONNX metadata_props key "ptcsim.preprocess" (a
// JSON object), or a sidecar "<model>.json" with a "preprocess" object.
// Contract: a missing or corrupt file is a ptc::Error naming the file (and, for a missing
// dataset, the Debian package to install); sizes are checked before allocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/tensor.h"

namespace ptc::models {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Dataset {
  std::string name;
  int64_t count = 0, channels = 1, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [count, channels, height, width]
  std::vector<uint8_t> labels;  // [count]
  int64_t image_size() const { return channels * height * width; }
};

// One IDX file of unsigned bytes (gzip or plain): magic 0x00000803-style header with 1-4
// big-endian dimensions, then the data. Keeps the first max_items items along dimension 0 (0: all);
// dims[0] is the count kept. Sizes are checked before allocation; any defect is a ptc::Error
// naming the file. (Exposed for the fuzz target tests/fuzz/fuzz_idx.cpp.)
std::vector<uint8_t> read_idx(const std::string& path, std::vector<int64_t>& dims, int64_t max_items = 0);

// Fashion-MNIST's classes, the only data set ptcsim loads (its loader refuses a label outside
// [0, kFashionMnistClasses)): what a classifier's logits must number; a split, or a dataset.dir,
// that lacks some classes does not change it.
constexpr int64_t kFashionMnistClasses = 10;

// split: "train" (60,000 images) or "test" (10,000). max_images > 0 keeps only the first
// max_images (the file is read no further); 0 loads the whole split.
Dataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir, int64_t max_images = 0);

struct Preprocess {
  Shape input_shape;        // per sample, e.g. [1, 28, 28]
  float scale = 1.0f;       // x = (pixel * scale - mean[c]) / std[c]
  std::vector<float> mean;  // per channel (one value = all channels)
  std::vector<float> std;
  std::string dataset;  // e.g. "fashion-mnist"
  int64_t classes = 0;
};

// From the model's metadata, else from the sidecar next to `model_path` (a sidecar "preprocess"
// beside the metadata must be the same, else an error).
Preprocess preprocess_for(const Graph& g, const std::string& model_path);
Preprocess parse_preprocess(const std::string& json_text, const std::string& what);

// Fills `out` ([count, C, H, W]) with samples [first, first+count) preprocessed.
void fill_batch(const Dataset& d, const Preprocess& p, int64_t first, int64_t count, Tensor& out);

}  // namespace ptc::models
