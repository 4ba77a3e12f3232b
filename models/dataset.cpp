#include "models/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/error.h"
#include "models/json_io.h"

namespace ptc::models {
namespace {

// IDX format: magic 0x0000 08 NDIM (unsigned byte data), NDIM big-endian uint32 dims, data.
// Streams the gzip file straight into the result (no whole-file buffer, no copy) and keeps only
// the first `max_items` items along dimension 0 (0: all of them); `dims[0]` is the count kept.
// When everything is read, the data must end exactly where the header says.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : m_path(path) {
    if (!std::filesystem::exists(path))
      throw Error(path +
                  ": not found (Fashion-MNIST comes from the Debian package dataset-fashion-mnist: "
                  "apt-get install -y dataset-fashion-mnist)");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))  // a FIFO would block gzopen, a device never end
      throw Error(path + ": not a regular file (directory, device, FIFO or socket); expected a gzip IDX file");
    m_f = gzopen(path.c_str(), "rb");
    if (!m_f) throw Error(path + ": cannot open");
    gzbuffer(m_f, 1 << 17);
  }
  ~GzFile() { gzclose(m_f); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      unsigned want = static_cast<unsigned>(std::min<size_t>(n - got, size_t{1} << 30));
      int r = gzread(m_f, dst + got, want);
      if (r < 0) {
        int err = 0;
        throw Error(m_path + ": corrupt gzip data (" + std::string(gzerror(m_f, &err)) + ")");
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

 private:
  std::string m_path;
  gzFile m_f = nullptr;
};

}  // namespace

std::vector<uint8_t> read_idx(const std::string& path, std::vector<int64_t>& dims, int64_t max_items) {
  GzFile f(path);
  uint8_t head[4] = {0, 0, 0, 0};
  if (f.read(head, 4) < 4 || head[0] != 0 || head[1] != 0 || head[2] != 0x08)
    throw Error(path + ": not an IDX file of unsigned bytes (bad magic number)");
  size_t nd = head[3];
  if (nd < 1 || nd > 4) throw Error(path + ": bad IDX header");
  std::vector<uint8_t> d(4 * nd);
  if (f.read(d.data(), d.size()) < d.size()) throw Error(path + ": bad IDX header");
  dims.clear();
  // Each dimension is < 2^32, so the product is formed in double (exact up to 2^53, and beyond
  // that far over the limit anyway) and checked before any int64 multiplication (four dimensions
  // of 2^32 - 1 would overflow it).
  constexpr int64_t kMaxIdxBytes = int64_t{1} << 31;
  double total_d = 1;
  for (size_t k = 0; k < nd; ++k) {
    dims.push_back((int64_t{d[4 * k]} << 24) | (int64_t{d[4 * k + 1]} << 16) | (int64_t{d[4 * k + 2]} << 8) | d[4 * k + 3]);
    total_d *= static_cast<double>(dims.back());
  }
  if (total_d > static_cast<double>(kMaxIdxBytes)) {
    std::string shape;
    for (int64_t x : dims) shape += (shape.empty() ? "" : " x ") + std::to_string(x);
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", total_d);
    throw Error(path + ": header says " + shape + " = " + b + " bytes of data, more than the 2 GiB limit for an IDX file");
  }
  int64_t per_item = 1;
  for (size_t k = 1; k < nd; ++k) per_item *= dims[k];
  const int64_t items = dims[0], total = items * per_item;
  const int64_t keep = max_items > 0 ? std::min(max_items, items) : items;
  std::vector<uint8_t> out(static_cast<size_t>(keep * per_item));
  size_t got = f.read(out.data(), out.size());
  if (got < out.size())
    throw Error(path + ": header says " + std::to_string(total) + " bytes of data, the file has " + std::to_string(got));
  if (keep == items) {
    uint8_t extra = 0;
    if (f.read(&extra, 1) != 0)
      throw Error(path + ": header says " + std::to_string(total) + " bytes of data, the file has more");
  }
  dims[0] = keep;
  return out;
}

Dataset load_fashion_mnist(const std::string& split, const std::string& dir, int64_t max_images) {
  std::string prefix;
  if (split == "train")
    prefix = "train";
  else if (split == "test")
    prefix = "t10k";
  else
    throw Error("unknown Fashion-MNIST split '" + split + "' (train, test)");
  Dataset d;
  d.name = "fashion-mnist/" + split;
  std::vector<int64_t> idims, ldims;
  if (max_images < 0) throw Error("fashion-mnist/" + split + ": max_images must be >= 0 (0: all)");
  d.pixels = read_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", idims, max_images);
  d.labels = read_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz", ldims, max_images);
  if (idims.size() != 3 || ldims.size() != 1 || idims[0] != ldims[0])
    throw Error(dir + ": " + split + " images and labels do not match");
  d.count = idims[0];
  d.height = idims[1];
  d.width = idims[2];
  for (uint8_t l : d.labels)
    if (l >= kFashionMnistClasses)
      throw Error(dir + ": " + split + " label " + std::to_string(l) + " out of range [0, " +
                  std::to_string(kFashionMnistClasses - 1) + "]");
  return d;
}

Preprocess parse_preprocess(const std::string& json_text, const std::string& what) {
  nlohmann::json j = parse_json_text(json_text, what);
  if (!j.is_object()) throw Error(what + ": expected a JSON object");
  Preprocess p;
  p.mean = {0.0f};
  p.std = {1.0f};
  p.dataset = "fashion-mnist";
  static const char* known[] = {"input_shape", "scale", "mean", "std", "dataset", "classes"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok |= it.key() == k;
    if (!ok) throw Error(what + "." + it.key() + ": unknown key (input_shape, scale, mean, std, dataset, classes)");
  }
  // Each key read on its own, so that a wrong type names the key and the type it needs.
  auto get = [&](const char* key, const char* expected, auto& dst) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(dst);
    } catch (const nlohmann::json::exception&) {
      std::string v = j.at(key).dump();
      if (v.size() > 60) v = v.substr(0, 60) + "...";
      throw Error(what + "." + key + ": expected " + expected + ", got " + v);
    }
  };
  if (!j.contains("input_shape")) throw Error(what + ".input_shape: required");
  get("input_shape", "a list of integers [C, H, W]", p.input_shape);
  get("scale", "a number", p.scale);
  get("mean", "a list of numbers", p.mean);
  get("std", "a list of numbers", p.std);
  get("dataset", "a string", p.dataset);
  get("classes", "an integer", p.classes);
  if (!std::isfinite(p.scale)) throw Error(what + ".scale: expected a finite number (a float)");
  if (p.input_shape.size() != 3) throw Error(what + ".input_shape: expected [C, H, W]");
  checked_numel(p.input_shape, what + ".input_shape");
  for (float s : p.std)
    if (!(s > 0)) throw Error(what + ".std: values must be > 0");
  int64_t c = p.input_shape[0];
  if ((p.mean.size() != 1 && static_cast<int64_t>(p.mean.size()) != c) ||
      (p.std.size() != 1 && static_cast<int64_t>(p.std.size()) != c))
    throw Error(what + ": mean/std need " + (c == 1 ? std::string("1 value") : "1 or " + std::to_string(c) + " values") +
                " (one per input channel, or one for all)");
  return p;
}

Preprocess preprocess_for(const Graph& g, const std::string& model_path) {
  std::filesystem::path side = std::filesystem::path(model_path).replace_extension(".json");
  auto it = g.metadata.find("ptcsim.preprocess");
  if (it != g.metadata.end()) {
    Preprocess p = parse_preprocess(it->second, model_path + " metadata 'ptcsim.preprocess'");
    // A sidecar's "preprocess" beside the metadata must say the same: one of them would be ignored.
    // (A sidecar that is not JSON, or has no "preprocess", is not consulted then.)
    std::error_code ec;
    if (std::filesystem::is_regular_file(side, ec)) {
      nlohmann::json j;
      try {
        j = load_json_file(side.string(), "sidecar");
      } catch (const Error&) {
        return p;
      }
      if (j.is_object() && j.contains("preprocess")) {
        const Preprocess q = parse_preprocess(j["preprocess"].dump(), side.string() + " preprocess");
        if (q.input_shape != p.input_shape || q.scale != p.scale || q.mean != p.mean || q.std != p.std ||
            q.dataset != p.dataset || q.classes != p.classes)
          throw Error(side.string() + " preprocess: differs from " + model_path + "'s metadata 'ptcsim.preprocess' (" +
                      it->second +
                      "); the input preprocessing must come from one place: remove the sidecar's \"preprocess\" "
                      "or make it the same");
      }
    }
    return p;
  }
  if (std::filesystem::exists(side)) {
    nlohmann::json j = load_json_file(side.string(), "sidecar");
    if (j.is_object() && j.contains("preprocess")) return parse_preprocess(j["preprocess"].dump(), side.string() + " preprocess");
  }
  throw Error(model_path +
              ": no input preprocessing found: add ONNX metadata_props 'ptcsim.preprocess' or a "
              "sidecar " +
              side.string() + " with a \"preprocess\" object {input_shape, scale, mean, std}");
}

void fill_batch(const Dataset& d, const Preprocess& p, int64_t first, int64_t count, Tensor& out) {
  if (p.input_shape != Shape{d.channels, d.height, d.width})
    throw Error("model expects inputs " + shape_str(p.input_shape) + ", dataset " + d.name + " has " +
                shape_str({d.channels, d.height, d.width}));
  if (first < 0 || count < 0 || first + count > d.count) throw Error("batch out of range of " + d.name);
  out.reshape_storage(DType::f32, {count, d.channels, d.height, d.width});
  int64_t plane = d.height * d.width;
  for (int64_t n = 0; n < count; ++n)
    for (int64_t c = 0; c < d.channels; ++c) {
      float m = p.mean.size() == 1 ? p.mean[0] : p.mean[c];
      float inv = 1.0f / (p.std.size() == 1 ? p.std[0] : p.std[c]);
      const uint8_t* src = d.pixels.data() + ((first + n) * d.channels + c) * plane;
      float* dst = out.f.data() + (n * d.channels + c) * plane;
      for (int64_t j = 0; j < plane; ++j) dst[j] = (static_cast<float>(src[j]) * p.scale - m) * inv;
    }
}

}  // namespace ptc::models
